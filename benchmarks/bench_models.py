"""Model speed, side by side: jupyter-lifecycle and MLflow 3.17.2.

    make bench            # or: .venv/bin/python benchmarks/bench_models.py [--repeat N]

Each side runs this same file in a fresh interpreter of its own venv
(``.venv`` and ``.venv-mlflow``, made by ``make mlflow-venv``) with
``--side``, so both pay the same import and first-call costs, and prints
JSON. Measured: ``sklearn.log_model`` of a small fitted LogisticRegression
with a 5-row input example inside a run (first call in the process, then
warm), and ``pyfunc.load_model(runs:/...)`` followed by ``predict`` on
1,000 rows (first, then the median of warm repeats), and the first
``predict`` after the load on its own. Prints times and
ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OURS_PY = ROOT / ".venv" / "bin" / "python"
MLFLOW_PY = ROOT / ".venv-mlflow" / "bin" / "python"

TARGETS = {
    "log_model, first call (s)": "< 0.5 (MLflow took 5.8 here)",
    "log_model, warm (s)": "< 0.5",
    "load_model + predict 1,000 rows, first (ms)": "<= MLflow's",
    "predict 1,000 rows, first call after load (ms)": "<= MLflow's",
    "load_model + predict 1,000 rows, warm median (ms)": "<= MLflow's (35 ms here)",
}


def measure(side: str, repeat: int) -> dict[str, float]:
    """Run the measurements in this interpreter with ``side``'s library."""
    import warnings

    warnings.filterwarnings("ignore")
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(150, 4)), columns=["sepal_length", "sepal_width", "petal_length", "petal_width"])
    y = (X["petal_length"] + rng.normal(scale=0.5, size=150) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    rows = pd.DataFrame(rng.normal(size=(1000, 4)), columns=X.columns)
    tmp = tempfile.mkdtemp()
    if side == "mlflow":
        import mlflow
        import mlflow.pyfunc as pyfunc
        import mlflow.sklearn as flavor

        mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
        mlflow.set_experiment("bench")
        start_run, end_run = mlflow.start_run, mlflow.end_run
    else:
        import jupyter_lifecycle as lc

        lc.set_store(Path(tmp) / "store")
        lc.set_experiment("bench")
        pyfunc, flavor = lc.pyfunc, lc.sklearn
        start_run, end_run = lc.start_run, lc.end_run
    out: dict[str, float] = {}
    start_run()  # the store and experiment exist before timing starts
    t = time.perf_counter()
    info = flavor.log_model(model, name="model", input_example=X[:5])
    out["log_model, first call (s)"] = time.perf_counter() - t
    warm = []
    for i in range(repeat):
        t = time.perf_counter()
        flavor.log_model(model, name=f"model_{i}", input_example=X[:5])
        warm.append(time.perf_counter() - t)
    out["log_model, warm (s)"] = statistics.median(warm)
    end_run()
    uri = info.model_uri
    t = time.perf_counter()
    loaded = pyfunc.load_model(uri)
    loaded_at = time.perf_counter()
    predictions = loaded.predict(rows)
    done = time.perf_counter()
    out["load_model + predict 1,000 rows, first (ms)"] = (done - t) * 1000
    # The first predict alone: schema enforcement and conversions, without the load.
    out["predict 1,000 rows, first call after load (ms)"] = (done - loaded_at) * 1000
    loads = []
    for _ in range(repeat):
        t = time.perf_counter()
        pyfunc.load_model(uri).predict(rows)
        loads.append((time.perf_counter() - t) * 1000)
    out["load_model + predict 1,000 rows, warm median (ms)"] = statistics.median(loads)
    assert len(predictions) == 1000
    return out


def run_side(python: Path, side: str, repeat: int) -> dict[str, float] | str:
    if not python.exists():
        return f"{python} missing: run `make mlflow-venv`"
    # A scratch working directory: MLflow writes ./mlruns wherever it runs.
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run([str(python), __file__, "--side", side, "--repeat", str(repeat)],
                              capture_output=True, text=True, cwd=scratch, timeout=900)  # fmt: skip
    if done.returncode != 0:
        return f"{side} failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", choices=("ours", "mlflow"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(measure(args.side, args.repeat)))
        return
    ours = run_side(OURS_PY if OURS_PY.exists() else Path(sys.executable), "ours", args.repeat)
    theirs = run_side(MLFLOW_PY, "mlflow", args.repeat)
    if isinstance(ours, str):
        sys.exit(ours)
    print("Models: jupyter-lifecycle vs MLflow 3.17.2 (each in a fresh interpreter)\n")
    print(f"{'measure':<52} {'ours':>10} {'MLflow':>10} {'MLflow/ours':>12}   target")
    for key, value in ours.items():
        other = theirs.get(key) if isinstance(theirs, dict) else None
        ratio = f"{other / value:>11.1f}x" if other else f"{'-':>12}"
        shown = f"{other:>10.3f}" if other is not None else f"{'n/a':>10}"
        print(f"{key:<52} {value:>10.3f} {shown} {ratio}   {TARGETS[key]}")
    if isinstance(theirs, str):
        print(f"\nMLflow side not measured: {theirs}")


if __name__ == "__main__":
    main()
