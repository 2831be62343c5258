"""The main-area views (runs grid, comparison, model pages, artifact previews) in a real JupyterLab and Chromium.

Each check reads the store back with the Python API. Screenshots of every
view at 1400×900 go to ``tests/browser/screenshots/`` (ignored by git), to be
looked at after a run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

import jupyter_lifecycle as lc
from tests.browser.conftest import Lab, open_in_lab, run_command
from tests.browser.test_sidebar import lab_store

pytestmark = pytest.mark.browser

EXPERIMENT = "grid-sweep"
MODEL = "grid-model"
SHOTS = Path(__file__).parent / "screenshots"
GRID = ".jl-runs-grid"
# The grid's geometry (grid.ts): rows under a header, after the row numbers.
ROW_HEADER, HEADER, ROW, COLUMN = 56, 28, 24, 120


def seed(lab: Lab) -> dict[str, Any]:
    """Eight runs of a sweep (lr log-spaced, two model kinds, a loss history, a one-value accuracy,
    one failed run); two versions of a registered model, with artifacts of every kind."""
    import pandas as pd
    from PIL import Image
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True, as_frame=True)
    with lab_store(lab) as client:
        experiment_id = lc.set_experiment(EXPERIMENT).experiment_id
        ids = []
        for i in range(8):
            lr = 10 ** (-4 + i * 0.5)
            status = "FAILED" if i == 5 else "FINISHED"
            with lc.start_run(run_name=f"sweep-{i}", experiment_id=experiment_id) as run:
                lc.log_params({"lr": lr, "model": "rf" if i % 2 == 0 else "lr", "seed": 7})
                for step in range(5):
                    lc.log_metric("loss", 1 / (step + 1) + i / 10, step=step)
                lc.log_metric("accuracy", 0.80 + i / 100)
                lc.set_tag("team", "a" if i < 4 else "b")
                if i == 6:
                    info = lc.sklearn.log_model(LogisticRegression(max_iter=300).fit(x, y), name="model",
                                                input_example=x.head(2))  # fmt: skip
                    lc.log_dict({"lr": lr, "layers": [1, 2]}, "config.json")
                    lc.log_dict({"lr": lr, "name": "sweep"}, "params.yaml")
                    lc.log_text("hello artifacts\n", "notes.txt")
                    lc.log_table(pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}), "tables/t.json")
                    folder = client.artifact_dir(run.info.run_id)
                    pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]}).to_csv(folder / "tables" / "t.csv", index=False)
                    pd.DataFrame({"p": [3.5, 4.5]}).to_parquet(folder / "tables" / "t.parquet")
                    Image.new("RGB", (40, 20), "red").save(folder / "red.png")
                    (folder / "shape.svg").write_text(
                        '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20" '
                        'fill="blue"/></svg>'
                    )
                    import nbformat

                    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
                        "print('from the notebook')", outputs=[nbformat.v4.new_output("stream", text="from the notebook\n")])]),
                        folder / "train.ipynb")  # fmt: skip
                    artifact_run = run.info.run_id
            if status == "FAILED":
                client.set_terminated(run.info.run_id, "FAILED")
            ids.append(run.info.run_id)
        first = lc.register_model(info.model_uri, MODEL)
        second = lc.register_model(info.model_uri, MODEL)
        client.update_model_version(MODEL, second.version, description="the second one")
        client.create_transition_request(MODEL, first.version, "Staging", "ready for staging")
        client.create_transition_request(MODEL, second.version, "Production", "please")
    return {"experiment_id": experiment_id, "runs": ids, "artifact_run": artifact_run, "versions": [1, 2]}


def store_order(lab: Lab, experiment_id: str, filter_string: str = "", order_by: list[str] | None = None) -> list[str]:
    """Run ids as the store's ``search_runs`` orders them."""
    with lab_store(lab) as client:
        return [r.info.run_id for r in client.search_runs([experiment_id], filter_string, order_by=order_by)]


def grid_ids(page: Any) -> list[str]:
    """The run ids the grid shows, in order."""
    value = page.locator(GRID).get_attribute("data-run-ids")
    return value.split(",") if value else []


