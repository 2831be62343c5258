"""The SQLite connection: pragmas, short transactions, one connection per thread.

Several kernels, the Jupyter server and the scoring server write the same file
at once, so every write runs in a ``BEGIN IMMEDIATE`` transaction: the writer
takes the lock up front and waits for it (busy timeout) instead of failing on a
read-to-write upgrade, which SQLite does not retry in WAL mode.

A damaged, foreign or read-only file surfaces as one ``StoreError`` naming the
file and the likely cause (issue #12, defect 4), and a home that lost its
database while keeping artifacts refuses to open (defect 3) instead of
starting an empty store over them.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .. import config
from ..errors import InvalidInput, StoreError
from .migrations import migrate

# SQLite's primary result codes -> (the likely cause, what to do). Other codes
# (busy, constraint...) are not about the file and keep their own handling.
_RESTORE = "restore a backup with `jupyter-lifecycle restore BACKUP`, or run `jupyter-lifecycle doctor`"
_CAUSES = {
    "SQLITE_NOTADB": ("is not an SQLite database (overwritten, or not a jupyter-lifecycle store)", _RESTORE),
    "SQLITE_CORRUPT": ("is damaged (truncated or corrupted)", _RESTORE),
    "SQLITE_READONLY": (
        "is read-only for this user (SQLite must write the file and create lifecycle.db-wal and -shm "
        "in its folder)",
        "give this user write access to the file and its folder, or use another store",
    ),
    "SQLITE_CANTOPEN": (
        "cannot be opened (its folder is missing, not writable, or the path is a folder)",
        "check the path and its permissions",
    ),
    "SQLITE_PERM": ("cannot be accessed (permission denied)", "check the file's permissions"),
    "SQLITE_IOERR": ("could not be read or written (disk I/O error)", "check the disk, then run `jupyter-lifecycle doctor`"),
    "SQLITE_FULL": ("cannot grow: the disk is full", "free some space"),
}


def store_error(exc: sqlite3.Error, path: Path) -> StoreError | None:
    """The ``StoreError`` for an SQLite error about the file itself (damaged, read-only...), else ``None``."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    for code, (cause, action) in _CAUSES.items():
        if name == code or name.startswith(code + "_"):
            # The file is left as it is: nothing here writes to a store it cannot open.
            return StoreError(f"the store database {path} {cause}: {action} (SQLite said: {exc})")
    return None


@contextmanager
def file_errors(path: Path) -> Iterator[None]:
    """Turn SQLite errors about the file at ``path`` into ``StoreError``; others pass through."""
    try:
        yield
    except sqlite3.Error as exc:
        error = store_error(exc, path)
        if error is None:
            raise
        raise error from exc


def has_user_files(home: Path) -> bool:
    """Whether ``home`` holds any run artifact or registered model file (not just empty folders)."""
    for dirname in (config.ARTIFACTS_DIRNAME, config.REGISTRY_DIRNAME):
        folder = home / dirname
        if folder.is_dir() and any(p.is_file() for p in folder.rglob("*")):
            return True
    return False


def lost_database(home: Path) -> str | None:
    """Why ``home`` must not be opened as a store, or ``None``: a missing or empty
    ``lifecycle.db`` beside artifacts or registered models means the database was
    lost, and a new empty one would orphan them all."""
    db = config.db_path(home)
    if db.is_file() and db.stat().st_size > 0:
        return None
    if db.exists() and not db.is_file():
        return None  # SQLite's own CANTOPEN error names it
    if not has_user_files(home):
        return None
    state = "is empty (0 bytes)" if db.exists() else "is missing"
    return (
        f"the store database {db} {state} but {home} still holds artifacts or registered models: "
        "restore a backup with `jupyter-lifecycle restore BACKUP --force`, or run `jupyter-lifecycle doctor`; "
        "refusing to start a new empty store over them"
    )


def check_home(home: Path) -> None:
    """Raise ``StoreError`` unless ``home`` can be used as a store home (it may not exist yet)."""
    if home.exists() and not home.is_dir():
        raise StoreError(
            f"the store home {home} is a file, not a folder: point --store or ${config.HOME_ENV} at a folder"
        )
    problem = lost_database(home)
    if problem:
        raise StoreError(problem)


