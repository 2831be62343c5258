"""The background trace writer: finished traces are queued and written in batches.

Ending a trace costs the traced code one queue put; a daemon thread takes
everything queued and writes it in one transaction. ``flush()`` waits until
everything accepted before the call is written (the cell hook calls
``flush_all()`` after every cell, ``get_trace``/``search_traces`` call it, and
``atexit`` does). A batch that fails to write is kept and retried; ``flush``
raises its error. A SIGKILL loses only what was queued and not yet committed:
the thread wakes on a put into an empty queue and gathers ``GATHER_SECONDS``
(5 ms) more, so when idle that is the traces of the last few ms; the queue
is bounded (``MAX_QUEUED``), so even under a flood it is at most
``MAX_QUEUED + MAX_BATCH`` traces (see README "Tracing").
"""

from __future__ import annotations

import atexit
import os
import threading
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..errors import StoreError

if TYPE_CHECKING:
    from .traces import SpanRow, TraceRow, TraceStore

Item = Callable[[], tuple["TraceRow", Sequence["SpanRow"]]]
"""A finished trace: called in the writer thread to build its rows, so the traced code does not."""
MAX_BATCH = 1000  # traces per transaction
MAX_QUEUED = 1000
GATHER_SECONDS = 0.005
"""How long the writer waits after a wake-up for more traces to write in the same transaction."""
"""Traces waiting beyond the batch in flight; ``put`` waits when the queue is full, which bounds what a
SIGKILL can lose to ``MAX_QUEUED + MAX_BATCH`` traces even when code traces faster than SQLite writes."""

_writers: weakref.WeakSet[TraceWriter] = weakref.WeakSet()


class TraceWriter:
    """Writes one store's finished traces from a daemon thread."""

    def __init__(self, traces: TraceStore) -> None:
        self.traces = traces
        self._queue: deque[Item] = deque()
        self._lock = threading.Lock()  # taken directly by put (cheaper than entering the Condition)
        self._cond = threading.Condition(self._lock)
        self._accepted = 0  # items ever queued
        self._written = 0  # items ever committed (or dropped by the caller's flush)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._flushing = 0  # flush() calls waiting: the writer does not wait to gather a batch
        _writers.add(self)

    def put(self, item: Item) -> None:
        """Queue one finished trace for writing."""
        with self._lock:
            if self._thread is None:  # none yet, or forgotten in a forked child (_after_fork)
                self._start()
            while len(self._queue) >= MAX_QUEUED and self._error is None and self._thread.is_alive():  # type: ignore[union-attr]
                self._cond.wait(0.1)
            self._queue.append(item)
            self._accepted += 1
            if len(self._queue) == 1:  # only an empty queue has the writer waiting; fewer wake-ups, bigger batches
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
                if len(self._queue) < MAX_BATCH and not self._flushing:
                    # Gather a batch: one transaction for many traces costs the traced code (which shares
                    # the GIL) far less than one per trace. A flush cuts the wait short.
                    self._cond.wait(GATHER_SECONDS)
                batch = [self._queue.popleft() for _ in range(min(MAX_BATCH, len(self._queue)))]
                self._cond.notify_all()  # room in the queue for a waiting put
            self._write(batch)

    def _write(self, batch: list[Item]) -> None:
        rows = []
        for item in batch:
            try:
                rows.append(item())
            except Exception as exc:  # a trace that cannot be turned into rows must not block the others
                warnings.warn(f"jupyter-lifecycle: a trace could not be written: {exc!r}", stacklevel=1)
        try:
            self.traces.write(rows)
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
            self._flushing += 1
            self._cond.notify_all()
            try:
                ok = self._cond.wait_for(lambda: self._written >= target or self._error is not None, timeout)
            finally:
                self._flushing -= 1
            if self._error is not None and self._written < target:
                raise StoreError(f"could not write {self._accepted - self._written} traces: {self._error}")
            if not ok:
                raise StoreError(
                    f"writing traces took more than {timeout:.0f} s: {self._accepted - self._written} pending"
                )


def _after_fork() -> None:
    """A forked child has no writer threads: each writer starts its own on the next put."""
    for writer in list(_writers):
        writer._thread = None
        writer._lock = threading.Lock()
        writer._cond = threading.Condition(writer._lock)


os.register_at_fork(after_in_child=_after_fork)


def flush_all() -> None:
    """Flush every trace writer of this process (the cell hook and ``atexit`` call it)."""
    for writer in list(_writers):
        writer.flush()


atexit.register(flush_all)
