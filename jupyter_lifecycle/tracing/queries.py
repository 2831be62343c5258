"""Stored traces: ``get_trace``, ``search_traces``, trace tags, ``delete_traces``, flushing the writer."""

from __future__ import annotations

import gc
import json
import re
from collections import abc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..errors import InvalidInput
from ..store import Store
from ..tracking import fluent as tracking
from .assessments import Assessment
from .entities import INPUTS, OUTPUTS, Span, Trace, TraceData, TraceInfo, TraceState
from .spans import _current

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SpanDicts", "delete_trace_tag", "delete_traces", "flush_trace_async_logging", "get_trace",
           "search_traces", "set_trace_tag"]  # fmt: skip


def flush_trace_async_logging() -> None:
    """Write every finished trace now (also done after each cell, before reads, and at exit)."""
    from ..store import trace_writer

    trace_writer.flush_all()


def _store() -> Store:
    store = tracking.client().store
    store.trace_writer.flush()
    return store


def _trace_from(info: dict[str, Any], spans: Sequence[dict[str, Any]]) -> Trace:
    trace_info = TraceInfo(
        trace_id=info["trace_id"], experiment_id=info["experiment_id"], request_time=info["request_time"],
        state=TraceState(info["state"]), execution_duration=info["execution_duration"],
        request_preview=info["request_preview"], response_preview=info["response_preview"],
        client_request_id=info["client_request_id"], trace_metadata=info["trace_metadata"], tags=info["tags"],
        assessments=[Assessment.from_dictionary(a) for a in info.get("assessments") or []],
    )  # fmt: skip
    return Trace(trace_info, TraceData([Span.from_dict(s) for s in spans]))


def get_trace(trace_id: str) -> Trace:
    """The trace with this id (``NotFound`` when there is none)."""
    info, spans = _store().traces.get(trace_id)
    return _trace_from(info, json.loads(spans))


COLUMNS = ["trace_id", "trace", "client_request_id", "state", "request_time", "execution_duration", "request",
           "response", "trace_metadata", "tags", "spans", "assessments"]  # fmt: skip
"""MLflow 3's ``search_traces`` DataFrame columns."""


def search_traces(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str | None = None,
    max_results: int | None = None,
    order_by: Sequence[str] | None = None,
    extract_fields: Sequence[str] | None = None,
    run_id: str | None = None,
    return_type: Literal["pandas", "list"] = "pandas",
    model_id: str | None = None,
    include_spans: bool = True,
) -> pd.DataFrame | list[Trace]:
    """Traces matching MLflow's filter grammar, newest first: a DataFrame (MLflow's columns) or a list.

    Filters: ``attributes.status`` (or ``trace.status``, ``state``), ``timestamp_ms``,
    ``execution_time_ms``, ``name``, ``run_id``, ``client_request_id``; ``tags.<key>``;
    ``metadata.<key>``; ``span.name`` and ``span.type``; joined with AND, e.g.
    ``"attributes.status = 'OK' and tags.env = 'dev'"``. Without ``experiment_ids``
    (or ``run_id``) the current experiment's traces.

    ``extract_fields`` (DataFrame only) adds a column per field, as MLflow does:
    ``"span_name.inputs"``, ``"span_name.outputs.key"`` (backticks around a name
    holding a dot: ```"`a.b`.inputs"```); a trace without that span or key has
    ``None`` there. The ``spans`` column holds each trace's spans as MLflow's
    span dicts, decoded from JSON only when read.
    """
    if return_type not in ("pandas", "list"):
        raise InvalidInput(f"return_type must be 'pandas' or 'list', got {return_type!r}")
    fields = [_parse_field(field) for field in extract_fields or []]
    if fields and return_type != "pandas":
        raise InvalidInput("extract_fields needs return_type='pandas': a list of traces has no columns to add")
    store = _store()
    if experiment_ids is None and run_id is None and model_id is None:
        experiment_ids = [tracking._current_experiment_id(tracking.client())]
    if return_type == "list":
        found = store.traces.search(
            experiment_ids, filter_string, max_results, order_by, run_id, model_id, include_spans
        )
        return [_trace_from(info, json.loads(spans) if spans else []) for info, spans in found]
    with _gc_paused():
        return _frame(store, experiment_ids, filter_string, max_results, order_by, run_id, model_id, include_spans,
                      fields)  # fmt: skip


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No garbage collection while a DataFrame's many small objects are made: they hold no cycles, and the
    collector's passes over them cost a third of ``search_traces``'s time at 10,000 traces."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _frame(
    store: Store,
    experiment_ids: Sequence[str] | None,
    filter_string: str | None,
    max_results: int | None,
    order_by: Sequence[str] | None,
    run_id: str | None,
    model_id: str | None,
    include_spans: bool,
    fields: list[_Field],
) -> pd.DataFrame:
    import pandas as pd

    rows, payload, span_texts = store.traces.search_frame(
        experiment_ids, filter_string, max_results, order_by, run_id, model_id, include_spans
    )
    columns: dict[str, Any] = dict(zip(COLUMNS[:6], map(list, zip(*rows, strict=True)), strict=True)) if rows else {}
    for i, name in enumerate(("request", "response", "trace_metadata", "tags")):
        columns[name] = [decoded[i] for decoded in payload]
    if rows:
        # Each trace's JSON is long: as a str column pandas would copy all of it into Arrow; kept as the
        # Python strings they are (object dtype), the DataFrame costs no copy
        columns["trace"] = pd.Series(_objects(columns["trace"]), dtype=object, copy=False)
    spans = [SpanDicts(text) for text in span_texts]
    columns["spans"] = _objects(spans)
    columns["assessments"] = [decoded[4] for decoded in payload]  # MLflow's assessment dictionaries
    for field in fields:
        columns[field.column] = [field.extract(trace_spans) for trace_spans in spans]
    return pd.DataFrame(columns, columns=COLUMNS + [field.column for field in fields])


