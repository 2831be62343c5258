"""Traces inline (issue #15 part 7): the HTML span tree, a cell's traces shown after it, ``%lifecycle traces``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle.notebook.traces import trace_html

from .test_magics import run


def _sample() -> lc.tracing.Trace:
    @lc.trace(span_type="RETRIEVER")
    def retrieve(q: str) -> list[str]:
        return ["<script>alert(1)</script>", q]

    @lc.trace(span_type="AGENT")
    def agent(q: str) -> str:
        retrieve(q)
        try:
            with lc.start_span("tool", span_type="TOOL"):
                raise ValueError("tool <failed>")
        except ValueError:
            pass
        return "done"

    agent("what & why")
    return lc.get_trace(lc.get_last_active_trace_id())  # type: ignore[arg-type]


def test_trace_html_is_an_escaped_span_tree(home: Path) -> None:
    trace = _sample()
    page = trace._repr_html_()  # type: ignore[attr-defined]
    assert page == trace_html(trace)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "tool &lt;failed&gt;" in page and "what &amp; why" in page
    # one row per span, children indented under their parent, in call order
    names = re.findall(r"padding-left:(\d+)px;white-space:nowrap\">(\w+)</td>", page)
    assert names == [("6", "agent"), ("22", "retrieve"), ("22", "tool")]
    for span_type in ("AGENT", "RETRIEVER", "TOOL"):
        assert f">{span_type}</span>" in page
    assert page.count('<details class="lc-span-inputs">') == 2  # agent and retrieve have inputs
    assert page.count('<details class="lc-span-outputs">') == 2
    assert ">ERROR</td>" in page and ">OK</td>" in page
    assert "event: exception" in page
    # timeline bars: the root spans the whole width
    widths = [float(w) for w in re.findall(r"width:([\d.]+)%;height:10px", page)]
    assert len(widths) == 3 and widths[0] == pytest.approx(100, abs=0.01) and all(w <= 100 for w in widths)
    assert "http" not in page  # nothing loaded from a CDN


def test_assessments_show_under_the_span_tree(home: Path) -> None:
    trace = _sample()
    assert "lc-trace-assessments" not in trace_html(trace)  # none yet
    tool = next(s for s in trace.data.spans if s.name == "tool")
    trace_id = trace.info.trace_id
    lc.log_feedback(trace_id=trace_id, name="helpful", value="yes", rationale="<b>cites</b> the docs",
                    source=lc.tracing.AssessmentSource("HUMAN", "ann"))  # fmt: skip
    lc.log_feedback(trace_id=trace_id, name="tool_ok", error=RuntimeError("judge <down>"), span_id=tool.span_id)
    lc.log_expectation(trace_id=trace_id, name="expected_response", value="done")
    page = trace_html(lc.get_trace(trace_id))
    table = page.split('<table class="lc-trace-assessments"', 1)[1]
    rows = re.findall(r"<tr>(.*?)</tr>", table)[1:]
    assert len(rows) == 3
    assert ">helpful</b>" in rows[0] and "&quot;yes&quot;" in rows[0] and "color:#2e7d32" in rows[0]
    assert "&lt;b&gt;cites&lt;/b&gt; the docs" in rows[0] and "HUMAN ann" in rows[0]
    assert "error: RuntimeError: judge &lt;down&gt;" in rows[1] and ">tool</td>" in rows[1]  # the span it is about
    assert ">expectation</td>" in rows[2] and "&quot;done&quot;" in rows[2]
    assert "<b>cites" not in page


def test_a_cell_shows_its_traces_and_the_traces_magic_lists_them(ipython: Any) -> None:
    run(ipython, "import jupyter_lifecycle as lc\n@lc.trace(span_type='LLM')\ndef ask(q):\n    return q.upper()")
    _, captured = run(ipython, "ask('hello')\nask('again')")
    html = "".join(o.data.get("text/html", "") for o in captured.outputs)
    assert html.count('class="lc-trace-view"') == 2 and "&quot;HELLO&quot;" in html
    _, captured = run(ipython, "x = 1")
    assert not captured.outputs  # a cell without traces shows nothing more
    # a cell whose value is a trace it made shows it once, as its value (not again after the cell)
    result, captured = run(
        ipython, "@lc.trace\ndef make():\n    return 1\nmake()\nlc.get_trace(lc.get_last_active_trace_id())"
    )
    assert isinstance(result.result, lc.tracing.Trace) and 'class="lc-trace-view"' in result.result._repr_html_()
    assert not captured.outputs

    result, captured = run(ipython, "%lifecycle traces")
    assert result.success
    table = "".join(o.data.get("text/html", "") for o in captured.outputs)
    assert table.count("<td>ask</td>") == 2 and "<td>make</td>" in table and "<td>OK</td>" in table
    result, captured = run(ipython, "%lifecycle traces \"request_preview LIKE '%again%'\"")
    table = "".join(o.data.get("text/html", "") for o in captured.outputs)
    assert result.success and table.count("<td>ask</td>") == 1 and "AGAIN" in table
    result, captured = run(ipython, "%lifecycle traces tags.x = ")
    assert not result.success
    ipython.run_cell("%unload_ext jupyter_lifecycle")
    _, captured = run(ipython, "ask('unloaded')")
    assert not any('class="lc-trace-view"' in o.data.get("text/html", "") for o in captured.outputs)
    ipython.run_cell("%load_ext jupyter_lifecycle")
