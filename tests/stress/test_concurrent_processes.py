"""Writers, readers and a registering process on one store at once: every row lands, nothing is locked out."""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import jupyter_lifecycle as lc

from .conftest import Scale, Worker, integrity_check, lock_errors
from .workers import MODEL

pytestmark = pytest.mark.stress


def test_writers_readers_and_registrar_share_one_store(
    home: Path, tmp_path: Path, scale: Scale, workers: Callable[..., Worker]
) -> None:
    with lc.start_run() as source:  # the model the registering process registers again and again
        lc.log_text("flavors: {}\n", "model/MLmodel")
        lc.log_text("registrar", "model/weights.txt")
    go, stop = tmp_path / "go", tmp_path / "stop"
    writers = [workers(f"w{i}", "writer", f"w{i}", scale.points, scale.flush_every, go) for i in range(scale.writers)]
    readers = [workers(f"r{i}", "reader", stop, go) for i in range(scale.readers)]
    registrar = workers("registrar", "registrar", f"runs:/{source.info.run_id}/model", scale.versions, go)
    for worker in (*writers, *readers, registrar):
        worker.wait_for("ready")  # every process has opened the store
    start = time.monotonic()
    go.touch()
    for worker in (*writers, registrar):
        worker.finish()
    seconds = time.monotonic() - start
    stop.touch()
    for worker in readers:
        worker.finish()

    assert lock_errors(tmp_path / "logs") == []
    db = home / "lifecycle.db"
    assert integrity_check(db) == ["ok"]
    conn = sqlite3.connect(db)
    batches = math.ceil(scale.points / scale.flush_every)
    for writer in writers:
        run_id = writer.wait_for("run")
        assert writer.values("done") == [scale.points]
        steps = conn.execute(
            "SELECT count(*), count(DISTINCT step), min(step), max(step), sum(value != step) FROM metrics"
            " WHERE run_id = ? AND key = 'loss'", (run_id,)).fetchone()  # fmt: skip
        assert steps == (scale.points, scale.points, 0, scale.points - 1, 0), writer.name
        assert conn.execute("SELECT value, step FROM latest_metrics WHERE run_id = ?", (run_id,)).fetchall() == [
            (scale.points - 1, scale.points - 1)]  # fmt: skip
        assert conn.execute("SELECT count(*) FROM params WHERE run_id = ?", (run_id,)).fetchone() == (batches,)
        assert conn.execute("SELECT count(*) FROM tags WHERE run_id = ? AND key LIKE 't%'", (run_id,)).fetchone() == (batches,)
        assert conn.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone() == ("FINISHED",)

    # Every registration got its own number, and the store holds exactly those.
    given = registrar.values("version") + [v for w in writers for v in w.values("version")]
    assert len(given) == scale.versions + scale.writers
    assert sorted(given) == list(range(1, len(given) + 1))
    stored = lc.Client().search_model_versions(f"name = '{MODEL}'")
    assert sorted(int(mv.version) for mv in stored) == sorted(given)
    for mv in stored:
        assert (Path(mv.storage_location) / "weights.txt").read_text() == mv.tags["writer"]
    assert lc.Client().get_model_version_by_alias(MODEL, "champion").version in given

    reads = sum(r.values("reads")[0] for r in readers)
    assert reads > 0
    points = scale.writers * scale.points
    print(f"stress[{scale.name}]: {scale.writers} writers + {scale.readers} readers + 1 registrar, "
          f"{points:,} points, {scale.writers * batches * 2} params/tags, {len(given)} versions, "
          f"{reads:,} reads in {seconds:.1f} s; rows lost: 0, 'database is locked': 0")  # fmt: skip
