"""Per-cell overhead of notebook capture: IPython cells with vs without ``%load_ext jupyter_lifecycle``.

Measured in-process with ``InteractiveShell.run_cell`` (the same code path a
kernel runs for each execute request, minus the ZeroMQ round trip, which is
the same with and without the extension). Two numbers per setting:

- the time of a whole ``run_cell``, with and without the extension;
- the time spent inside the extension's own hooks (pre + post_run_cell),
  which is the overhead itself: one SQLite transaction per cell writing the
  cell row (and its source when new) and flushing buffered metrics.

Budget: p99 of the hooks' time <= 2 ms per cell.

    .venv/bin/python benchmarks/bench_cells.py [--cells 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=2000, help="cells per setting (default 2000)")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="bench-cells-")
    os.environ["JUPYTER_LIFECYCLE_HOME"] = home
    os.environ["JUPYTER_LIFECYCLE_NOTEBOOK"] = os.path.join(home, "bench.ipynb")

    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_cell("import jupyter_lifecycle as lc\nlc.start_run(run_name='bench')", store_history=True)
    half = args.cells // 2
    # Half the cells are new text, half re-runs (the usual notebook mix).
    workloads = {
        "plain cells": [f"x = {i % half}" for i in range(args.cells)],
        "cells logging a metric": [f"x = {i % half}\nlc.log_metric('x', x)" for i in range(args.cells)],
    }

    def run_all(sources: list[str]) -> list[float]:
        times = []
        for source in sources:
            start = time.perf_counter()
            shell.run_cell(source, store_history=True)
            times.append((time.perf_counter() - start) * 1000)
        return times

    without = {}
    for name, sources in workloads.items():
        run_all(sources[:200])  # warm-up: imports, caches
        without[name] = run_all(sources)
    shell.run_cell("%load_ext jupyter_lifecycle", store_history=True)
    from jupyter_lifecycle.capture.recorder import get_recorder

    rec = get_recorder(shell)
    hook_times: list[float] = []
    pre, post = rec.pre_run_cell, rec.post_run_cell
    pending: list[float] = []

    def timed_pre(info: object) -> None:
        start = time.perf_counter()
        pre(info)
        pending.append(time.perf_counter() - start)

    def timed_post(result: object) -> None:
        start = time.perf_counter()
        post(result)
        hook_times.append((time.perf_counter() - start + pending.pop()) * 1000)

    shell.events.unregister("pre_run_cell", pre)
    shell.events.unregister("post_run_cell", post)
    shell.events.register("pre_run_cell", timed_pre)
    shell.events.register("post_run_cell", timed_post)
    results = {}
    for name, sources in workloads.items():
        hook_times.clear()
        with_ext = run_all(sources)
        results[name] = (with_ext, list(hook_times))
    shell.run_cell("lc.end_run()", store_history=True)

    from jupyter_lifecycle.store import open_store

    recorded = open_store().capture.counts()["cell_executions"]
    print(f"cells per setting: {args.cells}; cells recorded: {recorded}; load average: {os.getloadavg()[0]:.1f}")
    for name in workloads:
        with_ext, hooks = results[name]
        print(f"\n{name}:")
        print(f"  {'':30}{'median ms':>12}{'p99 ms':>12}")
        for label, values in (("run_cell without extension", without[name]), ("run_cell with extension", with_ext),
                              ("extension hooks alone", hooks)):  # fmt: skip
            print(f"  {label:30}{statistics.median(values):12.3f}{percentile(values, 99):12.3f}")
        print(f"  ratio with/without: median {statistics.median(with_ext) / statistics.median(without[name]):.2f}x, "
              f"p99 {percentile(with_ext, 99) / percentile(without[name], 99):.2f}x")
        overhead = percentile(hooks, 99)
        print(f"  per-cell overhead p99: {overhead:.3f} ms (budget 2 ms: {'OK' if overhead <= 2 else 'OVER'})")
    print("\n(cells logging a metric include the commit of that metric at the end of the cell, which the")
    print(" extension does so nothing logged is lost if the kernel dies; without it the commit happens later.)")


if __name__ == "__main__":
    main()
