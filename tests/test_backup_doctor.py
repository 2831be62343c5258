"""``jupyter-lifecycle backup``, ``restore`` and ``doctor`` on real stores, through the real CLI.

The backup test runs a real writer process (runs, metrics, artifacts and
registered versions) during three backups, then opens each backup and checks
that it is intact and that every row it holds is complete.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle.errors import StoreError
from jupyter_lifecycle.store import forget_store, open_store
from jupyter_lifecycle.store.backup import backup, restore
from jupyter_lifecycle.store.doctor import LOST_AND_FOUND, diagnose

from .test_cli import run_cli

PARAMS, POINTS = 10, 50
WRITER = f"""
import os, sys
import jupyter_lifecycle as lc
lc.set_experiment("busy")
n = 0
while True:
    with lc.start_run(run_name=f"r{{n}}") as run:
        lc.log_params({{f"p{{i}}": i for i in range({PARAMS})}})
        for step in range({POINTS}):
            lc.log_metric("loss", 1 / (step + 1), step=step)
        lc.log_text(str(n) * 100_000, "blob.txt")
        if n % 5 == 0:
            lc.log_text("flavors: {{}}\\n", "model/MLmodel")
            lc.log_text(f"weights {{n}}", "model/weights.txt")
    if n % 5 == 0:
        lc.register_model(f"runs:/{{run.info.run_id}}/model", "busy-model")
    n += 1
    print(n, flush=True)
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_complete(dest: Path) -> tuple[int, int]:
    """Check a backup row by row; return its (finished runs, model versions)."""
    conn = sqlite3.connect(dest / "lifecycle.db")
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finished = conn.execute("SELECT run_id, artifact_location FROM runs WHERE status = 'FINISHED'").fetchall()
    for run_id, location in finished:  # a run ends after everything was logged to it
        assert conn.execute("SELECT count(*) FROM params WHERE run_id = ?", (run_id,)).fetchone()[0] == PARAMS
        assert conn.execute("SELECT count(*) FROM metrics WHERE run_id = ?", (run_id,)).fetchone()[0] == POINTS
        for path, size, digest in conn.execute("SELECT path, size, sha256 FROM artifacts WHERE run_id = ?", (run_id,)):
            copied = dest / location / path
            assert copied.stat().st_size == size and sha256(copied) == digest, copied
        assert (dest / location / "blob.txt").stat().st_size == 100_000 * len(conn.execute(
            "SELECT run_name FROM runs WHERE run_id = ?", (run_id,)).fetchone()[0][1:])  # fmt: skip
    versions = conn.execute(
        "SELECT v.storage_location, f.path, f.sha256 FROM model_version_files f JOIN model_versions v USING (name, version)"
    ).fetchall()
    for location, path, digest in versions:
        assert sha256(dest / location / path) == digest
    count = conn.execute("SELECT count(*) FROM model_versions").fetchone()[0]
    conn.close()
    return len(finished), count


def test_backup_while_a_writer_runs_is_complete(home: Path, tmp_path: Path) -> None:
    env = {**os.environ, "JUPYTER_LIFECYCLE_HOME": str(home)}
    writer = subprocess.Popen([sys.executable, "-c", WRITER], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env)  # fmt: skip
    assert writer.stdout is not None
    try:
        while int(writer.stdout.readline() or 0) < 6:  # a few runs and versions before the first backup
            assert writer.poll() is None, writer.stderr.read() if writer.stderr else ""
        sizes = []
        for attempt in range(3):
            dest = tmp_path / f"backup{attempt}"
            out = run_cli(home, "backup", str(dest))
            assert out.returncode == 0, out.stderr
            assert f"backed up {home} to {dest}" in out.stdout and "integrity ok" in out.stdout
            assert writer.poll() is None  # the writer was writing all along
            runs, versions = assert_complete(dest)
            assert runs >= 5 and versions >= 2
            sizes.append(runs)
            doctor = run_cli(dest, "doctor")
            assert doctor.returncode == 0 and "no problems found" in doctor.stdout, doctor.stdout
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0]  # later backups saw more of the writer's runs
    assert "database is locked" not in (writer.stderr.read() if writer.stderr else "")


