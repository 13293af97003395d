//! The case table of the stateful functions stepped through time (docs/language.md).
//!
//! [`step_cases!`] hands every case to a macro of the caller's choosing, as [`cases!`] does. A
//! case is
//!
//! ```text
//! "expression" [data.x, data.r, …] { [step 0 inputs…] => expected; [step 1 inputs…]; … }
//! ```
//!
//! Each row is one step of one run, in order: the stepping runtime runs the expression as a
//! `var.*` series over the `data.*` input series the rows make, and a `kexpr!` closure is called
//! once per row. Rows give an expected value where it is worked out by hand from docs/language.md;
//! rows without one only check that the engines agree. Every case holds a stateful call (so its
//! closure steps), and no offset (which a stepping closure rejects).
//!
//! [`cases!`]: super::cases

/// Calls `$m! { case* }` with every multi-step case.
macro_rules! step_cases {
    ($m:ident) => {
        $m! {
            // ---- moving_sum, moving_mean: running sums, recomputed on a wrap or a NaN leaving ----
            "moving_sum(data.x, 3, 0)" [data.x] { [1.0] => 1.0; [2.0] => 3.0; [3.0] => 6.0; [4.0] => 9.0; [5.0] => 12.0 }
            "moving_sum(data.x, 3, 1)" [data.x] { [5.0] => 7.0; [6.0] => 12.0; [7.0] => 18.0; [8.0] => 21.0 }
            "moving_sum(data.x, 2, 0)" [data.x] { [1.0] => 1.0; [NAN] => NAN; [2.0] => NAN; [3.0] => 5.0; [4.0] => 7.0 }
            "moving_sum(data.x, 4, 0)" [data.x] {
                [1.0] => 1.0; [NAN] => NAN; [1.0] => NAN; [1.0] => NAN; [1.0] => NAN; [1.0] => 4.0; [INF] => INF;
                [-INF]; [1.0]; [1.0]; [1.0]; [1.0] => 4.0
            }
            "moving_sum(data.x, 1, 9)" [data.x] { [5.0] => 5.0; [NAN] => NAN; [-0.0] => 0.0; [2.0] => 2.0; [-0.0] => 0.0 }
            "moving_sum(data.x, 3, 1e400)" [data.x] { [1.0] => NAN; [2.0] => NAN; [3.0] => 6.0; [4.0] => 9.0; [5.0] => 12.0 }
            "moving_sum(data.x, 3, -0)" [data.x] { [-0.0]; [-0.0]; [-0.0]; [-0.0]; [0.0]; [-0.0]; [-0.0]; [-0.0] }
            "moving_sum(data.x, 5, 0.1)" [data.x] {
                [0.2]; [0.7]; [1e-17]; [0.3]; [0.1]; [0.9]; [NAN]; [0.4]; [0.5]; [0.6]; [0.7]; [0.8]; [1e16]; [0.1];
                [0.2]; [0.3]; [0.4]; [0.5]; [0.6]
            }
            "moving_mean(data.x, 2, 0)" [data.x] { [2.0] => 1.0; [4.0] => 3.0; [6.0] => 5.0; [NAN] => NAN; [0.0] => NAN; [1.0] => 0.5 }
            "moving_mean(data.x, 1, 9)" [data.x] { [6.0] => 6.0; [-0.0] => 0.0; [NAN] => NAN; [7.0] => 7.0 }
            "moving_mean(data.x, 3, 0.1)" [data.x] { [0.7]; [0.2]; [0.4]; [0.3]; [1.1]; [2.2]; [3.3]; [-0.1]; [0.0] }
            "moving_mean(data.x, 3, 0)" [data.x] { [INF]; [1.0]; [-INF]; [2.0]; [3.0]; [4.0] => 3.0; [5.0] => 4.0 }
            "moving_mean(2, 3, 0)" [] { [] => 2.0 / 3.0; [] => 4.0 / 3.0; [] => 2.0; [] => 2.0 }

            // ---- moving_min, moving_max: NaN ignored, the pre-fill expiring ----
            "moving_min(data.x, 3, 0)" [data.x] { [5.0] => 0.0; [6.0] => 0.0; [7.0] => 5.0; [8.0] => 6.0; [1.0] => 1.0 }
            "moving_max(data.x, 2, 9)" [data.x] { [5.0] => 9.0; [NAN] => 5.0; [1.0] => 1.0; [NAN] => 1.0; [NAN] => NAN }
            "moving_max(data.x, 1, 0)" [data.x] { [NAN] => NAN; [2.0] => 2.0; [-0.0] => -0.0; [NAN] => NAN; [1.0] => 1.0 }
            "moving_min(data.x, 1, 0)" [data.x] { [3.0] => 3.0; [NAN] => NAN; [-2.0] => -2.0 }
            "moving_min(data.x, 3, 1e400)" [data.x] {
                [NAN] => INF; [4.0] => 4.0; [NAN] => 4.0; [NAN] => 4.0; [NAN] => NAN; [-0.0] => -0.0; [0.0] => 0.0;
                [-0.0] => -0.0
            }
            "moving_max(data.x, 4, -1e400)" [data.x] { [5.0] => 5.0; [NAN] => 5.0; [3.0] => 5.0; [2.0] => 5.0; [1.0] => 3.0; [NAN] => 3.0; [NAN] => 2.0 }
            "moving_max(data.x, 3, 0)" [data.x] { [-1.0] => 0.0; [-2.0] => 0.0; [-3.0] => -1.0; [-4.0] => -2.0; [INF] => INF }

            // ---- window statistics: NaN while a NaN is in the window, numpy's median and percentile ----
            "moving_median(data.x, 3, 0)" [data.x] {
                [5.0] => 0.0; [6.0] => 5.0; [1.0] => 5.0; [2.0] => 2.0; [NAN] => NAN; [3.0] => NAN; [4.0] => NAN; [5.0] => 4.0
            }
            "moving_median(data.x, 4, 1)" [data.x] { [2.0] => 1.0; [3.0] => 1.5; [5.0] => 2.5; [7.0] => 4.0; [-INF] => 4.0; [-0.0]; [0.0] }
            "moving_median(data.x, 1, 9)" [data.x] { [5.0] => 5.0; [NAN] => NAN; [-0.0] => -0.0 }
            "moving_percentile(data.x, 5, 25, 0)" [data.x] { [4.0] => 0.0; [3.0] => 0.0; [2.0] => 0.0; [1.0] => 1.0; [5.0] => 2.0 }
            "moving_percentile(data.x, 3, 100, 0)" [data.x] { [-1.0] => 0.0; [5.0] => 5.0; [NAN] => NAN; [2.0] => NAN; [1.0] => NAN; [0.0] => 2.0 }
            "moving_percentile(data.x, 2, 50, 0)" [data.x] { [4.0] => 2.0; [7.0] => 5.5; [INF] => NAN; [1.0] => NAN; [2.0] => 1.5 }
            "moving_percentile(data.x, 5, 90, 0)" [data.x] { [10.0]; [20.0]; [0.3]; [-7.0]; [0.1]; [1e300]; [NAN]; [2.0] }
            "moving_percentile(data.x, 4, 0, -1)" [data.x] { [3.0] => -1.0; [2.0] => -1.0; [1.0] => -1.0; [4.0] => 1.0; [5.0] => 1.0 }
            "moving_std(data.x, 2, 0)" [data.x] {
                [2.0] => 1.0; [4.0] => 1.0; [NAN] => NAN; [4.0] => NAN; [4.0] => 0.0; [INF] => NAN; [1.0] => NAN; [3.0] => 1.0
            }
            "moving_std(data.x, 3, 0.1)" [data.x] { [0.7]; [0.2]; [0.4]; [0.3]; [1.1]; [2.2]; [3.3]; [-0.1]; [0.0] }
            "moving_std(data.x, 1, 0)" [data.x] { [5.0] => 0.0; [NAN] => NAN; [-3.0] => 0.0 }
            "moving_count(data.c, 3, 0)" [data.c] { [1.0] => 1.0; [0.0] => 1.0; [NAN] => 2.0; [-0.0] => 1.0; [0.0] => 1.0; [0.0] => 0.0 }
            "moving_count(data.x > 1, 2, 1)" [data.x] { [0.0] => 1.0; [5.0] => 1.0; [7.0] => 2.0; [NAN] => 1.0 }
            "if(data.c, moving_median(data.x, 3, 0), moving_std(data.x, 2, 0))" [data.c, data.x] {
                [1.0, 3.0] => 0.0; [0.0, 5.0] => 1.0; [1.0, 4.0] => 4.0; [0.0, 4.0] => 0.0; [1.0, 1.0] => 4.0
            }

            // ---- the *_since family: reset-then-accumulate, a NaN reset fires ----
            "sum_since(data.x, data.r)" [data.x, data.r] {
                [1.0, 0.0] => 1.0; [2.0, 0.0] => 3.0; [3.0, 1.0] => 3.0; [4.0, 0.0] => 7.0; [5.0, NAN] => 5.0;
                [6.0, -0.0] => 11.0; [NAN, 0.0] => NAN; [1.0, 0.0] => NAN; [2.0, 1.0] => 2.0
            }
            "sum_since(data.x, data.r)" [data.x, data.r] { [-0.0, 0.0] => 0.0; [-0.0, 1.0] => -0.0; [-0.0, 0.0] => -0.0; [0.0, 0.0] => 0.0 }
            "min_since(data.x, data.r)" [data.x, data.r] {
                [3.0, 0.0] => 3.0; [NAN, 0.0] => 3.0; [1.0, 0.0] => 1.0; [5.0, 1.0] => 5.0; [NAN, 1.0] => NAN; [2.0, 0.0] => 2.0;
                [7.0, NAN] => 7.0
            }
            "max_since(data.x, data.r)" [data.x, data.r] { [-1.0, 0.0] => -1.0; [-0.0, 0.0]; [0.0, 0.0]; [7.0, NAN] => 7.0; [1.0, 0.0] => 7.0; [-INF, 1.0] => -INF }
            "count_since(data.c, data.r)" [data.c, data.r] {
                [1.0, 0.0] => 1.0; [0.0, 0.0] => 1.0; [NAN, 0.0] => 2.0; [-0.0, 0.0] => 2.0; [5.0, 1.0] => 1.0; [0.0, 1.0] => 0.0;
                [1.0, 0.0] => 1.0; [0.0, NAN] => 0.0
            }
            "count_since(data.x > 0, data.x)" [data.x] { [0.0] => 0.0; [0.0] => 0.0; [NAN] => 0.0; [0.0] => 0.0; [2.0] => 1.0 }
            "steps_since(data.r)" [data.r] { [0.0] => 0.0; [0.0] => 1.0; [1.0] => 0.0; [0.0] => 1.0; [NAN] => 0.0; [-0.0] => 1.0; [0.0] => 2.0 }
            "steps_since(data.r > 2)" [data.r] { [3.0] => 0.0; [NAN] => 1.0; [5.0] => 0.0; [1.0] => 1.0; [2.0] => 2.0 }
            "steps_since(0)" [] { [] => 0.0; [] => 1.0; [] => 2.0; [] => 3.0 }

            // ---- nested calls: the inner site advances first, the outer reads its new output ----
            "moving_max(moving_mean(data.x, 2, 0), 3, 0)" [data.x] { [2.0] => 1.0; [4.0] => 3.0; [-8.0] => 3.0; [NAN]; [1.0]; [1.0]; [1.0] }
            "moving_sum(moving_sum(data.x, 2, 0), 2, 0)" [data.x] { [1.0] => 1.0; [2.0] => 4.0; [3.0] => 8.0; [NAN] => NAN; [1.0]; [1.0]; [1.0]; [1.0] => 4.0 }
            "sum_since(moving_mean(data.x, 3, 0), steps_since(data.r) >= 2)" [data.x, data.r] {
                [3.0, 1.0]; [3.0, 0.0]; [3.0, 0.0]; [6.0, 0.0]; [NAN, 1.0]; [0.0, 0.0]; [0.0, 0.0]; [0.0, 0.0]
            }
            "steps_since(steps_since(data.r) == 2)" [data.r] { [0.0] => 0.0; [0.0] => 1.0; [0.0] => 0.0; [0.0] => 1.0; [1.0] => 2.0; [0.0] => 3.0; [0.0] => 0.0 }
            "count_since(moving_min(data.x, 2, 0) > 1, data.r)" [data.x, data.r] { [5.0, 0.0] => 0.0; [5.0, 0.0] => 1.0; [5.0, 0.0] => 2.0; [0.0, 1.0] => 0.0; [3.0, 0.0] => 0.0; [3.0, 0.0] => 1.0 }
            "moving_sum(data.x, 3, 0) + moving_sum(data.x, 3, 0)" [data.x] { [1.0] => 2.0; [2.0] => 6.0; [3.0] => 12.0 }
            "moving_sum(data.x, 3, 0) - moving_sum(data.x, 4, 0)" [data.x] { [1.0] => 0.0; [2.0] => 0.0; [3.0] => 0.0; [4.0] => -1.0; [5.0] => -2.0 }
            "moving_max(data.x, 3, 0) == moving_min(data.x, 3, 0)" [data.x] { [0.0] => 1.0; [1.0] => 0.0; [1.0] => 0.0; [1.0] => 1.0 }
            "min(moving_min(data.x, 2, 5), moving_max(data.x, 2, -5))" [data.x] { [7.0]; [9.0]; [NAN]; [-1.0]; [2.0] }
            "moving_mean(data.x, 5, 0) * (steps_since(data.r) + 1)" [data.x, data.r] { [1.0, 1.0]; [2.0, 0.0]; [3.0, 0.0]; [4.0, NAN]; [5.0, 0.0]; [6.0, 0.0] }

            // ---- untaken branches: every site advances once per step, whatever the branch ----
            "if(data.c, moving_sum(data.x, 3, 0), 0)" [data.c, data.x] { [1.0, 1.0] => 1.0; [0.0, 2.0] => 0.0; [1.0, 3.0] => 6.0; [0.0, 4.0] => 0.0; [1.0, 5.0] => 12.0 }
            "if(data.c, 0, steps_since(data.r))" [data.c, data.r] { [1.0, 1.0] => 0.0; [1.0, 0.0] => 0.0; [0.0, 0.0] => 2.0; [1.0, 1.0] => 0.0; [0.0, 0.0] => 1.0 }
            "if(data.c, moving_mean(data.x, 2, 0), moving_max(data.x, 2, 0))" [data.c, data.x] {
                [1.0, 4.0] => 2.0; [0.0, 6.0] => 6.0; [1.0, 2.0] => 4.0; [0.0, -1.0] => 2.0; [NAN, 8.0] => 3.5; [-0.0, NAN] => 8.0
            }
            "data.c && moving_sum(data.x, 2, 0) > 3" [data.c, data.x] { [0.0, 5.0] => 0.0; [1.0, 1.0] => 1.0; [1.0, 1.0] => 0.0; [0.0, 9.0] => 0.0; [1.0, 0.0] => 1.0 }
            "data.c || steps_since(data.r) > 1" [data.c, data.r] { [1.0, 0.0] => 1.0; [1.0, 0.0] => 1.0; [0.0, 0.0] => 1.0; [0.0, 1.0] => 0.0; [0.0, 0.0] => 0.0; [-0.0, 0.0] => 1.0 }
            "if(data.c, if(data.r, sum_since(data.x, 0), count_since(data.x, 0)), max_since(data.x, data.r))" [data.c, data.r, data.x] {
                [1.0, 1.0, 2.0] => 2.0; [0.0, 0.0, 5.0] => 5.0; [1.0, 0.0, 0.0] => 2.0; [1.0, 1.0, 1.0] => 8.0; [0.0, 1.0, -3.0] => -3.0;
                [0.0, 0.0, NAN] => -3.0
            }
            "if(moving_sum(data.c, 2, 0), moving_sum(data.x, 2, 0), -moving_sum(data.x, 2, 0))" [data.c, data.x] {
                [0.0, 1.0] => -1.0; [1.0, 2.0] => 3.0; [0.0, 3.0] => 5.0; [0.0, 4.0] => -7.0; [NAN, 5.0] => 9.0
            }
            "if(data.c, moving_sum(data.x, 1, 0), moving_sum(data.x, 1, 0) * 2)" [data.c, data.x] { [1.0, 3.0] => 3.0; [0.0, 4.0] => 8.0; [NAN, 5.0] => 5.0 }
            "if(0, moving_sum(data.x, 3, 0), steps_since(1))" [data.x] { [1.0] => 0.0; [2.0] => 0.0 }
            "if(data.c > 0, moving_max(data.x, 3, -1), if(data.c < 0, moving_min(data.x, 3, 1), count_since(data.x, data.c)))" [data.c, data.x] {
                [0.0, 5.0] => 1.0; [1.0, -2.0] => 5.0; [-1.0, 7.0] => -2.0; [0.0, 0.0] => 1.0; [0.0, 3.0] => 2.0; [2.0, NAN] => 3.0
            }

            // ---- blocks: each statement's sites advance right before it, reading the locals so far ----
            "{ a = data.x * 2; m = moving_mean(a, 3, 0); m + a }" [data.x] { [3.0] => 8.0; [0.0] => 2.0; [-3.0] => -6.0; [6.0] => 14.0 }
            "{ a = data.x; a = moving_sum(a, 2, 0); a = moving_sum(a, 2, 0); a }" [data.x] { [1.0] => 1.0; [2.0] => 4.0; [3.0] => 8.0; [4.0] => 12.0 }
            "{ s = steps_since(data.r); t = if(s > 1, moving_max(data.x, 2, 0), s); t * 10 }" [data.r, data.x] {
                [1.0, 5.0] => 0.0; [0.0, 3.0] => 10.0; [0.0, 4.0] => 40.0; [1.0, 9.0] => 0.0; [0.0, 1.0] => 10.0; [0.0, -1.0] => 10.0
            }
            "{ assert(steps_since(data.r) >= 0); count_since(data.x, data.r) }" [data.r, data.x] { [0.0, 1.0] => 1.0; [0.0, 1.0] => 2.0; [NAN, 0.0] => 0.0; [0.0, NAN] => 1.0 }
            "{ a = moving_sum(data.x, 2, 0); b = if(a > 2, moving_sum(a, 2, 0), 0); a + b }" [data.x] {
                [1.0] => 1.0; [2.0] => 3.0 + 4.0; [0.0] => 2.0; [5.0] => 5.0 + 7.0; [NAN] => NAN; [1.0] => NAN; [1.0] => 2.0
            }
            "{ c = data.c; v = c && moving_max(data.x, 3, -1) > 0; w = c || moving_min(data.x, 3, 1) < 0; v + w * 2 }" [data.c, data.x] {
                [0.0, -5.0] => 2.0; [1.0, -1.0] => 2.0; [1.0, 2.0] => 3.0; [0.0, 0.5] => 2.0; [0.0, 0.5] => 0.0; [1.0, -0.0] => 3.0
            }
            "{ a = moving_sum(data.x, 3, 0); a = a + moving_sum(a, 2, 0); a }" [data.x] { [1.0] => 2.0; [1.0] => 5.0; [1.0] => 8.0; [NAN] => NAN; [1.0]; [1.0]; [1.0]; [1.0]; [1.0] }
            "{\n  wet = data.rain > 0.5;\n  spell = steps_since(!wet);\n  if(spell >= 2, moving_mean(data.rain, 3, 0), 0)\n}" [data.rain] {
                [1.0] => 0.0; [2.0] => 0.0; [3.0] => 2.0; [0.0] => 0.0; [6.0] => 0.0; [6.0] => 4.0
            }
        }
    };
}
pub(crate) use step_cases;
