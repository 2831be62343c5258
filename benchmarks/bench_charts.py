"""Comparison charts at scale: 100 runs x 10,000 steps (1M metric points), side by side.

    make bench            # or: .venv/bin/python benchmarks/bench_charts.py [--runs 100] [--steps 10000] [--no-mlflow]
    .venv/bin/python benchmarks/bench_charts.py --sizes 10,100,1000 --steps 1000   # lc.compare by number of runs

``--sizes``: ``lc.compare`` over N runs x ``--steps`` steps in a fresh
Python process, the first call (imports included: what a kernel pays) and a
second one, with the points and spec size shipped, next to raw ``sqlite3``
reading the same points. Goals (#14): < 0.3 s for 10 runs, < 1 s for 100,
at most ``CHART_MAX_POINTS`` (10,000) points at any number of runs.

Ours: ``lc.compare(run_ids)`` end to end (read the histories, downsample,
build the altair chart and its vega-lite spec) and the size of the spec a
notebook would receive. References: raw ``sqlite3`` reading every point
into pandas and serialising them (what a chart without downsampling must
ship), and MLflow reading the same histories with
``MlflowClient.get_metric_history`` (in ``.venv-mlflow``; the notebook-side
step before any chart is drawn). Prints numbers and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MLFLOW_PY = ROOT / ".venv-mlflow" / "bin" / "python"
sys.path.insert(0, str(ROOT))


def curve(run: int, step: int, rng: random.Random) -> float:
    return math.exp(-step / 2000) * (1 + 0.05 * rng.random()) + run * 0.01 + (1.0 if step % 2500 == 1234 else 0.0)


def make_store(home: Path, runs: int, steps: int) -> list[str]:
    """Runs with params and a ``loss`` history, written with the tracking store's bulk insert."""
    import jupyter_lifecycle as lc

    client = lc.Client(home)
    experiment = client.create_experiment("bench-charts")
    rng = random.Random(0)
    ids = []
    for r in range(runs):
        run = client.create_run(experiment, run_name=f"run-{r:03d}", start_time=1_700_000_000_000)
        run_id = run.info.run_id
        client.log_batch(run_id, params=[lc.Param("lr", str(0.001 * (r + 1))), lc.Param("depth", str(r % 7))])
        client.store.tracking.log_metrics(
            [(run_id, "loss", curve(r, s, rng), 1_700_000_000_000 + s * 100, s) for s in range(steps)]
        )
        client.log_batch(run_id, metrics=[lc.Metric("accuracy", 0.5 + r / (2 * runs), 1_700_000_000_000, 0)])
        client.set_terminated(run_id)
        ids.append(run_id)
    return ids


def bench_ours(home: Path, ids: list[str]) -> dict[str, float]:
    import jupyter_lifecycle as lc
    from jupyter_lifecycle.notebook import charts

    client = lc.Client(home)
    out: dict[str, float] = {}
    start = time.perf_counter()
    shown = lc.compare(ids, client=client)
    bundles = shown.outputs()
    out["compare(), end to end (s)"] = time.perf_counter() - start
    spec = bundles[1]["application/vnd.vegalite.v5+json"]
    out["spec size (MB)"] = len(json.dumps(spec)) / 1e6
    out["points shipped"] = len(charts.chart_data(spec))
    start = time.perf_counter()
    charts.metric_history(ids, "loss", client=client).to_dict()
    out["metric_history + spec (s)"] = time.perf_counter() - start
    start = time.perf_counter()
    client.store.tracking.metric_series(ids, ["loss"])
    out["read 1M points (s)"] = time.perf_counter() - start
    return out


def bench_raw(db: Path, ids: list[str]) -> dict[str, float]:
    """Every point with raw sqlite3 into pandas, serialised as vega-lite inline values."""
    import pandas as pd

    out: dict[str, float] = {}
    conn = sqlite3.connect(db)
    start = time.perf_counter()
    marks = ", ".join("?" for _ in ids)
    rows = conn.execute(
        f"SELECT run_id, step, value FROM metrics WHERE run_id IN ({marks}) AND key = 'loss'", ids
    ).fetchall()
    out["read 1M points (s)"] = time.perf_counter() - start
    frame = pd.DataFrame(rows, columns=["run", "step", "value"])
    values = frame.to_json(orient="records")
    out["compare(), end to end (s)"] = time.perf_counter() - start
    out["spec size (MB)"] = len(values) / 1e6
    out["points shipped"] = len(frame)
    return out


MLFLOW_SCRIPT = textwrap.dedent(
    """
    import json, math, random, sys, time, logging
    logging.disable(logging.WARNING)
    import mlflow
    from mlflow.entities import Metric
    home, runs, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    mlflow.set_tracking_uri(f"sqlite:///{home}/mlflow.db")
    client = mlflow.MlflowClient()
    experiment = client.create_experiment("bench-charts", artifact_location=f"{home}/artifacts")
    rng = random.Random(0)
    ids = []
    for r in range(runs):
        run_id = client.create_run(experiment).info.run_id
        for first in range(0, steps, 1000):
            client.log_batch(run_id, metrics=[
                Metric("loss", math.exp(-s / 2000) * (1 + 0.05 * rng.random()) + r * 0.01, 1700000000000 + s * 100, s)
                for s in range(first, min(steps, first + 1000))])
        ids.append(run_id)
    start = time.perf_counter()
    points = sum(len(client.get_metric_history(i, "loss")) for i in ids)
    took = time.perf_counter() - start
    print(json.dumps({"read 1M points (s)": took, "points": points}))
    """
)


