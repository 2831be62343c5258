"""Damaged, foreign, read-only and lost store files (issue #12, defects 3 and 4).

Each case damages a real store on disk, then checks the API raises
``StoreError`` naming the file and the cause, and the real CLI prints one line
(no traceback), exits 1 and leaves the file byte for byte as it was.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle.errors import StoreError
from jupyter_lifecycle.store import Store, open_store

from .test_cli import run_cli


def fill(home: Path) -> Path:
    """A real store with a run, a param, metrics and an artifact; its database checkpointed and closed."""
    lc.set_experiment("files")
    with lc.start_run():
        lc.log_param("depth", 3)
        for step in range(200):
            lc.log_metric("loss", 1 / (step + 1), step=step)
        lc.log_text("hello", "notes/hello.txt")
    open_store().db.close()  # the last connection checkpoints the WAL into lifecycle.db
    return home / "lifecycle.db"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def truncate(db: Path) -> None:
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])


def garbage(db: Path) -> None:
    db.write_bytes(os.urandom(8192))


def text(db: Path) -> None:
    db.write_text("name,value\nacc,0.9\n")


def header_only(db: Path) -> None:
    db.write_bytes(db.read_bytes()[:60])


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated": (truncate, "is damaged (truncated or corrupted)"),
    "garbage": (garbage, "is not an SQLite database"),
    "text": (text, "is not an SQLite database"),
    "first 60 bytes": (header_only, "is damaged (truncated or corrupted)"),
}


def assert_one_line_error(out: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert out.returncode == 1, out
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_damaged_database_is_a_store_error_and_is_left_unchanged(home: Path, kind: str) -> None:
    db = fill(home)
    damage, cause = DAMAGE[kind]
    damage(db)
    before = digest(db)
    with pytest.raises(StoreError) as caught:
        Store(home)
    assert str(db) in str(caught.value) and cause in str(caught.value)
    assert "jupyter-lifecycle restore" in str(caught.value)
    for command in (["info"], ["runs"], ["experiments"]):
        assert_one_line_error(run_cli(home, *command), str(db), cause)
    assert digest(db) == before
    assert sorted(p.name for p in home.iterdir()) == ["artifacts", "lifecycle.db"]


@pytest.mark.parametrize("state", ["empty", "missing"])
def test_lost_database_beside_artifacts_refuses_to_start(home: Path, state: str) -> None:
    db = fill(home)
    if state == "empty":
        db.write_bytes(b"")
    else:
        db.unlink()
    with pytest.raises(StoreError) as caught:
        Store(home)
    message = str(caught.value)
    assert str(db) in message and ("0 bytes" if state == "empty" else "is missing") in message
    assert "jupyter-lifecycle restore" in message and "jupyter-lifecycle doctor" in message
    out = run_cli(home, "runs")
    assert_one_line_error(out, str(db), "refusing to start a new empty store")
    assert db.exists() == (state == "empty") and (not db.exists() or db.stat().st_size == 0)
    assert sorted(p.name for p in home.iterdir()) == (["artifacts", "lifecycle.db"] if state == "empty" else ["artifacts"])


def test_brand_new_and_empty_homes_still_initialize(tmp_path: Path) -> None:
    fresh = Store(tmp_path / "new")  # nothing there yet
    assert fresh.db.schema_version() > 0
    empty_db = tmp_path / "empty-db"
    (empty_db / "artifacts").mkdir(parents=True)  # empty folders hold no user data
    (empty_db / "lifecycle.db").write_bytes(b"")
    assert Store(empty_db).counts()["runs"] == 0


def test_store_home_that_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "store"
    path.write_text("not a folder")
    with pytest.raises(StoreError, match="is a file, not a folder"):
        Store(path)
    assert_one_line_error(run_cli(path, "info"), str(path), "is a file, not a folder")
    assert path.read_text() == "not a folder"


def without_privileges() -> list[str]:
    """A command prefix under which file permissions apply, even for root.

    root ignores permissions through its capabilities (CAP_DAC_OVERRIDE); a
    process started with an empty bounding set keeps uid 0 but obeys them.
    """
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make a file read-only for this process")
    return [setpriv, "--bounding-set=-all", "--inh-caps=-all"]


def run_unprivileged(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JUPYTER_LIFECYCLE_HOME": str(home)}
    return subprocess.run([*without_privileges(), *args], capture_output=True, text=True, env=env, timeout=120)


def test_read_only_folder_is_a_one_line_error(home: Path) -> None:
    db = fill(home)
    before = digest(db)
    home.chmod(0o555)
    try:
        out = run_unprivileged(home, str(Path(sys.executable).parent / "jupyter-lifecycle"), "info")
        assert_one_line_error(out, str(db), "is read-only for this user")
        new_store = home / "nested"
        out = run_unprivileged(new_store, str(Path(sys.executable).parent / "jupyter-lifecycle"), "info")
        assert_one_line_error(out, f"cannot create the store folder {new_store}: Permission denied")
    finally:
        home.chmod(0o755)
    assert digest(db) == before


def test_read_only_database_reads_but_refuses_writes(home: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    crashed = lc.Client().create_run().info.run_id
    open_store().tracking.heartbeat.release(crashed)
    with open_store().db.write() as conn:  # a run whose process is gone: reading cannot mark it KILLED here
        conn.execute("UPDATE runs SET owner_pid = ? WHERE run_id = ?", (dead.pid, crashed))
    db = fill(home)
    db.chmod(0o444)
    before = digest(db)
    runs = run_unprivileged(home, str(Path(sys.executable).parent / "jupyter-lifecycle"), "runs", "-e", "files",
                            "--columns", "params.depth")  # fmt: skip
    assert runs.returncode == 0 and runs.stdout.split() == ["params.depth", "3"], runs
    everything = run_unprivileged(home, str(Path(sys.executable).parent / "jupyter-lifecycle"), "runs", "--columns", "status")
    assert everything.returncode == 0 and sorted(everything.stdout.split()) == ["FINISHED", "RUNNING", "status"], everything
    write = "import jupyter_lifecycle as lc\nlc.set_experiment('another')\n"
    out = run_unprivileged(home, sys.executable, "-c", write)
    assert out.returncode == 1
    assert f"StoreError: the store database {db} is read-only for this user" in out.stderr
    assert digest(db) == before


def test_a_read_only_artifact_folder_is_a_store_error_naming_it(home: Path) -> None:
    client = lc.Client()
    run = client.create_run(client.get_or_create_experiment("e").experiment_id)
    folder = client.artifact_dir(run.info.run_id)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    script = ("import sys, jupyter_lifecycle as lc\n"
              "try:\n    lc.Client().log_text(sys.argv[1], 'x', 'notes/a.txt')\n"
              "except lc.StoreError as exc:\n    print(exc)\n")  # fmt: skip
    try:
        done = run_unprivileged(home, sys.executable, "-c", script, run.info.run_id)
    finally:
        folder.chmod(0o755)
    assert done.returncode == 0, done.stderr
    assert f"cannot write 'a.txt' into the artifact folder {folder}/notes: Permission denied" in done.stdout
    assert "make the folder writable" in done.stdout and not list(folder.rglob("*.txt"))
