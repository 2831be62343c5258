"""Traces inline: a span tree with types, status, timeline bars and expandable inputs/outputs, and assessments.

Plain escaped HTML with inline styles (JupyterLab strips ``<style>`` in
untrusted output, and there is no script or CDN), so a trace also shows in an
executed notebook opened later. ``<details>`` makes inputs and outputs
expand on click without JavaScript. ``attach()`` gives ``Trace`` its
``_repr_html_``; ``CellTraces`` shows the traces a cell produced after it
runs (registered by ``%load_ext jupyter_lifecycle``).
"""

from __future__ import annotations

import html
import json
from typing import Any

from ..tracing import Trace
from ..tracing import fluent as tracing
from ..tracing.entities import Span
from .display import fmt_time, register_repr

__all__ = ["CellTraces", "assessments_html", "attach", "trace_html"]

MAX_SHOWN = 10
"""Traces shown after one cell (as MLflow's notebook display); the rest are in ``%lifecycle traces``."""
MAX_JSON = 20_000
"""Characters of one input/output shown inline (the span keeps it whole)."""

_COLORS = {"OK": "#2e7d32", "ERROR": "#c62828", "UNSET": "#757575"}
_TYPE_COLORS = {"LLM": "#6a1b9a", "CHAT_MODEL": "#6a1b9a", "RETRIEVER": "#00838f", "TOOL": "#ef6c00",
                "AGENT": "#1565c0", "CHAIN": "#455a64", "EMBEDDING": "#558b2f"}  # fmt: skip
_CELL = "padding:2px 6px;border-bottom:1px solid #eee;vertical-align:top;text-align:left"


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _pretty(text: str | None) -> str:
    if text is None:
        return ""
    try:
        shown = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        shown = text
    if len(shown) > MAX_JSON:
        shown = shown[:MAX_JSON] + f"\n... ({len(shown) - MAX_JSON} more characters in the span)"
    return shown


def _ordered(spans: list[Span]) -> list[tuple[Span, int]]:
    """Spans depth-first (children by start time) with their depth; orphans are shown as roots."""
    ids = {span.span_id for span in spans}
    children: dict[str | None, list[Span]] = {}
    for span in spans:
        parent = span.parent_id if span.parent_id in ids else None
        children.setdefault(parent, []).append(span)
    out: list[tuple[Span, int]] = []
    stack = [(span, 0) for span in sorted(children.get(None, []), key=lambda s: s.start_time_ns, reverse=True)]
    while stack:
        span, depth = stack.pop()
        out.append((span, depth))
        kids = sorted(children.get(span.span_id, []), key=lambda s: s.start_time_ns, reverse=True)
        stack.extend((kid, depth + 1) for kid in kids)
    return out


def _ms(ns: int | None) -> str:
    return "" if ns is None else f"{ns / 1e6:.1f} ms"