def bench_mlflow(runs: int, steps: int) -> dict[str, float] | None:
    if not MLFLOW_PY.exists():
        print("(MLflow venv missing: `make mlflow-venv` to compare with MLflow)")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([str(MLFLOW_PY), "-c", MLFLOW_SCRIPT, tmp, str(runs), str(steps)],
                              capture_output=True, text=True, timeout=3600)  # fmt: skip
    if done.returncode != 0:
        print("MLflow failed:", done.stderr[-2000:])
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


FRESH_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    start = time.perf_counter()
    import jupyter_lifecycle as lc
    from jupyter_lifecycle.notebook import charts
    client = lc.Client(sys.argv[1])
    ids = json.loads(open(sys.argv[2]).read())
    lc.compare(ids, client=client).outputs()
    first = time.perf_counter() - start
    start = time.perf_counter()
    spec = lc.compare(ids, client=client).outputs()[1]["application/vnd.vegalite.v5+json"]
    warm = time.perf_counter() - start
    print(json.dumps({"first": first, "warm": warm, "points": len(charts.chart_data(spec)),
                      "mb": len(json.dumps(spec)) / 1e6}))
    """
)


def bench_sizes(sizes: list[int], steps: int) -> None:
    """``lc.compare`` at several numbers of runs, each in a fresh process, against raw sqlite3 at the same size."""
    print(f"lc.compare over N runs x {steps:,} steps (a 'loss' history and a one-point 'accuracy' each); "
          "ours in a fresh process: first call (imports included) and a second call\n")  # fmt: skip
    print(f"{'runs':>6} {'first (s)':>10} {'warm (s)':>9} {'points':>8} {'spec MB':>8}   "
          f"{'raw sqlite3 read (s)':>21} {'raw / warm':>10}")
    for runs in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp) / "store"
            ids = make_store(home, runs, steps)
            (Path(tmp) / "ids.json").write_text(json.dumps(ids))
            done = subprocess.run([sys.executable, "-c", FRESH_SCRIPT, str(home), str(Path(tmp) / "ids.json")],
                                  capture_output=True, text=True, cwd=ROOT)  # fmt: skip
            if done.returncode != 0:
                print(done.stderr[-2000:])
                continue
            ours = json.loads(done.stdout.strip().splitlines()[-1])
            raw = bench_raw(home / "lifecycle.db", ids)["read 1M points (s)"]
        print(f"{runs:6,} {ours['first']:10.3f} {ours['warm']:9.3f} {ours['points']:8,} {ours['mb']:8.2f}   "
              f"{raw:21.3f} {raw / ours['warm']:9.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--no-mlflow", action="store_true", help="skip MLflow (its data load takes minutes)")
    parser.add_argument("--sizes", help="comma-separated numbers of runs: time lc.compare at each size instead")
    args = parser.parse_args()
    if args.sizes:
        bench_sizes([int(n) for n in args.sizes.split(",")], args.steps)
        return
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "store"
        start = time.perf_counter()
        ids = make_store(home, args.runs, args.steps)
        print(f"{args.runs} runs x {args.steps:,} steps = {args.runs * args.steps:,} points written "
              f"in {time.perf_counter() - start:.1f} s\n")  # fmt: skip
        ours = bench_ours(home, ids)
        raw = bench_raw(home / "lifecycle.db", ids)
    mlflow = None if args.no_mlflow else bench_mlflow(args.runs, args.steps)
    print(f"{'':30} {'jupyter-lifecycle':>18} {'raw sqlite3, all pts':>21} {'ratio':>7} {'MLflow':>9} {'ratio':>7}")
    for name in ("compare(), end to end (s)", "metric_history + spec (s)", "read 1M points (s)",
                 "spec size (MB)", "points shipped"):  # fmt: skip
        mine, base = ours.get(name), raw.get(name)
        other = mlflow.get(name) if mlflow else None
        cells = [f"{name:30}", f"{mine:18,.3f}" if mine is not None else f"{'':18}",
                 f"{base:21,.3f}" if base is not None else f"{'-':>21}",
                 f"{base / mine:6.1f}x" if base and mine else f"{'':7}",
                 f"{other:9,.3f}" if other is not None else f"{'-':>9}",
                 f"{other / mine:6.1f}x" if other and mine else ""]  # fmt: skip
        print(" ".join(cells))
    print("\nratio = reference / ours (above 1: we are faster or smaller). The raw column ships every point "
          "(no downsampling); MLflow's column is reading the histories with MlflowClient.get_metric_history.")


if __name__ == "__main__":
    main()
