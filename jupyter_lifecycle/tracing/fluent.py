"""MLflow 3's fluent tracing API in one namespace: spans (``spans.py``) and stored traces (``queries.py``)."""

from .queries import (
    COLUMNS,
    delete_trace_tag,
    delete_traces,
    flush_trace_async_logging,
    get_trace,
    search_traces,
    set_trace_tag,
)
from .spans import (
    MAX_PREVIEW,
    TRACE_END_HOOKS,
    get_current_active_span,
    get_last_active_trace_id,
    start_span,
    start_span_no_context,
    trace,
    update_current_trace,
)

__all__ = [
    "COLUMNS", "MAX_PREVIEW", "TRACE_END_HOOKS", "delete_trace_tag", "delete_traces", "flush_trace_async_logging",
    "get_current_active_span", "get_last_active_trace_id", "get_trace", "search_traces", "set_trace_tag",
    "start_span", "start_span_no_context", "trace", "update_current_trace",
]  # fmt: skip
