"""An ensemble of 1,000 runs of a model's constants on dask.distributed, and a formula over a
chunked dask.array; each checked against the same work in this process.

    pip install ./python "dask[distributed]" pandas
    python python/examples/dask_ensemble.py [--members 1000] [--workers 2]
"""

import argparse
import time

import numpy as np

import kalix_expr

MODEL = """
[kalix]
start = 2000-01-01
[const]
const.loss = 2
const.coefficient = 0.35
const.capacity = 250
[var.catchment]
runoff = max(0, data.rain - const.loss) * const.coefficient * 12.5
store = { s = this[-1, 50] + var.catchment.runoff - 1.5 * data.evap; clamp(s, 0, const.capacity) }
spill = max(0, this[-1, 0] * 0 + var.catchment.store - 0.95 * const.capacity)
"""


def member(model, params, inputs):
    """One member: the model with its constants set, run, and the numbers a study keeps."""
    out = model.with_constants(params).run(inputs, dataframe=False)
    store = out["var.catchment.store"]
    return {"mean_store": float(store.mean()), "days_empty": int((store == 0).sum()),
            "total_spill": float(out["var.catchment.spill"].sum())}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--members", type=int, default=1000)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()

    from distributed import Client, LocalCluster
    import dask.array as da

    rng = np.random.default_rng(42)
    days = 3650
    inputs = {"data.rain": rng.gamma(0.6, 8.0, days), "data.evap": rng.uniform(0, 9, days)}
    model = kalix_expr.Model.from_text(MODEL)
    params = [
        {"const.loss": rng.uniform(0.5, 5.0), "const.coefficient": rng.uniform(0.1, 0.6), "const.capacity": rng.uniform(100, 400)}
        for _ in range(args.members)
    ]

    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            # The model and the inputs go to the workers once; each task is one member.
            model_f, inputs_f = client.scatter([model, inputs], broadcast=True)
            t = time.perf_counter()
            futures = [client.submit(member, model_f, p, inputs_f, pure=False) for p in params]
            results = client.gather(futures)
            spread = time.perf_counter() - t
            print(f"{len(results)} members on {args.workers} worker processes in {spread:.1f} s")

            x = da.from_array(inputs["data.rain"].repeat(1000), chunks=500_000)
            f = kalix_expr.Expr("max(0, rain - loss) * 0.35")
            chunked = x.map_blocks(lambda b: f(rain=b, loss=2.0), dtype=np.float64).compute()

    t = time.perf_counter()
    local = [member(model, p, inputs) for p in params[:50]]
    print(f"first 50 members in this process: {time.perf_counter() - t:.1f} s; identical: {local == results[:50]}")
    assert local == results[:50]
    assert chunked.tobytes() == f(rain=inputs["data.rain"].repeat(1000), loss=2.0).tobytes()
    best = min(range(len(results)), key=lambda i: results[i]["total_spill"])
    print(f"least spill: member {best}, {params[best]}, {results[best]}")


if __name__ == "__main__":
    main()
