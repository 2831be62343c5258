"""SQL for notebook capture: cell executions, their sources and runs, notebook revisions.

A cell's text is stored once per distinct text (``cell_sources``, keyed by
sha256); each execution is a row of ``cell_executions`` linked to the runs
that were active while it ran (``run_cells``). A notebook revision is the
canonical JSON of an ``.ipynb``, zlib-compressed and keyed by its sha256, so
identical content is stored once however often it is saved;
``notebook_snapshots`` says when and why each was seen, and ``run_revisions``
links a run to the revision it started from and the one it ended with.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import random
import threading
import time
import weakref
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, NotFound
from .database import Database
from .search import check_max_results

TRIGGERS = ("save", "run_start", "run_end", "manual", "restore")
WRITE_LINGER_SECONDS = 0.005
"""How long the background writer waits for more cell rows before a commit."""
MIN_PREFIX = 4
"""Shortest revision-id prefix accepted where a full sha256 is expected."""


@dataclass(frozen=True)
class CellExecution:
    """One execution of a notebook cell, as the kernel saw it."""

    execution_id: str
    session_id: str
    notebook_path: str | None
    cell_id: str | None
    execution_count: int | None
    source: str
    start_time: int
    duration_ms: float | None
    success: bool
    error_type: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class NotebookRevision:
    """A stored notebook revision (without its content; ``get_revision`` reads that)."""

    revision_id: str
    notebook_path: str
    size: int
    cell_count: int
    created_time: int
    trigger: str | None = None
    recorded_time: int | None = None


# A queued cell: what is recorded, and the runs it belongs to.
_CellRow = tuple[CellExecution, tuple[str, ...]]


_stores: weakref.WeakSet[CaptureStore] = weakref.WeakSet()


def drain_all() -> None:
    """Write every queued cell row of this process (registered with ``atexit``)."""
    for store in list(_stores):
        store.drain(timeout=10)


atexit.register(drain_all)


def canonical_notebook(content: bytes | str | dict[str, Any]) -> bytes:
    """The canonical JSON bytes of a notebook (sorted keys, compact), what revisions hash and store."""
    if isinstance(content, (bytes, str)):
        try:
            data = json.loads(content)
        except ValueError as exc:
            raise InvalidInput(f"not a notebook: the content is not JSON ({exc})") from None
    else:
        data = content
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise InvalidInput("not a notebook: the JSON has no 'cells' list (is it an .ipynb file?)")
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _now() -> int:
    return int(time.time() * 1000)


def _link(conn: Any, run_id: str, moment: str, revision_id: str) -> None:
    # A resumed run keeps the revision it first started from; its end moves on.
    conflict = "DO NOTHING" if moment == "start" else "DO UPDATE SET revision_id = excluded.revision_id"
    conn.execute(f"INSERT INTO run_revisions VALUES (?, ?, ?) ON CONFLICT (run_id, moment) {conflict}",
                 (run_id, moment, revision_id))  # fmt: skip


class CaptureStore:
    """Queries over the capture tables of one store."""

    def __init__(self, db: Database, home: Path) -> None:
        self.db = db
        self.home = home
        # Sources known to be stored, per process: most cells are re-runs of
        # text already seen, and skipping the insert keeps the hook cheap.
        self._known_sources: set[str] = set()
        self._queue: list[_CellRow] = []
        self._changed = threading.Condition()
        self._writer: threading.Thread | None = None
        self._errors: list[str] = []
        _stores.add(self)

    # ---- cells -------------------------------------------------------------

    def record_cell(
        self,
        *,
        session_id: str,
        source: str,
        start_time: int,
        duration_ms: float | None,
        success: bool,
        notebook_path: str | None = None,
        cell_id: str | None = None,
        execution_count: int | None = None,
        error_type: str | None = None,
        error_message: str | None = None,
        run_ids: Sequence[str] = (),
        wait: bool = True,
    ) -> str:
        """Record one cell execution (and its source if new); return its id.

        With ``wait=False`` (what the cell hook uses) the row is queued and a
        background thread writes it, batching rows into one transaction, so a
        slow commit (a WAL checkpoint's fsync, another process holding the
        lock) never delays the user's next cell. Reads of this store in this
        process (``cell_executions``, ``counts``) wait for queued rows first.
        """
        # 128 random bits as hex, like uuid4().hex without a getrandom() syscall
        # per cell (random reseeds itself in forked children).
        execution_id = f"{random.getrandbits(128):032x}"
        execution = CellExecution(execution_id, session_id, notebook_path, cell_id, execution_count, source,
                                  start_time, duration_ms, success, error_type, error_message)  # fmt: skip
        row = (execution, tuple(dict.fromkeys(run_ids)))
        if wait:
            self.drain()
            with self.db.write() as conn:
                sources = self._insert(conn, [row])
            self._known_sources.update(sources)
            return execution_id
        with self._changed:
            self._queue.append(row)
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._write_queued, name="jupyter-lifecycle-cells", daemon=True)
                self._writer.start()
            self._changed.notify_all()
        return execution_id

    def _insert(self, conn: Any, rows: list[_CellRow]) -> dict[str, str]:
        sources, values = {}, []
        for r, _ in rows:
            digest = hashlib.sha256(r.source.encode("utf-8", "surrogatepass")).hexdigest()
            if digest not in self._known_sources:
                sources[digest] = r.source
            values.append((r.execution_id, r.session_id, r.notebook_path, r.cell_id, r.execution_count, digest,
                           r.start_time, r.duration_ms, int(r.success), r.error_type, r.error_message))  # fmt: skip
        if sources:
            conn.executemany("INSERT OR IGNORE INTO cell_sources VALUES (?, ?)", list(sources.items()))
        conn.executemany("INSERT INTO cell_executions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
        links = [(run_id, r.execution_id) for r, run_ids in rows for run_id in run_ids]
        if links:
            conn.executemany("INSERT OR IGNORE INTO run_cells VALUES (?, ?)", links)
        return sources  # the caller remembers them once the transaction commits

    def _write_queued(self) -> None:
        while True:
            with self._changed:
                while not self._queue:
                    self._changed.wait()
            # Let a burst of cells (Run All) gather into one transaction.
            time.sleep(WRITE_LINGER_SECONDS)
            with self._changed:
                batch = list(self._queue)
            try:
                with self.db.write() as conn:
                    sources = self._insert(conn, batch)
                self._known_sources.update(sources)
            except Exception as exc:  # reported by the cell hook through take_write_errors()
                self._errors.append(f"{type(exc).__name__}: {exc}")
            with self._changed:
                del self._queue[: len(batch)]
                self._changed.notify_all()

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until queued cell rows are written (or failed); False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._queue, timeout)

    def take_write_errors(self) -> list[str]:
        """Errors of background writes since the last call (the rows concerned were dropped)."""
        errors, self._errors = self._errors, []
        return errors

    def cell_executions(
        self,
        run_id: str | None = None,
        session_id: str | None = None,
        notebook_path: str | None = None,
        limit: int | None = None,
    ) -> list[CellExecution]:
        """Cell executions in the order they ran, filtered by run, session or notebook."""
        self.drain()
        clauses: list[str] = []
        params: list[Any] = []
        if run_id is not None:
            clauses.append("e.execution_id IN (SELECT execution_id FROM run_cells WHERE run_id = ?)")
            params.append(run_id)
        if session_id is not None:
            clauses.append("e.session_id = ?")
            params.append(session_id)
        if notebook_path is not None:
            clauses.append("e.notebook_path = ?")
            params.append(notebook_path)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        order = "DESC" if limit is not None else "ASC"
        sql = (
            "SELECT e.execution_id, e.session_id, e.notebook_path, e.cell_id, e.execution_count, s.source,"
            " e.start_time, e.duration_ms, e.success, e.error_type, e.error_message"
            f" FROM cell_executions e JOIN cell_sources s USING (source_hash){where}"
            f" ORDER BY e.start_time {order}, e.rowid {order}"
        )
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        rows = self.db.query(sql, params)
        if limit is not None:
            rows.reverse()  # the latest ``limit`` ones, still oldest first
        return [CellExecution(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8]), r[9], r[10]) for r in rows]

    def cell_runs(self, execution_id: str) -> list[str]:
        """The runs a cell execution is linked to."""
        return [r[0] for r in self.db.query("SELECT run_id FROM run_cells WHERE execution_id = ?", [execution_id])]

    # ---- revisions ---------------------------------------------------------

    def put_revision(
        self,
        content: bytes | str | dict[str, Any],
        notebook_path: str,
        trigger: str = "manual",
        run_id: str | None = None,
        moment: str | None = None,
    ) -> str:
        """Store a notebook's content (once per distinct content); return its revision id.

        Each call also records a snapshot (when, where, why) unless the
        notebook's latest snapshot already has this revision, and with
        ``run_id`` and ``moment`` (``start``/``end``) links the run to it.
        """
        if trigger not in TRIGGERS:
            raise InvalidInput(f"revision trigger must be one of {', '.join(TRIGGERS)}, not {trigger!r}")
        if moment is not None and moment not in ("start", "end"):
            raise InvalidInput(f"moment must be 'start' or 'end', not {moment!r}")
        canonical = canonical_notebook(content)
        revision_id = hashlib.sha256(canonical).hexdigest()
        cells = len(json.loads(canonical)["cells"])
        now = _now()
        with self.db.write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO notebook_revisions VALUES (?, ?, ?, ?, ?, ?)",
                (revision_id, notebook_path, zlib.compress(canonical, 6), len(canonical), cells, now),
            )
            last = conn.execute(
                "SELECT revision_id FROM notebook_snapshots WHERE notebook_path = ?"
                " ORDER BY recorded_time DESC, rowid DESC LIMIT 1",
                (notebook_path,),
            ).fetchone()
            if last is None or last[0] != revision_id or trigger in ("save", "restore"):
                conn.execute(
                    "INSERT INTO notebook_snapshots VALUES (?, ?, ?, ?)", (revision_id, notebook_path, now, trigger)
                )
            if run_id is not None:
                _link(conn, run_id, moment or "start", revision_id)
        return revision_id

    def resolve_revision_id(self, revision_id: str) -> str:
        """The full revision id for an id or a unique prefix of at least 4 hex digits."""
        text = str(revision_id).strip().lower()
        if len(text) == 64:
            if self.db.query("SELECT 1 FROM notebook_revisions WHERE revision_id = ?", [text]):
                return text
        elif len(text) >= MIN_PREFIX and all(c in "0123456789abcdef" for c in text):
            rows = self.db.query(
                "SELECT revision_id FROM notebook_revisions WHERE revision_id >= ? AND revision_id < ? LIMIT 2",
                [text, text + "g"],
            )
            if len(rows) == 1:
                return str(rows[0][0])
            if len(rows) > 1:
                raise InvalidInput(f"revision prefix {revision_id!r} is ambiguous: give more of the id")
        else:
            raise InvalidInput(
                f"{revision_id!r} is not a revision id: give its sha256 hex or a prefix of at least {MIN_PREFIX} digits"
            )
        raise NotFound(f"no notebook revision {revision_id!r}: `%lifecycle revisions` lists the stored ones")

    def revision_content(self, revision_id: str) -> bytes:
        """The canonical JSON bytes of a revision (id or unique prefix)."""
        full = self.resolve_revision_id(revision_id)
        row = self.db.query("SELECT content FROM notebook_revisions WHERE revision_id = ?", [full])[0]
        return zlib.decompress(row[0])

    def get_revision_info(self, revision_id: str) -> NotebookRevision:
        """A revision's metadata (id or unique prefix)."""
        full = self.resolve_revision_id(revision_id)
        r = self.db.query(
            "SELECT revision_id, notebook_path, size, cell_count, created_time FROM notebook_revisions"
            " WHERE revision_id = ?",
            [full],
        )[0]
        return NotebookRevision(r[0], r[1], r[2], r[3], r[4])

    def list_revisions(self, notebook_path: str | None = None, limit: int | None = None) -> list[NotebookRevision]:
        """Snapshots, newest first: every time a notebook was seen with a revision (one notebook or all)."""
        where = "WHERE s.notebook_path = ?" if notebook_path else ""
        params: list[Any] = [notebook_path] if notebook_path else []
        sql = (
            "SELECT s.revision_id, s.notebook_path, r.size, r.cell_count, r.created_time, s.trigger, s.recorded_time"
            f" FROM notebook_snapshots s JOIN notebook_revisions r USING (revision_id) {where}"
            " ORDER BY s.recorded_time DESC, s.rowid DESC"
        )
        limit = check_max_results(limit)
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [NotebookRevision(*r) for r in self.db.query(sql, params)]

    def link_run_revision(self, run_id: str, moment: str, revision_id: str) -> None:
        """Record that a run started (``start``) or ended (``end``) at a revision."""
        full = self.resolve_revision_id(revision_id)
        with self.db.write() as conn:
            _link(conn, run_id, moment, full)

    def run_revisions(self, run_id: str) -> dict[str, str]:
        """``{"start": revision_id, "end": revision_id}`` for a run (missing moments left out)."""
        return {m: r for m, r in self.db.query("SELECT moment, revision_id FROM run_revisions WHERE run_id = ?", [run_id])}

    def counts(self) -> dict[str, int]:
        """Row counts of the capture tables, for ``info``."""
        self.drain()
        tables = ("cell_executions", "cell_sources", "notebook_revisions", "notebook_snapshots")
        row = self.db.query("SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in tables))[0]
        return dict(zip(tables, row, strict=True))
