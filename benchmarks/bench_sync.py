"""Push speed: ``lc.sync.push`` vs MLflow's own client logging the same data to the same server.

Starts one real ``mlflow server`` (from ``.venv-mlflow``, SQLite backend in a
tmp folder, one worker, as ``mlflow server`` starts by default), then:

- ours: a local store with RUNS runs of PARAMS params and POINTS metric points
  each (one key per 1,000 points), pushed with ``lc.sync.push``;
- MLflow: the same runs logged by ``MlflowClient`` in ``.venv-mlflow``
  (create_run, log_batch with the params and all points, which the client
  splits into requests within MLflow's limits, set_terminated), one run after
  another as a script would, into another experiment of the same server.

Fairness: the timing starts only once the server's processes are idle (MLflow
3 answers /health before its job runner and huey consumers have started, and
their start-up takes the CPU for half a minute); both sides then send one
small untimed warm-up each; in every round the two sides send the same data
into experiments of their own, and the side that goes first alternates from
round to round (the server's database grows as the rounds go). Each round is
printed; a local store's data is logged before its timing starts, MLflow's
client process is started before its own. Timings come from a shared, loaded
machine: compare the two columns of a round, not the absolute numbers.

    python benchmarks/bench_sync.py [--runs 20] [--points 2000] [--params 10] [--rounds 4]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

# Timed from the first request on, after MLflow is imported and the client made.
MLFLOW_SIDE = """
import json, sys, time, warnings
warnings.filterwarnings("ignore")
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
uri, runs, points, params = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
client = MlflowClient(uri)
ps = [Param(f"p{i}", str(i)) for i in range(params)]
ms = [Metric(f"m{i // 1000}", i * 0.5, 1_700_000_000_000 + i, i) for i in range(points)]
t0 = time.perf_counter()
exp = client.create_experiment(sys.argv[5])
for r in range(runs):
    run = client.create_run(exp, run_name=f"run-{r}")
    client.log_batch(run.info.run_id, metrics=ms, params=ps)
    client.set_terminated(run.info.run_id)
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""


def mlflow_side(uri: str, runs: int, points: int, params: int, experiment: str) -> float:
    """Seconds MLflow's client took to log the runs (its import and start excluded)."""
    done = subprocess.run(
        [str(ROOT / ".venv-mlflow" / "bin" / "python"), "-c", MLFLOW_SIDE, uri, str(runs), str(points), str(params),
         experiment],
        capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": ""},
    )  # fmt: skip
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


def our_side(uri: str, runs: int, points: int, params: int, experiment: str) -> float:
    """Seconds ``lc.sync.push`` took to push the runs, logged locally beforehand."""
    import jupyter_lifecycle as lc

    client = lc.Client()
    exp = client.create_experiment(experiment)
    for r in range(runs):
        run = client.create_run(exp, run_name=f"run-{r}")
        client.log_batch(run.info.run_id,
                         metrics=[lc.Metric(f"m{i // 1000}", i * 0.5, 1_700_000_000_000 + i, i) for i in range(points)],
                         params=[lc.Param(f"p{i}", str(i)) for i in range(params)])  # fmt: skip
        client.set_terminated(run.info.run_id)
    client.flush()
    t0 = time.perf_counter()
    report = lc.sync.push(uri, experiments=[experiment], progress=False)
    seconds = time.perf_counter() - t0
    assert report.ok and report.metric_points == runs * points, str(report)
    return seconds


def main() -> None:
    """Run both sides round after round and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--points", type=int, default=2000, help="metric points per run")
    parser.add_argument("--params", type=int, default=10, help="params per run")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of both sides; the side going first alternates")
    args = parser.parse_args()

    from mlflow_server import MlflowServer  # the tests' server starter: same flags, free port

    import jupyter_lifecycle as lc
    from jupyter_lifecycle import config

    work = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    server = MlflowServer(work)
    print(f"starting mlflow server ({server.backend}) ...", flush=True)
    server.start()
    ours: list[float] = []
    theirs: list[float] = []
    try:
        lc.set_store(work / "store")
        waited = server.wait_quiet()
        print(f"server idle after {waited:.0f} s more (its job runner and consumers starting)", flush=True)
        our_side(server.uri, 2, args.points, args.params, "warmup-ours")  # untimed, the same small warm-up each side
        mlflow_side(server.uri, 2, args.points, args.params, "warmup-mlflow")
        for round_ in range(args.rounds):
            sides = [("ours", our_side), ("mlflow", mlflow_side)]
            if round_ % 2:
                sides.reverse()
            timed = {}
            for side, send in sides:
                timed[side] = send(server.uri, args.runs, args.points, args.params, f"bench-{side}-{round_}")
            ours.append(timed["ours"])
            theirs.append(timed["mlflow"])
            print(f"round {round_ + 1} ({sides[0][0]} first): lc.sync.push {ours[-1]:.2f} s, "
                  f"MlflowClient {theirs[-1]:.2f} s, ratio {theirs[-1] / ours[-1]:.2f}", flush=True)  # fmt: skip
    finally:
        server.kill()
        shutil.rmtree(work, ignore_errors=True)

    points = args.runs * args.points
    print(f"\nmode: push to a real mlflow server (SQLite backend, 1 worker, timed once its processes are idle); "
          f"{args.runs} runs x {args.points} points x {args.params} params on both sides, each round into new "
          f"experiments; first side alternating; untimed equal warm-up; lc.sync.push with {config.SYNC_WORKERS} "
          f"runs at once; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"{'round':8}{'first':>8}{'push runs/s':>14}{'push points/s':>16}{'client runs/s':>16}"
          f"{'client points/s':>18}{'ratio':>8}")  # fmt: skip
    for i, (o, t) in enumerate(zip(ours, theirs, strict=True)):
        first = "ours" if i % 2 == 0 else "mlflow"
        print(f"{i + 1:<8}{first:>8}{args.runs / o:>14.1f}{points / o:>16.0f}{args.runs / t:>16.1f}"
              f"{points / t:>18.0f}{t / o:>8.2f}")  # fmt: skip
    o, t = statistics.median(ours), statistics.median(theirs)
    print(f"{'median':8}{'':>8}{args.runs / o:>14.1f}{points / o:>16.0f}{args.runs / t:>16.1f}{points / t:>18.0f}"
          f"{t / o:>8.2f}")  # fmt: skip
    print(f"ratio = push rate / client rate; push at least as fast on every round: "
          f"{'yes' if all(t >= o for o, t in zip(ours, theirs, strict=True)) else 'no'}")  # fmt: skip


if __name__ == "__main__":
    main()