def _objects(values: list[Any]) -> Any:
    """A numpy object array holding ``values`` as they are (numpy would unpack sequences into a 2-D array)."""
    import numpy as np

    array = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        array[i] = value
    return array


class SpanDicts(abc.Sequence):  # type: ignore[type-arg]
    """One trace's spans as MLflow's span dicts (``Span.to_dict()``), decoded from JSON on first use.

    ``search_traces`` fills its ``spans`` column with these, so a DataFrame of
    10,000 traces costs no JSON decoding until spans are read. Behaves as a
    read-only list (``len``, indexing, iteration, ``== [...]``).
    """

    __slots__ = ("_items", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._items: list[dict[str, Any]] | None = None

    def _decoded(self) -> list[dict[str, Any]]:
        if self._items is None:
            self._items = json.loads(self._text)
        return self._items

    def __getitem__(self, index: Any) -> Any:
        return self._decoded()[index]

    def __len__(self) -> int:
        return len(self._decoded())

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._decoded())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SpanDicts):
            other = other._decoded()
        return isinstance(other, list) and self._decoded() == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._decoded())


_FIELD = re.compile(
    r"(?:`(?P<qspan>[^`]*)`|(?P<span>[^.`]+))\.(?P<kind>inputs|outputs)(?:\.(?:`(?P<qkey>[^`]*)`|(?P<key>[^`].*)))?"
)


@dataclass(frozen=True)
class _Field:
    """One ``extract_fields`` entry: a span's inputs or outputs, or one key of them."""

    span_name: str
    kind: str
    key: str | None

    @property
    def column(self) -> str:
        return f"{self.span_name}.{self.kind}" + (f".{self.key}" if self.key is not None else "")

    def extract(self, spans: Sequence[dict[str, Any]]) -> Any:
        found = None
        attribute = INPUTS if self.kind == "inputs" else OUTPUTS
        for span in spans:  # the last span of that name wins, as in MLflow
            if span["name"] == self.span_name:
                value = _loads(span["attributes"].get(attribute))
                if self.key is None:
                    found = value
                elif isinstance(value, dict) and self.key in value:
                    found = value[self.key]
                else:
                    found = None
        return found


def _parse_field(field: str) -> _Field:
    match = _FIELD.fullmatch(str(field))
    if match is None:
        raise InvalidInput(
            f"invalid extract_fields entry {field!r}: use 'span_name.inputs', 'span_name.outputs.key', "
            "with backticks around a name that holds a dot ('`a.b`.inputs')"
        )
    return _Field(match["qspan"] if match["qspan"] is not None else match["span"], match["kind"],
                  match["qkey"] if match["qkey"] is not None else match["key"])  # fmt: skip


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def set_trace_tag(trace_id: str, key: str, value: Any) -> None:
    """Set a tag on a trace (in progress or stored)."""
    key = str(key)
    if not key:
        raise InvalidInput("a trace tag key must not be empty")
    span = _current.get()
    if span is not None and span._owner is not None and span.trace_id == trace_id:
        span._owner.tags[key] = str(value)
        return
    _store().traces.set_tag(trace_id, key, str(value))


def delete_trace_tag(trace_id: str, key: str) -> None:
    """Remove a tag from a stored trace."""
    _store().traces.delete_tag(trace_id, str(key))


def delete_traces(
    experiment_id: str,
    max_timestamp_millis: int | None = None,
    max_traces: int | None = None,
    trace_ids: Sequence[str] | None = None,
) -> int:
    """Delete an experiment's traces: older than ``max_timestamp_millis``, the oldest ``max_traces``, or by id.

    Returns how many were deleted. As in MLflow, at least one criterion is required.
    """
    if max_timestamp_millis is None and max_traces is None and trace_ids is None:
        raise InvalidInput("delete_traces needs max_timestamp_millis, max_traces or trace_ids")
    return _store().traces.delete(experiment_id, max_timestamp_millis, max_traces, trace_ids)
