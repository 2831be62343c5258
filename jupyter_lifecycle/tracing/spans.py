"""Spans and traces in progress: ``@trace``, ``start_span``, the current span, ``update_current_trace``.

The current span lives in a ``contextvars.ContextVar``: asyncio tasks inherit
their creator's span, and a new thread starts with none, so a span opened in
one thread never becomes the parent of another thread's span. A trace is
kept in memory until its root span ends, then handed whole to the store's
background writer (``store/trace_writer.py``): the traced code pays for
building the spans and one queue put, never for SQLite.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import json
import os
import random
import sys
import threading
import time
import warnings
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal, TypeVar, overload

from ..errors import InvalidState
from ..store import Store
from ..store.traces import SpanRow, TraceRow
from ..tracking import fluent as tracking
from .entities import (
    FUNCTION_NAME,
    INPUTS,
    MODEL_ID,
    OUTPUTS,
    SCHEMA_VERSION,
    SOURCE_RUN,
    SPAN_TYPE,
    TRACE_INPUTS,
    TRACE_NAME,
    TRACE_OUTPUTS,
    Span,
    SpanType,
    Trace,
    TraceData,
    TraceInfo,
    TraceState,
    _b64,
    dump_json,
)

__all__ = [
    "get_current_active_span", "get_last_active_trace_id", "start_span", "start_span_no_context", "trace",
    "update_current_trace",
]  # fmt: skip

F = TypeVar("F", bound=Callable[..., Any])

MAX_PREVIEW = 1000
"""Characters kept in ``request_preview``/``response_preview`` and the trace's input/output metadata
(MLflow's limit); the spans keep inputs and outputs whole."""

TRACE_END_HOOKS: list[Callable[[Trace], None]] = []
"""Called with each trace as it finishes (the notebook shows the traces a cell produced)."""

_current: contextvars.ContextVar[Span | None] = contextvars.ContextVar("lifecycle_current_span", default=None)
_last_trace_id: str | None = None
_random = random.Random()
os.register_at_fork(after_in_child=_random.seed)  # else a forked child makes its parent's next ids again
_lock = threading.Lock()


_ID_FORMATS = {64: "016x", 128: "032x"}


def _new_id(bits: int) -> str:
    return format(_random.getrandbits(bits), _ID_FORMATS[bits])


class _TraceInProgress:
    """A trace whose root span has not ended: its spans, tags and metadata."""

    __slots__ = ("client_request_id", "experiment_id", "metadata", "request_preview", "response_preview",
                 "root", "spans", "store", "tags", "trace_id")  # fmt: skip

    def __init__(self, store: Store, experiment_id: str, run_id: str | None) -> None:
        self.store = store
        self.trace_id = "tr-" + _new_id(128)
        self.experiment_id = experiment_id
        self.spans: list[Span] = []
        self.root: Span | None = None
        self.tags: dict[str, str] = {}
        self.metadata: dict[str, str] = {SCHEMA_VERSION: "3"}
        if run_id is not None:
            self.metadata[SOURCE_RUN] = run_id
        model_id = _active_model_id()
        if model_id is not None:
            self.metadata[MODEL_ID] = model_id
        self.request_preview: str | None = None
        self.response_preview: str | None = None
        self.client_request_id: str | None = None

    def span_ended(self, span: Span) -> None:
        if span is self.root:
            self._finish()
        elif self.root is not None and self.root._ended:
            # A span that outlived its root (a generator left open, a thread still working, a
            # start_span_no_context span): the trace is written again with it ended; the store
            # replaces the earlier version.
            span._owner = None
            self.store.trace_writer.put(self.rows)

    def _finish(self) -> None:
        global _last_trace_id
        for span in self.spans:
            if span._ended:  # the others stay attached, so that their end still reaches the store
                span._owner = None
        _last_trace_id = self.trace_id
        # The rows (and the spans' JSON) are built by the writer thread, not the traced code.
        self.store.trace_writer.put(self.rows)
        if TRACE_END_HOOKS:
            row, _ = self.rows(with_spans=False)
            info = TraceInfo(
                trace_id=row.trace_id, experiment_id=row.experiment_id, request_time=row.request_time,
                state=TraceState(row.state), execution_duration=row.execution_duration,
                request_preview=row.request_preview, response_preview=row.response_preview,
                client_request_id=row.client_request_id, trace_metadata=row.metadata, tags=row.tags,
            )  # fmt: skip
            finished = Trace(info, TraceData(list(self.spans)))
            for hook in list(TRACE_END_HOOKS):
                try:
                    hook(finished)
                except Exception as exc:  # a display hook must never break the traced code
                    warnings.warn(f"jupyter-lifecycle trace hook failed: {exc}", stacklevel=2)

    def rows(self, with_spans: bool = True) -> tuple[TraceRow, list[SpanRow]]:
        """The finished trace as the store's rows."""
        root = self.root
        assert root is not None and root.end_time_ns is not None
        request = root._attributes.get(INPUTS)
        response = root._attributes.get(OUTPUTS)
        metadata = dict(self.metadata)
        if request is not None:
            metadata.setdefault(TRACE_INPUTS, request[:MAX_PREVIEW])
        if response is not None:
            metadata.setdefault(TRACE_OUTPUTS, response[:MAX_PREVIEW])
        usage = _token_usage(self.spans)
        if usage:
            metadata.setdefault(TOKEN_USAGE, json.dumps(usage))
        tags = {TRACE_NAME: root.name, **self.tags}
        row = TraceRow(
            trace_id=self.trace_id, experiment_id=self.experiment_id, name=root.name,
            client_request_id=self.client_request_id, request_time=root.start_time_ns // 1_000_000,
            execution_duration=(root.end_time_ns - root.start_time_ns) // 1_000_000,
            state="ERROR" if root.status.status_code.value == "ERROR" else "OK",
            request_preview=_preview(self.request_preview, request), response_preview=_preview(self.response_preview, response),
            run_id=metadata.get(SOURCE_RUN), model_id=metadata.get(MODEL_ID), tags=tags, metadata=metadata,
        )  # fmt: skip
        if not with_spans:
            return row, []
        trace_b64 = _b64(self.trace_id.removeprefix("tr-"))
        spans: list[SpanRow] = [
            (self.trace_id, s.span_id, s.parent_id, s.name, s._attributes.get(SPAN_TYPE, "").strip('"') or None,
             s.status.status_code.value, s.start_time_ns, s.end_time_ns, s.to_json(trace_b64))
            for s in self.spans
        ]  # fmt: skip
        return row, spans


TOKEN_USAGE = "mlflow.trace.tokenUsage"
"""Trace metadata: the token usage of its LLM spans added up, as MLflow records it."""
CHAT_USAGE = "mlflow.chat.tokenUsage"
"""Span attribute: one LLM call's token usage (``input_tokens``, ``output_tokens``, ``total_tokens``)."""


def _token_usage(spans: list[Span]) -> dict[str, int]:
    total: dict[str, int] = {}
    for span in spans:
        text = span._attributes.get(CHAT_USAGE)
        if text is None:
            continue
        try:
            usage = json.loads(text)
        except ValueError:
            continue
        if isinstance(usage, dict):
            for key in ("input_tokens", "output_tokens", "total_tokens"):
                if isinstance(usage.get(key), int):
                    total[key] = total.get(key, 0) + usage[key]
    return total


def _preview(explicit: str | None, value: str | None) -> str | None:
    text = explicit if explicit is not None else value
    return None if text is None else text[:MAX_PREVIEW]


ACTIVE_MODEL_ENV = "MLFLOW_ACTIVE_MODEL_ID"


def _active_model_id() -> str | None:
    """The active logged model: ``set_active_model``'s (``models.logged.get_active_model_id``), else MLflow's
    ``$MLFLOW_ACTIVE_MODEL_ID``. Looked up without importing ``models``: until something imported it,
    no model can have been made active."""
    logged = sys.modules.get("jupyter_lifecycle.models.logged")
    getter = getattr(logged, "get_active_model_id", None)
    if getter is not None:
        return getter()  # type: ignore[no-any-return]
    return os.environ.get(ACTIVE_MODEL_ENV) or None


def _store_and_experiment(experiment_id: str | None) -> tuple[Store, str, str | None]:
    run = tracking.run_stack()[-1] if tracking.run_stack() else None
    client = run.client if run is not None else tracking.client()
    if experiment_id is None:
        experiment_id = run.info.experiment_id if run is not None else tracking._current_experiment_id(client)
    return client.store, experiment_id, run.info.run_id if run is not None else None


def _encoded(span_type: str | None, attributes: dict[str, Any] | None) -> dict[str, str]:
    """A span's type and attributes JSON-encoded, as spans keep them (once per decorated function)."""
    encoded = {SPAN_TYPE: dump_json(span_type or SpanType.UNKNOWN)}
    encoded.update({str(k): dump_json(v) for k, v in (attributes or {}).items()})
    return encoded


def _open_span(
    name: str,
    encoded: dict[str, str],
    parent: Span | None,
    experiment_id: str | None = None,
    start_time_ns: int | None = None,
) -> Span:
    if parent is not None and parent._owner is not None:
        owner: _TraceInProgress = parent._owner
        span = Span(owner.trace_id, _new_id(64), parent.span_id, name, start_time_ns or time.time_ns(), None, None,
                    encoded.copy())  # fmt: skip
    else:
        store, experiment, run_id = _store_and_experiment(experiment_id)
        owner = _TraceInProgress(store, experiment, run_id)
        span = Span(
            owner.trace_id, _new_id(64), None, name, start_time_ns or time.time_ns(), None, None, encoded.copy()
        )
        owner.root = span
    span._owner = owner
    owner.spans.append(span)
    return span


class _SpanContext:
    """What ``start_span`` returns: enter to get the span, made current until exit."""

    __slots__ = ("_token", "encoded", "name", "span")

    def __init__(self, name: str, encoded: dict[str, str]) -> None:
        self.name, self.encoded = name, encoded
        self._token: contextvars.Token[Span | None] | None = None

    def __enter__(self) -> Span:
        self.span = _open_span(self.name, self.encoded, _current.get())
        self._token = _current.set(self.span)
        return self.span

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]:
        if exc is not None:
            self.span.record_exception(exc)
        self.span.end()
        if self._token is not None:
            _leave(self._token)
        return False  # the exception, if any, goes on unchanged


