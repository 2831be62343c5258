"""The background trace writer: finished traces are queued and written in batches.

Ending a trace costs the traced code one queue put; a daemon thread takes
everything queued and writes it in one transaction. ``flush()`` waits until
everything accepted before the call is written (the cell hook calls
``flush_all()`` after every cell, ``get_trace``/``search_traces`` call it, and
``atexit`` does). A batch that fails to write is kept and retried; ``flush``
raises its error. A SIGKILL loses only what was queued and not yet committed:
the thread wakes on each put, so that is what was accepted during the one
transaction in flight (a few ms; see README "Tracing").
"""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import StoreError

if TYPE_CHECKING:
    from .traces import SpanRow, TraceRow, TraceStore

Item = tuple["TraceRow", Sequence["SpanRow"]]
MAX_BATCH = 2000  # traces per transaction

_writers: weakref.WeakSet[TraceWriter] = weakref.WeakSet()


class TraceWriter:
    """Writes one store's finished traces from a daemon thread."""

    def __init__(self, traces: TraceStore) -> None:
        self.traces = traces
        self._queue: deque[Item] = deque()
        self._cond = threading.Condition()
        self._accepted = 0  # items ever queued
        self._written = 0  # items ever committed (or dropped by the caller's flush)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        _writers.add(self)

    def put(self, item: Item) -> None:
        """Queue one finished trace for writing."""
        with self._cond:
            self._queue.append(item)
            self._accepted += 1
            if self._thread is None or self._pid != os.getpid():
                self._start()
            self._cond.notify_all()

    def _start(self) -> None:
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="lifecycle-trace-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue or self._error is not None:
                    self._cond.wait(0.5 if self._error is not None else None)
                    if self._error is not None and self._queue:
                        self._error = None  # retry after a pause
                batch = [self._queue.popleft() for _ in range(min(MAX_BATCH, len(self._queue)))]
            self._write(batch)

    def _write(self, batch: list[Item]) -> None:
        try:
            self.traces.write(batch)
        except BaseException as exc:  # keep the traces: nothing accepted is dropped
            with self._cond:
                self._queue.extendleft(reversed(batch))
                self._error = exc
                self._cond.notify_all()
            return
        with self._cond:
            self._written += len(batch)
            self._cond.notify_all()

    def pending(self) -> int:
        """Traces accepted and not yet written."""
        with self._cond:
            return self._accepted - self._written

    def flush(self, timeout: float = 60.0) -> None:
        """Wait until every trace accepted before this call is written; raise ``StoreError`` if writing fails."""
        with self._cond:
            target = self._accepted
            alive = self._thread is not None and self._thread.is_alive() and self._pid == os.getpid()
            if not alive and self._queue:
                # No thread (after a fork, or at interpreter exit): write here.
                batch = list(self._queue)
                self._queue.clear()
            else:
                batch = []
        if batch:
            self._write(batch)
        with self._cond:
            ok = self._cond.wait_for(lambda: self._written >= target or self._error is not None, timeout)
            if self._error is not None and self._written < target:
                raise StoreError(f"could not write {self._accepted - self._written} traces: {self._error}")
            if not ok:
                raise StoreError(
                    f"writing traces took more than {timeout:.0f} s: {self._accepted - self._written} pending"
                )


def flush_all() -> None:
    """Flush every trace writer of this process (the cell hook and ``atexit`` call it)."""
    for writer in list(_writers):
        writer.flush()


atexit.register(flush_all)
