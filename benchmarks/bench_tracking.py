"""Tracking speed, side by side: jupyter-lifecycle, MLflow's own SQLite store, raw sqlite3.

    make bench            # or: .venv/bin/python benchmarks/bench_tracking.py [--quick]

MLflow runs in its own venv (``.venv-mlflow``, made by ``make mlflow-venv``)
as a subprocess that prints JSON; raw ``sqlite3`` inserts (50 rows per
``INSERT``, ~2x ``executemany``) into an equivalent table are the physical limit. Searches are the median of 5 calls.
Every ratio compares the same sizes on both sides (MLflow at its sizes, as it
is ~100x slower; ours again at those sizes), and logging modes are named:
synchronous (each call written before it returns, MLflow's default) or
buffered (ours by default; MLflow's ``synchronous=False``). Ours at the full
sizes is then judged against the goals. Prints rates and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
# BENCH_MLFLOW_PYTHON points at another MLflow venv (a git worktree shares the main checkout's).
MLFLOW_PY = Path(os.environ.get("BENCH_MLFLOW_PYTHON", ROOT / ".venv-mlflow" / "bin" / "python"))
REPEATS = 5  # searches are timed as the median of this many calls, on both sides
T = TypeVar("T")

TARGETS = {
    "log_metric loop, buffered (points/s)": ">= 200,000 and within 3x raw",
    "log_metric loop, synchronous (points/s)": "",
    "bulk log_metrics (points/s)": "within 2x raw",
    "create runs, 10 params + 5 metrics (runs/s)": ">= 1,000",
    "filtered search_runs (ms)": "< 100 over 10,000 runs",
    "all runs into a DataFrame (ms)": "< 200 for 10,000 runs",
    "store init, first call (ms)": "< 100",
}


def median_ms(call: Callable[[], T]) -> tuple[T, float]:
    """``call``'s result and its median time in ms over ``REPEATS`` calls: one sample is noise on a shared VM."""
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - start) * 1000)
    return result, sorted(times)[len(times) // 2]


def bench_ours(points: int, runs: int, search_runs: int, sync_points: int) -> dict[str, float]:
    import jupyter_lifecycle as lc
    from jupyter_lifecycle.store import Store

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        Store(Path(tmp) / "init")
        out["store init, first call (ms)"] = (time.perf_counter() - start) * 1000

        lc.set_store(Path(tmp) / "store")
        lc.set_experiment("bench")
        with lc.start_run():
            start = time.perf_counter()
            for i in range(points):
                lc.log_metric("loss", 1.0 / (i + 1), step=i)
            lc.flush()
            out["log_metric loop, buffered (points/s)"] = points / (time.perf_counter() - start)
        with lc.start_run():
            start = time.perf_counter()
            for i in range(sync_points):
                lc.log_metric("loss", 1.0 / (i + 1), step=i, synchronous=True)
            out["log_metric loop, synchronous (points/s)"] = sync_points / (time.perf_counter() - start)
        with lc.start_run():
            batch = {f"m{i}": float(i) for i in range(100)}
            start = time.perf_counter()
            for step in range(points // 100):
                lc.log_metrics(batch, step=step)
            lc.flush()
            out["bulk log_metrics (points/s)"] = (points // 100 * 100) / (time.perf_counter() - start)
        params = {f"p{i}": i for i in range(10)}
        metrics = {f"m{i}": float(i) for i in range(5)}
        start = time.perf_counter()
        for _ in range(runs):
            with lc.start_run():
                lc.log_params(params)
                lc.log_metrics(metrics)
        out["create runs, 10 params + 5 metrics (runs/s)"] = runs / (time.perf_counter() - start)

        lc.set_experiment("search")
        _fill_search_store(lc, search_runs)
        lc.search_runs(filter_string="metrics.m0 < 0.5")  # warm the page cache, as MLflow's run is
        found, out["filtered search_runs (ms)"] = median_ms(
            lambda: lc.search_runs(filter_string="metrics.m0 < 0.1 and params.p1 = 'v3'")
        )
        out["filtered search matched"] = len(found)
        frame, out["all runs into a DataFrame (ms)"] = median_ms(lc.search_runs)
        out["all runs returned"] = len(frame)
        lc.set_store(None)
    return out


def _fill_search_store(lc, count: int) -> None:  # type: ignore[no-untyped-def]
    """``count`` runs × 20 params × 10 metrics, written through the public API."""
    rng = random.Random(0)
    client = lc.Client()
    experiment_id = lc.get_experiment_by_name("search").experiment_id
    from jupyter_lifecycle.entities import Metric, Param

    for _ in range(count):
        run = client.create_run(experiment_id)
        client.log_batch(
            run.info.run_id,
            params=[Param(f"p{i}", f"v{rng.randint(0, 9)}") for i in range(20)],
            metrics=[Metric(f"m{i}", rng.random(), None, 0) for i in range(10)],  # type: ignore[arg-type]
        )
        client.set_terminated(run.info.run_id)


def bench_raw(points: int) -> dict[str, float]:
    """Raw sqlite3 inserts into a table shaped like ours (same index, WAL, synchronous=NORMAL)."""
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "raw.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("CREATE TABLE metrics (run_id TEXT NOT NULL, key TEXT NOT NULL, value REAL, timestamp INTEGER NOT NULL, step INTEGER NOT NULL)")
        conn.execute("CREATE INDEX metrics_by_run_key ON metrics (run_id, key, step)")
        run_id = "0" * 32
        now = int(time.time() * 1000)
        # 50 rows per INSERT, as the store writes: ~2x executemany, the fastest way through sqlite3 we know.
        values = [v for i in range(points) for v in (run_id, "loss", 1.0 / (i + 1), now, i)]
        insert = "INSERT INTO metrics VALUES " + ", ".join(["(?, ?, ?, ?, ?)"] * 50)
        start = time.perf_counter()
        conn.execute("BEGIN")
        for first in range(0, len(values), 250):
            conn.execute(insert, values[first : first + 250])
        conn.execute("COMMIT")
        rate = points / (time.perf_counter() - start)
    return {"log_metric loop, buffered (points/s)": rate, "bulk log_metrics (points/s)": rate}


MLFLOW_SCRIPT = textwrap.dedent(
    """
    import json, random, sys, tempfile, time, logging, warnings
    logging.disable(logging.WARNING); warnings.filterwarnings("ignore")
    import mlflow
    from mlflow.entities import Metric, Param
    points, runs, search_runs, REPEATS = map(int, sys.argv[1:5])
    out = {}
    tmp = tempfile.mkdtemp()
    start = time.perf_counter()
    mlflow.set_tracking_uri(f"sqlite:///{tmp}/init.db")
    mlflow.search_experiments()
    out["store init, first call (ms)"] = (time.perf_counter() - start) * 1000
    mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
    mlflow.set_experiment("bench")
    with mlflow.start_run():
        start = time.perf_counter()
        for i in range(points):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i, synchronous=True)
        out["log_metric loop, synchronous (points/s)"] = points / (time.perf_counter() - start)
    with mlflow.start_run():
        start = time.perf_counter()
        for i in range(points):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i, synchronous=False)
        mlflow.flush_async_logging()
        out["log_metric loop, buffered (points/s)"] = points / (time.perf_counter() - start)
    with mlflow.start_run():
        batch = {f"m{i}": float(i) for i in range(100)}
        n = max(1, points // 100)  # the same points as ours
        start = time.perf_counter()
        for step in range(n):
            mlflow.log_metrics(batch, step=step)
        out["bulk log_metrics (points/s)"] = n * 100 / (time.perf_counter() - start)
    params = {f"p{i}": i for i in range(10)}
    metrics = {f"m{i}": float(i) for i in range(5)}
    start = time.perf_counter()
    for _ in range(runs):
        with mlflow.start_run():
            mlflow.log_params(params)
            mlflow.log_metrics(metrics)
    out["create runs, 10 params + 5 metrics (runs/s)"] = runs / (time.perf_counter() - start)
    exp = mlflow.set_experiment("search")
    client = mlflow.MlflowClient()
    rng = random.Random(0)
    for _ in range(search_runs):
        run = client.create_run(exp.experiment_id)
        client.log_batch(run.info.run_id,
                         params=[Param(f"p{i}", f"v{rng.randint(0, 9)}") for i in range(20)],
                         metrics=[Metric(f"m{i}", rng.random(), int(time.time() * 1000), 0) for i in range(10)])
        client.set_terminated(run.info.run_id)
    mlflow.search_runs(filter_string="metrics.m0 < 0.5")
    def median_ms(call):
        times = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            result = call()
            times.append((time.perf_counter() - start) * 1000)
        return result, sorted(times)[len(times) // 2]
    found, out["filtered search_runs (ms)"] = median_ms(
        lambda: mlflow.search_runs(filter_string="metrics.m0 < 0.1 and params.p1 = 'v3'"))
    out["filtered search matched"] = len(found)
    frame, out["all runs into a DataFrame (ms)"] = median_ms(lambda: mlflow.search_runs(max_results=100000))
    out["all runs returned"] = len(frame)
    print(json.dumps(out))
    """
)


def bench_mlflow(points: int, runs: int, search_runs: int) -> dict[str, float] | None:
    if not MLFLOW_PY.exists():
        print(f"(MLflow column skipped: {MLFLOW_PY} missing; run `make mlflow-venv`)")
        return None
    env = {**os.environ, "MLFLOW_ENABLE_ASYNC_LOGGING": "false"}
    with tempfile.TemporaryDirectory() as scratch:  # MLflow writes ./mlruns wherever it runs
        proc = subprocess.run([str(MLFLOW_PY), "-c", MLFLOW_SCRIPT, str(points), str(runs), str(search_runs), str(REPEATS)],
                              capture_output=True, text=True, env=env, cwd=scratch, timeout=3600)  # fmt: skip
    if proc.returncode != 0:
        print("(MLflow column failed:)", proc.stderr[-2000:])
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    points, runs, search = (20_000, 200, 1_000) if args.quick else (200_000, 2_000, 10_000)
    ml_points, ml_runs, ml_search = (200, 20, 100) if args.quick else (1_000, 100, 1_000)

    # Side by side at MLflow's sizes: nothing is multiplied up from a smaller run.
    print(f"Same sizes on both sides: {ml_points:,} points, {ml_runs:,} runs, search over {ml_search:,} runs "
          "x 20 params x 10 metrics")  # fmt: skip
    same = bench_ours(ml_points, ml_runs, ml_search, ml_points)
    theirs = bench_mlflow(ml_points, ml_runs, ml_search) or {}
    header = f"{'workload':<46}{'ours':>12}{'MLflow 3.17':>13}{'ours vs MLflow':>16}"
    print(header)
    print("-" * len(header))
    for key in TARGETS:
        mine, ref = same.get(key), theirs.get(key)
        versus = "-"
        if ref and mine:
            faster = (ref / mine) if key.endswith("(ms)") else (mine / ref)
            versus = f"{faster:,.0f}x faster" if faster >= 10 else f"{faster:.1f}x faster"
        print(f"{key:<46}{fmt(mine):>12}{fmt(ref):>13}{versus:>16}")
    if theirs:
        print(f"filtered search matched {same.get('filtered search matched', 0):.0f} runs here, "
              f"{theirs.get('filtered search matched', 0):.0f} in MLflow (same seed, same data)")

    print(f"\nOurs at full size against the goals: {points:,} points, {runs:,} runs, "
          f"search over {search:,} runs x 20 params x 10 metrics")  # fmt: skip
    ours = bench_ours(points, runs, search, points // 20)  # synchronous: a transaction per point
    raw = bench_raw(points)
    header = f"{'workload':<46}{'ours':>12}{'raw sqlite3':>13}{'vs raw':>9}  target"
    print(header)
    print("-" * len(header))
    for key, target in TARGETS.items():
        mine, limit = ours.get(key), raw.get(key)
        vs_raw = f"{limit / mine:.2f}x" if (limit and mine) else "-"
        print(f"{key:<46}{fmt(mine):>12}{fmt(limit):>13}{vs_raw:>9}  {target}")
    print(f"filtered search matched {ours.get('filtered search matched', 0):.0f} of {search:,} runs")
    print("'vs raw' is how many times slower than raw inserts (same points, same table shape).")


if __name__ == "__main__":
    sys.exit(main())
