//! Evaluation allocates nothing: a counting global allocator watches `Compiled::eval`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use kalix_expr_core::{DivByZero, Expr, ExprSet, Options};

struct Counting;

thread_local! {
    // Per thread, so the test harness's own threads do not count.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

fn count() {
    // `try_with`: the allocator may run while the thread-local is being torn down.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarding the caller's layout to the system allocator unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: as for `alloc`/`dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const EXPRESSIONS: &[&str] = &[
    "max(0, rain - loss)",
    "if(month > 10, summer, winter) * 1.5",
    "abs(sin(step * 0.01) + cos(step * 0.02)) * sqrt(abs(doy)) + pow(abs(cos(year * 0.001)), 0.5)",
    "{ a = rain * 2; b = a - loss; assert(b == b || 1); clamp(b, 0, 100) }",
    "interp(rain, 0, 0, 10, 100, 20, 150) + interp(loss, 0, rain, 10, month, 20, 1)",
    "min(rain, loss, month, 3) + max(1, rain) + sum(rain, loss) + mean(1, rain, loss)",
    "moving_mean(rain, 30, 0) + sum_since(rain, month == 1) + steps_since(loss > 1)",
    "rain[-1, 0] + loss[2, -1] + (rain > 1 && loss < 2 || !month) + rain % 3 + is_leap_year(year)",
];
const NAMES: &[&str] = &["rain", "loss", "month", "summer", "winter", "step", "doy", "year"];

#[test]
fn evaluation_allocates_nothing() {
    // Windows and offsets evaluated as a run's first step.
    let single = Options { single_step: true, ..Options::default() };
    let opts = [single.clone(), Options { div_by_zero: DivByZero::Error, ..single }];
    let compiled: Vec<_> = EXPRESSIONS
        .iter()
        .flat_map(|src| opts.iter().map(move |o| Expr::parse(src).unwrap().compile_with(NAMES, o).unwrap()))
        .collect();
    let values = [3.0, 1.5, 11.0, 2.0, 4.0, 100.0, 200.0, 2024.0];
    // Warm up anything lazily initialised: the test harness, and (with the `jit` feature) the
    // native code built once an expression has been evaluated `JIT_AFTER` times.
    let mut total = 0.0;
    for _ in 0..=kalix_expr_core::JIT_AFTER {
        for c in &compiled {
            total += c.eval(&values).unwrap();
        }
    }
    let before = allocations();
    for step in 0..1_000 {
        let values = [step as f64 * 0.1, 1.5, (step % 12 + 1) as f64, 2.0, 4.0, step as f64, 200.0, 2024.0];
        for c in &compiled {
            total += c.eval(&values).unwrap();
        }
    }
    let after = allocations();
    assert_eq!(after - before, 0, "evaluation allocated {} times", after - before);
    assert!(total.is_finite());
}

#[test]
fn a_set_evaluation_allocates_nothing() {
    // Windows and offsets evaluated as a run's first step.
    let single = Options { single_step: true, ..Options::default() };
    let opts = [single.clone(), Options { div_by_zero: DivByZero::Error, ..single }];
    let set: ExprSet = EXPRESSIONS
        .iter()
        .flat_map(|src| opts.iter().map(move |o| Expr::parse(src).unwrap().compile_with(NAMES, o).unwrap()))
        .collect();
    let mut out = vec![0.0; set.len()];
    // Past the warm-up: the set's native module (feature `jit`) is built.
    for _ in 0..=kalix_expr_core::JIT_AFTER {
        set.eval_all(&[3.0, 1.5, 11.0, 2.0, 4.0, 100.0, 200.0, 2024.0], &mut out).unwrap();
    }
    let mut total = 0.0;
    let before = allocations();
    for step in 0..1_000 {
        let values = [step as f64 * 0.1, 1.5, (step % 12 + 1) as f64, 2.0, 4.0, step as f64, 200.0, 2024.0];
        set.eval_all(&values, &mut out).unwrap();
        total += out.iter().sum::<f64>();
        total += set.eval(step % set.len(), &values).unwrap();
    }
    let after = allocations();
    assert_eq!(after - before, 0, "set evaluation allocated {} times", after - before);
    assert!(total.is_finite());
}
