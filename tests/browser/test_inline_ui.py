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


def test_parallel_coordinates_brush_per_axis(home: Path, lab: Lab, page: object) -> None:
    """A drag along one axis of the inline chart keeps the runs inside that band; the other axes do not brush."""

    import nbformat

    import jupyter_lifecycle as lc
    from jupyter_lifecycle.notebook import charts

    ids = {}
    for i, (model, lr) in enumerate([("rf", 0.1), ("rf", 0.3), ("gb", 0.2), ("gb", 0.25)]):
        with lc.start_run(run_name=f"run-{i}") as run:
            lc.log_params({"model": model, "lr": lr})
            lc.log_metric("accuracy", 0.8 + i / 20)
            ids[f"run-{i}"] = (lr, run.info.run_id)
    spec = charts.parallel_coordinates([v[1] for v in ids.values()], params=["model", "lr"], metric="accuracy").to_dict()
    spec["usermeta"] = {"embedOptions": {"renderer": "svg"}}  # marks readable from the page
    cell = nbformat.v4.new_code_cell("lc.charts.parallel_coordinates(ids, params=['model', 'lr'], metric='accuracy')")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"application/vnd.vegalite.v5+json": spec})]
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), str(lab.root / "parallel.ipynb"))

    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))  # type: ignore[attr-defined]
    page.set_viewport_size({"width": 1400, "height": 900})  # type: ignore[attr-defined]
    open_in_lab(page, lab, "parallel.ipynb")
    chart = page.locator(".jp-OutputArea-output .vega-embed svg.marks")  # type: ignore[attr-defined]
    chart.wait_for(timeout=30_000)
    rules = chart.locator("g.mark-rule.role-mark line")
    lines = chart.locator("g.mark-line.role-mark path")
    lines.nth(3).wait_for()
    assert rules.count() == 3  # model, lr, accuracy

    def opacities() -> dict[str, float]:
        """Each run's line opacity, by the run named in its aria label."""
        found = {}
        for line in lines.all():
            label = line.get_attribute("aria-label") or ""
            name = next(n for n in ids if f"run: {n};" in label + ";")
            found[name] = float(line.get_attribute("opacity") or 1)
        return found

    assert set(opacities().values()) == {0.85}  # no brush: every run bright
    # Drag down the lr axis from its top (above lr 0.3: the y domain is [-0.04, 1.04]) to 60% of its height.
    axis = rules.nth(1).bounding_box()
    x = axis["x"] + axis["width"] / 2
    page.mouse.move(x, axis["y"] + 1)  # type: ignore[attr-defined]
    page.mouse.down()  # type: ignore[attr-defined]
    page.mouse.move(x, axis["y"] + axis["height"] * 0.6, steps=6)  # type: ignore[attr-defined]
    page.mouse.up()  # type: ignore[attr-defined]
    lo, hi = 0.1 + 0.2 * (1.04 - 0.6 * 1.08), 0.3  # lr at 60% down the axis; lr 0.1 is out, 0.2 in
    want = {name: 0.85 if lo <= lr <= hi else 0.08 for name, (lr, _) in ids.items()}
    assert opacities() == want and sorted(want.values()) == [0.08, 0.85, 0.85, 0.85]
    band = chart.locator("g.mark-rect.role-mark:not([class*=brush]) path")  # not vega-lite's own brush marks
    assert band.count() == 1  # the brush drawn on its own axis only
    band_box = band.bounding_box()
    assert abs(band_box["x"] + band_box["width"] / 2 - x) < 3 and band_box["width"] < 40
    # A second brush, on the accuracy axis from 60% down to the bottom: a run must be inside both.
    axis = rules.nth(2).bounding_box()
    x = axis["x"] + axis["width"] / 2
    page.mouse.move(x, axis["y"] + axis["height"] * 0.6)  # type: ignore[attr-defined]
    page.mouse.down()  # type: ignore[attr-defined]
    page.mouse.move(x, axis["y"] + axis["height"] - 1, steps=6)  # type: ignore[attr-defined]
    page.mouse.up()  # type: ignore[attr-defined]
    top = 0.8 + 0.15 * (1.04 - 0.6 * 1.08)  # accuracy at 60% down its axis
    accuracy = {f"run-{i}": 0.8 + i / 20 for i in range(4)}
    want = {n: 0.85 if lo <= lr <= hi and accuracy[n] <= top else 0.08 for n, (lr, _) in ids.items()}
    assert opacities() == want and want == {"run-0": 0.08, "run-1": 0.85, "run-2": 0.08, "run-3": 0.08}
    assert band.count() == 2
    Path(__file__).parent.joinpath("screenshots").mkdir(exist_ok=True)
    page.screenshot(path=str(Path(__file__).parent / "screenshots" / "inline-parallel-brushed.png"))  # type: ignore[attr-defined]
    assert not errors, errors
