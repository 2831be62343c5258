"""Inference tables (issue #16, part 4): every request an endpoint answers, kept in the store.

The server thread only appends a tuple of what it already has (the raw
request and response bytes, status, latency, time) to a deque; a daemon
thread writes what accumulated in one transaction every
``FLUSH_SECONDS``, with the endpoint's request count, and ``close()``
writes the rest at shutdown. Decoding the bodies into rows happens when
they are read (``inference_log``), never while serving. Raw bodies are
what managed MLflow's inference tables keep too (``request``/``response``).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput
from ..store import Store, open_store
from ..store.endpoints import EndpointRow, InferenceRow

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RequestRecorder", "inference_log", "request_frame"]

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.5
MAX_PENDING = 100_000
"""Requests waiting for the writer beyond which the oldest are dropped (the store is unwritable meanwhile)."""


class RequestRecorder:
    """Counts an endpoint's requests and, with ``log_requests``, queues them for the inference table."""

    def __init__(self, store: Store, row: EndpointRow) -> None:
        self.endpoints = store.endpoints
        self.row = row
        self.log_requests = row.log_requests
        self._head = (row.endpoint_id, row.model_uri, row.model_name, row.model_version)
        self._pending: deque[InferenceRow] = deque()
        self._count = 0
        self._written = 0
        self._dropped = 0
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._stop = threading.Event()

    def record(self, started: float, latency_ms: float, status: int, content_type: str | None,
               request: bytes, response: bytes) -> None:  # fmt: skip
        """One ``/invocations`` answer (``started``: epoch seconds); called on the server thread, so cheap."""
        self._count += 1
        if self.log_requests:
            if len(self._pending) >= MAX_PENDING:
                self._pending.popleft()
                self._dropped += 1
            self._pending.append((*self._head, int(started * 1000), latency_ms, status, content_type,
                                  bytes(request), response))  # fmt: skip
        if self._pid != os.getpid():  # first request of this process (a forked worker has its own writer)
            self._pid = os.getpid()
            self._stop = threading.Event()
            threading.Thread(target=self._loop, name="lifecycle-inference-writer", daemon=True).start()

    def _loop(self) -> None:
        stop = self._stop
        try:  # Linux: a thread is a task with its own nice value; the server thread goes first on a busy machine
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except (AttributeError, OSError):
            pass
        while not stop.wait(FLUSH_SECONDS):
            self.flush()

    def flush(self) -> None:
        """Write what accumulated; on a store error keep it for the next try."""
        with self._lock:
            rows = [self._pending.popleft() for _ in range(len(self._pending))]
            count = self._count - self._written
            if not rows and not count:
                return
            try:
                self.endpoints.add_requests(self.row.endpoint_id, count, rows)
            except Exception as exc:  # noqa: BLE001 - a locked or full store: serving goes on, the next flush retries
                self._pending.extendleft(reversed(rows))
                log.warning("inference log: %d requests not written yet: %s", len(rows), exc)
                return
            self._written += count
            if self._dropped:
                log.warning("inference log: %d requests dropped (the store was not writable)", self._dropped)
                self._dropped = 0

    def close(self) -> None:
        """Stop the writer and write everything recorded (called at shutdown)."""
        self._stop.set()
        self.flush()


# ---- reading -----------------------------------------------------------------------------------


def _records(value: Any) -> list[dict[str, Any]]:
    """Rows of an ``instances``/``inputs``/``dataframe_records`` value, as dicts."""
    if isinstance(value, dict):
        if value and all(isinstance(v, list) for v in value.values()):  # columnar: {"x": [1, 2]}
            keys = list(value)
            return [dict(zip(keys, row, strict=True)) for row in zip(*value.values(), strict=False)]
        return [value]
    if isinstance(value, list):
        return [v if isinstance(v, dict) else
                {str(i): x for i, x in enumerate(v)} if isinstance(v, list) else {"0": v} for v in value]  # fmt: skip
    return [{"0": value}]


def request_frame(body: bytes | str, content_type: str | None) -> pd.DataFrame:
    """The input rows of one scoring request, read without the model (MLflow's payload forms, CSV, Parquet)."""
    import pandas as pd

    kind = (content_type or "application/json").split(";")[0].strip().lower()
    if kind == "text/csv":
        return pd.read_csv(io.BytesIO(body.encode() if isinstance(body, str) else body))
    if kind == "application/vnd.apache.parquet":
        return pd.read_parquet(io.BytesIO(body.encode() if isinstance(body, str) else body))
    payload = json.loads(body)
    if isinstance(payload, dict) and "input_data" in payload:
        payload = payload["input_data"]
        if isinstance(payload, dict) and "columns" in payload and "data" in payload:
            payload = {"dataframe_split": payload}
        elif isinstance(payload, list):
            payload = {"dataframe_records": payload}
    if not isinstance(payload, dict):
        raise InvalidInput("not an MLflow scoring payload")
    if "dataframe_split" in payload:
        split = payload["dataframe_split"]
        return pd.DataFrame(split.get("data", []), columns=split.get("columns"))
    for key in ("dataframe_records", "instances", "inputs"):
        if key in payload:
            return pd.DataFrame(_records(payload[key]))
    raise InvalidInput("not an MLflow scoring payload")


