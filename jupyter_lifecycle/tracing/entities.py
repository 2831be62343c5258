"""Traces and spans with MLflow 3's names and JSON shape.

A ``Span`` is one timed step (a function call, a retrieval, an LLM call);
spans nest into a ``Trace`` (``TraceInfo`` + ``TraceData``). As in MLflow, a
span's attributes are stored JSON-encoded (``mlflow.spanInputs`` holds the
JSON text of the inputs), and ``to_dict()`` gives the OpenTelemetry-style
shape that ``mlflow.entities.Trace.from_dict`` reads: base64 ids, times in
nanoseconds, ``STATUS_CODE_OK``... (mlflow/entities/span.py, trace_info.py).
"""

from __future__ import annotations

import base64
import json
import time
import traceback
from binascii import b2a_base64
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from .assessments import Assessment

__all__ = [
    "Span", "SpanEvent", "SpanStatus", "SpanStatusCode", "SpanType", "Trace", "TraceData", "TraceInfo",
    "TraceState", "dump_json",
]  # fmt: skip

INPUTS = "mlflow.spanInputs"
OUTPUTS = "mlflow.spanOutputs"
SPAN_TYPE = "mlflow.spanType"
FUNCTION_NAME = "mlflow.spanFunctionName"
REQUEST_ID = "mlflow.traceRequestId"

TRACE_NAME = "mlflow.traceName"
SOURCE_RUN = "mlflow.sourceRun"
MODEL_ID = "mlflow.modelId"
TRACE_INPUTS = "mlflow.traceInputs"
TRACE_OUTPUTS = "mlflow.traceOutputs"
SCHEMA_VERSION = "mlflow.trace_schema.version"


class SpanType:
    """MLflow's predefined span types (any other string is allowed too)."""

    LLM = "LLM"
    CHAIN = "CHAIN"
    AGENT = "AGENT"
    TOOL = "TOOL"
    CHAT_MODEL = "CHAT_MODEL"
    RETRIEVER = "RETRIEVER"
    PARSER = "PARSER"
    EMBEDDING = "EMBEDDING"
    RERANKER = "RERANKER"
    MEMORY = "MEMORY"
    UNKNOWN = "UNKNOWN"
    WORKFLOW = "WORKFLOW"
    TASK = "TASK"
    GUARDRAIL = "GUARDRAIL"
    EVALUATOR = "EVALUATOR"


class SpanStatusCode(str, Enum):
    """A span's outcome: UNSET while it runs, then OK or ERROR."""

    UNSET = "UNSET"
    OK = "OK"
    ERROR = "ERROR"

    def to_otel_name(self) -> str:
        """The OpenTelemetry proto name MLflow writes in JSON (``STATUS_CODE_OK``)."""
        return f"STATUS_CODE_{self.value}"

    @classmethod
    def parse(cls, value: str | SpanStatusCode) -> SpanStatusCode:
        """``"OK"``, ``"STATUS_CODE_OK"`` or the enum itself."""
        if isinstance(value, SpanStatusCode):
            return value
        return cls(str(value).upper().removeprefix("STATUS_CODE_"))


class TraceState(str, Enum):
    """A trace's state, from its root span's status (MLflow's ``TraceState``)."""

    STATE_UNSPECIFIED = "STATE_UNSPECIFIED"
    OK = "OK"
    ERROR = "ERROR"
    IN_PROGRESS = "IN_PROGRESS"


@dataclass(frozen=True)
class SpanStatus:
    """A status code and, for errors, a description."""

    status_code: SpanStatusCode
    description: str = ""


@dataclass(frozen=True)
class SpanEvent:
    """Something that happened during a span; ``timestamp`` in epoch nanoseconds."""

    name: str
    timestamp: int = field(default_factory=time.time_ns)
    attributes: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_exception(cls, exception: BaseException) -> SpanEvent:
        """The ``exception`` event OpenTelemetry and MLflow record for a raised exception."""
        stack = "".join(traceback.format_exception(type(exception), exception, exception.__traceback__))
        return cls(
            "exception",
            attributes={
                "exception.message": str(exception),
                "exception.type": type(exception).__name__,
                "exception.stacktrace": stack,
            },
        )

    def to_dict(self) -> dict[str, Any]:
        """OpenTelemetry's JSON shape, as MLflow writes it."""
        return {"name": self.name, "time_unix_nano": self.timestamp, "attributes": self.attributes}


