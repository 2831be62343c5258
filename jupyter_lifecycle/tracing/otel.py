"""OpenTelemetry in and out: capture ``opentelemetry-sdk`` spans as ours, export ours as OTLP/HTTP.

In: ``capture_otel()`` adds a ``SpanProcessor`` (``LifecycleSpanProcessor``,
which can also be added by hand) to an SDK ``TracerProvider``. Each OTel span
that ends becomes a ``Span`` of ours: started inside one of our spans (an
OTel-instrumented library called from ``@lc.trace`` code), its trace's top
spans become children of that span, in our trace; otherwise the OTel trace
becomes a trace of ours (``tr-`` + its 32 hex digits), written when its root
span ends. Attributes keep their values (JSON-encoded, as our spans keep
them); ``mlflow.spanType`` gives the type, else ``UNKNOWN``.

Out: ``export_otlp(endpoint)`` sends stored traces to an OTLP/HTTP collector
as protobuf (``opentelemetry-exporter-otlp-proto-http``), the span and trace
ids those of the traces, attributes JSON-encoded as MLflow's OTel spans have
them. Both need the ``otel`` extra; the rest of tracing never imports OTel.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput, LifecycleError
from .entities import SPAN_TYPE, Span, SpanEvent, SpanStatus, SpanStatusCode, SpanType, Trace, dump_json
from .queries import get_trace, search_traces
from .spans import _current, _store_and_experiment, _TraceInProgress

try:
    from opentelemetry.sdk.trace import SpanProcessor
except ImportError as exc:  # lc.tracing.capture_otel etc. say what to install
    raise ImportError(
        f"OpenTelemetry support needs opentelemetry-sdk and opentelemetry-exporter-otlp-proto-http "
        f"(pip install 'jupyter-lifecycle[otel]'): {exc}"
    ) from exc

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider

__all__ = ["LifecycleSpanProcessor", "capture_otel", "export_otlp"]


def _hex(number: int, digits: int) -> str:
    return f"{number:0{digits}x}"


class LifecycleSpanProcessor(SpanProcessor):
    """An OpenTelemetry ``SpanProcessor`` that records every span it sees into the store.

    ``provider.add_span_processor(LifecycleSpanProcessor())``, or ``capture_otel()``.
    """

    def __init__(self, experiment_id: str | None = None) -> None:
        super().__init__()
        self.experiment_id = experiment_id
        self._lock = threading.Lock()
        self._joined: dict[int, tuple[_TraceInProgress, str]] = {}  # OTel trace -> (our trace, the parent span)
        self._pending: dict[int, list[Span]] = {}  # OTel trace of its own -> its ended spans
        self._stopped = False

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        """Remember, for an OTel trace's top span started inside one of our spans, which span that is."""
        parent = getattr(span, "parent", None)
        if self._stopped or (parent is not None and not parent.is_remote):
            return
        ours = _current.get()
        if ours is not None and ours._owner is not None:
            with self._lock:
                self._joined[span.context.trace_id] = (ours._owner, ours.span_id)

    def on_end(self, span: ReadableSpan) -> None:
        """Turn the ended OTel span into one of ours; write its trace when the trace is complete."""
        if self._stopped or span.context is None:
            return
        otel_trace = span.context.trace_id
        parent = span.parent
        top = parent is None or parent.is_remote
        with self._lock:
            joined = self._joined.get(otel_trace)
            if joined is not None and top:
                del self._joined[otel_trace]
        if joined is not None:
            owner, parent_id = joined
            ours = _convert(span, owner.trace_id, parent_id if top else _hex(parent.span_id, 16))  # type: ignore[union-attr]
            owner.spans.append(ours)
            if owner.root is not None and owner.root._ended:  # our trace is already written: write it again
                owner.store.trace_writer.put(owner.rows)
            return
        trace_id = "tr-" + _hex(otel_trace, 32)
        ours = _convert(span, trace_id, None if top else _hex(parent.span_id, 16))  # type: ignore[union-attr]
        with self._lock:
            spans = self._pending.setdefault(otel_trace, [])
            spans.append(ours)
            if not top:
                return
            del self._pending[otel_trace]
        store, experiment_id, run_id = _store_and_experiment(self.experiment_id)
        trace = _TraceInProgress(store, experiment_id, run_id)
        trace.trace_id, trace.root = trace_id, ours
        trace.spans = sorted(spans, key=lambda s: s.start_time_ns)
        trace._finish()

    def shutdown(self) -> None:
        """Stop recording (an SDK provider calls this when it shuts down)."""
        self._stopped = True

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is held back once an OTel trace's root span ends; the store's writer flushes on reads."""
        return True


def _convert(span: ReadableSpan, trace_id: str, parent_id: str | None) -> Span:
    attributes = {str(key): dump_json(_plain(value)) for key, value in (span.attributes or {}).items()}
    attributes.setdefault(SPAN_TYPE, dump_json(SpanType.UNKNOWN))
    code = span.status.status_code.name  # UNSET, OK, ERROR
    status = SpanStatus(SpanStatusCode.OK if code == "UNSET" else SpanStatusCode(code), span.status.description or "")
    events = [SpanEvent(event.name, event.timestamp, {k: _plain(v) for k, v in (event.attributes or {}).items()})
              for event in span.events]  # fmt: skip
    start = span.start_time or 0
    return Span(trace_id, _hex(span.context.span_id, 16), parent_id, span.name, start,  # type: ignore[union-attr]
                span.end_time or start, status, attributes, events)  # fmt: skip


def _plain(value: Any) -> Any:
    """An OTel attribute value (tuples for sequences) as JSON-able Python."""
    return list(value) if isinstance(value, tuple) else value


def capture_otel(
    tracer_provider: TracerProvider | None = None, experiment_id: str | None = None
) -> LifecycleSpanProcessor:
    """Record the spans of an OpenTelemetry ``TracerProvider`` (default: the global one) into the store.

    Without an SDK provider set globally, one is created and set. Returns the
    processor; ``processor.shutdown()`` stops recording. Called again for the
    same provider, it returns the processor already added.
    """
    try:
        from opentelemetry import trace as otel_trace
        from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    except ImportError as exc:
        raise InvalidInput(
            f"capture_otel needs opentelemetry-sdk (pip install 'jupyter-lifecycle[otel]'): {exc}"
        ) from exc
    provider = tracer_provider if tracer_provider is not None else otel_trace.get_tracer_provider()
    if not isinstance(provider, SdkTracerProvider):
        if tracer_provider is not None:
            raise InvalidInput(f"capture_otel needs an opentelemetry-sdk TracerProvider, got {type(provider).__name__}")
        provider = SdkTracerProvider()
        otel_trace.set_tracer_provider(provider)
    found = _captured.get(provider)
    if found is not None and not found._stopped and found.experiment_id == experiment_id:
        return found  # called again (a re-run cell): one processor, so no span is recorded twice
    processor = LifecycleSpanProcessor(experiment_id)
    provider.add_span_processor(processor)  # type: ignore[arg-type]
    _captured[provider] = processor
    return processor


_captured: weakref.WeakKeyDictionary[Any, LifecycleSpanProcessor] = weakref.WeakKeyDictionary()


def export_otlp(
    endpoint: str,
    trace_ids: Sequence[str] | None = None,
    filter_string: str | None = None,
    experiment_ids: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> int:
    """Send traces to an OTLP/HTTP collector as protobuf; return how many spans were sent.

    ``endpoint`` is the full URL (``http://localhost:4318/v1/traces``). The
    traces are ``trace_ids``, else those ``search_traces(filter_string=,
    experiment_ids=)`` finds (default: the current experiment's). A collector
    that refuses them is a ``LifecycleError``.
    """
    if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
        raise InvalidInput(
            f"export_otlp needs an http(s) URL such as http://localhost:4318/v1/traces, got {endpoint!r}"
        )
    if trace_ids is not None and (filter_string is not None or experiment_ids is not None):
        raise InvalidInput("export_otlp takes trace_ids or filter_string/experiment_ids, not both")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    if trace_ids is not None:
        traces = [get_trace(trace_id) for trace_id in trace_ids]
    else:
        found = search_traces(experiment_ids=experiment_ids, filter_string=filter_string, return_type="list")
        traces = list(found)  # type: ignore[arg-type]
    spans = [otel for trace in traces for otel in _to_otel(trace)]
    if not spans:
        return 0
    exporter = OTLPSpanExporter(endpoint=endpoint, headers=dict(headers or {}), timeout=timeout)
    try:
        result = exporter.export(spans)
    finally:
        exporter.shutdown()
    if result is not SpanExportResult.SUCCESS:
        raise LifecycleError(
            f"the OTLP collector at {endpoint} did not take the {len(spans)} spans of {len(traces)} traces "
            "(see the warnings above for its answer): check the URL (it ends in /v1/traces) and that it is running"
        )
    return len(spans)


def _to_otel(trace: Trace) -> list[ReadableSpan]:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

    resource = Resource({"service.name": "jupyter-lifecycle", "mlflow.experimentId": trace.info.experiment_id})
    scope = InstrumentationScope("jupyter_lifecycle")
    otel_trace_id = int(trace.info.trace_id.removeprefix("tr-")[:32], 16)

    def context(span_id: str) -> Any:
        return SpanContext(otel_trace_id, int(span_id, 16), is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))

    out = []
    for span in trace.data.spans:
        code = span.status.status_code.value
        attributes: dict[str, Any] = {"mlflow.traceRequestId": dump_json(trace.info.trace_id), **span._attributes}
        events = [Event(e.name, {k: v if isinstance(v, (str, bool, int, float)) else dump_json(v)
                                 for k, v in e.attributes.items()}, e.timestamp) for e in span.events]  # fmt: skip
        out.append(ReadableSpan(
            name=span.name, context=context(span.span_id),
            parent=context(span.parent_id) if span.parent_id else None,
            resource=resource, attributes=attributes, events=events, kind=SpanKind.INTERNAL,
            status=Status(StatusCode[code], span.status.description or None) if code == "ERROR" else Status(StatusCode[code]),
            start_time=span.start_time_ns, end_time=span.end_time_ns, instrumentation_scope=scope,
        ))  # fmt: skip
    return out
