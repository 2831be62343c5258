"""Logged models (MLflow 3), side by side: jupyter-lifecycle and MLflow 3.17.2.

    .venv/bin/python benchmarks/bench_logged_models.py [--models 10000] [--repeat 5]

Each side runs this file in a fresh interpreter of its own venv (``.venv``
and ``.venv-mlflow``) with ``--side`` and prints JSON. Measured:

- ``sklearn.log_model`` without an active run (which creates the logged-model
  record, and no run), first call in the process, then warm;
- ``search_logged_models`` over ``--models`` logged models of one experiment,
  each with an ``accuracy`` metric on a dataset, a param and a tag: with a
  metric filter (``metrics.accuracy > 0.99``: about 1% match), the same on
  one dataset, and ordered by the metric on that dataset (first 100), as
  ``output_format="list"``; median of ``--repeat``.

Ours creates every model through ``Client.create_logged_model`` and
``log_metric(..., model_id=, dataset_name=, dataset_digest=)`` (its setup
time is printed); MLflow's API takes ~50 ms per model, so its side creates
50 through the API and copies their rows (new ids, random accuracies) in
its own SQLite tables up to the same count. Prints times and ratios;
asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OURS_PY = ROOT / ".venv" / "bin" / "python"
MLFLOW_PY = ROOT / ".venv-mlflow" / "bin" / "python"

FILTER = "metrics.accuracy > 0.99"
DATASET = {"dataset_name": "holdout", "dataset_digest": "d41d8cd9"}
TARGETS = {
    "log_model without a run, first call (s)": "< 0.5",
    "log_model without a run, warm (s)": "< 0.5",
    "search, metric filter (ms)": "< 100",
    "search, metric filter on a dataset (ms)": "< 100",
    "search, order by metric on a dataset, first 100 (ms)": "< 100",
}


def _timed(call: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        call()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def _copy_mlflow_models(db: str, total: int) -> None:
    """Copy MLflow's logged-model rows (with new ids and random accuracies) until there are ``total``."""
    import sqlite3

    conn = sqlite3.connect(db)
    tables = {t: [d[1] for d in conn.execute(f"PRAGMA table_info({t})")] for t in
              ("logged_models", "logged_model_metrics", "logged_model_params", "logged_model_tags")}  # fmt: skip
    seeds = [r[0] for r in conn.execute("SELECT model_id FROM logged_models")]
    rows = {t: {m: conn.execute(f"SELECT * FROM {t} WHERE model_id = ?", (m,)).fetchall() for m in seeds} for t in tables}
    rng = random.Random(1)
    with conn:
        for i in range(total - len(seeds)):
            seed, new = seeds[i % len(seeds)], f"m-{uuid.uuid4().hex}"
            for table, columns in tables.items():
                out = []
                for row in rows[table][seed]:
                    values = dict(zip(columns, row, strict=True))
                    values["model_id"] = new
                    if table == "logged_model_metrics":
                        values["metric_value"] = rng.random()
                    if table == "logged_models":
                        values["name"] = f"model-{i}"
                    out.append(tuple(values[c] for c in columns))
                conn.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})", out)
    conn.close()


