"""SQL for model endpoints (scoring-server processes) and their inference table (issue #16, parts 3-4).

An endpoint row is written by whoever starts the server and updated by the
server itself (bound port, requests served); its status as read here says
``DEAD`` when the row claims a live server whose process is gone
(``liveness.process_alive``), so a crashed or killed server is never listed
as running.
"""

from __future__ import annotations

import builtins
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, NotFound
from .database import Database
from .liveness import HOST, process_alive

__all__ = ["EndpointRow", "EndpointStore", "InferenceRow"]

LIVE = ("STARTING", "RUNNING")
_COLUMNS = (
    "endpoint_id, model_uri, model_name, model_version, host, port, pid, owner_host, pid_time, workers, "
    "env_manager, log_requests, log_path, status, status_message, start_time, end_time, requests_served"
)


@dataclass(frozen=True)
class EndpointRow:
    """One endpoint as the store keeps it; ``status`` is ``DEAD`` when its process is gone."""

    endpoint_id: str
    model_uri: str
    model_name: str | None
    model_version: str | None
    host: str
    port: int | None
    pid: int | None
    owner_host: str
    pid_time: int | None
    workers: int
    env_manager: str
    log_requests: bool
    log_path: str | None
    status: str
    status_message: str | None
    start_time: int
    end_time: int | None
    requests_served: int

    @property
    def live(self) -> bool:
        """Starting or running, with its process there (as far as this host can tell)."""
        return self.status in LIVE


InferenceRow = tuple[str, str, str | None, str | None, int, float, int, str | None, bytes, bytes]
"""endpoint_id, model_uri, model_name, model_version, timestamp ms, latency ms, status code, content type,
request body, response body."""


def _now() -> int:
    return int(time.time() * 1000)


class EndpointStore:
    """Endpoints and inference rows of one store file."""

    def __init__(self, db: Database, home: Path) -> None:
        self.db = db
        self.home = home

    @property
    def logs_dir(self) -> Path:
        """Where endpoint processes write their output."""
        return self.home / "endpoints"

    def create(self, model_uri: str, model_name: str | None, model_version: str | None, host: str,
               workers: int, env_manager: str, log_requests: bool, port: int | None = None,
               pid: int | None = None, status: str = "STARTING") -> EndpointRow:  # fmt: skip
        """Register a new endpoint (``STARTING`` until its server binds, unless told otherwise)."""
        endpoint_id = "ep-" + secrets.token_hex(6)
        now = _now()
        log_path = str(self.logs_dir / f"{endpoint_id}.log")
        with self.db.write() as conn:
            conn.execute(
                f"INSERT INTO endpoints ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, NULL, 0)",
                (endpoint_id, model_uri, model_name, model_version, host, port, pid, HOST,
                 now if pid is not None else None, workers, env_manager, int(log_requests), log_path, status, now),
            )  # fmt: skip
        return self.get(endpoint_id)

    def set_process(self, endpoint_id: str, pid: int) -> None:
        """Record the pid of the endpoint's server process (known to exist now)."""
        with self.db.write() as conn:
            conn.execute("UPDATE endpoints SET pid = ?, pid_time = ?, owner_host = ? WHERE endpoint_id = ?",
                         (pid, _now(), HOST, endpoint_id))  # fmt: skip

    def mark_running(self, endpoint_id: str, port: int, pid: int) -> None:
        """The server bound ``port`` and is about to answer."""
        with self.db.write() as conn:
            conn.execute("UPDATE endpoints SET status = 'RUNNING', port = ?, pid = ?, pid_time = ?, owner_host = ? "
                         "WHERE endpoint_id = ?", (port, pid, _now(), HOST, endpoint_id))  # fmt: skip

    def mark_ended(self, endpoint_id: str, status: str, message: str | None = None) -> None:
        """The endpoint stopped (``STOPPED``) or could not start (``FAILED``)."""
        if status not in ("STOPPED", "FAILED"):
            raise InvalidInput(f"an endpoint ends STOPPED or FAILED, not {status!r}")
        with self.db.write() as conn:
            conn.execute("UPDATE endpoints SET status = ?, status_message = coalesce(?, status_message), "
                         "end_time = coalesce(end_time, ?) WHERE endpoint_id = ?",
                         (status, message, _now(), endpoint_id))  # fmt: skip

    def add_requests(self, endpoint_id: str, count: int, rows: Sequence[InferenceRow] = ()) -> None:
        """Count ``count`` more requests served and append ``rows`` to the inference table, in one commit."""
        with self.db.write() as conn:
            if rows:
                conn.executemany(
                    "INSERT INTO inference_log (endpoint_id, model_uri, model_name, model_version, timestamp_ms, "
                    "latency_ms, status_code, content_type, request, response) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            if count:
                conn.execute("UPDATE endpoints SET requests_served = requests_served + ? WHERE endpoint_id = ?",
                             (count, endpoint_id))  # fmt: skip

    def _row(self, values: Sequence[Any]) -> EndpointRow:
        row = EndpointRow(*values[:11], bool(values[11]), *values[12:])  # type: ignore[arg-type, call-arg]
        if row.status in LIVE and row.pid is not None and row.owner_host == HOST:
            if not process_alive(row.pid, row.pid_time or row.start_time):
                return EndpointRow(**{**row.__dict__, "status": "DEAD",
                                      "status_message": f"its process {row.pid} is gone"})  # fmt: skip
        return row

    def get(self, endpoint_id: str) -> EndpointRow:
        """One endpoint by id; ``NotFound`` names the known ones."""
        found = self.db.query(f"SELECT {_COLUMNS} FROM endpoints WHERE endpoint_id = ?", (endpoint_id,))
        if not found:
            live = [r.endpoint_id for r in self.list() if r.live]
            raise NotFound(f"no endpoint {endpoint_id!r} in this store; running endpoints: "
                           f"{', '.join(live) or 'none'} (see jupyter-lifecycle endpoints)")  # fmt: skip
        return self._row(found[0])

    def list(self, include_ended: bool = False, model_name: str | None = None) -> builtins.list[EndpointRow]:
        """Endpoints, newest first: those not stopped (running and dead ones), or every one with ``include_ended``."""
        where, params = [], []
        if not include_ended:
            where.append("status IN ('STARTING', 'RUNNING')")
        if model_name is not None:
            where.append("model_name = ?")
            params.append(model_name)
        sql = f"SELECT {_COLUMNS} FROM endpoints"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [self._row(r) for r in self.db.query(sql + " ORDER BY start_time DESC, endpoint_id", params)]

    def inference_rows(self, model_name: str | None = None, version: str | None = None,
                       endpoint_id: str | None = None, since_ms: int | None = None) -> builtins.list[tuple[Any, ...]]:  # fmt: skip
        """Inference-table rows (request_id first, then the ``InferenceRow`` fields) in request order."""
        where: builtins.list[str] = []
        params: builtins.list[Any] = []
        for column, value in (("model_name", model_name), ("model_version", version), ("endpoint_id", endpoint_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since_ms is not None:
            where.append("timestamp_ms >= ?")
            params.append(since_ms)
        sql = ("SELECT request_id, endpoint_id, model_uri, model_name, model_version, timestamp_ms, latency_ms, "
               "status_code, content_type, request, response FROM inference_log")  # fmt: skip
        if where:
            sql += " WHERE " + " AND ".join(where)
        return self.db.query(sql + " ORDER BY timestamp_ms, request_id", params)
