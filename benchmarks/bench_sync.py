"""Push speed: ``lc.sync.push`` vs MLflow's own client logging the same data to the same server.

Starts one real ``mlflow server`` (from ``.venv-mlflow``, SQLite backend in a
tmp folder, one worker), then:

- ours: a local store with RUNS runs of PARAMS params and POINTS metric points
  each (one key per 1,000 points), pushed with ``lc.sync.push`` (log-batch
  requests packed to MLflow's limits, several runs at once);
- MLflow: the same runs logged by ``MlflowClient`` in ``.venv-mlflow``
  (create_run, log_batch in chunks of 1,000 metrics with the params,
  set_terminated), one run after another as a script would, into another
  experiment of the same server.

The server is warmed up first (one small push), so neither side pays for its
first requests.

Both sides send the same number of runs, params and points, in alternating
rounds (the server slows down as its database fills); the best round of each
side is shown. Prints runs/s and
metric points/s side by side. Timings come from a shared, loaded machine:
compare the two columns, not the absolute numbers.

    python benchmarks/bench_sync.py [--runs 20] [--points 2000] [--params 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

MLFLOW_SIDE = """
import json, sys, time, warnings
warnings.filterwarnings("ignore")
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
uri, runs, points, params = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
client = MlflowClient(uri)
exp = client.create_experiment(sys.argv[5])
t0 = time.perf_counter()
for r in range(runs):
    run = client.create_run(exp, run_name=f"run-{r}")
    ps = [Param(f"p{i}", str(i)) for i in range(params)]
    ms = [Metric(f"m{i // 1000}", i * 0.5, 1_700_000_000_000 + i, i) for i in range(points)]
    first = True
    for i in range(0, len(ms), 1000):
        client.log_batch(run.info.run_id, metrics=ms[i:i + 1000], params=ps if first else [])
        first = False
    client.set_terminated(run.info.run_id)
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""


def main() -> None:
    """Run both sides and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--points", type=int, default=2000, help="metric points per run")
    parser.add_argument("--params", type=int, default=10, help="params per run")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of both sides, alternating; best of each")
    args = parser.parse_args()

    from test_sync import MlflowServer  # the tests' server starter: same flags, free port

    import jupyter_lifecycle as lc

    work = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    server = MlflowServer(work)
    print(f"starting mlflow server ({server.backend}) ...", flush=True)
    server.start()
    try:
        lc.set_store(work / "store")
        client = lc.Client()
        # warm the server up (its first requests load code and fill caches) before timing either side
        warm = client.create_run(client.create_experiment("bench-warmup"))
        client.log_batch(warm.info.run_id, metrics=[lc.Metric("w", 1.0, 1_700_000_000_000 + i, i) for i in range(2000)])
        client.set_terminated(warm.info.run_id)
        client.flush()
        lc.sync.push(server.uri, experiments=["bench-warmup"], progress=False)
        ours, theirs = [], []
        for round_ in range(args.rounds):  # alternate the sides: the server's state (file size, caches) changes as it fills
            name = f"bench-ours-{round_}"
            exp = client.create_experiment(name)
            for r in range(args.runs):
                run = client.create_run(exp, run_name=f"run-{r}")
                client.log_batch(run.info.run_id,
                                 metrics=[lc.Metric(f"m{i // 1000}", i * 0.5, 1_700_000_000_000 + i, i)
                                          for i in range(args.points)],
                                 params=[lc.Param(f"p{i}", str(i)) for i in range(args.params)])  # fmt: skip
                client.set_terminated(run.info.run_id)
            client.flush()
            t0 = time.perf_counter()
            report = lc.sync.push(server.uri, experiments=[name], progress=False)
            ours.append(time.perf_counter() - t0)
            assert report.ok and report.metric_points == args.runs * args.points, str(report)
            done = subprocess.run(
                [str(ROOT / ".venv-mlflow" / "bin" / "python"), "-c", MLFLOW_SIDE, server.uri,
                 str(args.runs), str(args.points), str(args.params), f"bench-mlflow-{round_}"],
                capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": ""},
            )  # fmt: skip
            theirs.append(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])
            print(f"round {round_ + 1}: lc.sync.push {ours[-1]:.2f} s, MlflowClient {theirs[-1]:.2f} s", flush=True)
    finally:
        server.kill()
        shutil.rmtree(work, ignore_errors=True)

    points = args.runs * args.points
    ours_s, theirs_s = min(ours), min(theirs)
    print(f"\nmode: push to a real mlflow server (SQLite backend, 1 worker); {args.runs} runs x {args.points} points "
          f"x {args.params} params on both sides; loaded shared machine")  # fmt: skip
    print(f"{'':28}{'lc.sync.push':>16}{'MlflowClient.log_batch':>26}")
    print(f"{'seconds (best round)':28}{ours_s:>16.2f}{theirs_s:>26.2f}")
    print(f"{'runs/s':28}{args.runs / ours_s:>16.1f}{args.runs / theirs_s:>26.1f}")
    print(f"{'metric points/s':28}{points / ours_s:>16.0f}{points / theirs_s:>26.0f}")
    print(f"{'ratio (ours / MLflow rate)':28}{theirs_s / ours_s:>16.2f}")


if __name__ == "__main__":
    main()
