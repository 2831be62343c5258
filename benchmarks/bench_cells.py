"""Per-cell cost of notebook capture, as the user feels it: wall time of cells in a real kernel.

Two real IPython kernels (started as Jupyter starts them, driven through
jupyter_client as nbclient drives them) run the same cells, one cell in each
in turn so both see the same machine load: one kernel without the extension,
one after ``%load_ext jupyter_lifecycle``. A cell's time is from sending its
execute request to the kernel going idle after it (what a notebook user
waits for), so it includes everything the extension does per cell: the
hooks, the commit of the cell's metrics at its end, and any work of the
background metric writer that competes with the cell.

Budget: the extension adds <= 2 ms at p99 to a cell that logs a metric.

    .venv/bin/python benchmarks/bench_cells.py [--cells 1000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import start_new_kernel

ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def run(client: object, code: str) -> float:
    """Wall ms from the execute request to the kernel's idle status after it; raises on an error."""
    start = time.perf_counter()
    reply = client.execute_interactive(code, store_history=True, timeout=60, output_hook=lambda msg: None)  # type: ignore[attr-defined]
    elapsed = (time.perf_counter() - start) * 1000
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"cell failed in the kernel: {reply['content'].get('evalue')}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1000, help="cells per workload and kernel (default 1000)")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="bench-cells-")
    env = {**os.environ, "JUPYTER_LIFECYCLE_HOME": home,
           "JUPYTER_LIFECYCLE_NOTEBOOK": os.path.join(home, "bench.ipynb"),
           "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)]))}  # fmt: skip
    kernels = {}
    for name, setup in (("without extension", ""), ("with extension", "%load_ext jupyter_lifecycle\n")):
        manager, client = start_new_kernel(kernel_name="python3", env=env)
        run(client, setup + "import jupyter_lifecycle as lc\nlc.set_experiment('cells')\nrun = lc.start_run()")
        kernels[name] = (manager, client)
    half = args.cells // 2
    # Half the cells are new text, half re-runs (the usual notebook mix).
    workloads = {
        "plain cells": [f"x = {i % half}" for i in range(args.cells)],
        "cells logging a metric": [f"x = {i % half}\nlc.log_metric('x', x)" for i in range(args.cells)],
    }
    results: dict[str, dict[str, list[float]]] = {}
    try:
        for workload, sources in workloads.items():
            times: dict[str, list[float]] = {name: [] for name in kernels}
            for source in sources[:100]:  # warm-up: imports, caches
                for _, client in kernels.values():
                    run(client, source)
            for i, source in enumerate(sources):
                order = list(kernels) if i % 2 else list(reversed(kernels))  # neither always goes first
                for name in order:
                    times[name].append(run(kernels[name][1], source))
            results[workload] = times
        for _, client in kernels.values():
            run(client, "lc.end_run()")
    finally:
        for manager, client in kernels.values():
            client.stop_channels()
            manager.shutdown_kernel(now=True)

    print(f"{args.cells} cells per workload and kernel, interleaved; load average {os.getloadavg()[0]:.1f}")
    for workload, times in results.items():
        print(f"\n{workload} (wall ms per cell, request to idle):")
        print(f"  {'':22}{'median':>9}{'p90':>9}{'p99':>9}")
        for name, values in times.items():
            print(f"  {name:22}{statistics.median(values):9.3f}{percentile(values, 90):9.3f}{percentile(values, 99):9.3f}")
        paired = [w - wo for w, wo in zip(times["with extension"], times["without extension"], strict=True)]
        added = percentile(times["with extension"], 99) - percentile(times["without extension"], 99)
        print(f"  added by the extension: median {statistics.median(paired):.3f} ms per cell (paired), "
              f"p99 {added:.3f} ms (budget 2 ms: {'OK' if added <= 2 else 'OVER'})")


if __name__ == "__main__":
    main()
