"""``make demo``'s main job: the quickstart notebook, executed headless in a real kernel."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

import jupyter_lifecycle as lc

from .conftest import ROOT


def test_quickstart_notebook_records_runs(home: Path, tmp_path: Path) -> None:
    nb = nbformat.read(ROOT / "example_notebooks" / "quickstart.ipynb", as_version=4)
    env = {**os.environ, "JUPYTER_LIFECYCLE_HOME": str(home)}
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute(env=env)
    runs = lc.search_runs(experiment_names=["quickstart-iris"], order_by=["metrics.cv_accuracy DESC"])
    assert sorted(runs["params.model"]) == ["boosting", "forest", "logreg"]
    assert (runs["metrics.cv_accuracy"] > 0.9).all()
    assert (runs["status"] == "FINISHED").all()
    best = runs.iloc[0]
    assert len(lc.get_metric_history(best.run_id, "fold_accuracy")) == 5
    assert [f.path for f in lc.list_artifacts(best.run_id, "meta")] == ["meta/classes.json"]
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert f"best run: {best['tags.mlflow.runName']}" in printed
    assert "iris-classifier version 1 is the champion" in printed
    version = lc.Client().get_model_version_by_alias("iris-classifier", "champion")
    assert version.run_id == best.run_id
    assert (tmp_path / "score_iris.ipynb").exists()


def test_serving_notebook_serves_logs_and_charts(home: Path, tmp_path: Path) -> None:
    """example_notebooks/serving.ipynb in a real kernel: register, serve, predict, inference log, drift chart."""
    nb = nbformat.read(ROOT / "example_notebooks" / "serving.ipynb", as_version=4)
    env = {**os.environ, "JUPYTER_LIFECYCLE_HOME": str(home)}
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute(env=env)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "11 requests logged, STOPPED" in printed
    log = lc.inference_log("iris-served")
    assert len(log) == 11 and (log.status_code == 200).all() and (log.model_version == "1").all()
    assert lc.endpoints().empty
    chart = nb.cells[-1].outputs[0]["data"]
    assert "application/vnd.vegalite.v5+json" in chart
    assert "iris-served v1: served inputs (155 rows) against training (iris-train, iris_train.csv)" in str(chart)