def _leave(token: contextvars.Token[Span | None]) -> None:
    """Make the span that was current before current again."""
    try:
        _current.reset(token)
    except ValueError:  # left in another context (a generator resumed elsewhere)
        _current.set(None)


def start_span(
    name: str = "span", span_type: str | None = SpanType.UNKNOWN, attributes: dict[str, Any] | None = None
) -> _SpanContext:
    """A span around a block: ``with lc.start_span("retrieve", span_type="RETRIEVER") as span: ...``.

    The span is a child of the current span (or the root of a new trace). An
    exception inside the block is recorded on the span (an ``exception``
    event, status ERROR) and goes on unchanged.
    """
    return _SpanContext(name, _encoded(span_type, attributes))


def start_span_no_context(
    name: str,
    span_type: str | None = SpanType.UNKNOWN,
    parent_span: Span | None = None,
    inputs: Any = None,
    attributes: dict[str, Any] | None = None,
    experiment_id: str | None = None,
    start_time_ns: int | None = None,
) -> Span:
    """A span that is not made current: end it yourself with ``span.end()``.

    Without ``parent_span`` it is the root of a new trace. For callbacks that
    open and close spans from different functions, as MLflow's is.
    """
    span = _open_span(name, _encoded(span_type, attributes), parent_span, experiment_id, start_time_ns)
    if inputs is not None:
        span.set_inputs(inputs)
    return span