_UNSET = SpanStatus(SpanStatusCode.UNSET)  # shared: a SpanStatus is immutable
_OK = SpanStatus(SpanStatusCode.OK)
_SCALARS = frozenset({str, int, float, bool, type(None)})  # immutable values JSON holds as they are
_STR = frozenset({str})

_str = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]  # json.dumps(a str), in C


def dump_json(value: Any) -> str:
    """``value`` as JSON; what JSON cannot hold becomes its ``repr`` (never an exception)."""
    kind = type(value)
    if kind is str:  # the common cases, without building an encoder
        return _str(value)  # type: ignore[no-any-return]
    if kind is int:
        return str(value)
    if value is None:
        return "null"
    try:
        return _ENCODER.encode(value)  # type: ignore[no-any-return]  # json.dumps(value, default=_repr), minus its set-up
    except (TypeError, ValueError, RecursionError):  # circular structures, non-string keys...
        if isinstance(value, dict):  # keep the other arguments of a call readable
            return "{" + ", ".join(f"{json.dumps(str(k))}: {dump_json(v)}" for k, v in value.items()) + "}"
        return json.dumps(_repr(value))


def _repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:  # a broken __repr__ must not break the traced code
        return f"<unrepresentable {type(value).__name__}>"


_ENCODER = json.JSONEncoder(default=_repr)


