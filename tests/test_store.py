"""The store: home resolution, schema and migrations, several processes at once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle import config
from jupyter_lifecycle.store import Store
from jupyter_lifecycle.store.migrations import MIGRATIONS


def test_home_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    nested = project / "a" / "b"
    nested.mkdir(parents=True)
    monkeypatch.delenv(config.HOME_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert config.resolve_home(nested) == tmp_path / "user" / ".jupyter_lifecycle"
    (project / ".jupyter_lifecycle").mkdir()
    assert config.resolve_home(nested) == project / ".jupyter_lifecycle"
    monkeypatch.setenv(config.HOME_ENV, str(tmp_path / "env"))
    assert config.resolve_home(nested) == tmp_path / "env"
    config.set_store(tmp_path / "explicit")
    try:
        assert config.resolve_home(nested) == tmp_path / "explicit"
    finally:
        config.set_store(None)


def test_fresh_store_has_schema_wal_and_readable_tables(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    assert store.db.schema_version() == len(MIGRATIONS)
    conn = sqlite3.connect(store.db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"experiments", "runs", "params", "metrics", "latest_metrics", "tags", "artifacts", "schema_migrations"} <= tables
    names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY version")]
    assert names == [m.__name__ for m in MIGRATIONS]
    assert (store.home / "artifacts").is_dir()
    # Opening again applies nothing new.
    Store(tmp_path / "s")
    assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (len(MIGRATIONS),)


def test_newer_schema_is_refused_with_advice(tmp_path: Path) -> None:
    Store(tmp_path / "s")
    conn = sqlite3.connect(tmp_path / "s" / "lifecycle.db")
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(lc.StoreError, match="upgrade jupyter-lifecycle"):
        Store(tmp_path / "s")


WRITER = textwrap.dedent(
    """
    import sys, jupyter_lifecycle as lc
    lc.set_store(sys.argv[1])
    lc.set_experiment("race")
    with lc.start_run(run_name=sys.argv[2]):
        lc.log_params({"worker": sys.argv[2]})
        for step in range(2000):
            lc.log_metric("loss", 1.0 / (step + 1), step=step)
            if step % 500 == 0:
                lc.flush()
    print("ok")
    """
)


def test_processes_open_a_fresh_store_and_log_at_once(tmp_path: Path) -> None:
    """MLflow 3.17's SQLite store crashes 3 of 4 such processes on its migration race."""
    home = tmp_path / "shared"
    workers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(home), f"w{i}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(4)
    ]
    results = [w.communicate(timeout=120) for w in workers]
    for worker, (out, err) in zip(workers, results, strict=True):
        assert worker.returncode == 0, err
        assert out.strip() == "ok"
    conn = sqlite3.connect(home / "lifecycle.db")
    assert conn.execute("SELECT count(*) FROM experiments").fetchone() == (1,)
    assert conn.execute("SELECT count(*), count(DISTINCT run_id) FROM metrics").fetchone() == (8000, 4)
    assert conn.execute("SELECT count(*) FROM runs WHERE status = 'FINISHED'").fetchone() == (4,)


def test_points_logged_before_a_crash_of_the_process_are_kept_when_flushed(tmp_path: Path) -> None:
    """A kernel that dies after a flush (end of cell) keeps what it logged; os._exit skips atexit."""
    home = tmp_path / "crash"
    code = textwrap.dedent(
        f"""
        import os, jupyter_lifecycle as lc
        lc.set_store({str(home)!r})
        run = lc.start_run()
        for step in range(100):
            lc.log_metric("m", step, step=step)
        lc.flush()
        print(run.info.run_id, flush=True)
        os._exit(1)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    run_id = out.stdout.strip()
    conn = sqlite3.connect(home / "lifecycle.db")
    assert conn.execute("SELECT count(*) FROM metrics WHERE run_id = ?", (run_id,)).fetchone() == (100,)


def test_unflushed_points_are_written_at_interpreter_exit(tmp_path: Path) -> None:
    home = tmp_path / "exit"
    code = f"import jupyter_lifecycle as lc\nlc.set_store({str(home)!r})\nlc.start_run()\nlc.log_metric('m', 1.0)\n"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    conn = sqlite3.connect(home / "lifecycle.db")
    assert conn.execute("SELECT value FROM metrics").fetchall() == [(1.0,)]


def test_a_sqlite_uri_names_the_database_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`set_tracking_uri("sqlite:///mlruns.db")` uses that file, with the artifacts beside it, as MLflow does."""
    import sqlite3

    from jupyter_lifecycle import config

    monkeypatch.chdir(tmp_path)
    try:
        lc.set_tracking_uri("sqlite:///mlruns.db")  # relative to the working directory, as in MLflow
        with lc.start_run() as run:
            lc.log_metric("acc", 0.9)
            lc.log_text("hi", "notes.txt")
        assert (tmp_path / "mlruns.db").is_file() and not (tmp_path / "lifecycle.db").exists()
        assert (tmp_path / "artifacts").is_dir()
        with sqlite3.connect(tmp_path / "mlruns.db") as conn:
            assert conn.execute("SELECT count(*) FROM runs").fetchone() == (1,)
        # another client and the CLI's way (a .db path) reach the same store
        assert lc.Client(f"sqlite:///{tmp_path / 'mlruns.db'}").get_run(run.info.run_id).data.metrics == {"acc": 0.9}
        (tmp_path / "team").mkdir()
        lc.set_tracking_uri("sqlite:///team/other.db")  # another database is another store
        assert lc.search_runs(search_all_experiments=True).empty and (tmp_path / "team" / "other.db").is_file()
        with pytest.raises(lc.StoreError, match="still holds artifacts"):  # one store per folder: its artifacts are its own
            lc.Client(f"sqlite:///{tmp_path / 'third.db'}").search_experiments()
    finally:
        config._db_names.clear()
        lc.set_tracking_uri(None)
