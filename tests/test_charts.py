"""Charts, comparison and HTML reprs: the emitted vega-lite specs carry the right data, encodings and bounds."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle import config
from jupyter_lifecycle.errors import InvalidInput, NotFound
from jupyter_lifecycle.notebook import charts


@pytest.fixture
def runs(home: Path) -> list[str]:
    """Three finished runs with params, a 300-step loss (a spike at step 150) and a sparse acc."""
    lc.set_experiment("charts")
    ids = []
    for i, (model, lr) in enumerate([("rf", 0.1), ("rf", 0.2), ("gb", 0.3)]):
        with lc.start_run(run_name=f"run-{i}") as run:
            lc.log_params({"model": model, "lr": lr, "seed": 7})
            for step in range(300):
                lc.log_metric("loss", 1.0 / (step + 1) + i + (5.0 if step == 150 else 0.0), step=step)
            for step in range(0, 300, 100):
                lc.log_metric("acc", 0.5 + 0.1 * i + step / 1000, step=step)
            ids.append(run.info.run_id)
    return ids


def values(chart: object) -> list[dict]:
    """The inline data rows of a chart spec."""
    frame = charts.chart_data(chart)  # type: ignore[arg-type]
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in frame.to_dict("records")]  # fmt: skip


def test_metric_history_has_one_line_per_run(runs: list[str]) -> None:
    chart = charts.metric_history(runs, "loss")
    spec = chart.to_dict()
    rows = values(chart)
    assert {r["run"] for r in rows} == {"run-0", "run-1", "run-2"}
    assert len(rows) == 900  # 300 points each: under the bound, nothing dropped
    line, point = spec["layer"]
    assert line["mark"]["type"] == "line"
    assert line["encoding"]["x"]["field"] == "step" and line["encoding"]["x"]["type"] == "quantitative"
    assert line["encoding"]["y"]["field"] == "value" and line["encoding"]["y"]["title"] == "loss"
    assert line["encoding"]["color"]["field"] == "run" and line["encoding"]["color"]["legend"]["labelLimit"] == 0
    # a history of one point is drawn as a point mark (a line of one point draws nothing)
    assert point["mark"]["type"] == "point" and {"filter": "datum.points == 1"} in point["transform"]
    first = [r for r in rows if r["run"] == "run-1"]
    assert first[0] == {"run": "run-1", "metric": "loss", "step": 0, "value": 2.0}
    assert max(r["value"] for r in first) == pytest.approx(6.0 + 1 / 151)


def test_downsampling_bounds_points_and_keeps_spikes(runs: list[str]) -> None:
    chart = charts.metric_history(runs, "loss", max_points=40)
    rows = values(chart)
    for label in ("run-0", "run-1", "run-2"):
        mine = [r for r in rows if r["run"] == label]
        assert len(mine) <= 40
        steps = [r["step"] for r in mine]
        assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == 299
        assert any(r["step"] == 150 for r in mine), "the spike must survive downsampling"


def test_downsample_bound_and_nan() -> None:
    data = np.sin(np.linspace(0, 20, 10_000))
    data[5000] = 50.0
    data[100:200] = np.nan
    keep = charts.downsample(data, 500)
    assert len(keep) <= 500 and keep[0] == 0 and keep[-1] == 9999 and 5000 in keep
    assert np.all(np.diff(keep) > 0)
    assert list(charts.downsample(np.arange(5.0), 10)) == [0, 1, 2, 3, 4]


def test_big_chart_stays_under_budget_and_row_limit(home: Path) -> None:
    """Forty runs x 5,000 steps (200k points) ship at most CHART_MAX_POINTS points, with no MaxRowsError."""
    client = lc.Client()
    experiment = client.create_experiment("big")
    ids = []
    for i in range(40):
        run = client.create_run(experiment, run_name=f"r{i}")
        client.store.tracking.log_metrics(
            [(run.info.run_id, "loss", math.exp(-s / 900) + i, 1_700_000_000_000 + s, s) for s in range(5000)]
        )
        ids.append(run.info.run_id)
    chart = charts.metric_history(ids, "loss", smoothing=0.8)
    rows = values(chart)
    assert len(rows) <= config.CHART_MAX_POINTS
    assert len({r["run"] for r in rows}) == 40
    assert len(json.dumps(chart.to_dict())) < 2_000_000
    assert {"value", "smoothed"} <= set(rows[0])


def test_smoothing_x_axes_and_log_scale(runs: list[str]) -> None:
    chart = charts.metric_history(runs[:1], "loss", smoothing=0.9)
    spec = chart.to_dict()
    assert [layer["mark"].get("opacity") for layer in spec["layer"]] == [0.25, None, None]
    rows = values(chart)
    assert rows[0]["smoothed"] == pytest.approx(rows[0]["value"])  # debiased EMA starts at the first value
    assert rows[-1]["smoothed"] > rows[-1]["value"]  # lags a falling curve
    timed = charts.metric_history(runs, "loss", x="time").to_dict()
    assert timed["layer"][0]["encoding"]["x"]["type"] == "temporal"
    relative = charts.metric_history(runs, "loss", x="relative")
    assert min(r["relative"] for r in values(relative)) >= 0
    logged = charts.metric_history(runs, "loss", log_scale=True).to_dict()
    assert logged["layer"][0]["encoding"]["y"]["scale"]["type"] == "log"
    both = charts.metric_history(runs, ["loss", "acc", "never-logged"]).to_dict()
    # one panel per logged metric, no empty panel, each y axis titled with its metric
    assert [panel["title"] for panel in both["concat"]] == ["loss", "acc"]
    assert [panel["layer"][0]["encoding"]["y"]["title"] for panel in both["concat"]] == ["loss", "acc"]
    assert [panel["transform"] for panel in both["concat"]] == [[{"filter": "(datum.metric === 'loss')"}],
                                                               [{"filter": "(datum.metric === 'acc')"}]]


def test_inputs_dataframe_filter_and_errors(runs: list[str]) -> None:
    frame = lc.search_runs(order_by=["attributes.run_name ASC"])
    assert [r.info.run_id for r in charts.resolve_runs(frame)] == runs
    assert {r.info.run_name for r in charts.resolve_runs("params.model = 'rf'")} == {"run-0", "run-1"}
    assert charts.resolve_runs(runs[0])[0].info.run_name == "run-0"
    with pytest.raises(InvalidInput, match="x must be one of"):
        charts.metric_history(runs, "loss", x="epoch")
    with pytest.raises(InvalidInput, match="they have: acc, loss"):
        charts.metric_history(runs, "accuracy")
    with pytest.raises(NotFound, match="no run with id 'f+'"):
        charts.resolve_runs(["f" * 32])
    with pytest.raises(InvalidInput, match="invalid filter|unknown|Invalid"):
        charts.resolve_runs("metrics.acc >>> 3")


def test_param_vs_metric_numeric_and_categorical(runs: list[str]) -> None:
    chart = charts.param_vs_metric(runs, "lr", "acc")
    spec = chart.to_dict()
    assert spec["encoding"]["x"]["type"] == "quantitative" and spec["encoding"]["x"]["title"] == "lr"
    rows = sorted(values(chart), key=lambda r: r["param"])
    assert [(r["param"], round(r["metric"], 3)) for r in rows] == [(0.1, 0.7), (0.2, 0.8), (0.3, 0.9)]
    nominal = charts.param_vs_metric(runs, "model", "loss", stat="max").to_dict()
    assert nominal["encoding"]["x"]["type"] == "nominal" and nominal["encoding"]["y"]["title"] == "max(loss)"
    assert max(r["metric"] for r in values(charts.param_vs_metric(runs, "model", "loss", stat="max"))) == pytest.approx(7 + 1 / 151)
    with pytest.raises(InvalidInput, match="no run here logged param 'depth'"):
        charts.param_vs_metric(runs, "depth", "acc")
    assert spec["encoding"]["color"]["field"] == "run"  # 3 runs: a colour each
    assert spec["encoding"]["x"]["scale"] == {"zero": False}  # 0.1..0.3: not log-sampled
    by_model = charts.param_vs_metric(runs, "lr", "acc", color="model", log_y=True).to_dict()
    assert by_model["encoding"]["color"] == {"field": "colour", "title": "model", "type": "nominal"}
    assert by_model["encoding"]["y"]["scale"]["type"] == "log"
    assert {r["colour"] for r in values(charts.param_vs_metric(runs, "lr", "acc", color="model"))} == {"rf", "gb"}
    with pytest.raises(InvalidInput, match="not numeric"):
        charts.param_vs_metric(runs, "model", "acc", log_x=True)


def test_log_sampled_params_get_log_axes(home: Path) -> None:
    """A learning-rate sweep over decades is drawn on log axes; 30 runs are not coloured one by one."""
    ids = []
    for i in range(30):
        with lc.start_run(run_name=f"lr{i}") as run:
            lc.log_params({"lr": 10 ** (-5 + i / 7), "depth": i % 4})
            lc.log_metric("acc", 0.5 + i / 100)
            ids.append(run.info.run_id)
    spec = charts.param_vs_metric(ids, "lr", "acc").to_dict()
    assert spec["encoding"]["x"]["scale"] == {"type": "log"} and spec["encoding"]["x"]["title"] == "lr (log)"
    assert "color" not in spec["encoding"]  # 30 runs: no legend cycling 10 colours
    coloured = charts.param_vs_metric(ids, "lr", "acc", color="depth").to_dict()
    assert coloured["encoding"]["color"]["field"] == "colour" and coloured["encoding"]["color"]["type"] == "quantitative"
    assert charts.log_sampled([0.001, 0.01, 0.1]) and not charts.log_sampled([1, 2, 50]) and not charts.log_sampled([-1, 1000])


def test_parallel_coordinates_scales_each_axis(runs: list[str]) -> None:
    chart = charts.parallel_coordinates(runs, metric="acc")
    spec = chart.to_dict()
    rules, lines, points, bands, text = spec["layer"]
    assert lines["encoding"]["detail"]["field"] == "run" and lines["encoding"]["color"]["field"] == "metric"
    assert lines["encoding"]["x"]["axis"]["labelExpr"] == '["lr", "model", "acc"][datum.value]'  # params that differ
    rows = values(chart)
    lr = {r["run"]: round(r["pos"], 9) for r in rows if r["axis"] == "lr"}
    assert lr == {"run-0": 0.0, "run-1": 0.5, "run-2": 1.0}
    model = {r["run"]: r["pos"] for r in rows if r["axis"] == "model"}
    assert model == {"run-0": 1.0, "run-1": 1.0, "run-2": 0.0}  # gb < rf
    # real ticks: round values along each numeric axis, not only its min and max
    lr_ticks = [t["label"] for t in text["data"]["values"] if t["i"] == 0]
    assert lr_ticks == ["0.1", "0.15", "0.2", "0.25", "0.3"]
    # brushing: one interval on pos per axis, started only near its axis; a run stays bright inside every brush
    brushes = spec["params"]
    assert [b["name"] for b in brushes] == ["brush_0", "brush_1", "brush_2"]
    assert all(b["select"]["type"] == "interval" and b["select"]["encodings"] == ["y"] for b in brushes)
    assert all(b["views"] == [points["name"]] for b in brushes)
    gap = 620 / (3 - 0.35)  # the x scale's domain is [-0.15, 2.5] over the width
    assert brushes[1]["select"]["on"] == (f"[mousedown[x() >= {1.15 * gap - 20:.1f} && x() <= {1.15 * gap + 20:.1f}],"
                                          " window:mouseup] > window:mousemove!")  # fmt: skip
    assert {"calculate": "datum.i == 1 && vlSelectionTest('brush_1_store', datum) ? 1 : 0", "as": "hit_1"} in (
        lines["transform"]
    )
    test = lines["encoding"]["opacity"]["condition"]["test"]
    assert test.count(" && ") == 2 and "(!length(data('brush_2_store')) || datum.hits_2 > 0)" in test
    assert bands["mark"]["type"] == "rect"  # each brush drawn as a band on its own axis
    import vl_convert

    assert "<svg" in vl_convert.vegalite_to_svg(spec)  # vega compiles and draws it


def test_parallel_coordinates_log_axes(home: Path) -> None:
    ids = []
    for i, lr in enumerate([1e-4, 1e-3, 1e-2, 3e-2]):
        with lc.start_run(run_name=f"p{i}") as run:
            lc.log_params({"lr": lr, "depth": i})
            ids.append(run.info.run_id)
    spec = charts.parallel_coordinates(ids).to_dict()
    assert '"depth", "lr (log)"' in spec["layer"][1]["encoding"]["x"]["axis"]["labelExpr"]
    ticks = [t["label"] for t in spec["layer"][4]["data"]["values"] if t["i"] == 1]
    assert ticks == ["0.0001", "0.001", "0.01"]
    positions = {r["run"]: r["pos"] for r in values(charts.parallel_coordinates(ids)) if r["axis"] == "lr"}
    assert positions["p1"] == pytest.approx(1 / (2 + math.log10(3)))  # evenly spaced decades
    linear = charts.parallel_coordinates(ids, log_axes=[]).to_dict()
    assert '"lr"' in linear["layer"][1]["encoding"]["x"]["axis"]["labelExpr"]
    with pytest.raises(InvalidInput, match="cannot be on a log scale"):
        charts.parallel_coordinates(ids, params=["depth"], log_axes=["depth"])  # depth 0 is not positive


def test_final_metrics_bars(runs: list[str]) -> None:
    chart = charts.final_metrics(runs)
    spec = chart.to_dict()
    assert [p["title"] for p in spec["concat"]] == ["acc", "loss"] and spec["concat"][0]["mark"]["type"] == "bar"
    assert [p["encoding"]["y"]["title"] for p in spec["concat"]] == ["acc", "loss"]
    assert spec["concat"][0]["encoding"]["x"]["axis"]["labelLimit"] == 200  # run names not cut to a few letters
    # acc 0.7 / 0.8 / 0.9 differ by a lot: from 0; loss ~1/2/3 too
    assert spec["concat"][0]["encoding"]["y"]["scale"] == {"zero": True}
    close = charts._bar_scale([0.95, 0.96, 0.955]).to_dict()
    assert close["zero"] is False and close["domain"][0] > 0.9 and close["domain"][1] < 1.0  # 0.95 vs 0.96 visible
    rows = values(chart)
    assert {(r["run"], r["metric"]) for r in rows} == {(f"run-{i}", m) for i in range(3) for m in ("acc", "loss")}


def test_params_diff_highlights_differences(runs: list[str]) -> None:
    diff = charts.params_diff(runs)
    assert diff.differs == {"lr": True, "model": True, "seed": False}
    assert list(diff.frame.loc["model"]) == ["rf", "rf", "gb"]
    page = diff._repr_html_()
    assert "<mark>gb</mark>" in page and "<mark>7</mark>" not in page and ">7<" in page
    assert list(charts.params_diff(runs, only_differences=True).frame.index) == ["lr", "model"]


def test_duplicate_names_get_short_ids(home: Path) -> None:
    ids = []
    for _ in range(2):
        with lc.start_run(run_name="same") as run:
            lc.log_metric("m", 1.0)
            ids.append(run.info.run_id)
    labels = charts.run_labels(charts.resolve_runs(ids))
    assert labels == {i: f"same ({i[:7]})" for i in ids}


def test_compare_shows_params_metrics_and_histories(runs: list[str]) -> None:
    shown = lc.compare(runs)
    assert [r.info.run_name for r in shown.runs] == ["run-0", "run-1", "run-2"]
    assert shown.metrics.loc["run-1", ("loss", "max")] == pytest.approx(6.0 + 1 / 151)
    assert shown.metrics.loc["run-1", ("loss", "min")] == pytest.approx(1 + 1 / 300)
    assert shown.metrics.loc["run-1", ("loss", "last")] == pytest.approx(1 + 1 / 300)
    assert shown.metrics.loc["run-2", ("acc", "last")] == pytest.approx(0.9)
    assert list(shown.params.frame.index) == ["lr", "model"]  # only what differs
    bundles = shown.outputs()
    assert "loss · max" in bundles[0]["text/html"] and "<mark>gb</mark>" in bundles[0]["text/html"]
    vegalite = bundles[1]["application/vnd.vegalite.v5+json"]
    assert [panel["title"] for panel in vegalite["concat"]] == ["acc", "loss"]
    filtered = lc.compare("params.model = 'rf'")
    assert {r.info.run_name for r in filtered.runs} == {"run-0", "run-1"}
    with pytest.raises(InvalidInput, match="not logged"):
        lc.compare(runs, metrics=["f1"])


def test_charts_use_the_offline_mimetype_renderer(runs: list[str]) -> None:
    import altair as alt

    assert alt.renderers.active == "mimetype"
    bundle = charts.metric_history(runs, "loss")._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "application/vnd.vegalite.v5+json" in data
    assert not any("html" in key for key in data), "a CDN-loading HTML renderer would fail offline"


def test_png_export(runs: list[str], tmp_path: Path) -> None:
    target = tmp_path / "loss.png"
    charts.metric_history(runs, "loss", smoothing=0.5).save(str(target))
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_reprs_of_run_and_experiment(runs: list[str]) -> None:
    run = lc.get_run(runs[2])
    page = run._repr_html_()
    assert "Run run-2" in page and runs[2] in page and "FINISHED" in page
    assert ">model<" in page and ">gb<" in page and ">acc<" in page
    experiment = lc.get_experiment_by_name("charts")
    assert experiment is not None
    assert "Experiment charts" in experiment._repr_html_()
    assert "<script" not in page


def test_compare_charts_single_values_as_bars(home: Path) -> None:
    ids = []
    for i in range(2):
        with lc.start_run(run_name=f"s{i}") as run:
            lc.log_metric("auc", 0.5 + i / 10)
            ids.append(run.info.run_id)
    shown = lc.compare(ids)
    assert shown.chart is not None and shown.chart.to_dict()["concat"][0]["mark"]["type"] == "bar"
    assert shown.params.frame.empty and "no params" in shown._repr_html_()


def test_chart_budget_holds_at_any_number_of_lines(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Points per chart stay under CHART_MAX_POINTS however many lines share it (#14: 1,000 runs shipped 200k)."""
    monkeypatch.setattr(config, "CHART_MAX_POINTS", 200)
    client = lc.Client()
    experiment = client.create_experiment("many")
    ids = []
    for i in range(60):
        run = client.create_run(experiment, run_name=f"m{i:02d}")
        client.store.tracking.log_metrics([(run.info.run_id, "loss", float(s + i), 1_700_000_000_000 + s, s)
                                           for s in range(30)])  # fmt: skip
        ids.append(run.info.run_id)
    few = charts.metric_history(ids[:40], "loss")  # 5 points a line
    assert len(values(few)) <= 200 and len({r["run"] for r in values(few)}) == 40
    many = charts.metric_history(ids, "loss")  # 4 points a line would be 240: only the first 50 lines
    rows = values(many)
    assert len(rows) <= 200
    assert {r["run"] for r in rows} == {f"m{i:02d}" for i in range(50)}
    assert many.to_dict()["title"] == "loss by step (first 50 of 60 lines)"
    shown = lc.compare(ids, client=client).outputs()[1]["application/vnd.vegalite.v5+json"]
    assert len(charts.chart_data(shown)) <= 200


