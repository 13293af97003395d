//! Bytes retained by one compiled expression, counted by a global allocator.
//!
//! ```text
//! cargo run -p kalix-expr-bench --release --bin memory
//! ```
//!
//! For each expression: the bytes (and allocations) alive right after building the engine's
//! compiled form, minus those alive after dropping it, plus the size of the value itself.
//! Parsing leftovers that compile frees are not counted; everything an evaluation needs is.

use std::alloc::{GlobalAlloc, Layout as AllocLayout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

use kalix_expr_bench::engines::{Engine, Exmex, Fasteval, Meval};
use kalix_expr_bench::{Layout, Set, TYPICAL, TYPICAL_NAMES};
use kalix_expr_core::Expr;

/// Counts live bytes and allocations.
struct Counting;

static BYTES: AtomicIsize = AtomicIsize::new(0);
static BLOCKS: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        BYTES.fetch_add(layout.size() as isize, Relaxed);
        BLOCKS.fetch_add(1, Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: AllocLayout) {
        BYTES.fetch_sub(layout.size() as isize, Relaxed);
        BLOCKS.fetch_sub(1, Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: AllocLayout) -> *mut u8 {
        BYTES.fetch_add(layout.size() as isize, Relaxed);
        BLOCKS.fetch_add(1, Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: AllocLayout, new_size: usize) -> *mut u8 {
        BYTES.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Bytes and allocations retained by what `build` returns (`None` if it cannot be built): the
/// heap blocks it owns, plus its own size (where a host keeps it, in a `Vec` say).
fn retained<T, E>(build: impl FnOnce() -> Result<T, E>) -> Option<(isize, isize)> {
    let built = build().ok()?;
    let (bytes, blocks) = (BYTES.load(Relaxed), BLOCKS.load(Relaxed));
    drop(built);
    let own = std::mem::size_of::<T>() as isize;
    Some((bytes - BYTES.load(Relaxed) + own, blocks - BLOCKS.load(Relaxed)))
}

fn cell(r: Option<(isize, isize)>) -> String {
    match r {
        Some((bytes, blocks)) => format!("{bytes} B / {blocks}"),
        None => "–".into(),
    }
}

fn row(label: &str, src: &str, layout: &Layout, totals: &mut [Vec<f64>; 4]) {
    let rs = [
        retained(|| Expr::parse(src)?.compile(&layout.names)),
        retained(|| Fasteval::new(src, layout)),
        retained(|| Exmex::new(src, layout)),
        retained(|| Meval::new(src, layout)),
    ];
    for (t, r) in totals.iter_mut().zip(&rs) {
        if let Some((bytes, _)) = r {
            t.push(*bytes as f64);
        }
    }
    println!("| {label} | {} | {} | {} | {} |", cell(rs[0]), cell(rs[1]), cell(rs[2]), cell(rs[3]));
}

fn main() {
    println!("### Bytes retained per compiled expression (bytes / allocations)\n");
    print!("| expression |");
    for e in [Engine::KalixExpr, Engine::Fasteval, Engine::Exmex, Engine::Meval] {
        print!(" {} |", e.name());
    }
    println!("\n|---|---:|---:|---:|---:|");
    let mut totals: [Vec<f64>; 4] = Default::default();
    let typical = Layout { names: TYPICAL_NAMES.to_vec(), varying: TYPICAL_NAMES.len(), fixed: Vec::new() };
    row(&format!("typical, {} chars: `{TYPICAL}`", TYPICAL.len()), TYPICAL, &typical, &mut totals);
    for set in Set::ALL {
        let layout = set.layout();
        for (i, src) in set.sources().into_iter().enumerate() {
            row(&format!("{} #{} ({} chars)", set.name(), i + 1, src.len()), src, &layout, &mut totals);
        }
    }
    let mean = |v: &[f64]| {
        if v.is_empty() {
            "–".to_string()
        } else {
            format!("{:.0} B", v.iter().sum::<f64>() / v.len() as f64)
        }
    };
    println!(
        "| mean over the expressions each engine runs | {} | {} | {} | {} |",
        mean(&totals[0]),
        mean(&totals[1]),
        mean(&totals[2]),
        mean(&totals[3])
    );
    println!(
        "\nkalix-expr: the `Compiled` alone (the parsed `Expr` is dropped). fasteval: its `Slab` (parse and compile \
         slabs, preallocated) and the compiled instruction. exmex: the `FlatEx`. meval: the bound closure with its \
         context. The peers' figures include the adapter's small argument buffer."
    );
}