def _predictions(response: bytes | str) -> list[Any] | None:
    try:
        predictions = json.loads(response).get("predictions")
    except (ValueError, AttributeError):
        return None
    if isinstance(predictions, dict) and predictions and all(isinstance(v, list) for v in predictions.values()):
        return _records(predictions)
    return predictions if isinstance(predictions, list) else [predictions]


def _since_ms(since: Any) -> int | None:
    import pandas as pd

    if since is None:
        return None
    if isinstance(since, (dt.timedelta, pd.Timedelta)):
        return int((time.time() - pd.Timedelta(since).total_seconds()) * 1000)
    if isinstance(since, (int, float)) and not isinstance(since, bool):
        return int(since)
    if isinstance(since, (str, dt.datetime, pd.Timestamp)):
        stamp = pd.Timestamp(since)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
        return int(stamp.timestamp() * 1000)
    raise InvalidInput(f"since must be a datetime, a timestamp string, epoch milliseconds or a timedelta (that long "
                       f"ago), not {type(since).__name__}")  # fmt: skip


def inference_log(model: str, version: str | int | None = None, since: Any = None, rows: bool = False) -> pd.DataFrame:
    """The inference table of a registered model (or of one endpoint, by its ``ep-...`` id), oldest first.

    One row per request: request_id, timestamp (UTC), model_name,
    model_version, endpoint_id, status_code, latency_ms, inputs (the input
    rows, as a DataFrame), predictions (a list, one per input row), and the
    raw ``request``/``response`` bodies. ``version`` keeps one version;
    ``since`` keeps requests from then on (a datetime, epoch ms, or a
    ``timedelta`` meaning that long ago). With ``rows=True``: one row per
    input row instead, its features as columns plus ``prediction``,
    ``request_id``, ``timestamp`` and ``model_version``.
    """
    import pandas as pd

    store = open_store()
    by_endpoint = model.startswith("ep-")
    if by_endpoint:
        store.endpoints.get(model)  # NotFound names the known ones
    else:
        from ..registry import parse_models_uri

        if model.startswith("models:/"):
            parsed = parse_models_uri(model)
            model, version = parsed.name, parsed.version if version is None else version
        store.registry.get_registered_model(model)  # NotFound for a misspelled name
    found = store.endpoints.inference_rows(model_name=None if by_endpoint else model,
                                           version=None if version is None else str(version),
                                           endpoint_id=model if by_endpoint else None, since_ms=_since_ms(since))  # fmt: skip
    records = []
    for request_id, endpoint_id, _, name, mv, stamp, latency, status, ctype, request, response in found:
        try:
            inputs = request_frame(request, ctype)
        except Exception:  # noqa: BLE001 - a request the server refused may not be readable: keep it, rowless
            inputs = pd.DataFrame()
        text = response.decode("utf-8", "replace") if isinstance(response, bytes) else response
        records.append({
            "request_id": request_id, "timestamp": pd.Timestamp(stamp, unit="ms", tz="UTC"), "model_name": name,
            "model_version": mv, "endpoint_id": endpoint_id, "status_code": status, "latency_ms": latency,
            "inputs": inputs, "predictions": _predictions(text) if status == 200 else None,
            "request": request.decode("utf-8", "replace") if isinstance(request, bytes) and ctype !=
            "application/vnd.apache.parquet" else request, "response": text,
        })  # fmt: skip
    columns = ["request_id", "timestamp", "model_name", "model_version", "endpoint_id", "status_code", "latency_ms",
               "inputs", "predictions", "request", "response"]  # fmt: skip
    table = pd.DataFrame(records, columns=columns)
    if not rows:
        return table
    parts = []
    for record in records:
        frame = record["inputs"].copy()
        predictions = record["predictions"]
        if predictions is not None and len(predictions) == len(frame):
            frame["prediction"] = predictions
        for key in ("request_id", "timestamp", "model_version", "status_code"):
            frame[key] = record[key]
        parts.append(frame)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["prediction", "request_id", "timestamp", "model_version", "status_code"])