def fill(home: Path) -> str:
    lc.set_experiment("kept")
    with lc.start_run() as run:
        lc.log_param("depth", 3)
        lc.log_text("hello", "hello.txt")
        lc.log_text("flavors: {}\n", "model/MLmodel")
        lc.log_text("weights", "model/weights.txt")
    lc.register_model(f"runs:/{run.info.run_id}/model", "kept-model")
    return run.info.run_id


def test_backup_refuses_a_used_destination(home: Path, tmp_path: Path) -> None:
    fill(home)
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match=f"the backup destination {used} exists and is not an empty folder"):
        backup(home, used)
    assert [p.name for p in used.iterdir()] == ["notes.txt"]
    with pytest.raises(StoreError, match="is inside the store"):
        backup(home, home / "backups" / "today")
    backup(home, tmp_path / "bk")
    with pytest.raises(StoreError, match="one is inside the other"):
        restore(tmp_path / "bk", tmp_path / "bk" / "artifacts", force=True)


def test_restore_refuses_a_non_empty_store_unless_forced(home: Path, tmp_path: Path) -> None:
    run_id = fill(home)
    assert run_cli(home, "backup", str(tmp_path / "bk")).returncode == 0
    with lc.start_run():
        lc.log_param("after", "backup")  # in the store, not in the backup
        busy = run_cli(home, "restore", str(tmp_path / "bk"), "--force")  # this process runs a run
        assert busy.returncode == 1 and "runs are still running in" in busy.stderr and str(os.getpid()) in busy.stderr
    out = run_cli(home, "restore", str(tmp_path / "bk"))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert f"the store home {home} is not empty" in out.stderr and "pass --force" in out.stderr
    assert len(lc.search_runs(search_all_experiments=True)) == 2  # untouched

    out = run_cli(home, "restore", str(tmp_path / "bk"), "--force")
    assert out.returncode == 0, out.stderr
    aside = Path(out.stdout.split(" to ")[1].split("\n")[0])
    assert aside.name.startswith("store.before-restore-") and (aside / "lifecycle.db").stat().st_size > 0
    assert "restored" in out.stdout and "1 runs, 1 model versions" in out.stdout
    forget_store(home)  # this process kept the old files open, as a running kernel would
    reopened = lc.Client(home)
    assert [r.info.run_id for r in reopened.search_runs([reopened.get_experiment_by_name("kept").experiment_id])] == [run_id]
    assert lc.Client(home).get_model_version("kept-model", 1).run_id == run_id
    assert diagnose(home) == []

    fresh = tmp_path / "fresh"  # an empty home needs no --force
    copied, moved = restore(tmp_path / "bk", fresh)
    assert moved is None and copied.runs == 1 and copied.model_versions == 1


def test_restore_after_the_database_was_lost(home: Path, tmp_path: Path) -> None:
    run_id = fill(home)
    backup(home, tmp_path / "bk")
    open_store().db.close()
    (home / "lifecycle.db").write_bytes(b"")  # defect 3: the store now refuses to open
    for suffix in ("-wal", "-shm"):
        (home / f"lifecycle.db{suffix}").unlink(missing_ok=True)
    assert "0 bytes" in run_cli(home, "runs").stderr
    doctor = run_cli(home, "doctor")
    assert doctor.returncode == 1 and "is empty (0 bytes) but" in doctor.stdout
    assert run_cli(home, "restore", str(tmp_path / "bk"), "--force").returncode == 0
    runs = run_cli(home, "runs", "--columns", "run_id")
    assert runs.returncode == 0 and runs.stdout.split() == ["run_id", run_id]


