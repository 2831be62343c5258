"""The inline trace view in a real JupyterLab and Chromium: a span's inputs expand on click (issue #15 part 7)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle.notebook.traces import trace_html
from tests.browser.conftest import Lab, open_in_lab

pytestmark = pytest.mark.browser


def test_a_spans_inputs_expand_on_click_in_an_untrusted_notebook(home: Path, lab: Lab, page: object) -> None:
    @lc.trace(span_type="RETRIEVER")
    def retrieve(question: str) -> list[str]:
        return ["<b>doc</b> about " + question]

    @lc.trace(span_type="AGENT")
    def agent(question: str) -> str:
        return retrieve(question)[0]

    agent("aliases")
    trace = lc.get_trace(lc.get_last_active_trace_id())  # type: ignore[arg-type]
    # The notebook as a kernel with %load_ext would have saved it, opened later and not trusted.
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("agent('aliases')", execution_count=1)
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": trace_html(trace), "text/plain": "Trace"})
    ]
    notebook.cells = [cell]
    nbformat.write(notebook, lab.root / "trace_view.ipynb")

    open_in_lab(page, lab, "trace_view.ipynb")
    view = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedHTMLCommon")  # type: ignore[attr-defined]
    view.locator("table").first.wait_for(timeout=60_000)
    assert "retrieve" in view.inner_text() and "RETRIEVER" in view.inner_text()
    inputs = view.locator("details").filter(has=page.locator("summary", has_text="inputs")).nth(1)  # type: ignore[attr-defined]
    body = inputs.locator("pre")
    assert not body.is_visible()
    inputs.locator("summary").click()
    body.wait_for(state="visible", timeout=10_000)
    assert '"question": "aliases"' in body.inner_text()
    # the output's markup is text, never HTML, even after expanding
    outputs = view.locator("details").filter(has=page.locator("summary", has_text="outputs")).nth(1)  # type: ignore[attr-defined]
    outputs.locator("summary").click()
    assert "<b>doc</b> about aliases" in outputs.locator("pre").inner_text()
    assert view.locator("pre b").count() == 0


EVALUATION_CELLS = [
    "%load_ext jupyter_lifecycle\nimport json\nimport jupyter_lifecycle as lc",
    """@lc.trace(span_type="RETRIEVER")
def retrieve(question):
    return ["<i>doc</i> on " + question]

@lc.trace(span_type="AGENT")
def agent(question):
    return "Paris" if "France" in retrieve(question)[0] else "no idea"

def judge(prompt):
    return json.dumps({"result": "yes" if "Paris" in prompt else "no", "rationale": "judged <offline>"})

result = lc.genai.evaluate(
    data=[{"inputs": {"question": "Capital of France?"}, "expectations": {"expected_response": "Paris"}}],
    predict_fn=agent,
    scorers=[lc.genai.scorers.ExactMatch(), lc.genai.scorers.Correctness(model=judge)],
)
result.metrics""",
    "lc.get_trace(result.result_df.trace_id[0])",
]


def test_an_executed_evaluation_shows_assessments_and_expands_inputs(home: Path, lab: Lab, page: object) -> None:
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in EVALUATION_CELLS]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(notebook, timeout=180, kernel_name="python3").execute()  # a real kernel, this store
    shown = notebook.cells[2].outputs[0]["data"]
    assert "lc-trace-assessments" in shown["text/html"]  # the trace displayed by the last cell
    nbformat.write(notebook, lab.root / "evaluated.ipynb")

    open_in_lab(page, lab, "evaluated.ipynb")
    view = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .lc-trace-view").last  # type: ignore[attr-defined]
    view.wait_for(timeout=60_000)
    table = view.locator("table.lc-trace-assessments")
    assert table.is_visible()
    text = table.inner_text()
    for expected in ("expected_response", "exact_match", "correctness", "LLM_JUDGE judge", "judged <offline>"):
        assert expected in text
    # the retriever span's inputs expand on click, as text
    retriever = view.locator("tr").filter(has_text="RETRIEVER")
    inputs = retriever.locator("details.lc-span-inputs")
    body = inputs.locator("pre")
    assert not body.is_visible()
    inputs.locator("summary").click()
    body.wait_for(state="visible", timeout=10_000)
    assert '"question": "Capital of France?"' in body.inner_text()
    outputs = retriever.locator("details.lc-span-outputs")
    outputs.locator("summary").click()
    assert "<i>doc</i> on Capital of France?" in outputs.locator("pre").inner_text()
    assert view.locator("pre i").count() == 0
