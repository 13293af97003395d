"""Scale-out on Dask: an ensemble of model runs on a LocalCluster of worker processes, and a
formula over a chunked dask.array, each equal to a single-process run."""

import numpy as np
import pytest

import kalix_expr

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

import dask.array as da  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402

MODEL = """
[const]
const.loss = 2
const.coefficient = 0.35
[var.catchment]
runoff = max(0, data.rain - const.loss) * const.coefficient
store = { s = this[-1, 50] + var.catchment.runoff - 1.5; clamp(s, 0, 200) }
"""


def member_total(model, params, rain):
    """One ensemble member: the model with its constants set, run, summarised."""
    out = model.with_constants(params).run({"data.rain": rain}, dataframe=False)
    return float(out["var.catchment.store"].sum())


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as c:
            yield c


def test_an_ensemble_on_worker_processes_equals_a_single_process_run(client):
    model = kalix_expr.Model.from_text(MODEL)
    rain = np.random.default_rng(11).gamma(0.6, 8.0, 730)
    params = [{"const.loss": 0.5 + i % 7, "const.coefficient": 0.2 + 0.01 * (i % 23)} for i in range(60)]
    futures = client.map(member_total, [model] * len(params), params, [rain] * len(params))
    distributed_totals = client.gather(futures)
    local_totals = [member_total(model, p, rain) for p in params]
    assert distributed_totals == local_totals
    assert len(set(local_totals)) > 10


def test_a_formula_over_a_chunked_dask_array_equals_numpy(client):
    f = kalix_expr.Expr("max(0, rain - loss) * 0.35")
    rain = np.random.default_rng(5).gamma(0.6, 8.0, 1_000_000)
    chunked = da.from_array(rain, chunks=100_000)
    result = chunked.map_blocks(lambda block: f(rain=block, loss=2.0), dtype=np.float64).compute()
    assert result.tobytes() == f(rain=rain, loss=2.0).tobytes()