def test_restore_refuses_a_damaged_backup(home: Path, tmp_path: Path) -> None:
    (tmp_path / "bk").mkdir()
    (tmp_path / "bk" / "lifecycle.db").write_text("not a database")
    out = run_cli(home, "restore", str(tmp_path / "bk"))
    assert out.returncode == 1 and "is damaged, nothing was restored" in out.stderr
    assert not (home / "lifecycle.db").exists()


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_doctor_reports_everything_and_fixes_only_with_fix(home: Path) -> None:
    from jupyter_lifecycle.store.liveness import HOST

    fill(home)
    store = open_store()
    stale = lc.Client().create_run().info.run_id
    store.tracking.heartbeat.release(stale)
    with store.db.write() as conn:
        conn.execute("UPDATE runs SET owner_host = ?, owner_pid = ? WHERE run_id = ?", (HOST, dead_pid(), stale))
    orphan_run = home / "artifacts" / lc.get_experiment_by_name("kept").experiment_id / ("f" * 32)
    orphan_run.mkdir()
    (orphan_run / "result.csv").write_text("a,b\n")
    orphan_model = home / "registry" / ("e" * 32) / "1"
    orphan_model.mkdir(parents=True)
    (orphan_model / "MLmodel").write_text("flavors: {}\n")
    version = lc.Client().get_model_version("kept-model", 1)
    weights = Path(version.storage_location) / "weights.txt"
    weights.chmod(0o644)
    weights.write_text("tampered")
    (Path(version.storage_location) / "extra.pkl").write_bytes(b"attacker")

    out = run_cli(home, "doctor")
    assert out.returncode == 1, out
    problems = [line for line in out.stdout.splitlines() if line.startswith("problem: ")]
    expected = [
        f"orphan: artifact folder {orphan_run} belongs to no run",
        f"orphan: registry folder {orphan_model.parent} belongs to no registered model",
        f"registry: registered model 'kept-model' version 1: {weights} changed since it was registered",
        f"registry: registered model 'kept-model' version 1: {weights.parent / 'extra.pkl'} was added",
        f"run {stale} is RUNNING but its process",
    ]
    assert len(problems) == len(expected), problems
    for needle in expected:
        assert sum(needle in line for line in problems) == 1, (needle, problems)
    assert "5 problems found" in out.stdout and "--fix` fixes 3 of them" in out.stdout
    # Reporting changed nothing.
    assert orphan_run.is_dir() and orphan_model.is_dir()
    assert store.db.query("SELECT status FROM runs WHERE run_id = ?", [stale]) == [("RUNNING",)]

    fixed = run_cli(home, "doctor", "--fix")
    assert fixed.returncode == 1  # the changed model files cannot be fixed here
    assert f"fixed: marked run {stale} KILLED" in fixed.stdout
    assert "5 problems found" in fixed.stdout and "2 left" in fixed.stdout
    assert not orphan_run.exists() and not orphan_model.parent.exists()
    kept = list((home / LOST_AND_FOUND).rglob("result.csv"))
    assert len(kept) == 1 and kept[0].read_text() == "a,b\n"  # moved, never deleted
    assert store.db.query("SELECT status FROM runs WHERE run_id = ?", [stale]) == [("KILLED",)]
    assert [p.kind for p in diagnose(home)] == ["registry", "registry"]


@pytest.mark.parametrize("damage", ["garbled page", "inconsistent index"])
def test_doctor_finds_a_damaged_database(home: Path, damage: str) -> None:
    lc.set_experiment("pages")
    with lc.start_run():
        for step in range(20_000):
            lc.log_metric("loss", step / 3, step=step)
    open_store().db.close()
    db = home / "lifecycle.db"
    if damage == "garbled page":
        data = bytearray(db.read_bytes())
        middle = (len(data) // 4096 // 2) * 4096
        data[middle + 8 : middle + 4096] = os.urandom(4096 - 8)  # keep the page header, garble its cells
        db.write_bytes(bytes(data))
    else:  # the index now claims another column than the one its entries hold
        conn = sqlite3.connect(db)
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute("UPDATE sqlite_schema SET sql = replace(sql, 'step)', 'value)') WHERE name = 'metrics_by_run_key'")
        conn.commit()
        conn.close()
    before = db.read_bytes()
    out = run_cli(home, "doctor")
    assert out.returncode == 1
    if damage == "garbled page":  # depending on the page, SQLite fails the check or lists what is wrong
        assert f"{db} is damaged" in out.stdout or f"{db} failed PRAGMA integrity_check" in out.stdout, out.stdout
    else:
        assert f"problem: integrity: {db}: row 2 missing from index metrics_by_run_key" in out.stdout, out.stdout
        assert f"problem: integrity: {db} failed PRAGMA integrity_check" in out.stdout
    assert db.read_bytes() == before


def test_healthy_store_is_clean(home: Path) -> None:
    fill(home)
    t0 = time.perf_counter()
    out = run_cli(home, "doctor")
    assert out.returncode == 0 and out.stdout.strip() == f"no problems found in {home}", out
    assert time.perf_counter() - t0 < 60
