"""The Lifecycle sidebar (labextension/) in a real JupyterLab and Chromium, over the server extension's REST API.

The store is seeded from this process with the Python API; every check of a
change made in the browser reads the store back with the Python API too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import jupyter_lifecycle as lc
from tests.browser.conftest import Lab, run_command

pytestmark = pytest.mark.browser

EXPERIMENT = "sidebar-iris"
MODEL = "sidebar-model"
SIDEBAR = "#jupyter-lifecycle-sidebar"


@contextmanager
def lab_store(lab: Lab) -> Iterator[lc.Client]:
    """This process on the store the JupyterLab server uses, then back on its own."""
    lc.set_store(lab.env["JUPYTER_LIFECYCLE_HOME"])
    try:
        yield lc.Client()
    finally:
        lc.set_store(None)


def seed(lab: Lab) -> dict[str, str]:
    """Three runs with params and metric histories; the last logs a model, registered as the champion."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    run_ids = {}
    with lab_store(lab) as client:
        experiment_id = lc.set_experiment(EXPERIMENT).experiment_id
        for name, c in [("run-a", 0.01), ("run-b", 0.1), ("run-c", 1.0)]:
            with lc.start_run(run_name=name, experiment_id=experiment_id) as run:
                lc.log_params({"C": c, "solver": "lbfgs"})
                for step in range(5):
                    lc.log_metrics({"loss": 1 / (step + 1) / (1 + c), "accuracy": 0.5 + c * step / 10}, step=step)
                if name == "run-c":
                    model = LogisticRegression(C=c, max_iter=200).fit(x, y)
                    info = lc.sklearn.log_model(model, name="model")
                    version = lc.register_model(info.model_uri, MODEL)
                    client.set_registered_model_alias(MODEL, "champion", version.version)
            run_ids[name] = run.info.run_id
        run_ids["experiment_id"] = experiment_id
    return run_ids


def open_sidebar(lab: Lab, page: object, errors: list[str]) -> Any:
    """Open JupyterLab afresh and the lifecycle sidebar in it; page errors go to ``errors``. The sidebar's locator."""
    page.on("pageerror", lambda exc: errors.append(str(exc)))  # type: ignore[attr-defined]
    page.goto(lab.page_url("lab?reset"))  # type: ignore[attr-defined]
    page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=60_000)  # type: ignore[attr-defined]
    # Lab activates the plugins of federated extensions after the splash screen goes.
    page.wait_for_function(  # type: ignore[attr-defined]
        "window.jupyterapp.commands.hasCommand('jupyter-lifecycle:open-sidebar')", timeout=30_000
    )
    run_command(page, "jupyter-lifecycle:open-sidebar")
    sidebar = page.locator(SIDEBAR)  # type: ignore[attr-defined]
    sidebar.wait_for(state="visible")
    return sidebar


