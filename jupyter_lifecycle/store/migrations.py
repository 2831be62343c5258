"""Ordered schema migrations, applied once per store file.

``PRAGMA user_version`` holds how many migrations ran (the schema version),
and the ``schema_migrations`` table says which, by name, and when. Migrations run inside one
``BEGIN IMMEDIATE`` transaction that re-reads the version after taking the
lock, so several processes opening a brand-new store at the same moment
apply them exactly once. sqlite-utils' ``Migrations`` checks what is pending
before it holds the lock, which is the race that breaks MLflow's SQLite store
when several processes start together.

Add a migration by appending a function to ``MIGRATIONS``; never edit one
that has shipped. Each statement runs through ``conn.execute`` (never
``executescript``, which would commit halfway).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from ..errors import StoreError

Migration = Callable[[sqlite3.Connection], None]


def _statements(conn: sqlite3.Connection, sql: str) -> None:
    for statement in sql.split(";"):
        if statement.strip():
            conn.execute(statement)


def m0001_tracking(conn: sqlite3.Connection) -> None:
    """Experiments, runs, params, metrics (full history and latest), tags, artifacts."""
    _statements(
        conn,
        """
        CREATE TABLE experiments (
            experiment_id TEXT PRIMARY KEY,          -- hex UUID
            name TEXT NOT NULL UNIQUE,
            artifact_location TEXT NOT NULL,         -- relative to the store home
            lifecycle_stage TEXT NOT NULL DEFAULT 'active'
                CHECK (lifecycle_stage IN ('active', 'deleted')),
            creation_time INTEGER NOT NULL,          -- epoch ms, UTC
            last_update_time INTEGER NOT NULL
        );
        CREATE TABLE experiment_tags (
            experiment_id TEXT NOT NULL REFERENCES experiments(experiment_id),
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (experiment_id, key)
        );
        CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,                 -- hex UUID
            experiment_id TEXT NOT NULL REFERENCES experiments(experiment_id),
            run_name TEXT,
            status TEXT NOT NULL
                CHECK (status IN ('RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED')),
            start_time INTEGER NOT NULL,             -- epoch ms, UTC
            end_time INTEGER,
            user_id TEXT,
            parent_run_id TEXT REFERENCES runs(run_id),
            notebook_path TEXT,
            artifact_location TEXT NOT NULL,         -- relative to the store home
            lifecycle_stage TEXT NOT NULL DEFAULT 'active'
                CHECK (lifecycle_stage IN ('active', 'deleted')),
            deleted_time INTEGER
        );
        CREATE INDEX runs_by_experiment ON runs (experiment_id, start_time);
        CREATE INDEX runs_by_parent ON runs (parent_run_id);
        CREATE TABLE params (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (run_id, key)
        );
        CREATE INDEX params_by_key_value ON params (key, value);
        CREATE TABLE tags (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (run_id, key)
        );
        CREATE INDEX tags_by_key_value ON tags (key, value);
        -- Full history. value NULL means NaN: SQLite stores NaN as NULL.
        CREATE TABLE metrics (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            key TEXT NOT NULL,
            value REAL,
            timestamp INTEGER NOT NULL,              -- epoch ms, UTC
            step INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX metrics_by_run_key ON metrics (run_id, key, step);
        -- The point with the highest (step, timestamp) per run and key, for search.
        CREATE TABLE latest_metrics (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            key TEXT NOT NULL,
            value REAL,
            timestamp INTEGER NOT NULL,
            step INTEGER NOT NULL,
            PRIMARY KEY (run_id, key)
        );
        CREATE INDEX latest_metrics_by_key_value ON latest_metrics (key, value);
        CREATE TABLE artifacts (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            path TEXT NOT NULL,                      -- relative to the run's artifact folder
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            created_time INTEGER NOT NULL,
            PRIMARY KEY (run_id, path)
        )
        """,
    )


MIGRATIONS: list[Migration] = [m0001_tracking]
"""Applied in this order; each is recorded by its function name."""


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the migrations this file lacks; a single cheap read when it has them all."""
    target = len(MIGRATIONS)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == target:
        return
    if version > target:
        raise StoreError(
            f"this store has schema version {version} but this jupyter-lifecycle "
            f"knows only {target} migrations: upgrade jupyter-lifecycle to use it"
        )
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated while we waited for the lock.
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, applied_time INTEGER NOT NULL)"
        )
        applied = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
        for step in MIGRATIONS:
            if step.__name__ in applied:
                continue
            step(conn)
            conn.execute(
                "INSERT INTO schema_migrations (name, applied_time) VALUES (?, ?)",
                (step.__name__, int(time.time() * 1000)),
            )
        count = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]
        conn.execute(f"PRAGMA user_version = {count}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
