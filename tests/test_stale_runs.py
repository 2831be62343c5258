"""Runs left RUNNING by a process that died (issue #12, defect 7).

A real child process starts a run and is SIGKILLed; every reader (``get_run``,
``search_runs``, the CLI, the sidebar's API function) then shows the run KILLED,
ended at its last heartbeat, while a live owner keeps it RUNNING.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle.server import api
from jupyter_lifecycle.store import open_store
from jupyter_lifecycle.store.liveness import HOST

from .test_cli import run_cli

CHILD = """
import sys, time
import jupyter_lifecycle as lc
lc.set_experiment("crash")
run = lc.start_run(run_name="doomed")
lc.log_param("epochs", 100)
lc.log_metric("loss", 0.5, step=0)
lc.flush()
print(run.info.run_id, flush=True)
time.sleep(600)
"""


@pytest.fixture
def child(home: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A real process that started a run in ``home`` and is still running, with its run id."""
    env = {**os.environ, "JUPYTER_LIFECYCLE_HOME": str(home), "JUPYTER_LIFECYCLE_HEARTBEAT_SECONDS": "0.2"}
    process = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    run_id = process.stdout.readline().strip()
    assert len(run_id) == 32, run_id
    yield process, run_id
    process.kill()
    process.wait()


def heartbeat(run_id: str) -> int:
    return int(open_store().db.query("SELECT heartbeat_time FROM runs WHERE run_id = ?", [run_id])[0][0])


def test_sigkilled_process_leaves_its_run_killed_everywhere(child: tuple[subprocess.Popen[str], str]) -> None:
    process, run_id = child
    run = lc.get_run(run_id)
    assert run.info.status == "RUNNING" and run.info.end_time is None
    first = heartbeat(run_id)
    deadline = time.time() + 10
    while heartbeat(run_id) == first and time.time() < deadline:  # the owner's timer beats every 0.2 s
        time.sleep(0.05)
    assert heartbeat(run_id) > first
    assert "RUNNING" in run_cli(Path(os.environ["JUPYTER_LIFECYCLE_HOME"]), "runs", "--columns", "status").stdout

    process.send_signal(signal.SIGKILL)
    deadline = time.time() + 10
    while psutil.Process(process.pid).status() != psutil.STATUS_ZOMBIE and time.time() < deadline:
        time.sleep(0.02)
    # Not reaped yet by its parent: a zombie is no owner either.
    last_beat = heartbeat(run_id)
    frame = lc.search_runs(experiment_names=["crash"])
    assert list(frame["status"]) == ["KILLED"]
    run = lc.get_run(run_id)
    assert run.info.status == "KILLED" and run.info.end_time == last_beat
    assert run.data.params == {"epochs": "100"} and run.data.metrics == {"loss": 0.5}
    process.wait()


@pytest.mark.parametrize("reader", ["get_run", "search_runs", "cli runs", "server api"])
def test_every_reader_marks_a_dead_owners_run_killed(child: tuple[subprocess.Popen[str], str], reader: str) -> None:
    process, run_id = child
    process.kill()
    process.wait()
    home = Path(os.environ["JUPYTER_LIFECYCLE_HOME"])
    if reader == "get_run":
        status = lc.get_run(run_id).info.status
    elif reader == "search_runs":
        status = lc.Client().search_runs([lc.get_experiment_by_name("crash").experiment_id])[0].info.status
    elif reader == "cli runs":
        out = run_cli(home, "runs", "--columns", "run_id,status")
        assert out.returncode == 0, out.stderr
        assert out.stdout.split()[2:] == [run_id, "KILLED"]
        status = "KILLED"
    else:
        client = lc.Client()
        listed = api.runs(client, client.get_experiment_by_name("crash").experiment_id)["runs"]
        status = listed[0]["status"]
    assert status == "KILLED"
    # Marked in the database itself, so filters agree with what is shown.
    assert lc.search_runs(filter_string="attributes.status = 'RUNNING'", search_all_experiments=True).empty


def set_owner(run_id: str, host: str, pid: int, heartbeat_ms: int) -> None:
    with open_store().db.write() as conn:
        conn.execute(
            "UPDATE runs SET owner_host = ?, owner_pid = ?, heartbeat_time = ? WHERE run_id = ?",
            (host, pid, heartbeat_ms, run_id),
        )


def start_detached_run() -> str:
    """A run this process starts and then forgets (its heartbeat thread no longer beats for it)."""
    run = lc.Client().create_run()
    open_store().tracking.heartbeat.release(run.info.run_id)
    return run.info.run_id


def test_other_host_is_judged_by_heartbeat_age(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lc.config, "RUN_STALE_SECONDS", 60.0)
    fresh, old = start_detached_run(), start_detached_run()
    now = int(time.time() * 1000)
    set_owner(fresh, "another-host", 1, now - 30_000)
    set_owner(old, "another-host", 1, now - 61_000)
    assert lc.get_run(fresh).info.status == "RUNNING"
    assert lc.get_run(old).info.status == "KILLED"
    assert lc.get_run(old).info.end_time == now - 61_000


def test_reused_pid_is_not_the_owner(home: Path) -> None:
    run_id = start_detached_run()
    stranger = subprocess.Popen(["sleep", "60"])  # a live process created after the run's last heartbeat
    try:
        set_owner(run_id, HOST, stranger.pid, int(time.time() * 1000) - 3_600_000)
        assert lc.get_run(run_id).info.status == "KILLED"
        alive = start_detached_run()
        set_owner(alive, HOST, stranger.pid, int(time.time() * 1000) + 5_000)  # created before this heartbeat
        assert lc.get_run(alive).info.status == "RUNNING"
    finally:
        stranger.kill()
        stranger.wait()


def test_own_runs_stay_running_and_ended_runs_are_left_alone(home: Path) -> None:
    with lc.start_run() as run:
        set_owner(run.info.run_id, HOST, os.getpid(), 0)  # a heartbeat from 1970...
        assert lc.get_run(run.info.run_id).info.status == "RUNNING"  # ...but its owner here is alive
    assert lc.get_run(run.info.run_id).info.status == "FINISHED"
    assert open_store().tracking.heartbeat.owned == set()


def test_a_metric_flush_refreshes_the_heartbeat(home: Path) -> None:
    with lc.start_run() as run:
        set_owner(run.info.run_id, HOST, os.getpid(), 0)
        lc.log_metric("loss", 0.1)
        lc.flush()  # the buffer writes the point, and the heartbeat with it
        assert heartbeat(run.info.run_id) >= int(time.time() * 1000) - 5_000