def test_sidebar_browses_runs_and_manages_the_registry(lab: Lab, page: object) -> None:
    ids = seed(lab)
    errors: list[str] = []
    sidebar = open_sidebar(lab, page, errors)
    page.locator(  # type: ignore[attr-defined]  # the command opened the sidebar's tab, on the left
        '.jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current[data-id="jupyter-lifecycle-sidebar"]'
    ).wait_for()

    # Experiments -> runs, with up to three metric columns.
    experiment = sidebar.locator(f'.jl-experiment[data-experiment-name="{EXPERIMENT}"]')
    experiment.wait_for()
    assert experiment.locator(".jl-count").inner_text() == "3"
    experiment.click()
    runs = sidebar.locator(".jl-runs-table .jl-run")
    runs.nth(2).wait_for()
    assert runs.count() == 3
    headers = sidebar.locator(".jl-runs-table th").all_inner_texts()
    assert headers[:3] == ["Run", "Status", "Started"] and {"accuracy", "loss"} <= set(headers)

    # The filter box takes an MLflow filter string; a bad one shows the server's own message.
    filter_input = sidebar.locator(".jl-filter-input")
    filter_input.fill("params.C = '1.0'")
    filter_input.press("Enter")
    sidebar.locator(".jl-summary", has_text="1 run").wait_for()
    assert runs.count() == 1 and runs.first.get_attribute("data-run-id") == ids["run-c"]
    bad = "metrics.accuracy >> 2"
    with lab_store(lab) as client, pytest.raises(lc.InvalidInput) as expected:
        client.search_runs([ids["experiment_id"]], bad)
    filter_input.fill(bad)
    filter_input.press("Enter")
    error = sidebar.locator(".jl-error")
    error.wait_for()
    assert error.inner_text() == str(expected.value)
    assert error.get_attribute("data-error-code") == "INVALID_PARAMETER_VALUE"
    assert filter_input.is_visible()  # the user can fix the filter in place
    page.screenshot(path=str(lab.root.parent / "sidebar-filter-error.png"))  # type: ignore[attr-defined]
    filter_input.fill("")
    filter_input.press("Enter")
    runs.nth(2).wait_for()
    assert error.is_hidden()

    # Run detail: params, the metric-history chart drawn by JupyterLab's vega-lite renderer, registered versions.
    sidebar.locator(f'.jl-run[data-run-id="{ids["run-c"]}"]').click()
    detail = sidebar.locator(f'.jl-run-detail[data-run-id="{ids["run-c"]}"]')
    detail.wait_for()
    params = dict(row.split("\t") for row in detail.locator(".jl-params-table tbody tr").all_inner_texts())
    assert params == {"C": "1.0", "solver": "lbfgs"}
    assert set(detail.locator(".jl-metrics-table td:first-child").all_inner_texts()) == {"accuracy", "loss"}
    drawn = detail.locator(".jl-chart .vega-embed").locator("svg.marks, canvas")
    drawn.nth(1).wait_for(timeout=20_000)
    assert drawn.count() == 2  # one chart per metric (accuracy, loss)
    # Each chart fills the sidebar's width (vega-lite width "container"), not a fixed ~160 px: all of its
    # embed's content box (beside the actions menu's padding), and most of the chart host.
    host = detail.locator(".jl-chart-host").bounding_box()
    for chart in drawn.all():
        room = chart.evaluate("c => { const e = c.closest('.vega-embed'), s = getComputedStyle(e);"
                              " return e.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight) }")  # fmt: skip
        width = chart.bounding_box()["width"]
        assert abs(width - room) <= 2 and width >= 0.8 * host["width"], (width, room, host)
    assert detail.locator(".jl-registered-version").all_inner_texts() == [f"{MODEL} version 1"]
    assert detail.locator(".jl-artifact").count() >= 1
    page.set_viewport_size({"width": 1400, "height": 900})  # type: ignore[attr-defined]
    shots = Path(__file__).parent / "screenshots"  # ignored by git, looked at after a run
    shots.mkdir(exist_ok=True)
    page.screenshot(path=str(shots / "sidebar-run.png"))  # type: ignore[attr-defined]

    # Back link, then the Models tab: the champion alias and the latest version.
    detail.locator(".jl-back").click()
    runs.nth(2).wait_for()
    sidebar.locator('.jl-tab[data-tab="models"]').click()
    model = sidebar.locator(f'.jl-model[data-model-name="{MODEL}"]')
    model.wait_for()
    assert "@champion" in model.inner_text() and "v1" in model.inner_text()
    model.click()
    version = sidebar.locator('.jl-version[data-version="1"]')
    version.wait_for()
    assert version.locator(".jl-alias").all_inner_texts()[0].startswith("@champion")
    assert ids["run-c"][:8] in version.locator(".jl-run-link").inner_text()

    # Registry actions go through the API: the store agrees.
    version.locator(".jl-alias-input").fill("candidate")
    version.locator(".jl-alias-set").click()
    version.locator('.jl-alias[data-alias="candidate"]').wait_for()
    version.locator(".jl-stage-select").select_option("Staging")
    version.locator(".jl-stage-set").click()
    version.locator(".jl-stage", has_text="Staging").wait_for()
    with lab_store(lab) as client:
        assert client.get_model_version_by_alias(MODEL, "candidate").version == 1
        assert client.get_model_version(MODEL, 1).current_stage == "Staging"
    # A refused action says why beside the form that sent it (#17: not at the top of a scrolled panel).
    version.locator(".jl-alias-input").fill("latest")
    version.locator(".jl-alias-set").click()
    refused = version.locator(".jl-alias-form .jl-inline-error")
    refused.wait_for()
    assert "reserved" in refused.inner_text() and error.is_hidden()
    version.locator(".jl-alias-input").fill("")

    # A scoring notebook is generated on the server and opened in the main area.
    version.locator(".jl-scoring-notebook").click()
    notebook_tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="score_")  # type: ignore[attr-defined]
    notebook_tab.wait_for(timeout=20_000)
    path = page.evaluate("window.jupyterapp.shell.currentWidget.context.path")  # type: ignore[attr-defined]
    assert path.endswith(".ipynb") and MODEL in path and (lab.root / path).is_file(), path
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").first.wait_for()  # type: ignore[attr-defined]
    assert error.is_hidden()
    assert not errors, errors
    page.screenshot(path=str(lab.root.parent / "sidebar-models.png"))  # type: ignore[attr-defined]