def get_current_active_span() -> Span | None:
    """The span current in this thread or task, else ``None``."""
    return _current.get()


@overload
def trace(func: F) -> F: ...
@overload
def trace(
    func: None = None,
    name: str | None = None,
    span_type: str = SpanType.UNKNOWN,
    attributes: dict[str, Any] | None = None,
) -> Callable[[F], F]: ...


def trace(
    func: F | None = None,
    name: str | None = None,
    span_type: str = SpanType.UNKNOWN,
    attributes: dict[str, Any] | None = None,
) -> F | Callable[[F], F]:
    """Decorate a function (or method, generator, async function) so each call is a span.

    ``@lc.trace`` or ``@lc.trace(name=..., span_type="LLM", attributes={...})``.
    The call's arguments are the span's inputs (``self``/``cls`` left out), its
    return value the outputs; a generator's span lasts until it is exhausted
    and its outputs are the items it yielded. An exception is recorded on the
    span and re-raised unchanged.
    """
    if func is None:
        return lambda f: _decorate(f, name, span_type, attributes)
    return _decorate(func, name, span_type, attributes)


def _decorate(func: F, name: str | None, span_type: str, attributes: dict[str, Any] | None) -> F:
    span_name = name or func.__name__
    signature = inspect.signature(func)
    params = list(signature.parameters)
    drop_first = bool(params) and params[0] in ("self", "cls")
    simple = all(p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty for p in signature.parameters.values())
    encoded = _encoded(span_type, {FUNCTION_NAME: func.__name__, **(attributes or {})})

    def inputs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if simple and not kwargs and len(args) == len(params):
            bound = dict(zip(params, args, strict=True))
        else:
            try:
                ba = signature.bind(*args, **kwargs)
                ba.apply_defaults()
                bound = dict(ba.arguments)
            except TypeError:  # the call itself will raise the real error
                bound = {"args": args, "kwargs": kwargs}
        if drop_first:
            bound.pop(params[0], None)
        return bound

    def begin(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[_SpanContext, Span]:
        context = _SpanContext(span_name, encoded)
        span = context.__enter__()
        span.set_inputs(inputs(args, kwargs))
        return context, span

    if inspect.isasyncgenfunction(func):

        @functools.wraps(func)
        async def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
            # `yield from` semantics by hand (async generators have no `yield from`): asend/athrow/aclose
            # reach the wrapped generator, and the span is current only while its code runs.
            span = _open_span(span_name, encoded, _current.get())
            span.set_inputs(inputs(args, kwargs))
            generator = func(*args, **kwargs)
            items: list[Any] = []
            sent: Any = None
            thrown: BaseException | None = None
            while True:
                token = _current.set(span)
                try:
                    if thrown is not None:
                        exc, thrown = thrown, None
                        item = await generator.athrow(exc)
                    else:
                        item = await generator.asend(sent)
                except StopAsyncIteration:
                    _end_generator_span(span, items, token, None)
                    return
                except BaseException as exc:
                    _end_generator_span(span, items, token, exc)
                    raise
                _current.reset(token)
                items.append(item)
                try:
                    sent = yield item
                except GeneratorExit:  # the caller stopped early (aclose)
                    token = _current.set(span)
                    try:
                        await generator.aclose()
                    except BaseException as exc:
                        _end_generator_span(span, items, token, exc)
                        raise
                    _end_generator_span(span, items, token, None)
                    raise
                except BaseException as exc:  # athrow(): handed to the wrapped generator
                    thrown = exc

        return agen_wrapper  # type: ignore[return-value]

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            context, span = begin(args, kwargs)
            try:
                result = await func(*args, **kwargs)
            except BaseException as exc:
                context.__exit__(type(exc), exc, exc.__traceback__)
                raise
            span.set_outputs(result)
            context.__exit__(None, None, None)
            return result

        return async_wrapper  # type: ignore[return-value]

    if inspect.isgeneratorfunction(func):

        @functools.wraps(func)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            # `yield from` semantics by hand, so that the span is current only while the
            # generator's own code runs (each next/send/throw), never in the caller between items.
            span = _open_span(span_name, encoded, _current.get())
            span.set_inputs(inputs(args, kwargs))
            generator = func(*args, **kwargs)
            items: list[Any] = []
            sent: Any = None
            thrown: BaseException | None = None
            while True:
                token = _current.set(span)
                try:
                    if thrown is not None:
                        exc, thrown = thrown, None
                        item = generator.throw(exc)
                    else:
                        item = generator.send(sent)
                except StopIteration as stop:
                    _end_generator_span(span, items, token, None)
                    return stop.value
                except BaseException as exc:
                    _end_generator_span(span, items, token, exc)
                    raise
                _current.reset(token)
                items.append(item)
                try:
                    sent = yield item
                except GeneratorExit:  # the caller stopped early (close)
                    token = _current.set(span)
                    try:
                        generator.close()
                    except BaseException as exc:
                        _end_generator_span(span, items, token, exc)
                        raise
                    _end_generator_span(span, items, token, None)
                    raise
                except BaseException as exc:  # throw(): handed to the wrapped generator
                    thrown = exc

        return gen_wrapper  # type: ignore[return-value]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        # begin() and _SpanContext.__exit__ inlined: this is the hot path of traced code
        span = _open_span(span_name, encoded, _current.get())
        token = _current.set(span)
        span._set(INPUTS, inputs(args, kwargs))
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            span.record_exception(exc)
            span.end()
            _leave(token)
            raise
        span._set(OUTPUTS, result)
        span.end()
        _leave(token)
        return result

    return wrapper  # type: ignore[return-value]


def _end_generator_span(
    span: Span, items: list[Any], token: contextvars.Token[Span | None], exc: BaseException | None
) -> None:
    """Leave a traced generator's span (no longer current) and end it with the items it yielded."""
    _current.reset(token)
    span.set_outputs(items)
    if exc is not None and not isinstance(exc, GeneratorExit):
        span.record_exception(exc)
    span.end()


def update_current_trace(
    tags: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    client_request_id: str | None = None,
    request_preview: str | None = None,
    response_preview: str | None = None,
) -> None:
    """Add tags/metadata to the trace in progress, or set its request/response previews."""
    span = _current.get()
    if span is None or span._owner is None:
        raise InvalidState("no trace is in progress: call update_current_trace inside a traced function or span")
    owner: _TraceInProgress = span._owner
    owner.tags.update({str(k): str(v) for k, v in (tags or {}).items()})
    owner.metadata.update({str(k): str(v) for k, v in (metadata or {}).items()})
    if client_request_id is not None:
        owner.client_request_id = str(client_request_id)
    if request_preview is not None:
        owner.request_preview = str(request_preview)
    if response_preview is not None:
        owner.response_preview = str(response_preview)


def get_last_active_trace_id() -> str | None:
    """The id of the last trace this process finished, else ``None``."""
    return _last_trace_id