def test_charts_import_without_the_iri_grammars() -> None:
    """The ~1.3 s of rfc3987_syntax's grammars is not paid by the first chart; the module still imports after."""
    import subprocess
    import sys

    code = ("import sys, jupyter_lifecycle.notebook.charts; print('rfc3987_syntax' in sys.modules); "
            "import importlib.util; print(importlib.util.find_spec('rfc3987_syntax') is not None)")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[1])  # fmt: skip
    loaded, installed = done.stdout.split()
    assert loaded == "False"
    if installed == "True":
        subprocess.run([sys.executable, "-c", "import jupyter_lifecycle.notebook.charts, rfc3987_syntax"], check=True,
                       cwd=Path(__file__).resolve().parents[1])  # fmt: skip


def test_comparison_tables_are_for_people(home: Path) -> None:
    """Single values get one column, numbers as many digits as tell them apart, failed runs marked, cells not rows."""
    lc.set_experiment("people")
    ids = []
    for i, (lr, depth) in enumerate([(0.1, 3), (0.01, 3), (0.001, 5)]):
        run = lc.start_run(run_name=f"sweep-{i}")
        lc.log_params({"lr": lr, "depth": depth, "seed": 1})
        lc.log_metric("accuracy", [0.951213, 0.95124, 0.96][i])
        for step in range(3):
            lc.log_metric("loss", 1.0 / (step + 1) + i, step=step)
        lc.end_run("FAILED" if i == 2 else "FINISHED")
        ids.append(run.info.run_id)
    page = lc.compare(ids)._repr_html_()
    assert "accuracy · last" not in page and ">accuracy</th>" in page  # one column: last = min = max
    assert "loss · last" in page and "loss · min" in page
    assert ">0.95121<" in page and ">0.95124<" in page and ">0.96<" in page  # 5 digits tell these apart
    assert "0.951213" not in page
    assert "white-space:nowrap" in page.split("<thead>")[1].split("</thead>")[0]
    assert 'sweep-2 <b style="color:#c00" title="run failed">✗ FAILED</b>' in page
    assert "sweep-0 <b" not in page
    # depth 3, 3, 5: only the 5 is marked; lr differs everywhere: all but the most common (first) value
    assert "<mark>5</mark>" in page and "<mark>3</mark>" not in page
    assert "<mark>0.01</mark>" in page and "<mark>0.001</mark>" in page and "<mark>0.1</mark>" not in page
    assert "<b>depth</b>" in page and "seed" not in page  # only differing params in a comparison
    assert charts.differing_cells(["a", "b", "b", None]) == [0, 3]
