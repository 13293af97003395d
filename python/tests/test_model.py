"""Model files: the check's diagnostics, a run to a DataFrame equal to `kexpr run`, inputs as a
dict or a DataFrame, ensembles of constants, pickling."""

import io
import pickle
import subprocess

import numpy as np
import pandas as pd
import pytest

from kalix_expr import Error, Model


def test_a_run_is_kexpr_runs_csv(kexpr, root):
    model = root / "examples" / "model" / "creek.ini"
    data = root / "examples" / "model" / "creek.csv"
    csv = subprocess.run([kexpr, "run", str(model), "--data", str(data)], capture_output=True, text=True, check=True)
    want = pd.read_csv(io.StringIO(csv.stdout), index_col="date", parse_dates=True)
    inputs = pd.read_csv(data, index_col="date", parse_dates=True)
    got = Model.load(model).run(inputs)
    assert list(got.columns) == list(want.columns)
    assert (got.index == want.index).all()
    for c in want.columns:
        assert got[c].to_numpy().tobytes() == want[c].to_numpy(dtype=np.float64).tobytes(), c


def test_both_engines_give_the_same_bits_and_an_unknown_engine_is_refused(root):
    model = Model.load(root / "examples" / "model" / "creek.ini")
    inputs = pd.read_csv(root / "examples" / "model" / "creek.csv", index_col="date", parse_dates=True)
    jit = model.run(inputs, engine="jit", dataframe=False)
    interp = model.run(inputs, engine="interpreter", dataframe=False)
    assert list(jit) == list(interp) and len(jit) > 2
    for name in jit:
        assert jit[name].tobytes() == interp[name].tobytes(), name
    with pytest.raises(ValueError, match="engine `fast`"):
        model.run(inputs, engine="fast")


def test_inputs_as_a_dict_and_results_as_arrays_without_pandas_frames(root):
    m = Model.from_text("[var.b]\nx = data.rain * 2\ny = var.b.x + this[-1, 0]\n")
    out = m.run({"data.rain": [1.0, 2.0, 3.0]}, start="2001-03-01", dataframe=False)
    assert out["var.b.x"].tolist() == [2.0, 4.0, 6.0]
    assert out["var.b.y"].tolist() == [2.0, 6.0, 12.0]
    assert str(out["date"][0]) == "2001-03-01" and out["date"].dtype == np.dtype("datetime64[D]")
    frame = m.run({"data.rain": np.array([1.0, 2.0])}, start="2001-03-01")
    assert frame.index[1] == pd.Timestamp("2001-03-02")


def test_check_gives_diagnostics_as_objects(tmp_path):
    path = tmp_path / "m.ini"
    path.write_text("[const]\nconst.cap = 40\n[var.b]\nx = max(0, const.capp)\n")
    found = Model.load(path).check()
    error = next(d for d in found if d.severity == "error")
    assert (error.line, error.column, error.code) == (4, 12, "variable_unknown")
    assert error.help == "did you mean `const.cap`?"
    assert error.file.endswith("m.ini") and "const.capp" in str(error)


def test_a_model_with_errors_raises_with_the_rendered_diagnostics():
    m = Model.from_text("[var.b]\nx = nosuch + 1\n")
    with pytest.raises(Error) as e:
        m.run(steps=2)
    assert "unknown variable `nosuch`" in str(e.value)
    assert (e.value.line, e.value.code) == (2, "variable_unknown")
    with pytest.raises(Error):
        Model.load("/nowhere/model.ini")


def test_constants_change_per_member_and_models_pickle_with_them():
    m = Model.from_text("[const]\nconst.k = 2\n[var.b]\nx = const.k * sim.step\n")
    assert m.constants == {"const.k": 2.0}
    member = m.with_constants({"const.k": 5.0})
    assert member.run(steps=3, dataframe=False)["var.b.x"].tolist() == [0.0, 5.0, 10.0]
    assert m.run(steps=3, dataframe=False)["var.b.x"].tolist() == [0.0, 2.0, 4.0]
    again = pickle.loads(pickle.dumps(member))
    assert again.constants == {"const.k": 5.0}
    with pytest.raises(Error) as e:
        m.with_constants(kk=1)
    assert e.value.help == "did you mean `const.k`?"
