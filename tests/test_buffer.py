"""The metric buffer's bounds: a background thread commits every point within FLUSH_SECONDS.

Issue #12, defect 1: the age limit used to be checked only on the next
``log_metric``, so a point logged before a long pause (an epoch) was lost when
the kernel crashed during it.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle import config
from jupyter_lifecycle.store import Store

MARGIN = 1.5
"""Seconds granted past the bound for a commit on a loaded machine (the commit itself takes milliseconds)."""


def count(db: Path) -> int:
    """Metric rows in the file, read with plain sqlite3."""
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM metrics").fetchone()[0])


def python(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def test_default_bound_is_at_most_one_second() -> None:
    if "JUPYTER_LIFECYCLE_FLUSH_SECONDS" not in os.environ:
        assert config.FLUSH_SECONDS <= 1.0


def test_the_call_that_fills_the_buffer_commits_it(tmp_path: Path) -> None:
    store = Store(tmp_path / "size")
    client = lc.Client(store)
    run_id = client.create_run(client.get_or_create_experiment("e").experiment_id).info.run_id
    store.metric_buffer.max_points, store.metric_buffer.max_seconds = 5, 3600.0
    for step in range(4):
        client.log_metric(run_id, "m", 1.0, step=step)
    assert count(store.db_path) == 0 and len(store.metric_buffer.points) == 4
    client.log_metric(run_id, "m", 1.0, step=4)
    assert count(store.db_path) == 5 and store.metric_buffer.points == []


def test_a_point_logged_before_a_pause_survives_sigkill(tmp_path: Path) -> None:
    """Log one point, call nothing else, SIGKILL after the bound: the point is in the store."""
    home = tmp_path / "pause"
    proc = python(
        f"""
        import time, jupyter_lifecycle as lc
        lc.set_store({str(home)!r})
        run = lc.start_run()
        lc.log_metric("loss", 0.25, step=7)
        print(run.info.run_id, flush=True)
        time.sleep(600)  # a long epoch; the kernel dies during it
        """
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    assert run_id, proc.communicate()[1]
    time.sleep(config.FLUSH_SECONDS + MARGIN)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    rows = sqlite3.connect(home / "lifecycle.db").execute(
        "SELECT key, value, step FROM metrics WHERE run_id = ?", (run_id,)).fetchall()  # fmt: skip
    assert rows == [("loss", 0.25, 7)]
    store = Store(home)  # the store opens as usual and shows the point as the latest value
    assert store.tracking.get_run(run_id).data.metrics == {"loss": 0.25}


def test_one_idle_thread_flushes_several_stores(tmp_path: Path) -> None:
    """No thread until a point is buffered; then one for all stores, which sleeps while they are empty."""
    code = f"""
        import threading, time, jupyter_lifecycle as lc
        from jupyter_lifecycle.store import buffer
        def flushers():
            return [t for t in threading.enumerate() if t.name == "jupyter-lifecycle-metric-flusher"]
        clients = [lc.Client({str(tmp_path / "one")!r}), lc.Client({str(tmp_path / "two")!r})]
        runs = [c.create_run(c.get_or_create_experiment("e").experiment_id).info.run_id for c in clients]
        clients[0].search_runs([clients[0].get_experiment_by_name("e").experiment_id])
        assert flushers() == [], "started before any point was buffered"
        looks = []
        flush_due = buffer._flusher._flush_due
        buffer._flusher._flush_due = lambda: looks.append(time.time()) or flush_due()
        for client, run_id in zip(clients, runs):
            client.log_metric(run_id, "m", 1.0)
        time.sleep({config.FLUSH_SECONDS} + {MARGIN})
        assert len(flushers()) == 1, flushers()
        settled = len(looks)
        time.sleep(2.0)
        print(len(looks) - settled, flush=True)  # wake-ups while every buffer was empty
        import os; os._exit(0)  # no atexit flush: what is on disk was written by the thread
    """
    proc = python(code)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.split() == ["0"]
    assert count(tmp_path / "one" / "lifecycle.db") == 1
    assert count(tmp_path / "two" / "lifecycle.db") == 1


def test_forked_child_writes_only_its_own_points(tmp_path: Path) -> None:
    """The parent's buffered points stay the parent's; the child's thread commits the child's points."""
    home = tmp_path / "fork"
    code = f"""
        import os, time, jupyter_lifecycle as lc
        lc.set_store({str(home)!r})
        run = lc.start_run()
        lc.log_metric("parent", 1.0)  # buffered, and the parent's thread is running
        pid = os.fork()
        if pid == 0:
            lc.log_metric("child", 2.0)
            time.sleep({config.FLUSH_SECONDS} + {MARGIN})
            os._exit(0)  # no atexit: only the child's thread can have written its point
        os.waitpid(pid, 0)
        lc.end_run()
        print(run.info.run_id)
    """
    proc = python(code)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    rows = sqlite3.connect(home / "lifecycle.db").execute(
        "SELECT key, value FROM metrics WHERE run_id = ? ORDER BY key", (out.strip(),)).fetchall()  # fmt: skip
    assert rows == [("child", 2.0), ("parent", 1.0)]


def test_a_failed_background_flush_keeps_its_points_and_retries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "retry")
    client = lc.Client(store)
    run_id = client.create_run(client.get_or_create_experiment("e").experiment_id).info.run_id
    buffer = store.metric_buffer
    buffer.max_seconds = 0.1
    real = store.tracking.log_metrics
    calls: list[int] = []

    def fail_once(points: list[tuple[str, str, float, int, int]]) -> None:
        calls.append(len(points))
        if len(calls) == 1:
            raise sqlite3.OperationalError("disk I/O error")
        real(points)

    monkeypatch.setattr(store.tracking, "log_metrics", fail_once)
    client.log_metric(run_id, "m", 1.0)
    deadline = time.monotonic() + 10
    while count(store.db_path) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert calls == [1, 1] and count(store.db_path) == 1
    assert buffer.points == [] and client.flush() == 0


def test_ending_a_run_while_the_thread_commits_does_not_deadlock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``set_terminated`` commits the last points with the status; it must take the buffer before the database,
    as the background thread does, or each waits for the other until the busy timeout."""
    monkeypatch.setattr(config, "BUSY_TIMEOUT_MS", 2000)
    store = Store(tmp_path / "order")
    client = lc.Client(store)
    run_id = client.create_run(client.get_or_create_experiment("e").experiment_id).info.run_id
    store.metric_buffer.max_seconds = 0.05
    real = store.tracking.log_metrics
    committing, errors = threading.Event(), []

    def slow_commit(points: list[tuple[str, str, float, int, int]]) -> None:
        if threading.current_thread().name == "jupyter-lifecycle-metric-flusher":
            committing.set()
            time.sleep(0.3)  # the buffer is locked; meanwhile the run is ended
            try:
                real(points)
            except sqlite3.OperationalError as exc:
                errors.append(str(exc))
                raise
        else:
            real(points)

    monkeypatch.setattr(store.tracking, "log_metrics", slow_commit)
    client.log_metric(run_id, "m", 1.0)
    assert committing.wait(10)
    client.set_terminated(run_id)
    assert errors == []
    assert count(store.db_path) == 1
    assert client.get_run(run_id).info.status == "FINISHED"


