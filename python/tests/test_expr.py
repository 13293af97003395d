"""Formulas over numpy arrays: the values of `kexpr eval`, bit for bit, broadcasting as numpy,
options, errors and pickling."""

import json
import pickle
import subprocess

import numpy as np
import pytest

import kalix_expr
from kalix_expr import Error, Expr, ExprSet


def kexpr_eval(kexpr, source, values):
    """`kexpr eval --format json`'s value for one row."""
    args = [kexpr, "eval", "--format", "json", source] + [f"{k}={v!r}" for k, v in values.items()]
    out = json.loads(subprocess.run(args, capture_output=True, text=True).stdout)
    value = out["value"]
    return float({"NaN": "nan"}.get(value, value)) if isinstance(value, str) else float(value)


FORMULAS = [
    "max(0, rain - loss)",
    "if(rain > 10, rain * 0.35, rain / 3)",
    "clamp(x, -1, 1) + x % 3 - round(x)",
    "sqrt(abs(x)) ^ 1.5 + ln(rain + 1)",
    "min(x, rain, 7) == x || rain != 2",
    "{ a = x * 2; b = a - rain; max(a, b) / (rain + 0.1) }",
]


@pytest.mark.parametrize("source", FORMULAS)
def test_values_are_those_of_kexpr_eval_bit_for_bit(kexpr, source):
    rng = np.random.default_rng(7)
    expr = Expr(source)
    values = {name: rng.normal(5, 8, 200).round(3) for name in expr.variables}
    values[expr.variables[0]][:3] = [0.0, -0.0, 2.5]
    got = expr(**values)
    for i in [0, 1, 2, 17, 99, 199]:
        row = {k: float(v[i]) for k, v in values.items()}
        want = kexpr_eval(kexpr, source, row)
        assert np.float64(got[i]).tobytes() == np.float64(want).tobytes() or (np.isnan(got[i]) and np.isnan(want)), (
            source,
            row,
            got[i],
            want,
        )


def test_broadcasting_dtypes_and_shapes_follow_numpy():
    f = Expr("a * 10 + b")
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    b = np.array([0.5, 0.25, 0.125], dtype=np.float32)
    got = f(a=a, b=b)
    assert got.dtype == np.float64 and got.shape == (2, 3)
    np.testing.assert_array_equal(got, a.astype(np.float64) * 10 + b.astype(np.float64))
    assert isinstance(f(a=1, b=2), np.float64) and f(a=1, b=2) == 12.0
    assert f(a=np.arange(4)[::2], b=1.0).tolist() == [1.0, 21.0]  # a strided view
    with pytest.raises(ValueError):
        f(a=np.zeros(3), b=np.zeros(4))


def test_large_arrays_on_all_cores_give_the_bits_of_one_core():
    x = np.random.default_rng(3).normal(size=3_000_000)
    f = Expr("max(0, x * 2 - 0.5) + sqrt(abs(x)) - if(x > 1, x, 0)")
    all_cores = f(x=x)
    one = f(x=x, threads=1)
    assert all_cores.tobytes() == one.tobytes()
    assert f(x=x, threads=2).tobytes() == one.tobytes()


def test_options_division_domain_and_missing_variables():
    assert Expr("1 / x")(x=0.0) == np.inf
    assert np.isnan(Expr("1 / x", division_by_zero="nan")(x=0.0))
    with pytest.raises(Error) as e:
        Expr("1 / x", division_by_zero="error")(x=np.array([1.0, 0.0]))
    assert e.value.code == "division_by_zero"
    assert np.isnan(Expr("sqrt(x)")(x=-1.0))
    with pytest.raises(Error) as e:
        Expr("sqrt(x)", domain_errors="error")(x=-1.0)
    assert e.value.code == "domain_error"
    with pytest.raises(Error) as e:
        Expr("a + b")(a=1.0)
    assert "`b`" in str(e.value) and e.value.code == "variable_missing"
    assert Expr("a + b", missing=0.5)(a=1.0) == 1.5
    with pytest.raises(TypeError):
        Expr("a + 1")(c=1.0)
    with pytest.raises(ValueError):
        Expr("a", division_by_zero="zero")


def test_errors_are_value_errors_with_the_diagnostic_as_data():
    with pytest.raises(Error) as e:
        Expr("max(1, mx(2)) + ")
    err = e.value
    assert isinstance(err, ValueError)
    assert str(err).startswith("error: ")
    assert (err.kind, err.line) == ("expression", 1)
    assert err.column >= 1 and err.code
    assert isinstance(err.diagnostics, list) and err.diagnostics[0]["code"] == err.code


def test_offsets_and_windows_are_refused_unless_asked_for_a_single_step():
    with pytest.raises(Error) as e:
        Expr("x[-1, 5] + moving_mean(x, 3, 0)")
    assert e.value.code == "run_required" and e.value.column == 1
    assert "single_step=True" in str(e.value)
    f = Expr("x[-1, 5] + moving_mean(x, 4, 1)", single_step=True)
    # Each row is a run's first step: the offset reads 5, the window (x + 3 * 1) / 4.
    assert list(f(x=np.array([1.0, 5.0]))) == [6.0, 7.0]
    assert pickle.loads(pickle.dumps(f)).options["single_step"] is True


def test_expressions_and_sets_pickle_as_their_source_and_options():
    f = Expr("x / y", division_by_zero="nan", missing=2.0)
    g = pickle.loads(pickle.dumps(f))
    assert (g.source, g.options) == (f.source, f.options)
    assert np.isnan(g(x=1.0, y=0.0)) and g(x=4.0) == 2.0
    s = ExprSet(["a + b", "a * b"])
    t = pickle.loads(pickle.dumps(s))
    assert t.sources == s.sources and [float(v) for v in t(a=2.0, b=3.0)] == [5.0, 6.0]
    assert s.variables == ["a", "b"]


def test_the_package_exposes_its_version():
    assert kalix_expr.__version__ == "0.1.0"
