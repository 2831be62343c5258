"""Dataset speed, side by side: jupyter-lifecycle and MLflow 3.17.2.

    make bench            # or: .venv/bin/python benchmarks/bench_datasets.py [--repeat N]

Each side runs this same file in a fresh interpreter of its own venv
(``.venv`` and ``.venv-mlflow``, made by ``make mlflow-venv``) with
``--side``, so both pay the same import costs, and prints JSON. Measured on
a 1,000,000-row DataFrame (8 float columns, an int and a string column):
``data.from_pandas`` (the digest), then ``log_input`` of it inside a run
(schema, profile, the store write), first call and the median of warm
repeats on fresh copies; ``from_numpy`` of a 1,000,000 x 10 array; and
``get_run`` reading a run's dataset back. Prints times and ratios; asserts
nothing.
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
ROWS = 1_000_000

TARGETS = {
    "from_pandas 1M rows (digest) (ms)": "",
    "from_pandas + log_input 1M rows, first (ms)": "< 1000",
    "from_pandas + log_input 1M rows, warm median (ms)": "< 1000",
    "from_numpy 1M x 10 (digest) (ms)": "",
    "get_run with its dataset (ms)": "",
}


def measure(side: str, repeat: int) -> dict[str, float]:
    """Run the measurements in this interpreter with ``side``'s library."""
    import warnings

    warnings.filterwarnings("ignore")
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(ROWS, 8)), columns=[f"f{i}" for i in range(8)])
    df["k"] = rng.integers(0, 100, ROWS)
    df["city"] = rng.choice(["paris", "lyon", "nantes", "lille"], ROWS)
    array = rng.normal(size=(ROWS, 10))
    tmp = tempfile.mkdtemp()
    if side == "mlflow":
        import mlflow
        import mlflow.data as data

        mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
        mlflow.set_experiment("bench")
        lib = mlflow
    else:
        import jupyter_lifecycle as lc
        import jupyter_lifecycle.data as data

        lc.set_store(Path(tmp) / "store")
        lc.set_experiment("bench")
        lib = lc
    out: dict[str, float] = {}
    run = lib.start_run()  # the store and experiment exist before timing starts
    t = time.perf_counter()
    data.from_pandas(df, source="data/train.parquet", name="train")
    out["from_pandas 1M rows (digest) (ms)"] = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    lib.log_input(data.from_pandas(df, source="data/train.parquet", name="train"), context="training")
    out["from_pandas + log_input 1M rows, first (ms)"] = (time.perf_counter() - t) * 1000
    warm = []
    for i in range(repeat):
        frame = df.copy()
        frame.iloc[0, 0] = float(i)  # new content: a new dataset record each time
        t = time.perf_counter()
        lib.log_input(data.from_pandas(frame, source="data/train.parquet", name=f"train{i}"), context="training")
        warm.append((time.perf_counter() - t) * 1000)
    out["from_pandas + log_input 1M rows, warm median (ms)"] = statistics.median(warm)
    t = time.perf_counter()
    data.from_numpy(array, source="data/train.npy")
    out["from_numpy 1M x 10 (digest) (ms)"] = (time.perf_counter() - t) * 1000
    reads = []
    for _ in range(repeat):
        t = time.perf_counter()
        got = lib.get_run(run.info.run_id)
        reads.append((time.perf_counter() - t) * 1000)
    out["get_run with its dataset (ms)"] = statistics.median(reads)
    assert len(got.inputs.dataset_inputs) == repeat + 1
    lib.end_run()
    return out


def run_side(python: Path, side: str, repeat: int) -> dict[str, float] | str:
    if not python.exists():
        return f"{python} missing: run `make mlflow-venv`"
    # A scratch working directory: MLflow writes ./mlruns wherever it runs.
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run([str(python), __file__, "--side", side, "--repeat", str(repeat)],
                              capture_output=True, text=True, cwd=scratch, timeout=1800)  # fmt: skip
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
    print("Datasets: jupyter-lifecycle vs MLflow 3.17.2 (each in a fresh interpreter)\n")
    print(f"{'measure':<52} {'ours':>10} {'MLflow':>10} {'MLflow/ours':>12}   target")
    for key, value in ours.items():
        other = theirs.get(key) if isinstance(theirs, dict) else None
        ratio = f"{other / value:>11.1f}x" if other else f"{'-':>12}"
        shown = f"{other:>10.1f}" if other is not None else f"{'n/a':>10}"
        print(f"{key:<52} {value:>10.1f} {shown} {ratio}   {TARGETS[key]}")
    if isinstance(theirs, str):
        print(f"\nMLflow side not measured: {theirs}")


if __name__ == "__main__":
    main()
