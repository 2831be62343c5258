"""Writer processes SIGKILLed at random moments: the file stays sound and every flushed point stays."""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import Scale, Worker, integrity_check, lock_errors

pytestmark = pytest.mark.stress

FLUSH_EVERY = (1, 7, 100, 1_000, 5_000, 30_000)
"""Points between a victim's explicit flushes: from a commit per point to size-threshold flushes in between."""
PAUSE_EVERY = (20, 500, 10**9)
"""Points between short sleeps, during which the background flusher commits."""
BUFFER_POINTS = ("700", "3000", "20000")
"""``JUPYTER_LIFECYCLE_FLUSH_POINTS`` of a victim: the size limit commits in between explicit flushes."""
LIFE = 1.5
"""A victim is killed at a moment drawn uniformly from its first LIFE seconds after opening the store
(creating its run, logging, committing, flushing or sleeping: wherever it is)."""


def committed_steps(conn: sqlite3.Connection, run_id: str) -> tuple[int, int, int, int]:
    """``(points, distinct steps, highest step + 1, points whose value is not their step)`` of a run's ``loss``."""
    return conn.execute(
        "SELECT count(*), count(DISTINCT step), coalesce(max(step) + 1, 0), coalesce(sum(value != step), 0)"
        " FROM metrics WHERE run_id = ? AND key = 'loss'", (run_id,)).fetchone()  # fmt: skip


def test_sigkilled_writers_keep_every_flushed_point(
    home: Path, tmp_path: Path, scale: Scale, rng: random.Random, workers: Callable[..., Worker]
) -> None:
    go, stop = tmp_path / "go", tmp_path / "stop"
    go.touch()  # victims start logging as soon as they are up
    reader = workers("reader", "reader", stop, go)  # a reader holds snapshots open meanwhile
    db = home / "lifecycle.db"
    spawned = 0

    def spawn() -> Worker:
        nonlocal spawned
        spawned += 1
        return workers(f"v{spawned}", "victim", f"v{spawned}", rng.choice(FLUSH_EVERY), rng.choice(PAUSE_EVERY),
                       scale.victim_points, go, env={"JUPYTER_LIFECYCLE_FLUSH_POINTS": rng.choice(BUFFER_POINTS)})  # fmt: skip

    alive: dict[Worker, float | None] = {spawn(): None for _ in range(min(scale.victims, scale.kills))}  # kill times
    kills = flushed_total = found_total = lost = 0
    start = time.monotonic()
    while alive:
        time.sleep(0.005)
        for victim, kill_at in list(alive.items()):
            if kill_at is None:
                if victim.reported("ready"):
                    alive[victim] = time.monotonic() + rng.uniform(0.0, LIFE)
                continue
            if time.monotonic() < kill_at:
                continue
            victim.kill()
            kills += 1
            del alive[victim]
            if kills + len(alive) < scale.kills:
                alive[spawn()] = None
            # The file is sound after each kill, read while the other victims keep writing.
            assert integrity_check(db) == ["ok"], f"after kill {kills} ({victim.name})"
            run_id = (victim.values("run") or [None])[0]
            if run_id is None:
                continue  # killed before its run was created: nothing was flushed
            flushed = max(victim.values("flushed"), default=0)
            with sqlite3.connect(db, timeout=60) as conn:
                count, distinct, end, wrong = committed_steps(conn, run_id)
                latest = conn.execute("SELECT step FROM latest_metrics WHERE run_id = ? AND key = 'loss'",
                                      (run_id,)).fetchall()  # fmt: skip
            # Commits are whole and in order: steps 0..end-1, each once, and at least every flushed one.
            assert (count, distinct, wrong) == (end, end, 0), f"{victim.name}: {(count, distinct, end, wrong)}"
            assert end >= flushed, f"{victim.name} reported {flushed} points flushed, the store has {end}"
            assert latest == ([(end - 1,)] if end else []), victim.name
            flushed_total += flushed
            found_total += end
            lost += max(0, flushed - end)
    seconds = time.monotonic() - start
    stop.touch()
    reader.finish()
    assert integrity_check(db) == ["ok"]
    assert lock_errors(tmp_path / "logs") == []
    assert kills == spawned >= scale.kills
    print(f"stress[{scale.name}]: {spawned} writer processes ({scale.victims} at once) + 1 reader, "
          f"{kills} SIGKILLs in {seconds:.1f} s, integrity_check ok after each; "
          f"{flushed_total:,} points reported flushed, {found_total:,} found; rows lost: {lost}")  # fmt: skip
