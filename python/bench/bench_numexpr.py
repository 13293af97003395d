"""kalix_expr against numexpr and pandas.eval on arrays of 10 million elements: the ExprTk set
and model-sized formulas, on one core and on all cores, side by side in one run.

    pip install ./python numexpr pandas
    python python/bench/bench_numexpr.py [--rows 10000000] [--repeat 5]

Prints, per formula, the best time of each engine and the ratio kalix_expr / numexpr (below 1:
kalix_expr is faster), then the geometric means. Every formula's result is checked against
numexpr's first (equal within 1e-9 relative; the engines round `sin` and `**` alike only on
most inputs).
"""

import argparse
import math
import os
import time

import numpy as np

import kalix_expr

try:
    import numexpr
except ImportError:  # pragma: no cover
    raise SystemExit("numexpr is needed: pip install numexpr")
try:
    import pandas as pd
except ImportError:  # pragma: no cover
    pd = None

PI = repr(math.pi)

# (kalix-expr formula, numexpr formula, pandas.eval formula or None where it has no equivalent)
EXPRTK = [
    ("(y + x)", "(y + x)", "(y + x)"),
    ("2 * (y + x)", "2 * (y + x)", "2 * (y + x)"),
    ("(2 * y + 2 * x)", "(2 * y + 2 * x)", "(2 * y + 2 * x)"),
    ("((1.23 * x^2) / y) - 123.123", "((1.23 * x**2) / y) - 123.123", "((1.23 * x**2) / y) - 123.123"),
    ("(y + x / y) * (x - y / x)", "(y + x / y) * (x - y / x)", "(y + x / y) * (x - y / x)"),
    ("x / ((x + y) + (x - y)) / y", "x / ((x + y) + (x - y)) / y", "x / ((x + y) + (x - y)) / y"),
    ("1 - ((x * y) + (y / x)) - 3", "1 - ((x * y) + (y / x)) - 3", "1 - ((x * y) + (y / x)) - 3"),
    (
        "(5.5 + x) + (2 * x - 2 / 3 * y) * (x / 3 + y / 4) + (y + 7.7)",
        "(5.5 + x) + (2 * x - 2 / 3 * y) * (x / 3 + y / 4) + (y + 7.7)",
        "(5.5 + x) + (2 * x - 2 / 3 * y) * (x / 3 + y / 4) + (y + 7.7)",
    ),
    (
        "1.1*x^1 + 2.2*y^2 - 3.3*x^3 + 4.4*y^15 - 5.5*x^23 + 6.6*y^55",
        "1.1*x**1 + 2.2*y**2 - 3.3*x**3 + 4.4*y**15 - 5.5*x**23 + 6.6*y**55",
        "1.1*x**1 + 2.2*y**2 - 3.3*x**3 + 4.4*y**15 - 5.5*x**23 + 6.6*y**55",
    ),
    ("sin(2 * x) + cos(pi / y)", f"sin(2 * x) + cos({PI} / y)", f"sin(2 * x) + cos({PI} / y)"),
    ("1 - sin(2 * x) + cos(pi / y)", f"1 - sin(2 * x) + cos({PI} / y)", f"1 - sin(2 * x) + cos({PI} / y)"),
    (
        "sqrt(111.111 - sin(2 * x) + cos(pi / y) / 333.333)",
        f"sqrt(111.111 - sin(2 * x) + cos({PI} / y) / 333.333)",
        f"sqrt(111.111 - sin(2 * x) + cos({PI} / y) / 333.333)",
    ),
    ("(x^2 / sin(2 * pi / y)) - x / 2", f"(x**2 / sin(2 * {PI} / y)) - x / 2", f"(x**2 / sin(2 * {PI} / y)) - x / 2"),
    (
        "x + (cos(y - sin(2 / x * pi)) - sin(x - cos(2 * y / pi))) - y",
        f"x + (cos(y - sin(2 / x * {PI})) - sin(x - cos(2 * y / {PI}))) - y",
        f"x + (cos(y - sin(2 / x * {PI})) - sin(x - cos(2 * y / {PI}))) - y",
    ),
    (
        "clamp(sin(2 * pi * x) + cos(y / 2 * pi), -1.0, 1.0)",
        f"where(sin(2 * {PI} * x) + cos(y / 2 * {PI}) < -1.0, -1.0, where(sin(2 * {PI} * x) + cos(y / 2 * {PI}) > 1.0, 1.0, sin(2 * {PI} * x) + cos(y / 2 * {PI})))",
        None,
    ),
    (
        "if((y + (x * 2.2)) <= (x + y + 1.1), x - y, x * y) + 2 * pi / x",
        f"where((y + (x * 2.2)) <= (x + y + 1.1), x - y, x * y) + 2 * {PI} / x",
        None,
    ),
]

