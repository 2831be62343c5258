"""``%lifecycle compare`` and ``%lifecycle browse`` in an in-process IPython shell."""

from __future__ import annotations

from typing import Any

from IPython.utils.capture import capture_output
from ipywidgets.widgets.widget import _instances

import jupyter_lifecycle as lc
from jupyter_lifecycle.notebook.widgets import RunBrowser

VEGALITE = "application/vnd.vegalite.v5+json"


def cell(shell: Any, source: str) -> tuple[Any, Any]:
    with capture_output() as captured:
        result = shell.run_cell(source, store_history=True)
    return result, captured


def test_lifecycle_compare_takes_ids_prefixes_or_a_filter(ipython: Any) -> None:
    ids = []
    for i, model in enumerate(["rf", "rf", "gb"]):
        with lc.start_run(run_name=f"m{i}") as run:
            lc.log_params({"model": model, "depth": i})
            for step in range(5):
                lc.log_metric("loss", 1 / (step + 1) + i, step=step)
            ids.append(run.info.run_id)
    result, captured = cell(ipython, f"%lifecycle compare {ids[0]} {ids[2][:10]}")
    assert result.success, result.error_in_exec
    page = captured.outputs[0].data["text/html"]
    assert "Comparing 2 runs" in page and "<mark>gb</mark>" in page
    assert VEGALITE in captured.outputs[1].data
    result, captured = cell(ipython, "%lifecycle compare \"params.model = 'rf'\" --metric loss --smoothing 0.5 --log")
    assert result.success, result.error_in_exec
    assert "Comparing 2 runs" in captured.outputs[0].data["text/html"]
    spec = captured.outputs[1].data[VEGALITE]
    assert spec["layer"][0]["encoding"]["y"]["scale"]["type"] == "log"
    result, captured = cell(ipython, "%lifecycle compare \"metrics.loss >< 1\"")
    assert not result.success and "filter" in str(result.error_in_exec).lower()
    result, _ = cell(ipython, "%lifecycle compare deadbeef")
    assert not result.success and "no run with id 'deadbeef'" in str(result.error_in_exec)


def test_lifecycle_browse_shows_the_run_browser(ipython: Any) -> None:
    with lc.start_run(run_name="b0"):
        lc.log_metric("acc", 0.5)
    lc.set_experiment("second")
    with lc.start_run(run_name="b1"):
        lc.log_metric("acc", 0.7)
    result, captured = cell(ipython, "%lifecycle browse -e second metrics.acc > 0.6")
    assert result.success, result.error_in_exec
    model_id = captured.outputs[0].data["application/vnd.jupyter.widget-view+json"]["model_id"]
    browser = _instances[model_id]
    assert isinstance(browser, RunBrowser)
    assert [r.info.run_name for r in browser.selected] == [] and browser.filter.value == "metrics.acc > 0.6"
    assert [row[1] for row in browser.rows()[1:]] == ["b1"]
    browser.close()
