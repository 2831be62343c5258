"""The processes of the stress tests, run as ``python workers.py ROLE ARGS...`` (real processes, one store file).

Each worker opens the store named by ``$JUPYTER_LIFECYCLE_HOME``, writes
``ready`` to its stdout, waits for the start file (so that all of them hit the
store at the same moment), then reports on stdout, one JSON object a line,
flushed at once: what a SIGKILL leaves in the pipe or file is what the
worker had done. Any exception ends the worker with a traceback on stderr
and a non-zero status, which the tests check.

Roles:

- ``writer NAME POINTS FLUSH_EVERY GO``: one run, ``POINTS`` points of
  ``loss`` (value = step), a param and a tag every ``FLUSH_EVERY`` points
  followed by an explicit flush, then ends the run and registers a version
  of ``stress-model`` from it. Reports ``run``, ``flushed`` and ``done``.
- ``victim NAME FLUSH_EVERY PAUSE_EVERY LIMIT GO``: logs ``loss`` until
  killed, as fast as it can for ``LIMIT`` points, then a point every 5 ms;
  after each explicit flush reports ``{"flushed": n}`` (the points 0..n-1
  are committed); every ``PAUSE_EVERY`` points it sleeps a little, so the
  background flusher commits too.
- ``reader STOP GO``: searches runs, reads histories and model versions until
  the stop file exists. Reports ``reads``.
- ``registrar URI COUNT GO``: registers ``COUNT`` versions of ``stress-model``
  and moves the ``champion`` alias to each. Reports ``version``.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

import jupyter_lifecycle as lc

MODEL = "stress-model"
EXPERIMENT = "stress"


def report(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def wait_for(go: Path) -> None:
    report(ready=True)
    while not go.exists():
        time.sleep(0.005)


def writer(name: str, points: int, flush_every: int, go: Path) -> None:
    client = lc.Client()
    experiment_id = client.get_or_create_experiment(EXPERIMENT).experiment_id
    wait_for(go)
    run_id = client.create_run(experiment_id, run_name=name).info.run_id
    client.log_text(run_id, "flavors: {}\n", "model/MLmodel")
    client.log_text(run_id, name, "model/weights.txt")
    report(run=run_id)
    for step in range(points):
        client.log_metric(run_id, "loss", float(step), step=step)
        if (step + 1) % flush_every == 0 or step + 1 == points:
            batch = step // flush_every
            client.log_param(run_id, f"p{batch}", batch)
            client.set_tag(run_id, f"t{batch}", name)
            client.flush()
            report(flushed=step + 1)
    client.set_terminated(run_id)
    version = lc.register_model(f"runs:/{run_id}/model", MODEL, tags={"writer": name})
    report(done=points, version=int(version.version))


def victim(name: str, flush_every: int, pause_every: int, limit: int, go: Path) -> None:
    client = lc.Client()
    experiment_id = client.get_or_create_experiment(EXPERIMENT).experiment_id
    wait_for(go)
    run_id = client.create_run(experiment_id, run_name=name).info.run_id
    report(run=run_id)
    step = 0
    while True:
        client.log_metric(run_id, "loss", float(step), step=step)
        step += 1
        if step % flush_every == 0:
            client.flush()
            report(flushed=step)
        if step % pause_every == 0:
            time.sleep(random.uniform(0.0, 0.05))
        if step >= limit:  # then a slow loop, committed by the background flusher and a flush every 50 points
            flush_every, pause_every = 50, 1
            time.sleep(0.005)


def reader(stop: Path, go: Path) -> None:
    client = lc.Client()
    wait_for(go)
    reads = 0
    rng = random.Random()
    while not stop.exists():
        experiment = client.get_experiment_by_name(EXPERIMENT)
        if experiment is None:
            time.sleep(0.01)
            continue
        runs = client.search_runs([experiment.experiment_id], "metrics.loss >= 0", order_by=["metrics.loss DESC"])
        client.search_runs([experiment.experiment_id], f"params.p0 = '0' and tags.t0 LIKE 'w%' and metrics.loss > {rng.random() * 1000}")
        lc.search_runs(experiment_names=[EXPERIMENT])  # the DataFrame path
        if runs:
            client.get_metric_history(rng.choice(runs).info.run_id, "loss")
        lc.search_model_versions(f"name = '{MODEL}'")
        reads += 5
    report(reads=reads)


def registrar(uri: str, count: int, go: Path) -> None:
    client = lc.Client()
    client.search_registered_models()  # open the store before the start signal
    wait_for(go)
    for _ in range(count):
        version = lc.register_model(uri, MODEL, tags={"writer": "registrar"})
        client.set_registered_model_alias(MODEL, "champion", version.version)
        report(version=int(version.version))


def main(argv: list[str]) -> None:
    role, args = argv[0], argv[1:]
    if role == "writer":
        writer(args[0], int(args[1]), int(args[2]), Path(args[3]))
    elif role == "victim":
        victim(args[0], int(args[1]), int(args[2]), int(args[3]), Path(args[4]))
    elif role == "reader":
        reader(Path(args[0]), Path(args[1]))
    elif role == "registrar":
        registrar(args[0], int(args[1]), Path(args[2]))
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