MODEL = [
    ("max(0, min(37.5, usflow - 21))", "where(usflow - 21 < 37.5, where(usflow - 21 > 0, usflow - 21, 0), 37.5)", None),
    ("rain * 0.35 + evap * 0.65 - 0.8", "rain * 0.35 + evap * 0.65 - 0.8", "rain * 0.35 + evap * 0.65 - 0.8"),
    ("if(usflow > 10, usflow - 10, 0)", "where(usflow > 10, usflow - 10, 0)", None),
    (
        "max(0, rain - 2) * 12.5 * 0.35 + 0.5 * evap",
        "where(rain - 2 > 0, rain - 2, 0) * 12.5 * 0.35 + 0.5 * evap",
        None,
    ),
]


def best(f, repeat):
    times = []
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return min(times), out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    rng = np.random.default_rng(2026)
    n = args.rows
    env = {
        "x": rng.uniform(-100, 100, n),
        "y": rng.uniform(-100, 100, n),
        "usflow": rng.gamma(1.5, 20, n),
        "rain": rng.gamma(0.6, 8, n),
        "evap": rng.uniform(0, 9, n),
    }
    cores = os.cpu_count() or 1
    print(f"{n:,} rows; numexpr {numexpr.__version__}; pandas {pd.__version__ if pd else '-'}; {cores} cores")
    for label, threads in [("one core", 1), (f"all cores ({cores})", None)]:
        numexpr.set_num_threads(1 if threads == 1 else cores)
        print(f"\n{label}")
        print(f"{'formula':<58} {'kalix_expr':>10} {'numexpr':>9} {'pandas':>9} {'k/ne':>6}")
        ratios = {"exprtk": [], "model": []}
        for group, formulas in [("exprtk", EXPRTK), ("model", MODEL)]:
            for ours, theirs, pandas_form in formulas:
                f = kalix_expr.Expr(ours)
                values = {v: env[v] for v in f.variables}
                tk, rk = best(lambda: f(threads=threads, **values), args.repeat)
                tn, rn = best(lambda: numexpr.evaluate(theirs, local_dict=values), args.repeat)
                assert np.allclose(rk, rn, rtol=1e-9, atol=1e-12, equal_nan=True), ours
                tp = float("nan")
                if pd is not None and pandas_form is not None and threads == 1:
                    frame_env = {k: pd.Series(v) for k, v in values.items()}
                    tp, _ = best(lambda: pd.eval(pandas_form, local_dict=frame_env), max(1, args.repeat // 2))
                ratios[group].append(tk / tn)
                print(f"{ours[:58]:<58} {tk * 1e3:8.1f}ms {tn * 1e3:7.1f}ms {tp * 1e3:7.1f}ms {tk / tn:6.2f}")
        for group, r in ratios.items():
            geo = math.exp(sum(math.log(v) for v in r) / len(r))
            print(f"geo-mean kalix_expr / numexpr, {group} set: {geo:.2f}")


if __name__ == "__main__":
    main()