def measure(side: str, models: int, repeat: int) -> dict[str, float]:
    """Run the measurements in this interpreter with ``side``'s library."""
    import warnings

    warnings.filterwarnings("ignore")
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(150, 4)), columns=["a", "b", "c", "d"])
    model = LogisticRegression().fit(X, (X["c"] > 0).astype(int))
    tmp = tempfile.mkdtemp()
    out: dict[str, float] = {}
    if side == "mlflow":
        import mlflow
        import mlflow.sklearn as flavor

        mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
        lib: Any = mlflow
        client: Any = mlflow.MlflowClient()
    else:
        import jupyter_lifecycle as lc
        import jupyter_lifecycle.sklearn as flavor  # type: ignore[no-redef]

        lc.set_store(Path(tmp) / "store")
        lib, client = lc, lc.Client()
    experiment_id = lib.set_experiment("bench").experiment_id  # the store and experiment exist before timing
    t = time.perf_counter()
    flavor.log_model(model, name="model", input_example=X[:5])
    out["log_model without a run, first call (s)"] = time.perf_counter() - t
    warm = []
    for i in range(3):
        t = time.perf_counter()
        flavor.log_model(model, name=f"model_{i}", input_example=X[:5])
        warm.append(time.perf_counter() - t)
    out["log_model without a run, warm (s)"] = statistics.median(warm)
    assert lib.active_run() is None

    experiment_id = lib.set_experiment("search").experiment_id
    run_id = client.create_run(experiment_id).info.run_id
    values = random.Random(0)
    t = time.perf_counter()
    for i in range(models if side == "ours" else 50):
        created = client.create_logged_model(experiment_id, name=f"model-{i}", params={"C": str(i % 7)},
                                             tags={"team": "a" if i % 2 else "b"}, source_run_id=run_id)  # fmt: skip
        client.log_metric(run_id, "accuracy", values.random(), model_id=created.model_id, **DATASET)
        client.finalize_logged_model(created.model_id, "READY")
    if side == "mlflow":
        _copy_mlflow_models(f"{tmp}/mlflow.db", models)
    else:
        out[f"setup: create {models:,} models with a metric via the API (s)"] = time.perf_counter() - t

    def search(**kwargs: Any) -> list[Any]:
        return lib.search_logged_models(experiment_ids=[experiment_id], output_format="list", **kwargs)

    found = search(filter_string=FILTER)
    assert 0 < len(found) < models // 20, len(found)
    out["search, metric filter (ms)"] = _timed(lambda: search(filter_string=FILTER), repeat)
    out["search, metric filter on a dataset (ms)"] = _timed(
        lambda: search(filter_string=FILTER, datasets=[DATASET]), repeat)  # fmt: skip
    order = [{"field_name": "metrics.accuracy", "ascending": False, **DATASET}]
    best = search(order_by=order, max_results=100)
    assert len(best) == 100 and best[0].metrics[0].value >= best[-1].metrics[0].value
    out["search, order by metric on a dataset, first 100 (ms)"] = _timed(
        lambda: search(order_by=order, max_results=100), repeat)  # fmt: skip
    out["matches of the metric filter"] = float(len(found))
    return out


def run_side(python: Path, side: str, models: int, repeat: int) -> dict[str, float] | str:
    if not python.exists():
        return f"{python} missing: run `make mlflow-venv`"
    with tempfile.TemporaryDirectory() as scratch:  # MLflow writes ./mlruns wherever it runs
        done = subprocess.run([str(python), __file__, "--side", side, "--models", str(models), "--repeat", str(repeat)],
                              capture_output=True, text=True, cwd=scratch, timeout=1800)  # fmt: skip
    if done.returncode != 0:
        return f"{side} failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", choices=("ours", "mlflow"))
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(measure(args.side, args.models, args.repeat)))
        return
    ours = run_side(OURS_PY if OURS_PY.exists() else Path(sys.executable), "ours", args.models, args.repeat)
    theirs = run_side(MLFLOW_PY, "mlflow", args.models, args.repeat)
    if isinstance(ours, str):
        sys.exit(ours)
    print(f"Logged models: jupyter-lifecycle vs MLflow 3.17.2, {args.models:,} models (each side in a fresh interpreter)\n")
    print(f"{'measure':<56} {'ours':>10} {'MLflow':>10} {'MLflow/ours':>12}   target")
    for key, value in ours.items():
        other = theirs.get(key) if isinstance(theirs, dict) else None
        ratio = f"{other / value:>11.1f}x" if other and value else f"{'-':>12}"
        shown = f"{other:>10.3f}" if other is not None else f"{'n/a':>10}"
        print(f"{key:<56} {value:>10.3f} {shown} {ratio}   {TARGETS.get(key, '')}")
    if isinstance(theirs, str):
        print(f"\nMLflow side not measured: {theirs}")


if __name__ == "__main__":
    main()
