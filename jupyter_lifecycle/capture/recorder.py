"""The kernel side of notebook capture: cell hooks and run-start/end revision capture.

``CellRecorder`` is registered on IPython's ``pre_run_cell``/``post_run_cell``
events and on the tracking API's ``RUN_START_HOOKS``/``RUN_END_HOOKS`` by
``%load_ext jupyter_lifecycle``. After each cell it writes one
``cell_executions`` row (linked to every run active while the cell ran)
through the store's background writer, and commits the metrics the cell
logged before returning. It never breaks a cell: a
store error is reported once as a warning and later ones only counted.

A cell that fails while a run it started is still active (``lc.start_run()``
without ``with``) ends that run as FAILED, so re-running the cell starts a
fresh run instead of MLflow's "Run ... is already active".
"""

from __future__ import annotations

import os
import sys
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import config
from ..entities import RunTag
from ..errors import StoreError
from ..store import buffer as metric_buffers
from ..store import trace_writer
from ..store.database import AUTOCHECKPOINT_PAGES
from ..tracking import fluent
from .notebook_path import find_notebook_path

MAX_ERROR_MESSAGE = 2000

REVISION_TAG = "lifecycle.notebook.revision"
"""Tag holding the notebook revision a run started from (sha256 hex)."""
END_REVISION_TAG = "lifecycle.notebook.end_revision"
"""Tag holding the notebook revision when the run ended."""
NOTE_TAG = "lifecycle.notebook.note"
"""Tag explaining why a run has no notebook revision."""


@dataclass
class _Cell:
    start_time: int
    started: float
    active: list[str]
    runs_started: list[str] = field(default_factory=list)


