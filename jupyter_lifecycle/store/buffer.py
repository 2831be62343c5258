"""In-memory metric buffer: ``log_metric`` appends, one transaction writes many points.

A buffer holds at most ``config.FLUSH_POINTS`` points, and its oldest point
is at most ``config.FLUSH_SECONDS`` old when its commit starts:

- size: the log call that fills the buffer flushes it, in the caller's thread;
- age: one background thread per process (``_Flusher``: started when the
  first point is buffered, asleep on an event while every buffer is empty)
  commits each buffer when its oldest point reaches the age limit, whether or
  not anything else is logged: a point logged before a long pause (an epoch,
  a crash) is on disk about a second later;
- at the end of every cell the hook hands the buffers to the background
  thread (``flush_soon``: due now, committed while the kernel replies);
- an explicit ``flush()`` (``end_run`` and every read call it), and
  interpreter exit.

A flush that fails puts its points back, so nothing accepted is dropped; the
background thread retries ``FLUSH_SECONDS`` later, and the next explicit
flush (or size flush) raises the error to the caller. A commit holds the
buffer's lock, so the points not yet committed are at most ``FLUSH_POINTS``,
all logged in the last ``FLUSH_SECONDS`` (plus the time of a commit), and
when ``flush()`` returns every point logged before it is committed.

After ``os.fork()`` the child forgets the parent's buffered points (the parent
writes them; the child would write them twice) and starts its own thread
when it logs.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import config

if TYPE_CHECKING:
    from .tracking import TrackingStore

Point = tuple[str, str, float, int, int]  # run_id, key, value, timestamp ms, step

_buffers: weakref.WeakSet[MetricBuffer] = weakref.WeakSet()
_buffers_lock = threading.Lock()  # WeakSet iteration is not safe against an add from another thread


class MetricBuffer:
    """Points waiting to be written to one store.

    ``lock`` guards ``points`` and ``deadline``, and is held through a commit:
    a thread that logs while the background thread commits waits for it, so
    the points not yet committed are always the buffer's, at most
    ``max_points`` of them.
    """

    def __init__(self, tracking: TrackingStore) -> None:
        self.tracking = tracking
        self.points: list[Point] = []
        self.lock = threading.Lock()
        self.max_points = config.FLUSH_POINTS
        self.max_seconds = config.FLUSH_SECONDS
        self.deadline = float("inf")
        """When the oldest buffered point is due (``time.time()``); infinite while empty."""
        with _buffers_lock:
            _buffers.add(self)

    def arm(self, now: float) -> None:
        """Start the age limit: called, with ``lock`` held, when a point goes into the empty buffer."""
        self.deadline = now + self.max_seconds
        _flusher.wake(self.deadline)

    def flush(self, also: Callable[[], object] | None = None) -> int:
        """Write every buffered point in one transaction; return how many.

        ``also`` runs in the same transaction (``set_terminated``: the last
        points and the run's status in one commit). The lock is taken before
        the transaction, as every flush takes them: a thread holding the
        database's write lock while it waits for the buffer's would wait for
        a background commit that waits for it.
        """
        with self.lock:
            points, self.points = self.points, []
            self.deadline = float("inf")
            if not points and also is None:
                return 0
            try:
                with self.tracking.db.write():
                    if points:
                        self.tracking.log_metrics(points)
                    if also is not None:
                        also()
            except BaseException:
                self.points[:0] = points
                if points:
                    self.arm(time.time())  # retried by the background thread, not at once
                raise
            return len(points)

    def _forget_after_fork(self) -> None:
        self.lock = threading.Lock()
        self.points = []
        self.deadline = float("inf")


class _Flusher:
    """The process's background thread that commits buffers whose oldest point is due.

    The logging hot path touches it once per buffer fill (``wake`` on the
    first point into an empty buffer): an attribute test, and ``Event.set``
    only when the thread would otherwise wake too late. Waking it for every
    fill cost a thread switch per run (~15% of creating a run, issue #14).
    """

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self.wakeup = threading.Event()
        self.start_lock = threading.Lock()
        self.stopping = False
        # When the thread will next look at the deadlines by itself; infinite
        # while it is looking (so a deadline set meanwhile always wakes it).
        self.planned = float("inf")

    def wake(self, deadline: float = float("-inf")) -> None:
        """Have the thread look at the buffers' deadlines by ``deadline`` (starting it if needed)."""
        if self.thread is None:
            self._start()
        if deadline < self.planned:
            self.wakeup.set()

    def _start(self) -> None:
        with self.start_lock:
            if self.thread is not None or self.stopping:
                return  # at interpreter exit, ``_at_exit`` writes what is left
            thread = threading.Thread(target=self._run, name="jupyter-lifecycle-metric-flusher", daemon=True)
            thread.start()
            self.thread = thread

    def _run(self) -> None:
        while not self.stopping:
            # Cleared before looking, and ``planned`` infinite while looking:
            # a point armed after this sets the event again, so the wait below
            # returns at once and nothing is missed. Once ``planned`` is set,
            # only a deadline before it needs the event: the thread looks at
            # every buffer again when this wait ends.
            self.planned = float("inf")
            self.wakeup.clear()
            timeout = self._flush_due()
            self.planned = float("inf") if timeout is None else time.time() + timeout
            self.wakeup.wait(timeout)

    def _flush_due(self) -> float | None:
        """Flush the buffers that are due; return seconds until the next one is (None: all empty)."""
        with _buffers_lock:
            buffers = list(_buffers)
        now = time.time()
        for buffer in buffers:
            deadline = buffer.deadline
            # A deadline further away than the age limit means the clock went back: flush now.
            if deadline <= now or deadline - now > buffer.max_seconds:
                try:
                    buffer.flush()
                except Exception:  # the points are kept and retried; the caller's next flush raises
                    pass
        next_due = min((b.deadline for b in buffers), default=float("inf"))
        return None if next_due == float("inf") else max(0.0, next_due - time.time())

    def stop(self, timeout: float) -> None:
        """Stop the thread, letting a commit in progress finish."""
        self.stopping = True
        self.wakeup.set()
        thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)


_flusher = _Flusher()


def flush_all() -> None:
    """Flush every buffer of this process."""
    with _buffers_lock:
        buffers = list(_buffers)
    for buffer in buffers:
        buffer.flush()


def flush_soon() -> None:
    """Have the background thread commit every buffer now, without waiting for it.

    The cell hook's flush: the commit (~1 ms) runs beside the kernel's reply
    instead of before it, so a cell that logs a metric costs its user
    microseconds (issue #14). The age limit still bounds every point, and
    ``flush()``, reads, ``end_run`` and interpreter exit still commit at once.
    """
    with _buffers_lock:
        buffers = list(_buffers)
    now = time.time()
    due = False
    for buffer in buffers:
        if buffer.points:
            # Without the buffer's lock: a commit in progress holds it, and the
            # cell must not wait for that. Only ever moves a deadline earlier,
            # so a race costs at most an early (or empty) flush.
            buffer.deadline = now
            due = True
    if due:
        _flusher.wake()


def _at_exit() -> None:
    _flusher.stop(timeout=config.BUSY_TIMEOUT_MS / 1000 + 5)
    flush_all()


def _after_fork_in_child() -> None:
    global _buffers_lock, _flusher
    # Only the forking thread exists here: locks another thread held are
    # replaced, and the parent's points stay the parent's to write.
    _buffers_lock = threading.Lock()
    for buffer in list(_buffers):
        buffer._forget_after_fork()
    _flusher = _Flusher()


atexit.register(_at_exit)
if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)
