"""Scale: 1k to 100k runs and 10k to 10M metric points, ours against raw sqlite3 (issue #14).

    make bench            # or: .venv/bin/python benchmarks/bench_scale.py [--quick]

Every measurement runs in a fresh subprocess, so its peak RSS (``ru_maxrss``)
is its own; times are medians of 3, wall clock with CPU time beside it. Each
store is filled by a subprocess that exits before the measurements, so they
read a store at rest (WAL checkpointed). The run stores are filled with raw
``executemany`` into the store's own tables (20 params and 10 metrics per run,
random values, summaries rebuilt in SQL), because creating 100,000 runs
through the API would take minutes; run creation is then measured through the
API into the full store. "raw sqlite3" reads the same rows with a bare
``sqlite3`` cursor (iterated, not kept), the physical limit of a read.
Prints times, ratios and bytes per point; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FILTER = "metrics.m0 < 0.1 and params.p1 = 'v3'"  # ~1% of the runs match, as in the issue


def _rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def fill_runs(home: Path, count: int) -> None:
    """A store with ``count`` finished runs x 20 params x 10 metrics (one point each) x 3 tags."""
    import jupyter_lifecycle as lc
    from jupyter_lifecycle.store.tracking import _REFRESH, new_run_id

    lc.set_store(home)
    experiment_id = lc.set_experiment("scale").experiment_id
    store = lc.Client().store
    rng = random.Random(0)
    now = int(time.time() * 1000)
    with store.db.write() as conn:
        for first in range(0, count, 10_000):
            runs, params, metrics, tags = [], [], [], []
            for i in range(first, min(count, first + 10_000)):
                run_id = new_run_id()  # the store's own ids, as create_run makes them
                runs.append((run_id, experiment_id, f"run-{i}", now + i, now + i + 1,
                             f"artifacts/{experiment_id}/{run_id}"))  # fmt: skip
                params += [(run_id, f"p{k}", f"v{rng.randint(0, 9)}") for k in range(20)]
                metrics += [(run_id, f"m{k}", rng.random(), now, 0) for k in range(10)]
                tags += [(run_id, "mlflow.runName", f"run-{i}"), (run_id, "mlflow.user", "bench"),
                         (run_id, "team", rng.choice("abcd"))]  # fmt: skip
            conn.executemany("INSERT INTO runs (run_id, experiment_id, run_name, status, start_time, end_time,"
                             " user_id, artifact_location) VALUES (?, ?, ?, 'FINISHED', ?, ?, 'bench', ?)", runs)  # fmt: skip
            conn.executemany("INSERT INTO params VALUES (?, ?, ?)", params)
            conn.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?)", metrics)
            conn.executemany("INSERT INTO latest_metrics VALUES (?, ?, ?, ?, ?)", metrics)
            conn.executemany("INSERT INTO tags VALUES (?, ?, ?)", tags)
        for sql in _REFRESH.values():  # the store's own summary SQL, for every run at once
            conn.execute(sql.rsplit(" WHERE", 1)[0].replace("?1", "runs.run_id"))


def fill_history(home: Path, points: int) -> str:
    """One run with a ``points``-long ``loss`` history; returns its id."""
    import jupyter_lifecycle as lc

    lc.set_store(home)
    experiment_id = lc.set_experiment("history").experiment_id
    client = lc.Client()
    run_id = client.create_run(experiment_id).info.run_id
    now = int(time.time() * 1000)
    for first in range(0, points, 500_000):
        client.store.tracking.log_metrics(
            [(run_id, "loss", 1.0 / (i + 1), now + i, i) for i in range(first, min(points, first + 500_000))]
        )
    client.set_terminated(run_id)
    return run_id


def worker(task: dict[str, Any]) -> dict[str, Any]:
    """One measurement (or one store fill) in this (fresh) process."""
    import jupyter_lifecycle as lc

    home = Path(task["home"])
    kind = task["kind"]
    if kind == "fill_runs":
        fill_runs(home, task["runs"])
        return {}
    if kind == "fill_history":
        return {"run_id": fill_history(home, task["points"])}
    if kind in ("filter", "frame", "create"):
        lc.set_store(home)
        lc.set_experiment("scale")
        lc.search_runs(max_results=1)  # open the store (migrations, first connection) outside the timing
        base = _rss()
        start, cpu = time.perf_counter(), time.process_time()
        if kind == "filter":
            found = len(lc.search_runs(filter_string=FILTER))
        elif kind == "frame":
            found = len(lc.search_runs())
        else:
            params, metrics = {f"p{i}": i for i in range(10)}, {f"m{i}": float(i) for i in range(5)}
            for _ in range(task["runs"]):
                with lc.start_run():
                    lc.log_params(params)
                    lc.log_metrics(metrics)
            found = task["runs"]
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        return {"seconds": seconds, "cpu": cpu, "found": found, "peak_mb": _peak() / 2**20,
                "delta_mb": (_peak() - base) / 2**20}  # fmt: skip
    run_id = task["run_id"]
    if kind == "raw":
        conn = sqlite3.connect(home / "lifecycle.db")
        conn.execute("SELECT 1").fetchall()
        base = _rss()
        start, cpu = time.perf_counter(), time.process_time()
        count = 0
        for _ in conn.execute("SELECT step, timestamp, value FROM metrics WHERE run_id = ? AND key = 'loss'"
                              " ORDER BY step, timestamp, rowid", [run_id]):  # fmt: skip
            count += 1
    else:
        import pandas  # noqa: F401  (imported in any notebook that reads frames: not part of the read)

        lc.set_store(home)
        client = lc.Client()
        client.get_run(run_id)
        client.get_metric_history(run_id, "none", as_frame=kind == "frame_history")  # first-call imports
        base = _rss()
        start, cpu = time.perf_counter(), time.process_time()
        result = client.get_metric_history(run_id, "loss", as_frame=kind == "frame_history")
        count = len(result)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"seconds": seconds, "cpu": cpu, "found": count, "bytes_per_point": (_peak() - base) / max(count, 1)}


def in_subprocess(task: dict[str, Any]) -> dict[str, Any]:
    """``worker(task)`` in a fresh Python process; its result."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)]))}
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(task)], capture_output=True,
                          text=True, env=env, timeout=3600)  # fmt: skip
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def measure(task: dict[str, Any], repeats: int = 3) -> dict[str, float]:
    """Median of ``repeats`` fresh subprocesses running ``task``, each on a quiet disk."""
    results = []
    for _ in range(repeats):
        settle()
        results.append(in_subprocess(task))
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def settle() -> None:
    """Wait until what earlier steps wrote is on disk: filling a 100,000-run store leaves ~600 MB
    for the kernel to write back, whose CPU time otherwise lands in the next measurement."""
    os.sync()


