"""The run browser, driven without a browser: set trait values, ``.click()``, check the store and the outputs."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle.notebook import charts
from jupyter_lifecycle.notebook.widgets import RunBrowser

VEGALITE = "application/vnd.vegalite.v5+json"


@pytest.fixture
def runs(home: Path) -> list[str]:
    """Three finished runs in experiment 'wid' and one in 'other'."""
    lc.set_experiment("wid")
    ids = []
    for i, model in enumerate(["rf", "rf", "gb"]):
        with lc.start_run(run_name=f"w{i}") as run:
            lc.log_params({"model": model, "depth": i})
            for step in range(20):
                lc.log_metric("loss", 1 / (step + 1) + i, step=step)
            lc.log_metric("acc", 0.7 + i / 10)
            ids.append(run.info.run_id)
        time.sleep(0.002)  # distinct start times: runs started in one millisecond order by their random ids
    lc.set_experiment("other")
    with lc.start_run(run_name="elsewhere"):
        lc.log_metric("acc", 0.1)
    return ids


def chart_rows(spec: dict) -> list[dict]:
    """The inline data rows of a vega-lite spec."""
    return charts.chart_data(spec).to_dict("records")


def names(browser: RunBrowser) -> list[str]:
    return [row[1].split()[0] for row in browser.rows()[1:]]


def test_filter_sort_and_inline_error(runs: list[str]) -> None:
    browser = RunBrowser("wid", live=False)
    assert sorted(names(browser)) == ["w0", "w1", "w2"]
    browser.sort_by.value = "name"
    assert names(browser) == ["w2", "w1", "w0"]
    assert browser.rows()[0] == ["", "run", "status", "started (UTC)", "acc", "loss", "depth", "model"]
    assert [row[0] for row in browser.rows()[1:]] == ["[ ]"] * 3  # a checkbox per run, aligned in a grid
    assert browser.rows()[1][4:6] == ["0.9", "2.05"]  # w2's acc and last loss, rounded
    browser.filter.value = "params.model = 'rf'"
    assert names(browser) == ["w1", "w0"] and browser.error.value == ""
    browser.filter.value = "metrics.acc >>> 1"
    assert "invalid" in browser.error.value.lower() or "error" in browser.error.value.lower()
    assert names(browser) == ["w1", "w0"], "a bad filter keeps the last good table"
    browser.filter.value = ""
    browser.sort_by.value = "metrics.acc"
    assert names(browser) == ["w2", "w1", "w0"]
    browser.descending.value = False
    assert names(browser) == ["w0", "w1", "w2"]
    browser.experiment.value = "__all__"
    assert "elsewhere" in names(browser)
    browser.close()


def test_selection_updates_the_comparison(runs: list[str]) -> None:
    browser = RunBrowser("wid", live=False)
    assert browser.chart.outputs == ()
    browser.select([runs[0], runs[2]])
    assert [row[0] for row in browser.rows()[1:]] == ["[x]", "[ ]", "[x]"]
    assert [r.info.run_name for r in browser.selected] == ["w2", "w0"]
    outputs = browser.chart.outputs
    html = outputs[0]["data"]["text/html"]
    assert "Comparing 2 runs" in html and "<mark>rf</mark>" in html  # w2 (gb) first: w0 differs from it
    spec = outputs[1]["data"][VEGALITE]
    runs_in_chart = {row["run"] for row in chart_rows(spec)}
    assert runs_in_chart == {"w0", "w2"}
    assert browser.metric.options == ("acc", "loss")
    assert browser.metric.value == "loss", "the longest history is charted first"
    assert outputs[1]["data"][VEGALITE]["title"] == "loss by step"
    browser.metric.value = "acc"
    spec = browser.chart.outputs[1]["data"][VEGALITE]
    assert spec["title"] == "acc by step"
    browser.select([])
    assert browser.chart.outputs == ()
    browser.close()


def test_register_button_needs_one_run_with_a_model(runs: list[str]) -> None:
    browser = RunBrowser("wid", live=False)
    browser.register.click()
    assert "select exactly one run" in browser.status.value
    browser.select([runs[1]])
    browser.register.click()
    assert "type a registered model name" in browser.status.value
    browser.model_name.value = "wid-model"
    browser.register.click()
    assert "has no model" in browser.status.value
    assert lc.search_model_versions().empty
    browser.close()


def test_register_and_scoring_buttons_use_the_selected_model(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.linear_model import LogisticRegression

    from jupyter_lifecycle import sklearn as lc_sklearn

    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    lc.set_experiment("reg")
    with lc.start_run(run_name="with-model") as run:
        lc_sklearn.log_model(LogisticRegression().fit(X, [0, 0, 1, 1]), name="model", input_example=X.head(2))
    browser = RunBrowser("reg", live=False)
    browser.select([run.info.run_id])
    browser.model_name.value = "champion-model"
    browser.register.click()
    assert "registered" in browser.status.value and "version 1" in browser.status.value, browser.status.value
    versions = lc.search_model_versions("name = 'champion-model'")
    assert list(versions["run_id"]) == [run.info.run_id]
    monkeypatch.chdir(tmp_path)
    browser.scoring.click()
    assert "wrote scoring notebook" in browser.status.value, browser.status.value
    written = tmp_path / "scoring" / "score_with-model.ipynb"
    assert '<a href="scoring/score_with-model.ipynb"' in browser.status.value  # a link that opens it
    notebook = nbformat.read(written, as_version=4)
    assert run.info.run_id in "".join(cell.source for cell in notebook.cells)
    browser.scoring.click()  # a second click never overwrites the first notebook
    assert (tmp_path / "scoring" / "score_with-model-2.ipynb").exists()
    assert 'href="scoring/score_with-model-2.ipynb"' in browser.status.value
    browser.close()


def test_live_updates_a_running_run(home: Path) -> None:
    lc.set_experiment("live")
    run = lc.start_run(run_name="training")
    lc.log_metric("loss", 1.0, step=0)
    browser = RunBrowser("live", live=False)
    browser.select([run.info.run_id])
    assert "RUNNING" in " ".join(browser.rows()[1])
    assert browser.poll() is False, "nothing changed: no redraw"
    lc.log_metric("loss", 0.5, step=1)
    assert browser.poll() is True
    assert "0.5" in " ".join(browser.rows()[1])
    spec = browser.chart.outputs[1]["data"][VEGALITE]
    assert [row["value"] for row in chart_rows(spec)] == [1.0, 0.5]
    lc.end_run()
    assert browser.poll() is True and "FINISHED" in " ".join(browser.rows()[1])
    assert browser.poll() is False, "a finished table is not polled"
    browser.close()


def test_live_thread_polls_in_the_background(home: Path) -> None:
    lc.set_experiment("live")
    with lc.start_run(run_name="bg"):
        lc.log_metric("loss", 1.0, step=0)
        browser = lc.browse("live", interval=0.05)
        lc.log_metric("acc", 0.25, step=0)
        lc.flush()
        deadline = time.monotonic() + 20
        while "acc" not in browser.rows()[0] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "acc" in browser.rows()[0]
    browser.close()
    assert browser._thread is None
