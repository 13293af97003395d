//! Measures each hostile input of LIMITS.md: the outcome, the time and the peak heap.
//!
//! ```text
//! cargo run --release -p kalix-expr-core --example limits
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use kalix_expr_core::{Calendar, Date, Expr, FnDef, Functions, Model, ParseOptions, Table};

struct Peak;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Peak {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(l.size(), Relaxed) + l.size();
        PEAK.fetch_max(now, Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Peak = Peak;

fn measure(what: &str, input: impl FnOnce() -> String, run: impl FnOnce(&str) -> String) {
    let input = input();
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    let t = Instant::now();
    let outcome = run(&input);
    let took = t.elapsed();
    let peak = PEAK.load(Relaxed).saturating_sub(base);
    println!("| {what} | {outcome} | {:.1} ms | {:.1} MiB |", took.as_secs_f64() * 1e3, peak as f64 / (1 << 20) as f64);
}

fn first_line(e: impl std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or_default().replace('|', "\\|")
}

fn main() {
    let unlimited = ParseOptions { max_len: usize::MAX, ..ParseOptions::default() };
    println!("| input | outcome | time | peak heap |\n|---|---|---:|---:|");
    measure(
        "100,000 nested parentheses",
        || "(".repeat(100_000) + "1" + &")".repeat(100_000),
        |s| first_line(Expr::parse_with(s, &unlimited).unwrap_err()),
    );
    measure("10 MB expression", || "x+".repeat(5 << 20) + "x", |s| first_line(Expr::parse(s).unwrap_err()));
    measure(
        "1,000,000-term sum `1+1+…`, length limit lifted",
        || vec!["1"; 1_000_000].join("+"),
        |s| first_line(Expr::parse_with(s, &unlimited).unwrap_err()),
    );
    measure(
        "`sum(x, x, …)` of 1,000,000 arguments, length limit lifted",
        || format!("sum({})", vec!["x"; 1_000_000].join(",")),
        |s| {
            let c = Expr::parse_with(s, &unlimited).unwrap().compile(&["x"]).unwrap();
            format!("correct: {}", c.eval(&[1.0]).unwrap())
        },
    );
    measure("10,000 chained user functions", String::new, |_| {
        let n = 10_000;
        let defs: Vec<FnDef> = (0..n)
            .map(|i| {
                FnDef::parse(&format!("f{i}(x)"), &if i + 1 < n { format!("fn.f{}(x) + 1", i + 1) } else { "x".into() })
                    .unwrap()
            })
            .collect();
        first_line(&Functions::new(defs).unwrap_err()[0])
    });
    measure("user functions fanning out 2^30 calls", String::new, |_| {
        let defs: Vec<FnDef> = (0..30)
            .map(|i| {
                FnDef::parse(
                    &format!("f{i}(x)"),
                    &if i < 29 { format!("fn.f{0}(x) + fn.f{0}(x)", i + 1) } else { "x".into() },
                )
                .unwrap()
            })
            .collect();
        first_line(&Functions::new(defs).unwrap_err()[0])
    });
    measure("table of 1,000,000 rows, run 1,000 steps", String::new, |_| {
        let cells: Vec<String> = (0..1_000_000).flat_map(|i| [i.to_string(), (i * 2).to_string()]).collect();
        let mut m = Model::new(Calendar::daily(Date::new(2000, 1, 1).unwrap()));
        m.table(Table::from_cells("big", &cells, 2).unwrap());
        m.series("var.b.v", Expr::parse("table.big(sim.step * 997 + 0.5)").unwrap());
        let out = m.compile().unwrap().run(&[], 1_000).unwrap();
        format!("correct: {}", out.column_at(0)[999])
    });
}
