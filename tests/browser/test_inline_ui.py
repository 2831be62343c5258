"""The inline UI in a real JupyterLab and Chromium: charts of a notebook executed by nbclient render offline."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import inline_notebook
from tests.browser.conftest import Lab, open_in_lab, run_command

pytestmark = pytest.mark.browser


def test_executed_notebook_renders_charts_reprs_and_widget(home: Path, tmp_path: Path, lab: Lab, page: object) -> None:
    executed = inline_notebook.execute(tmp_path)
    target = lab.root / "inline_ui.ipynb"
    shutil.copyfile(executed, target)
    # Saved widget state renders only in a trusted notebook (charts and HTML do not need it).
    jupyter = Path(sys.executable).parent / "jupyter"
    subprocess.run([str(jupyter), "trust", str(target)], env=lab.env, check=True, capture_output=True)

    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))  # type: ignore[attr-defined]
    open_in_lab(page, lab, "inline_ui.ipynb")
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")  # type: ignore[attr-defined]
    notebook.locator(".jp-Cell").first.wait_for(timeout=30_000)

    # Vega draws each chart (4 charts, lc.compare, %lifecycle compare) into an SVG or a canvas.
    drawn = notebook.locator(".jp-OutputArea-output .vega-embed").locator("svg.marks, canvas")
    drawn.nth(5).wait_for(timeout=30_000)
    assert drawn.count() >= 6

    # Rich HTML reprs survive Lab's sanitizer, differences highlighted with <mark>.
    html_outputs = notebook.locator(".jp-RenderedHTMLCommon")
    text = " ".join(html_outputs.all_inner_texts())
    for expected in ("Comparing 3 runs", "Run run-2", "Experiment inline-ui", "Model inline-model version 1",
                     "Registered model inline-model"):  # fmt: skip
        assert expected in text, expected
    assert notebook.locator(".jp-RenderedHTMLCommon mark").count() >= 2

    # The run browser, from the widget state saved by nbclient.
    table = notebook.locator(".jl-runs")
    table.wait_for(timeout=30_000)
    boxes = table.locator("input[type=checkbox]")
    assert boxes.count() == 4  # three runs and the one that logged the model: a checkbox each
    assert table.locator("input[type=checkbox]:checked").count() == 2
    assert not [e for e in errors if "vega" in e.lower()], errors
    table.scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "inline_ui.png"), full_page=True)  # type: ignore[attr-defined]


LIVE_CELLS = [
    "import time\n"
    "import jupyter_lifecycle as lc\n"
    "lc.set_experiment('live')\n"
    "run = lc.start_run(run_name='live-run')\n"
    "lc.log_metric('loss', 1.0, step=0)\n"
    "lc.flush()",
    "browser = lc.browse('live', interval=0.2)\n"
    "browser.select([run.info.run_id])\n"
    "browser",
    "for step in range(1, 40):\n"
    "    lc.log_metric('loss', 1 / (step + 1), step=step)\n"
    "    lc.flush()\n"
    "    time.sleep(0.1)\n"
    "lc.end_run()",
]


def test_run_browser_updates_live_in_a_running_kernel(lab: Lab, page: object, tmp_path: Path) -> None:
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in LIVE_CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, str(lab.root / "live.ipynb"))
    open_in_lab(page, lab, "live.ipynb")
    try:
        _run_live(page)
    finally:
        page.screenshot(path=str(tmp_path / "live.png"))  # type: ignore[attr-defined]  (to look at when it fails)


def _run_live(page: object) -> None:
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")  # type: ignore[attr-defined]
    panel.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=30_000)
    # The idle indicator can show before the kernel connection is ready: wait for Lab's own promises.
    page.evaluate(  # type: ignore[attr-defined]
        "async () => { const w = window.jupyterapp.shell.currentWidget;"
        " await w.context.ready; await w.sessionContext.ready; await w.sessionContext.session.kernel.info; }"
    )
    run_command(page, "notebook:run-all-cells")
    # Only the browser's polling thread refreshes the table: FINISHED and the last loss prove it ran
    # in the kernel and that its updates reached the page.
    panel.locator(".jl-runs").wait_for(timeout=30_000)
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => [...document.querySelectorAll('.jl-runs')].some(t => t.textContent.includes('FINISHED')"
        " && t.textContent.includes('0.025'))", timeout=30_000)
    chart = panel.locator(".jp-OutputArea-output .vega-embed").locator("svg.marks, canvas")
    chart.first.wait_for(timeout=30_000)