def wait_idle(page: Any, selector: str) -> None:
    """Wait until the view under ``selector`` has finished loading."""
    page.wait_for_function(
        "s => { const n = document.querySelector(s); return n && !n.hasAttribute('data-loading') }", arg=selector
    )


def grid_point(page: Any, column: int | None, row: int | None) -> tuple[float, float]:
    """Page coordinates of the middle of a cell (``row=None``: the column header)."""
    box = page.locator(f"{GRID} .lm-DataGrid").bounding_box()
    x = box["x"] + ROW_HEADER + (column or 0) * COLUMN + COLUMN / 2
    y = box["y"] + (HEADER / 2 if row is None else HEADER + row * ROW + ROW / 2)
    return x, y


def eventually(read: Any, want: Any = "checked in the browser", seconds: float = 30) -> Any:
    """``read()`` once it returns ``want`` (or its last value after ``seconds``): the browser's request is async."""
    import time

    deadline = time.monotonic() + seconds
    value = read()
    while value != want and time.monotonic() < deadline:
        time.sleep(0.2)
        value = read()
    return value


def shot(page: Any, name: str) -> None:
    """A 1400×900 screenshot of the page into ``tests/browser/screenshots``."""
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_runs_grid_comparison_model_pages_and_artifacts(lab: Lab, page: Any) -> None:
    seeded = seed(lab)
    experiment_id = seeded["experiment_id"]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(lab.page_url("lab?reset"))
    page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=60_000)
    page.wait_for_function("window.jupyterapp.commands.hasCommand('jupyter-lifecycle:open-runs')", timeout=30_000)

    # The grid: the store's runs in the store's order, the failed one tinted.
    run_command(page, "jupyter-lifecycle:open-runs", {"experimentIds": [experiment_id]})
    page.wait_for_function(f"document.querySelector('{GRID}')?.dataset.runIds?.length > 0")
    wait_idle(page, GRID)
    assert grid_ids(page) == store_order(lab, experiment_id)
    columns = page.locator(GRID).get_attribute("data-columns").split(",")
    assert columns[:3] == ["attributes.run_name", "attributes.status", "attributes.start_time"]
    assert {"metrics.accuracy", "metrics.loss", "params.lr", "params.model"} <= set(columns)
    shot(page, "runs-grid")

    # Sort: a click on a column header asks the server; a second click flips.
    accuracy = columns.index("metrics.accuracy")
    page.mouse.click(*grid_point(page, accuracy, None))
    page.wait_for_function(f"document.querySelector('{GRID}').dataset.order === 'metrics.accuracy DESC'")
    wait_idle(page, GRID)
    assert grid_ids(page) == store_order(lab, experiment_id, order_by=["metrics.accuracy DESC"])
    page.mouse.click(*grid_point(page, accuracy, None))
    page.wait_for_function(f"document.querySelector('{GRID}').dataset.order === 'metrics.accuracy ASC'")
    wait_idle(page, GRID)
    assert grid_ids(page) == store_order(lab, experiment_id, order_by=["metrics.accuracy ASC"])

    # Pick columns: drop the loss, add the team tag.
    page.locator(f"{GRID} .jl-picker > summary").first.click()
    page.locator('.jl-picker-list input[data-column="metrics.loss"]').uncheck()
    wait_idle(page, GRID)
    page.locator('.jl-picker-list input[data-column="tags.team"]').check()
    page.wait_for_function(f"document.querySelector('{GRID}').dataset.columns.includes('tags.team')")
    columns = page.locator(GRID).get_attribute("data-columns").split(",")
    assert "metrics.loss" not in columns and "tags.team" in columns
    page.locator(f"{GRID} .jl-picker > summary").first.click()

    # A bad filter: the parser's message beside the box; a good one: the store's runs.
    box = page.locator(f"{GRID} .jl-grid-filter-input")
    box.fill("metrics.accuracy >< 1")
    page.locator(f"{GRID} .jl-grid-filter-apply").click()
    message = page.locator(f"{GRID} .jl-grid-filter .jl-grid-filter-error")
    message.wait_for(state="visible")
    assert "><" in message.inner_text()
    shot(page, "runs-grid-filter-error")
    box.fill("params.model = 'rf'")
    page.locator(f"{GRID} .jl-grid-filter-apply").click()
    message.wait_for(state="hidden")
    wait_idle(page, GRID)
    rf = store_order(lab, experiment_id, "params.model = 'rf'", ["metrics.accuracy ASC"])
    assert grid_ids(page) == rf and len(rf) == 4

    # Select three runs (click, ctrl-click) and compare them.
    page.mouse.click(*grid_point(page, 0, 0))
    page.keyboard.down("Control")
    page.mouse.click(*grid_point(page, 0, 1))
    page.mouse.click(*grid_point(page, 0, 3))
    page.keyboard.up("Control")
    selected = page.locator(GRID).get_attribute("data-selected").split(",")
    assert selected == [rf[0], rf[1], rf[3]]
    shot(page, "runs-grid-selected")
    page.locator(f"{GRID} .jl-grid-compare").click()
    page.locator(".jl-compare .jl-compare-charts[data-specs]").wait_for(state="attached")
    wait_idle(page, ".jl-compare")
    specs = {s["title"]: s for s in json.loads(page.locator(".jl-compare-charts").get_attribute("data-specs"))}
    assert specs["accuracy"]["mark"]["type"] == "point"  # one value per run: a point, not an empty line
    assert specs["loss"]["mark"]["type"] == "line" and specs["loss"]["y"]["title"] == "loss"
    page.locator(".jl-compare .jl-compare-chart .vega-embed :is(canvas, svg.marks)").first.wait_for()
    with lab_store(lab) as client:
        runs = [client.get_run(run_id) for run_id in selected]
    # Params: only the cells that differ from the first run are marked (lr differs, model and seed do not).
    lr_cells = page.locator('.jl-compare-params tr[data-param="lr"] td')
    assert [c.get_attribute("class") for c in lr_cells.all()] == ["", "jl-diff", "jl-diff"]
    assert page.locator('.jl-compare-params tr[data-param="seed"] td.jl-diff').count() == 0
    # Metrics: min and max only for the loss (a history), not for the one-value accuracy.
    assert page.locator('.jl-compare-metrics-table tr[data-metric="loss"]').count() == 3
    assert page.locator('.jl-compare-metrics-table tr[data-metric="accuracy"]').count() == 1
    last = page.locator('.jl-compare-metrics-table tr[data-metric="accuracy"] td').first.inner_text()
    assert last == str(round(runs[0].data.metrics["accuracy"], 4))
    shot(page, "comparison")

    # Smoothing: the debiased moving average (TensorBoard's) over the faint raw line, from the store's history.
    page.locator(".jl-compare-smoothing").fill("0.6")
    page.wait_for_function("document.querySelector('.jl-compare-charts').dataset.specs.includes('smoothing 0.6')")
    wait_idle(page, ".jl-compare")
    specs = {s["title"]: s for s in json.loads(page.locator(".jl-compare-charts").get_attribute("data-specs"))}
    loss = specs["loss (smoothing 0.6)"]
    assert [layer["y"]["field"] for layer in loss["layer"]] == ["value", "smoothed"]
    assert loss["layer"][0]["mark"]["opacity"] < 0.5  # the raw line kept, faint
    with lab_store(lab) as client:
        history = [m.value for m in sorted(client.get_metric_history(runs[0].info.run_id, "loss"), key=lambda m: m.step)]
    expected, last = [], 0.0
    for i, value in enumerate(history):
        last = last * 0.6 + 0.4 * value
        expected.append(last / (1 - 0.6 ** (i + 1)))
    name = runs[0].info.run_name
    assert [v["smoothed"] for v in loss["values"] if v["run"] == name] == pytest.approx(expected)
    assert [v["value"] for v in loss["values"] if v["run"] == name] == pytest.approx(history)
    page.locator(".jl-compare-chart .vega-embed :is(canvas, svg.marks)").first.wait_for()
    shot(page, "comparison-smoothed")

    # Scatter: accuracy against lr (log-sampled: a log axis), coloured by lr; a point per run, from the store.
    scatter = page.locator(".jl-compare-scatter")
    scatter.scroll_into_view_if_needed()
    page.locator(".jl-scatter-x").select_option("params.lr")
    page.locator(".jl-scatter-y").select_option("metrics.accuracy")
    page.locator(".jl-scatter-colour").select_option("params.lr")
    page.wait_for_function("JSON.parse(document.querySelector('.jl-compare-scatter').dataset.spec).encoding.color.title"
                           " === 'lr'")  # fmt: skip
    spec = json.loads(scatter.get_attribute("data-spec"))
    assert spec["encoding"]["x"]["title"] == "lr (log)" and spec["encoding"]["x"]["scale"]["type"] == "log"
    assert spec["encoding"]["y"]["title"] == "accuracy"
    points = {p["run_id"]: p for p in spec["data"]["values"]}
    assert set(points) == set(selected)
    for run in runs:
        point = points[run.info.run_id]
        assert point["x"] == pytest.approx(float(run.data.params["lr"]))
        assert point["y"] == pytest.approx(run.data.metrics["accuracy"])
        assert point["colour"] == run.data.params["lr"]
    domain = spec["encoding"]["color"]["scale"]["domain"]
    assert domain == sorted((r.data.params["lr"] for r in runs), key=float)
    # The drawn marks: three points, each filled with its lr's colour.
    symbols = scatter.locator("svg g.mark-symbol.role-mark path")  # not the legend's symbols
    symbols.nth(2).wait_for()
    assert symbols.count() == 3
    palette = spec["encoding"]["color"]["scale"]["range"]
    fills = sorted(s.get_attribute("fill") for s in symbols.all())
    assert fills == sorted(palette[i] for i in range(3))
    shot(page, "comparison-scatter")

    # Brushing the accuracy axis's upper half keeps the runs above the middle, in the comparison and the grid.
    axis = page.locator('.jl-parallel-axis[data-axis="metrics.accuracy"]')
    axis.scroll_into_view_if_needed()
    area = axis.bounding_box()
    middle = area["y"] + area["height"] / 2
    page.mouse.move(area["x"] + area["width"] / 2, area["y"] + 1)
    page.mouse.down()
    page.mouse.move(area["x"] + area["width"] / 2, middle, steps=5)
    page.mouse.up()
    values = [r.data.metrics["accuracy"] for r in runs]
    threshold = (min(values) + max(values)) / 2
    kept = [r.info.run_id for r in runs if r.data.metrics["accuracy"] >= threshold - 1e-9]
    assert 0 < len(kept) < 3
    assert page.locator(".jl-compare").get_attribute("data-kept-runs").split(",") == kept
    assert [r.get_attribute("data-run-id") for r in page.locator(".jl-compare-runs tr[data-run-id]:visible").all()] == kept
    shot(page, "comparison-brushed")
    assert grid_ids(page) == [run_id for run_id in rf if run_id in kept]  # the grid shows only the brushed runs

    # The version page: approve one request, reject another; a refused alias says why beside its button.
    run_command(page, "jupyter-lifecycle:open-model", {"name": MODEL})
    page.locator(".jl-model-versions-page .jl-versions-table").wait_for()
    versions = page.locator(".jl-versions-table tbody tr")
    assert [v.get_attribute("data-version") for v in versions.all()] == ["2", "1"]
    assert "the second one" in versions.first.inner_text()
    with lab_store(lab) as client:
        source = client.get_run(client.get_model_version(MODEL, 1).run_id).data.metrics["accuracy"]
    assert versions.first.locator('td[data-metric="accuracy"]').inner_text() == str(round(source, 4))
    shot(page, "model-versions")
    run_command(page, "jupyter-lifecycle:open-model", {"name": MODEL, "version": 1})
    version_page = page.locator('.jl-version-page[data-version="1"]')
    version_page.wait_for()
    assert "sepal length (cm)" in version_page.locator(".jl-signature-table").inner_text()
    shot(page, "version-page")
    pending = version_page.locator('.jl-requests-table tr[data-status="PENDING"]')
    assert pending.get_attribute("data-stage") == "Staging"
    pending.locator(".jl-approve").click()
    page.locator('.jl-version-page .jl-requests-table tr[data-status="APPROVED"]').wait_for()
    with lab_store(lab) as client:
        assert client.get_model_version(MODEL, 1).current_stage == "Staging"
    run_command(page, "jupyter-lifecycle:open-model", {"name": MODEL, "version": 2})
    page.locator('.jl-version-page[data-version="2"] .jl-reject').click()
    page.locator('.jl-version-page .jl-requests-table tr[data-status="REJECTED"]').wait_for()
    with lab_store(lab) as client:
        assert client.get_model_version(MODEL, 2).current_stage == "None"
        assert [r.status for r in client.list_transition_requests(MODEL, 2, include_resolved=True)] == ["REJECTED"]
    page.locator('.jl-version-page[data-version="2"] .jl-alias-input').fill("latest")
    page.locator('.jl-version-page[data-version="2"] .jl-set-alias').click()
    refused = page.locator('.jl-version-page[data-version="2"] .jl-set-alias-group .jl-inline-error')
    refused.wait_for(state="visible")
    assert "latest" in refused.inner_text()
    shot(page, "version-page-refused-alias")
    page.locator('.jl-version-page[data-version="2"] .jl-description-input').fill("checked in the browser")
    page.locator('.jl-version-page[data-version="2"] .jl-save-description').click()
    assert eventually(lambda: lc.Client(lab.store).get_model_version(MODEL, 2).description) == "checked in the browser"

    # Artifact previews of every kind, checked against the files.
    run_id = seeded["artifact_run"]
    with lab_store(lab) as client:
        folder = client.artifact_dir(run_id)

    def preview(path: str, kind: str) -> Any:
        run_command(page, "jupyter-lifecycle:open-artifact", {"runId": run_id, "path": path})
        view = page.locator(f'.jl-artifact-view[data-kind="{kind}"]').last
        view.wait_for()
        shot(page, "artifact-" + path.replace("/", "-"))
        return view

    assert json.loads(preview("config.json", "json").locator("pre").inner_text()) == json.loads(
        (folder / "config.json").read_text()
    )
    assert "name: sweep" in preview("params.yaml", "yaml").locator("pre").inner_text()
    assert preview("notes.txt", "text").locator("pre").inner_text() == (folder / "notes.txt").read_text()
    for path in ("tables/t.csv", "tables/t.parquet", "tables/t.json"):
        cells = preview(path, "table").locator(".jl-preview-table tbody tr").first.locator("td").all_inner_texts()
        assert cells == {"tables/t.csv": ["1", "0.5"], "tables/t.parquet": ["3.5"], "tables/t.json": ["1", "x"]}[path]
    image = preview("red.png", "image").locator("img")
    page.wait_for_function("img => img.complete && img.naturalWidth === 40", arg=image.element_handle())
    svg = preview("shape.svg", "image").locator("img")
    page.wait_for_function("img => img.complete && img.naturalWidth === 40", arg=svg.element_handle())
    assert "from the notebook" in preview("train.ipynb", "notebook").locator(".jl-preview-output").inner_text()
    assert "sklearn" in preview("model/MLmodel", "mlmodel").locator("pre").inner_text()
    assert not errors, errors
    assert math.isfinite(threshold)


def test_lifecycle_open_in_a_notebook_opens_the_runs_view(lab: Lab, page: Any) -> None:
    import nbformat

    with lab_store(lab) as client:
        experiment_id = client.create_experiment("opened-from-a-magic")
        run_id = client.create_run(experiment_id, run_name="only").info.run_id
        client.set_terminated(run_id)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "%load_ext jupyter_lifecycle\n%lifecycle open runs opened-from-a-magic")])  # fmt: skip
    nbformat.write(notebook, lab.root / "open_magic.ipynb")
    open_in_lab(page, lab, "open_magic.ipynb")
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").first.wait_for(timeout=30_000)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)  # the kernel is up
    run_command(page, "notebook:run-all-cells")
    page.locator(".jl-open-output .jl-open-button").wait_for(state="attached", timeout=60_000)  # the output: a button
    page.wait_for_function(f"document.querySelector('{GRID}')?.dataset.runIds === '{run_id}'", timeout=60_000)
