"""GenAI tracing with MLflow 3's names (issue #15): traces of nested, timed spans in the store.

No IPython here: the inline view lives in ``notebook/traces.py``.
"""

from .assessments import Assessment, AssessmentError, AssessmentSource, AssessmentSourceType, Expectation, Feedback
from .entities import Span, SpanEvent, SpanStatus, SpanStatusCode, SpanType, Trace, TraceData, TraceInfo, TraceState
from .feedback import (
    delete_assessment,
    get_assessment,
    log_assessment,
    log_expectation,
    log_feedback,
    update_assessment,
)
from .queries import delete_trace_tag, delete_traces, flush_trace_async_logging, get_trace, search_traces, set_trace_tag
from .spans import (
    get_current_active_span,
    get_last_active_trace_id,
    start_span,
    start_span_no_context,
    trace,
    update_current_trace,
)

__all__ = [
    "LifecycleSpanProcessor", "Span", "SpanEvent", "SpanStatus", "SpanStatusCode", "SpanType", "Trace", "TraceData", "TraceInfo", "TraceState",
    "capture_otel", "delete_trace_tag", "delete_traces", "export_otlp", "flush_trace_async_logging", "get_current_active_span",
    "get_last_active_trace_id", "get_trace", "search_traces", "set_trace_tag", "start_span", "start_span_no_context",
    "trace", "update_current_trace",
    # assessments
    "Assessment", "AssessmentError", "AssessmentSource", "AssessmentSourceType", "Expectation", "Feedback",
    "delete_assessment", "get_assessment", "log_assessment", "log_expectation", "log_feedback", "update_assessment",
]  # fmt: skip

_OTEL = ("LifecycleSpanProcessor", "capture_otel", "export_otlp")


def __getattr__(name: str) -> object:
    # OpenTelemetry (the otel extra) is imported only when these are first used.
    if name in _OTEL:
        from . import otel

        return getattr(otel, name)
    raise AttributeError(f"module 'jupyter_lifecycle.tracing' has no attribute {name!r}")