@contextmanager
def _unstorable_values() -> Iterator[None]:
    """Turn a value SQLite cannot bind into an ``InvalidInput`` naming it (issue #12, defect 4).

    Arguments are checked where they come in; this is the net under every
    statement for the text fields without a check of their own (descriptions,
    comments, tag values...).
    """
    try:
        yield
    except UnicodeEncodeError as exc:
        text = exc.object if isinstance(exc.object, str) else ""
        raise InvalidInput(
            f"cannot store the text {text[:200]!r}: character {exc.start} ({text[exc.start:exc.start + 1]!r}) is a "
            "lone surrogate, not a Unicode character; remove it"
        ) from None
    except OverflowError as exc:
        if "SQLite INTEGER" not in str(exc):
            raise
        raise InvalidInput(f"a number is outside SQLite's 64-bit integers ({-(2**63)} to {2**63 - 1}): {exc}") from None


AUTOCHECKPOINT_PAGES = 4000
"""WAL pages between checkpoints on every connection of the store (SQLite's default is 1,000)."""

class Database:
    """One SQLite file, opened lazily per thread (and again after a fork)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store folder {path.parent}: {exc.strerror}") from exc
        with file_errors(path):
            migrate(self.connection())

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        local = self._local
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is None or local.pid != os.getpid():
            conn = self._open()
            local.conn, local.pid = conn, os.getpid()
        return conn

    def _open(self) -> sqlite3.Connection:
        with file_errors(self.path):
            try:
                conn = sqlite3.connect(
                    self.path,
                    timeout=config.BUSY_TIMEOUT_MS / 1000,
                    isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                    check_same_thread=False,
                )
            except sqlite3.Error as exc:
                raise store_error(exc, self.path) or StoreError(
                    f"cannot open the store database {self.path}: {exc}"
                ) from exc
            try:
                self._configure(conn)
            except BaseException:
                conn.close()
                raise
        return conn

    @staticmethod
    def _configure(conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA busy_timeout = {config.BUSY_TIMEOUT_MS}")
        # journal_mode is stored in the file; switching needs a moment of
        # exclusive access, which a brand-new store shared by several
        # processes may not get at once.
        for attempt in range(50):
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError as exc:
                if getattr(exc, "sqlite_errorname", "SQLITE_BUSY") not in ("SQLITE_BUSY", "SQLITE_LOCKED"):
                    raise  # read-only, damaged...: waiting cannot help
                time.sleep(0.02 * (attempt + 1))
        # NORMAL in WAL mode survives a crashed process; only power loss can
        # lose the last commits, and it keeps commits cheap.
        conn.execute("PRAGMA synchronous = NORMAL")
        # Checkpoint every 4,000 WAL pages (16 MiB) instead of 1,000: random run
        # ids spread each run's rows over many pages, and a page changed by
        # several commits between checkpoints is copied back once. Creating
        # runs is about 25% faster. The size limit trims the WAL file after.
        conn.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
        conn.execute("PRAGMA journal_size_limit = 67108864")
        # Searching many runs reads runs, params, metrics and tags in turn; the
        # default 2 MiB page cache evicts between them (about 15% slower at 10,000 runs).
        conn.execute("PRAGMA cache_size = -32768")

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; nested calls join the outer one."""
        conn = self.connection()
        if conn.in_transaction:
            yield conn
            return
        with file_errors(self.path):
            conn.execute("BEGIN IMMEDIATE")
            try:
                with _unstorable_values():
                    yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees one snapshot."""
        conn = self.connection()
        if conn.in_transaction:
            yield conn
            return
        with file_errors(self.path):
            conn.execute("BEGIN")
            try:
                with _unstorable_values():
                    yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")

    def query(self, sql: str, params: Any = ()) -> list[Any]:
        """Rows of one read-only query, as tuples."""
        with file_errors(self.path), _unstorable_values():
            return self.connection().execute(sql, params).fetchall()

    def schema_version(self) -> int:
        """The number of migrations applied to this file."""
        return int(self.connection().execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
