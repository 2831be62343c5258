"""In-memory metric buffer: ``log_metric`` appends, one transaction writes many points.

A flush happens at a size or age threshold (checked on the next log call), on
an explicit ``flush()`` (the cell hook calls it at the end of every cell, and
``end_run`` and every read call it), and at interpreter exit. A flush that
fails puts its points back, so nothing accepted is dropped.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from typing import TYPE_CHECKING

from .. import config

if TYPE_CHECKING:
    from .tracking import TrackingStore

Point = tuple[str, str, float, int, int]  # run_id, key, value, timestamp ms, step

_buffers: weakref.WeakSet[MetricBuffer] = weakref.WeakSet()


class MetricBuffer:
    """Points waiting to be written to one store."""

    def __init__(self, tracking: TrackingStore) -> None:
        self.tracking = tracking
        self.points: list[Point] = []
        self.lock = threading.Lock()
        self.max_points = config.FLUSH_POINTS
        self.max_seconds = config.FLUSH_SECONDS
        self.deadline = float("inf")
        _buffers.add(self)

    def flush(self) -> int:
        """Write every buffered point in one transaction; return how many."""
        with self.lock:
            points, self.points = self.points, []
            self.deadline = float("inf")
            if not points:
                return 0
            try:
                self.tracking.log_metrics(points)
            except BaseException:
                self.points[:0] = points
                raise
            return len(points)


def flush_all() -> None:
    """Flush every buffer of this process (registered with ``atexit``)."""
    for buffer in list(_buffers):
        buffer.flush()


atexit.register(flush_all)