class CellRecorder:
    """Records the cells one IPython shell runs, and the notebook revisions of its runs."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.session_id = uuid.uuid4().hex
        self.enabled = True
        self.recorded = 0
        self.failures = 0
        self.last_error: str | None = None
        self._warned = False
        self._cell: _Cell | None = None
        self._revision_cache: dict[tuple[Any, ...], str] = {}
        self._store_key: tuple[Any, ...] | None = None
        self._store_cache: Any = None
        self.notebook_path, self.path_source = find_notebook_path(shell.user_ns)

    # ---- notebook path -----------------------------------------------------

    def current_notebook(self) -> str | None:
        """The notebook path, looked up again when unknown or gone (a hint set late, a renamed notebook)."""
        if self.notebook_path is None:
            path, how = find_notebook_path(self.shell.user_ns, ask_servers=False)
            if path:
                self.notebook_path, self.path_source = path, how
        elif not os.path.isfile(self.notebook_path):
            path, how = find_notebook_path(self.shell.user_ns)
            if path and os.path.isfile(path):
                self.notebook_path, self.path_source = path, how
        return self.notebook_path

    # ---- IPython events ----------------------------------------------------

    def pre_run_cell(self, info: Any) -> None:
        """IPython ``pre_run_cell``: note the time and the runs active now."""
        if getattr(info, "silent", False):
            self._cell = None
            return
        self._cell = _Cell(int(time.time() * 1000), time.perf_counter(), [r.info.run_id for r in fluent.run_stack()])

    def post_run_cell(self, result: Any) -> None:
        """IPython ``post_run_cell``: end runs left dangling by a failure, record the cell, hand metrics to the writer."""
        info = getattr(result, "info", None)
        cell, self._cell = self._cell, None
        if info is None or getattr(info, "silent", False):
            return
        error = result.error_before_exec or result.error_in_exec
        try:
            if error is not None and cell is not None and cell.runs_started:
                self._end_dangling(cell)
            store = self._store()
            # Metrics logged in the cell are handed to the background writer,
            # committed while the kernel replies (milliseconds after the cell,
            # within the 1 s bound anyway): the commit stays off the cell's
            # wall time (issue #14). Reads and end_run still commit at once.
            metric_buffers.flush_soon()  # every store used from this kernel
            trace_writer.flush_all()  # and the traces the cell finished
            for problem in store.capture.take_write_errors():
                self._report(StoreError(problem))
            if not self.enabled:
                return
            if cell is None:  # the cell that loaded the extension
                start, duration, active = int(time.time() * 1000), None, []
            else:
                start, duration = cell.start_time, (time.perf_counter() - cell.started) * 1000
                active = cell.active + cell.runs_started
            active += [r.info.run_id for r in fluent.run_stack()]
            store.capture.record_cell(
                session_id=self.session_id,
                source=info.raw_cell or "",
                start_time=start,
                duration_ms=duration,
                success=error is None,
                notebook_path=self.notebook_path,
                cell_id=getattr(info, "cell_id", None),
                execution_count=result.execution_count,
                error_type=type(error).__name__ if error is not None else None,
                error_message=None if error is None else str(error)[:MAX_ERROR_MESSAGE],
                run_ids=active,
                wait=False,  # written by a background thread: a slow commit never delays the next cell
            )
            self.recorded += 1
        except Exception as exc:  # recording must never break the user's cell
            self._report(exc)

    def _store(self) -> Any:
        """The current store, as ``fluent.client()`` resolves it, without resolving paths on every cell.

        Resolution depends only on ``set_store``, ``$JUPYTER_LIFECYCLE_HOME``
        and (when neither is set) the working directory, so those are the
        cache key; resolving (``Path.resolve``) costs more than the rest of
        the hook.
        """
        explicit, env = config._explicit_home, os.environ.get(config.HOME_ENV)
        key = (explicit, env, None if explicit or env else os.getcwd())
        if key != self._store_key or self._store_cache is None:
            self._store_cache, self._store_key = fluent.client().store, key
            self.defer_checkpoints(True)
        return self._store_cache

    def defer_checkpoints(self, defer: bool) -> None:
        """Move WAL checkpoints off the kernel's main thread (``defer=True``) or back.

        A commit that crosses SQLite's auto-checkpoint threshold copies the
        WAL into the database and fsyncs it: milliseconds, on whichever
        connection commits. While cells are recorded, the background cell
        writer commits after every cell, so its connection can do that work;
        the main thread's connection (the cell's metric commit) then never
        does. Undone (back to the store's setting) when recording stops or
        the extension unloads.
        """
        store = self._store_cache
        if store is None:
            return
        pages = 0 if defer and self.enabled else AUTOCHECKPOINT_PAGES
        store.db.connection().execute(f"PRAGMA wal_autocheckpoint = {pages}")

    def _report(self, exc: Exception) -> None:
        self.failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"jupyter-lifecycle could not record this cell ({self.last_error}). Your cells still run; "
                "later recording errors are counted silently (`%lifecycle status` shows them), and "
                "`%lifecycle record off` stops recording.",
                RuntimeWarning,
                stacklevel=2,
            )

    def _end_dangling(self, cell: _Cell) -> None:
        started = set(cell.runs_started)
        while fluent.run_stack() and fluent.run_stack()[-1].info.run_id in started:
            run = fluent.run_stack()[-1]
            fluent.end_run("FAILED")
            print(
                f"jupyter-lifecycle: run {run.info.run_name!r} ({run.info.run_id}) was started in this cell and "
                "still active when it failed; it is now ended as FAILED, so re-running the cell starts a new run.",
                file=sys.stderr,
            )

    # ---- run hooks ---------------------------------------------------------

    def on_run_start(self, active: Any) -> None:
        """``RUN_START_HOOKS``: link the run to the cell and to the notebook's current revision."""
        if self._cell is not None:
            self._cell.runs_started.append(active.info.run_id)
        self._capture_revision(active, "start")

    def on_run_end(self, active: Any, status: str) -> None:
        """``RUN_END_HOOKS``: record the notebook's revision as the run ends."""
        self._capture_revision(active, "end")

    def _capture_revision(self, active: Any, moment: str) -> None:
        client, run_id = active.client, active.info.run_id
        path = self.current_notebook()
        tags: dict[str, str] = {}
        if moment == "start":
            tags["mlflow.source.type"] = "NOTEBOOK"
        if path is None:
            if moment == "start":
                tags[NOTE_TAG] = (
                    "notebook path unknown: the executed cells are recorded, but no notebook revision; "
                    f"set ${config.NOTEBOOK_ENV} to the .ipynb path to keep them"
                )
        else:
            if moment == "start":
                tags["mlflow.source.name"] = path
                client.store.tracking.update_run(run_id, notebook_path=path)
            revision = self._revision(client.store, path, run_id, moment)
            if revision:
                tags[REVISION_TAG if moment == "start" else END_REVISION_TAG] = revision
            elif moment == "start":
                tags[NOTE_TAG] = f"notebook {path} not found on disk (not saved yet?): no revision at run start"
        if tags:
            client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    def _revision(self, store: Any, path: str, run_id: str, moment: str) -> str | None:
        try:
            stat = os.stat(path)
        except OSError:
            return None
        key = (str(store.home), path, stat.st_mtime_ns, stat.st_size)
        known = self._revision_cache.get(key)
        if known is not None:  # unchanged file: link the run without reading it again
            store.capture.link_run_revision(run_id, moment, known)
            return known
        revision = store.capture.put_revision(Path(path).read_bytes(), path, f"run_{moment}", run_id, moment)
        self._revision_cache = {key: revision}
        return revision


RECORDERS: dict[int, CellRecorder] = {}
"""The recorder of each shell the extension is loaded in, by ``id(shell)``."""


def get_recorder(shell: Any = None) -> CellRecorder | None:
    """The ``CellRecorder`` of ``shell`` (default: the running IPython shell), or ``None`` if not loaded there."""
    if shell is None:
        from IPython import get_ipython  # only when asked: this module loads without IPython

        shell = get_ipython()
    return RECORDERS.get(id(shell)) if shell is not None else None