def trace_html(trace: Trace) -> str:
    """One trace as HTML: a header line, then one row per span with a timeline bar."""
    info = trace.info
    spans = trace.data.spans
    start = min((s.start_time_ns for s in spans), default=0)
    end = max((s.end_time_ns or s.start_time_ns for s in spans), default=start)
    total = max(end - start, 1)
    state = info.state.value
    head = (
        f'<div style="font-size:12px;margin:4px 0"><b>Trace</b> <code>{_e(info.trace_id)}</code> '
        f'<span style="color:{_COLORS.get(state, "#333")};font-weight:bold">{_e(state)}</span> '
        f"{_e(info.execution_duration)} ms · {len(spans)} spans · {_e(fmt_time(info.request_time))} UTC"
        + "".join(f' · <code>{_e(k)}={_e(v)}</code>' for k, v in info.tags.items() if not k.startswith("mlflow."))
        + "</div>"
    )  # fmt: skip
    rows = []
    for span, depth in _ordered(spans):
        status = span.status.status_code.value
        span_type = span.span_type or ""
        left = (span.start_time_ns - start) / total * 100
        width = max(((span.end_time_ns or end) - span.start_time_ns) / total * 100, 0.5)
        bar = (
            f'<div style="position:relative;height:10px;width:200px;background:#f2f2f2">'
            f'<div title="{_e(_ms(span.duration_ns))}" style="position:absolute;left:{left:.2f}%;width:{width:.2f}%;'
            f'height:10px;background:{_COLORS.get(status, "#757575") if status == "ERROR" else "#5c8ddb"}"></div></div>'
        )
        details = []
        for label, text in (("inputs", span._attributes.get("mlflow.spanInputs")),
                            ("outputs", span._attributes.get("mlflow.spanOutputs"))):  # fmt: skip
            if text is not None:
                details.append(
                    f'<details class="lc-span-{label}"><summary>{label}</summary>'
                    f'<pre style="margin:0;white-space:pre-wrap;max-height:300px;overflow:auto">{_e(_pretty(text))}</pre></details>'
                )
        for event in span.events:
            message = event.attributes.get("exception.message", "")
            details.append(
                f'<details><summary style="color:{_COLORS["ERROR"] if event.name == "exception" else "inherit"}">'
                f"event: {_e(event.name)} {_e(message)}</summary>"
                f'<pre style="margin:0;white-space:pre-wrap">{_e(json.dumps(event.attributes, indent=2, default=str))}</pre></details>'
            )
        type_color = _TYPE_COLORS.get(span_type, "#616161")
        rows.append(
            "<tr>"
            f'<td style="{_CELL};padding-left:{6 + 16 * depth}px;white-space:nowrap">{_e(span.name)}</td>'
            f'<td style="{_CELL}"><span style="color:#fff;background:{type_color};border-radius:3px;padding:0 4px;'
            f'font-size:10px">{_e(span_type)}</span></td>'
            f'<td style="{_CELL};color:{_COLORS.get(status, "#333")}">{_e(status)}</td>'
            f'<td style="{_CELL};white-space:nowrap;text-align:right">{_e(_ms(span.duration_ns))}</td>'
            f'<td style="{_CELL}">{bar}</td>'
            f'<td style="{_CELL}">{"".join(details)}</td>'
            "</tr>"
        )
    header = "".join(f'<th style="{_CELL}">{h}</th>' for h in ("span", "type", "status", "duration", "timeline", ""))
    table = (
        f'<table class="lc-trace" style="border-collapse:collapse;font-size:12px;margin:2px 0">'
        f"<thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return f'<div class="lc-trace-view">{head}{table}{assessments_html(trace)}</div>'


def _verdict_color(value: Any) -> str:
    if value is True or (isinstance(value, str) and value.lower() == "yes"):
        return _COLORS["OK"]
    if value is False or (isinstance(value, str) and value.lower() == "no"):
        return _COLORS["ERROR"]
    return "inherit"


def assessments_html(trace: Trace) -> str:
    """The trace's feedback and expectations as a table (empty when it has none)."""
    if not trace.info.assessments:
        return ""
    names = {span.span_id: span.name for span in trace.data.spans}
    rows = []
    for a in trace.info.assessments:
        error = getattr(a, "error", None)
        value = f"error: {error.error_code}: {error.error_message or ''}" if error is not None else _pretty(json.dumps(a.value))
        color = _COLORS["ERROR"] if error is not None else _verdict_color(a.value)
        rows.append(
            "<tr>"
            f'<td style="{_CELL}">{_e(a.kind)}</td><td style="{_CELL}"><b>{_e(a.name)}</b></td>'
            f'<td style="{_CELL};color:{color}"><pre style="margin:0;white-space:pre-wrap">{_e(value)}</pre></td>'
            f'<td style="{_CELL}">{_e(a.rationale)}</td>'
            f'<td style="{_CELL}">{_e(a.source.source_type)} {_e(a.source.source_id)}</td>'
            f'<td style="{_CELL}">{_e(names.get(a.span_id or "", ""))}</td>'
            "</tr>"
        )
    header = "".join(f'<th style="{_CELL}">{h}</th>' for h in ("", "assessment", "value", "rationale", "source", "span"))
    return (
        f'<table class="lc-trace-assessments" style="border-collapse:collapse;font-size:12px;margin:4px 0">'
        f"<thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


class CellTraces:
    """Collects the traces finished while a cell runs and shows them after it (``%load_ext`` wires it)."""

    def __init__(self) -> None:
        self.traces: list[Trace] = []

    def collect(self, trace: Trace) -> None:
        """``TRACE_END_HOOKS`` callback."""
        self.traces.append(trace)

    def pre_run_cell(self, info: Any) -> None:
        """IPython ``pre_run_cell``: start afresh."""
        self.traces = []

    def post_run_cell(self, result: Any) -> None:
        """IPython ``post_run_cell``: display the cell's traces unless the cell's value is one of them."""
        traces, self.traces = self.traces, []
        value = getattr(result, "result", None)
        shown = {value.info.trace_id} if isinstance(value, Trace) else set()
        traces = [t for t in traces if t.info.trace_id not in shown]
        if not traces:
            return
        from IPython.display import HTML, display

        more = len(traces) - MAX_SHOWN
        body = "".join(trace_html(t) for t in traces[:MAX_SHOWN])
        if more > 0:
            body += f'<div style="font-size:12px">... and {more} more traces: <code>%lifecycle traces</code></div>'
        display(HTML(body))

    def register(self, shell: Any) -> None:
        """Hook into ``shell`` and the tracing API."""
        shell.events.register("pre_run_cell", self.pre_run_cell)
        shell.events.register("post_run_cell", self.post_run_cell)
        tracing.TRACE_END_HOOKS.append(self.collect)

    def unregister(self, shell: Any) -> None:
        """Undo ``register``."""
        shell.events.unregister("pre_run_cell", self.pre_run_cell)
        shell.events.unregister("post_run_cell", self.post_run_cell)
        if self.collect in tracing.TRACE_END_HOOKS:
            tracing.TRACE_END_HOOKS.remove(self.collect)


def attach() -> None:
    """Give ``Trace`` its ``_repr_html_``."""
    register_repr(Trace, trace_html)


attach()
