"""Is the process that owns a RUNNING run still there? (issue #12, defect 7)

A run records the host name and pid of the process that started (or resumed)
it, and a heartbeat that process refreshes. A run is *stale* when:

- it was started on this host and its process is gone: no such pid, a
  zombie, or a pid reused by a process created after the run's last
  heartbeat; or
- it was started on another host (or before owners were recorded) and its
  last heartbeat is older than ``config.RUN_STALE_SECONDS``.

A live process on this host is trusted however old its heartbeat (a
suspended kernel or a sleeping laptop is not dead). Stale runs are marked
KILLED by ``TrackingStore.reap_stale_runs``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import TYPE_CHECKING

from .. import config

if TYPE_CHECKING:
    from .database import Database



def _host() -> str:
    # A container sharing the host's name (docker --network host) has its own
    # pids: the pid namespace makes it another "host", judged by heartbeat.
    try:
        return f"{socket.gethostname()} {os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return socket.gethostname()


HOST = _host()
"""This machine's name (and pid namespace, where there is one), recorded with each run's pid."""

# psutil's process creation time comes from boot time plus clock ticks, so it
# can read a little after the run's own clock: allow this much.
_CLOCK_SLACK_MS = 2000


def process_alive(pid: int, last_seen_ms: int) -> bool:
    """Whether ``pid`` on this host is a live process that existed at ``last_seen_ms``."""
    import psutil  # imported here: only stale-run checks need it

    try:
        process = psutil.Process(pid)
        with process.oneshot():  # one read of /proc/<pid>/stat for both answers
            if process.status() == psutil.STATUS_ZOMBIE:
                return False
            return process.create_time() * 1000 <= last_seen_ms + _CLOCK_SLACK_MS
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True  # exists but cannot be inspected (another user's process): assume alive


def stale_reason(host: str | None, pid: int | None, heartbeat_ms: int | None, start_ms: int, now_ms: int) -> str | None:
    """Why a RUNNING run's owner looks gone, or ``None`` while it may be alive."""
    last_seen = heartbeat_ms if heartbeat_ms is not None else start_ms
    if host == HOST and pid is not None:
        if pid == os.getpid() or process_alive(pid, last_seen):
            return None
        return f"its process {pid} on {host} is gone"
    limit_ms = config.RUN_STALE_SECONDS * 1000
    if now_ms - last_seen > limit_ms:
        where = f"process {pid} on {host}" if host else "its process"
        return f"no heartbeat from {where} for {(now_ms - last_seen) // 1000} s (limit {config.RUN_STALE_SECONDS:g} s)"
    return None


class Heartbeat:
    """The runs this process owns, and a daemon thread that refreshes their heartbeat.

    The thread wakes every ``config.HEARTBEAT_SECONDS`` (one small write for
    all owned runs) and exits when the process owns none; metric flushes also
    refresh the heartbeat of the runs they write (``TrackingStore.log_metrics``).
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.owned: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def own(self, run_id: str) -> None:
        """Keep ``run_id``'s heartbeat fresh from now on."""
        with self._lock:
            self.owned.add(run_id)
            if self._thread is None or not self._thread.is_alive():  # not alive: forked child
                self._thread = threading.Thread(target=self._loop, name="jupyter-lifecycle-heartbeat", daemon=True)
                self._thread.start()

    def release(self, run_id: str) -> None:
        """Stop beating for ``run_id`` (it ended)."""
        with self._lock:
            self.owned.discard(run_id)

    def beat(self) -> None:
        """Record now as the last sign of life of every owned run."""
        with self._lock:
            owned = list(self.owned)
        if owned:
            now = int(time.time() * 1000)
            with self.db.write() as conn:
                conn.executemany(
                    "UPDATE runs SET heartbeat_time = ? WHERE run_id = ? AND status = 'RUNNING'",
                    [(now, run_id) for run_id in owned],
                )

    def _loop(self) -> None:
        while True:
            time.sleep(config.HEARTBEAT_SECONDS)
            with self._lock:
                if not self.owned:
                    self._thread = None
                    break
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - a busy or read-only store: the next beat retries
                pass
        self.db.close()
