"""The SQLite connection: pragmas, short transactions, one connection per thread.

Several kernels, the Jupyter server and the scoring server write the same file
at once, so every write runs in a ``BEGIN IMMEDIATE`` transaction: the writer
takes the lock up front and waits for it (busy timeout) instead of failing on a
read-to-write upgrade, which SQLite does not retry in WAL mode.
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


class Database:
    """One SQLite file, opened lazily per thread (and again after a fork)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
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
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=config.BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the store database {self.path}: {exc}") from exc
        conn.execute(f"PRAGMA busy_timeout = {config.BUSY_TIMEOUT_MS}")
        # journal_mode is stored in the file; switching needs a moment of
        # exclusive access, which a brand-new store shared by several
        # processes may not get at once.
        for attempt in range(50):
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError:
                time.sleep(0.02 * (attempt + 1))
        # NORMAL in WAL mode survives a crashed process; only power loss can
        # lose the last commits, and it keeps commits cheap.
        conn.execute("PRAGMA synchronous = NORMAL")
        # Checkpoint every 4,000 WAL pages (16 MiB) instead of 1,000: random run
        # ids spread each run's rows over many pages, and a page changed by
        # several commits between checkpoints is copied back once. Creating
        # runs is about 25% faster. The size limit trims the WAL file after.
        conn.execute("PRAGMA wal_autocheckpoint = 4000")
        conn.execute("PRAGMA journal_size_limit = 67108864")
        # Searching many runs reads runs, params, metrics and tags in turn; the
        # default 2 MiB page cache evicts between them (about 15% slower at 10,000 runs).
        conn.execute("PRAGMA cache_size = -32768")
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; nested calls join the outer one."""
        conn = self.connection()
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            with _unstorable_values():
                yield conn
        except BaseException:
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
        conn.execute("BEGIN")
        try:
            with _unstorable_values():
                yield conn
        finally:
            conn.execute("COMMIT")

    def query(self, sql: str, params: Any = ()) -> list[Any]:
        """Rows of one read-only query, as tuples."""
        with _unstorable_values():
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