def _load(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _b64(hex_id: str) -> str:
    return b2a_base64(bytes.fromhex(hex_id), newline=False).decode("ascii")


def _hex(b64_id: str) -> str:
    return base64.b64decode(b64_id).hex()


class Span:
    """One step of a trace. Live while it runs (``set_inputs``, ``end``...), read-only after.

    ``trace_id`` is MLflow's ``tr-<32 hex>``; ``span_id`` and ``parent_id`` are 16 hex digits.
    """

    __slots__ = ("_encoded", "_ended", "_owner", "_raw", "end_time_ns", "events", "name", "parent_id", "span_id",
                 "start_time_ns", "status", "trace_id")  # fmt: skip

    def __init__(
        self,
        trace_id: str,
        span_id: str,
        parent_id: str | None,
        name: str,
        start_time_ns: int,
        end_time_ns: int | None = None,
        status: SpanStatus | None = None,
        attributes: dict[str, str] | None = None,
        events: list[SpanEvent] | None = None,
    ) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id
        self.name = name
        self.start_time_ns = start_time_ns
        self.end_time_ns = end_time_ns
        self.status = status or _UNSET
        # JSON-encoded values; a key whose value waits in _raw (a snapshot, encoded when first read) holds ""
        self._encoded: dict[str, str] = attributes if attributes is not None else {}
        self._raw: dict[str, Any] | None = None
        self.events: list[SpanEvent] = events if events is not None else []
        self._ended = end_time_ns is not None
        self._owner: Any = None  # the trace in progress, told when this span ends

    @property
    def _attributes(self) -> dict[str, str]:
        """Every attribute JSON-encoded: the snapshots kept by ``_set`` are encoded here (in the writer thread)."""
        raw = self._raw
        if raw:
            self._raw = None
            encoded = self._encoded
            for key, value in raw.items():
                encoded[key] = dump_json(value)
        return self._encoded

    def _set(self, key: str, value: Any) -> None:
        """Set one attribute. A container holding only strings, numbers, booleans and None is kept as a
        shallow copy and encoded later, by the reader (the writer thread): the copy is what was set even if the
        caller changes the container afterwards, and the traced code does not pay for JSON. Anything else is
        encoded now (``dump_json``: what JSON cannot hold becomes its repr)."""
        kind = type(value)
        if kind is dict:
            if _STR.issuperset(map(type, value)) and _SCALARS.issuperset(map(type, value.values())):
                self._defer(key, dict(value))
                return
        elif kind is list or kind is tuple:
            if _SCALARS.issuperset(map(type, value)):
                self._defer(key, list(value))
                return
        if self._raw is not None:
            self._raw.pop(key, None)
        self._encoded[key] = dump_json(value)

    def _defer(self, key: str, snapshot: Any) -> None:
        if self._raw is None:
            self._raw = {}
        self._raw[key] = snapshot
        self._encoded[key] = ""  # keeps the key's place in the attributes' order

    # ---- reading -------------------------------------------------------------------
    @property
    def request_id(self) -> str:
        """MLflow 2's name for ``trace_id``."""
        return self.trace_id

    @property
    def span_type(self) -> str | None:
        """``LLM``, ``RETRIEVER``... (see ``SpanType``)."""
        return self.get_attribute(SPAN_TYPE)  # type: ignore[no-any-return]

    @property
    def inputs(self) -> Any:
        """The inputs, as set (after a JSON round trip)."""
        return _load(self._attributes.get(INPUTS))

    @property
    def outputs(self) -> Any:
        """The outputs, as set (after a JSON round trip)."""
        return _load(self._attributes.get(OUTPUTS))

    @property
    def attributes(self) -> dict[str, Any]:
        """Every attribute, decoded."""
        return {key: _load(value) for key, value in self._attributes.items()}

    def get_attribute(self, key: str) -> Any:
        """One attribute, decoded (``None`` when absent)."""
        return _load(self._attributes.get(key))

    @property
    def duration_ns(self) -> int | None:
        """How long the span took, or ``None`` while it runs."""
        return None if self.end_time_ns is None else self.end_time_ns - self.start_time_ns

    # ---- writing (while live) -----------------------------------------------------
    def set_inputs(self, inputs: Any) -> None:
        """Record the span's inputs (kept whole; what JSON cannot hold becomes its repr)."""
        self._set(INPUTS, inputs)

    def set_outputs(self, outputs: Any) -> None:
        """Record the span's outputs."""
        self._set(OUTPUTS, outputs)

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute (any JSON-able value)."""
        self._set(str(key), value)

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        """Set several attributes."""
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def set_span_type(self, span_type: str) -> None:
        """Change the span's type."""
        self.set_attribute(SPAN_TYPE, span_type)

    def set_status(self, status: SpanStatus | SpanStatusCode | str, description: str = "") -> None:
        """Set ``OK``/``ERROR``/``UNSET`` (a ``SpanStatus``, a code or its name)."""
        if not isinstance(status, SpanStatus):
            status = SpanStatus(SpanStatusCode.parse(status), description)
        self.status = status

    def add_event(self, event: SpanEvent) -> None:
        """Attach an event."""
        self.events.append(event)

    def record_exception(self, exception: BaseException | str) -> None:
        """Add an ``exception`` event and set the status to ERROR, as MLflow does."""
        if isinstance(exception, BaseException):
            self.events.append(SpanEvent.from_exception(exception))
            self.status = SpanStatus(SpanStatusCode.ERROR, f"{type(exception).__name__}: {exception}")
        else:
            self.status = SpanStatus(SpanStatusCode.ERROR, str(exception))

    def end(
        self,
        outputs: Any = None,
        attributes: dict[str, Any] | None = None,
        status: SpanStatus | str | None = None,
        end_time_ns: int | None = None,
    ) -> None:
        """End the span (a second call does nothing); an UNSET status becomes OK."""
        if self._ended:
            return
        if outputs is not None:
            self.set_outputs(outputs)
        if attributes:
            self.set_attributes(attributes)
        if status is not None:
            self.set_status(status)
        if self.status.status_code is SpanStatusCode.UNSET:
            self.status = _OK
        self.end_time_ns = end_time_ns if end_time_ns is not None else time.time_ns()
        self._ended = True
        if self._owner is not None:
            self._owner.span_ended(self)

    # ---- JSON ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """MLflow 3's span JSON (``Span.to_dict``): base64 ids, nanoseconds, JSON-encoded attributes."""
        return {
            "trace_id": _b64(self.trace_id.removeprefix("tr-")),
            "span_id": _b64(self.span_id),
            "parent_span_id": _b64(self.parent_id) if self.parent_id else None,
            "name": self.name,
            "start_time_unix_nano": self.start_time_ns,
            "end_time_unix_nano": self.end_time_ns,
            "events": [event.to_dict() for event in self.events],
            "status": {"code": self.status.status_code.to_otel_name(), "message": self.status.description},
            "attributes": {REQUEST_ID: json.dumps(self.trace_id), **self._attributes},
            "links": [],
        }

    def to_json(self, trace_id_b64: str | None = None) -> str:
        """``json.dumps(self.to_dict())``, assembled from the already-encoded attributes (the writer's hot path).

        ``trace_id_b64``: the trace id as the JSON has it, when the caller computed it once for all the spans."""
        attributes = ", ".join([
            f"{_str(key)}: {_str(value)}"
            for key, value in ((REQUEST_ID, _str(self.trace_id)), *self._attributes.items())
        ])  # fmt: skip
        events = ", ".join([json.dumps(event.to_dict(), default=_repr) for event in self.events]) if self.events else ""
        parent = f'"{_b64(self.parent_id)}"' if self.parent_id else "null"
        end = "null" if self.end_time_ns is None else str(self.end_time_ns)
        trace_b64 = trace_id_b64 or _b64(self.trace_id.removeprefix("tr-"))
        return (
            f'{{"trace_id": "{trace_b64}", "span_id": "{_b64(self.span_id)}", '
            f'"parent_span_id": {parent}, "name": {_str(self.name)}, "start_time_unix_nano": {self.start_time_ns}, '
            f'"end_time_unix_nano": {end}, "events": [{events}], "status": {{"code": '
            f'"{self.status.status_code.to_otel_name()}", "message": {_str(self.status.description)}}}, '
            f'"attributes": {{{attributes}}}, "links": []}}'
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Span:
        """Read ``to_dict()``'s shape back (also MLflow's)."""
        attributes = dict(data.get("attributes") or {})
        request_id = _load(attributes.pop(REQUEST_ID, None))
        trace_id = request_id if isinstance(request_id, str) else "tr-" + _hex(data["trace_id"])
        end = data.get("end_time_unix_nano")
        return cls(
            trace_id=trace_id,
            span_id=_hex(data["span_id"]),
            parent_id=_hex(data["parent_span_id"]) if data.get("parent_span_id") else None,
            name=data["name"],
            start_time_ns=int(data["start_time_unix_nano"]),
            end_time_ns=int(end) if end else None,
            status=SpanStatus(SpanStatusCode.parse(data["status"]["code"]), data["status"].get("message", "")),
            attributes=attributes,
            events=[
                SpanEvent(e["name"], int(e["time_unix_nano"]), e.get("attributes") or {})
                for e in data.get("events", [])
            ],
        )

    def __repr__(self) -> str:
        return f"Span(name={self.name!r}, span_type={self.span_type!r}, span_id={self.span_id!r}, parent_id={self.parent_id!r})"


@dataclass
class TraceInfo:
    """A trace's metadata (MLflow's ``TraceInfo`` v3): ids, timing, state, tags and metadata."""

    trace_id: str
    experiment_id: str
    request_time: int  # epoch ms
    state: TraceState
    execution_duration: int | None = None  # ms
    request_preview: str | None = None
    response_preview: str | None = None
    client_request_id: str | None = None
    trace_metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    assessments: list[Assessment] = field(default_factory=list)
    """Feedback and expectations logged on the trace, oldest first."""

    @property
    def request_id(self) -> str:
        """MLflow 2's name for ``trace_id``."""
        return self.trace_id

    @property
    def status(self) -> TraceState:
        """MLflow 2's name for ``state``."""
        return self.state

    @property
    def timestamp_ms(self) -> int:
        """MLflow 2's name for ``request_time``."""
        return self.request_time

    @property
    def execution_time_ms(self) -> int | None:
        """MLflow 2's name for ``execution_duration``."""
        return self.execution_duration

    def to_dict(self) -> dict[str, Any]:
        """MLflow 3's ``TraceInfo.to_dict`` shape (``request_time`` as an ISO string, as protobuf writes it)."""
        when = datetime.fromtimestamp(self.request_time / 1000, tz=timezone.utc)
        out: dict[str, Any] = {
            "trace_id": self.trace_id,
            "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": self.experiment_id}},
            "request_time": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.request_time % 1000:03d}Z",
            "state": self.state.value,
            "trace_metadata": dict(self.trace_metadata),
            "tags": dict(self.tags),
        }
        for key in ("request_preview", "response_preview", "client_request_id"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.execution_duration is not None:
            out["execution_duration_ms"] = self.execution_duration
        if self.assessments:  # left out when empty, as protobuf does
            out["assessments"] = [assessment.to_dictionary() for assessment in self.assessments]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TraceInfo:
        """Read ``to_dict()``'s shape back."""
        when = datetime.strptime(data["request_time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        return cls(
            trace_id=data["trace_id"],
            experiment_id=data["trace_location"]["mlflow_experiment"]["experiment_id"],
            request_time=round(when.timestamp() * 1000),
            state=TraceState(data.get("state", "STATE_UNSPECIFIED")),
            execution_duration=data.get("execution_duration_ms"),
            request_preview=data.get("request_preview"),
            response_preview=data.get("response_preview"),
            client_request_id=data.get("client_request_id"),
            trace_metadata=dict(data.get("trace_metadata") or {}),
            tags=dict(data.get("tags") or {}),
            assessments=[Assessment.from_dictionary(a) for a in data.get("assessments") or []],
        )


@dataclass
class TraceData:
    """A trace's spans, the root first."""

    spans: list[Span] = field(default_factory=list)

    @property
    def request(self) -> str | None:
        """The root span's inputs as JSON text."""
        root = self._root()
        return root._attributes.get(INPUTS) if root else None

    @property
    def response(self) -> str | None:
        """The root span's outputs as JSON text."""
        root = self._root()
        return root._attributes.get(OUTPUTS) if root else None

    def _root(self) -> Span | None:
        return next((span for span in self.spans if span.parent_id is None), None)

    def to_dict(self) -> dict[str, Any]:
        """``{"spans": [...]}``."""
        return {"spans": [span.to_dict() for span in self.spans]}


@dataclass
class Trace:
    """A trace: its ``info`` and its ``data`` (the spans). Renders inline in a notebook."""

    info: TraceInfo
    data: TraceData

    def search_spans(self, span_type: str | None = None, name: str | None = None) -> list[Span]:
        """The spans of this type and/or with this name."""
        return [
            span for span in self.data.spans
            if (span_type is None or span.span_type == span_type) and (name is None or span.name == name)
        ]  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """MLflow 3's ``Trace.to_dict`` shape: ``{"info": {...}, "data": {"spans": [...]}}``."""
        return {"info": self.info.to_dict(), "data": self.data.to_dict()}

    def to_json(self, pretty: bool = False) -> str:
        """``to_dict()`` as JSON text, which ``mlflow.entities.Trace.from_json`` reads."""
        return json.dumps(self.to_dict(), indent=2 if pretty else None, default=_repr)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trace:
        """Read ``to_dict()``'s shape back."""
        return cls(TraceInfo.from_dict(data["info"]), TraceData([Span.from_dict(s) for s in data["data"]["spans"]]))

    @classmethod
    def from_json(cls, text: str) -> Trace:
        """Read ``to_json()``'s text back."""
        return cls.from_dict(json.loads(text))

    def __repr__(self) -> str:
        return f"Trace(trace_id={self.info.trace_id!r}, state={self.info.state.value!r}, spans={len(self.data.spans)})"