def test_a_nearer_deadline_wakes_the_thread_asleep_until_a_later_one(tmp_path: Path) -> None:
    """The logging path wakes the background thread only when its point is due before the thread's planned
    wake-up (issue #14: waking it for every run cost a thread switch); a buffer armed while the thread sleeps
    toward a far deadline is still committed on time."""
    from jupyter_lifecycle.store import buffer as buffer_module

    slow, fast = Store(tmp_path / "slow"), Store(tmp_path / "fast")
    slow.metric_buffer.max_seconds, fast.metric_buffer.max_seconds = 30.0, 0.2
    runs = []
    for store in (slow, fast):
        client = lc.Client(store)
        runs.append((client, client.create_run(client.get_or_create_experiment("e").experiment_id).info.run_id))
    runs[0][0].log_metric(runs[0][1], "m", 1.0)
    deadline = time.monotonic() + 10
    while buffer_module._flusher.planned < time.time() + 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert buffer_module._flusher.planned > time.time() + 20  # asleep until the slow buffer is due
    runs[1][0].log_metric(runs[1][1], "m", 1.0)
    deadline = time.monotonic() + fast.metric_buffer.max_seconds + MARGIN
    while count(fast.db_path) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert count(fast.db_path) == 1 and count(slow.db_path) == 0
    assert runs[0][0].flush() == 1