def _ms(result: dict[str, float]) -> str:
    """Wall time with the CPU time beside it: the machine is shared, and CPU time moves less with its load."""
    return f"{result['seconds'] * 1000:,.0f} ms (cpu {result['cpu'] * 1000:,.0f})"


def log_metric_rates(points: int) -> tuple[str, str, float]:
    """``lc.log_metric`` in a loop (buffered, then flushed) and raw sqlite3 inserts: points per second,
    wall (and CPU) as text each, and raw's wall rate over ours."""
    import jupyter_lifecycle as lc

    with tempfile.TemporaryDirectory() as tmp:
        lc.set_store(Path(tmp) / "s")
        lc.set_experiment("rate")
        with lc.start_run():
            start, cpu = time.perf_counter(), time.process_time()
            for i in range(points):
                lc.log_metric("loss", 1.0 / (i + 1), step=i)
            lc.flush()
            ours, ours_cpu = points / (time.perf_counter() - start), points / (time.process_time() - cpu)
        lc.set_store(None)
        conn = sqlite3.connect(Path(tmp) / "raw.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("CREATE TABLE metrics (run_id TEXT, key TEXT, value REAL, timestamp INTEGER, step INTEGER)")
        conn.execute("CREATE INDEX metrics_by_run_key ON metrics (run_id, key, step)")
        # The fastest way through sqlite3 we know: 50 rows per INSERT (~2x executemany), as the store writes.
        values = [v for i in range(points) for v in ("0" * 32, "loss", 1.0 / (i + 1), 0, i)]
        insert = "INSERT INTO metrics VALUES " + ", ".join(["(?, ?, ?, ?, ?)"] * 50)
        start, cpu = time.perf_counter(), time.process_time()
        conn.execute("BEGIN")
        for first in range(0, len(values), 250):
            conn.execute(insert, values[first : first + 250])
        conn.execute("COMMIT")
        raw, raw_cpu = points / (time.perf_counter() - start), points / (time.process_time() - cpu)
    return (f"{ours:,.0f} points/s (cpu {ours_cpu:,.0f})", f"{raw:,.0f} (cpu {raw_cpu:,.0f})", raw / ours)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k-5k runs and 10k-100k points, for a smoke run")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    run_sizes = (1_000, 5_000) if args.quick else (1_000, 10_000, 100_000)
    point_sizes = (10_000, 100_000) if args.quick else (10_000, 100_000, 1_000_000, 10_000_000)
    created = 200 if args.quick else 2_000
    print("jupyter-lifecycle at scale: medians of 3 fresh processes; timings move with the machine's load "
          f"(load average {os.getloadavg()[0]:.1f} at the start; CPU time in brackets).\n")
    rows = Rows()
    with tempfile.TemporaryDirectory() as tmp:
        per_1k: dict[str, float] = {}
        for size in run_sizes:
            home = Path(tmp) / f"runs{size}"
            # Filled by a process that then exits: its last connection checkpoints the WAL into the
            # database and removes it, so every measurement reads a store at rest (as a notebook
            # opening it finds it), not one whose pages still sit in a filler's WAL.
            in_subprocess({"kind": "fill_runs", "home": str(home), "runs": size})
            task = {"home": str(home)}
            filtered = measure({**task, "kind": "filter"})
            frame = measure({**task, "kind": "frame"})
            goal = size == 100_000
            rows.append((f"filtered search_runs ({filtered['found']:.0f} match)", f"{size:,} runs",
                         _ms(filtered), "-", "-", "< 100 ms" if goal else ""))  # fmt: skip
            rows.append(("all runs -> DataFrame", f"{size:,} runs",
                         f"{_ms(frame)}, {frame['peak_mb']:.0f} MB peak", "-", "-",
                         "< 600 ms, < 300 MB" if goal else ""))  # fmt: skip
            per_1k = {"filter": filtered["seconds"] * 1000 / (size / 1000),
                      "frame": frame["seconds"] * 1000 / (size / 1000),
                      "frame_mb": frame["delta_mb"] / (size / 1000)}  # fmt: skip
        made = measure({"home": str(home), "kind": "create", "runs": created}, repeats=1)
        rows.append(("create runs via the API (10 params + 5 metrics)", f"into {run_sizes[-1]:,} runs",
                     f"{created / made['seconds']:,.0f} runs/s (cpu {created / made['cpu']:,.0f})", "-", "-",
                     ">= 1,000 runs/s"))  # fmt: skip
        settle()
        ours, raw, ratio = log_metric_rates(20_000 if args.quick else 200_000)
        rows.append(("log_metric loop (buffered, flushed)", "1 run", ours, raw, f"{ratio:.2f}x",
                     ">= 200,000 points/s"))  # fmt: skip
        per_point: dict[str, float] = {}
        for points in point_sizes:
            home = Path(tmp) / f"points{points}"
            run_id = in_subprocess({"kind": "fill_history", "home": str(home), "points": points})["run_id"]
            task = {"home": str(home), "run_id": run_id}
            bare = measure({**task, "kind": "raw"})
            frame = measure({**task, "kind": "frame_history"})
            label = f"{points:,} points"
            rows.append(("get_metric_history(as_frame=True)", label,
                         f"{_ms(frame)}, {frame['bytes_per_point']:.0f} B/point",
                         _ms(bare), f"{frame['seconds'] / bare['seconds']:.2f}x",
                         "<= 1.5x raw, <= 40 B/point"))  # fmt: skip
            if points <= 1_000_000:  # the Metric list of 10M points needs ~3 GB
                listed = measure({**task, "kind": "list_history"})
                rows.append(("get_metric_history (Metric list)", label,
                             f"{_ms(listed)}, {listed['bytes_per_point']:.0f} B/point",
                             _ms(bare), f"{listed['seconds'] / bare['seconds']:.2f}x",
                             "MLflow's API"))  # fmt: skip
            per_point = {"ms": frame["seconds"] * 1000 / (points / 1_000_000), "bytes": frame["bytes_per_point"]}
            shutil.rmtree(home)
    print(f"\nscaling at {run_sizes[-1]:,} runs: filtered search {per_1k['filter']:.2f} ms per 1k runs, "
          f"DataFrame {per_1k['frame']:.1f} ms and {per_1k['frame_mb']:.2f} MB per 1k runs")
    print(f"scaling at {point_sizes[-1]:,} points: columnar history {per_point['ms']:.0f} ms per 1M points, "
          f"{per_point['bytes']:.0f} bytes a point (peak RSS growth over the process before the read, SQLite's "
          "page cache included: up to 32 MB whatever the size)")
    print("'vs raw' is ours divided by raw sqlite3 (lower is better; for log_metric, raw's rate over ours).")


WIDTHS = (48, 16, 44, 26, 7, 0)


class Rows:
    """The table, printed a row at a time as measurements finish (the 10M-point rows take minutes)."""

    def __init__(self) -> None:
        header = ("workload", "size", "ours", "raw sqlite3", "vs raw", "goal (issue #14)")
        self.append(header)
        print("-" * (sum(WIDTHS) + 2 * len(WIDTHS) + 26), flush=True)

    def append(self, row: tuple[str, str, str, str, str, str]) -> None:
        """Print one row."""
        print("  ".join(cell.ljust(width) for cell, width in zip(row, WIDTHS, strict=True)), flush=True)

if __name__ == "__main__":
    main()
