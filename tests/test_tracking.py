"""The fluent API and Client against a real SQLite store in a tmp dir."""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import time
from pathlib import Path

import pandas as pd
import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle.entities import Metric, Param, RunTag


def test_run_records_params_metrics_tags_artifacts(home: Path) -> None:
    lc.set_experiment("iris")
    with lc.start_run(run_name="rf-100") as run:
        lc.log_params({"n_estimators": 100, "max_depth": 5})
        for epoch in range(100):
            lc.log_metric("loss", 1 / (epoch + 1), step=epoch)
        lc.set_tag("stage", "baseline")
        lc.log_dict({"classes": ["a", "b"]}, "meta/classes.json")
    got = lc.get_run(run.info.run_id)
    assert got.info.status == "FINISHED"
    assert got.info.run_name == "rf-100"
    assert got.info.end_time is not None and got.info.end_time >= got.info.start_time
    assert got.data.params == {"n_estimators": "100", "max_depth": "5"}
    assert got.data.metrics == {"loss": 0.01}
    assert got.data.tags["stage"] == "baseline"
    assert got.data.tags["mlflow.runName"] == "rf-100"
    history = lc.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == list(range(100))
    assert history[3].value == pytest.approx(0.25)
    artifact = Path(lc.Client().download_artifacts(run.info.run_id, "meta/classes.json"))
    assert json.loads(artifact.read_text()) == {"classes": ["a", "b"]}


def test_rows_are_in_the_sqlite_file(home: Path) -> None:
    with lc.start_run() as run:
        lc.log_metric("acc", 0.5)
        lc.log_artifact(__file__)
    conn = sqlite3.connect(home / "lifecycle.db")
    assert conn.execute("SELECT value FROM metrics WHERE run_id = ?", (run.info.run_id,)).fetchall() == [(0.5,)]
    ((path, size, sha),) = conn.execute("SELECT path, size, sha256 FROM artifacts").fetchall()
    assert path == "test_tracking.py" and size == Path(__file__).stat().st_size and len(sha) == 64
    assert len(run.info.run_id) == 32 and int(run.info.run_id, 16) >= 0


def test_run_ids_of_consecutive_runs_differ_in_8_digits_and_sort_by_creation(home: Path) -> None:
    # Time-ordered ids keep a new run's rows together in a big store (issue
    # #14); their 8-digit short ids (labels, prefixes) must still tell runs apart.
    ids = []
    for _ in range(200):
        with lc.start_run() as run:
            lc.log_param("p", 1)
        ids.append(run.info.run_id)
    assert len({run_id[:8] for run_id in ids}) == 200
    assert all(len(run_id) == 32 and int(run_id, 16) >= 0 for run_id in ids)
    if int(ids[0][:8], 16) < int(ids[-1][:8], 16):  # the 8-digit clock wraps every 3.1 days
        assert ids == sorted(ids)
    conn = sqlite3.connect(home / "lifecycle.db")
    assert [r for (r,) in conn.execute("SELECT run_id FROM params ORDER BY run_id")] == sorted(ids)


def test_a_process_forked_while_a_run_id_is_made_can_make_run_ids() -> None:
    from jupyter_lifecycle.store import tracking

    with tracking._tick_lock:  # as if another thread were inside new_run_id at the fork
        pid = os.fork()
        if pid == 0:
            os._exit(0 if len(tracking.new_run_id()) == 32 else 1)
    deadline = time.monotonic() + 10
    while (done := os.waitpid(pid, os.WNOHANG)) == (0, 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    if done == (0, 0):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert done[0] == pid and os.waitstatus_to_exitcode(done[1]) == 0, "the forked child hung or failed"


def test_exception_marks_run_failed_and_ends_it(home: Path) -> None:
    with pytest.raises(ZeroDivisionError):
        with lc.start_run() as run:
            lc.log_metric("x", 1.0)
            1 / 0  # noqa: B018
    assert lc.active_run() is None
    got = lc.get_run(run.info.run_id)
    assert got.info.status == "FAILED"
    assert got.data.metrics == {"x": 1.0}  # logged before the failure, not lost


def test_nested_runs_and_already_active_error(home: Path) -> None:
    with lc.start_run(run_name="parent") as parent:
        with pytest.raises(lc.InvalidState, match="already active"):
            lc.start_run()
        with lc.start_run(run_name="child", nested=True) as child:
            assert lc.active_run().info.run_id == child.info.run_id
        assert lc.active_run().info.run_id == parent.info.run_id
    got = lc.get_run(child.info.run_id)
    assert got.info.parent_run_id == parent.info.run_id
    assert got.data.tags["mlflow.parentRunId"] == parent.info.run_id


def test_resume_run_by_id(home: Path) -> None:
    with lc.start_run() as run:
        lc.log_metric("loss", 1.0, step=0)
    with lc.start_run(run_id=run.info.run_id):
        lc.log_metric("loss", 0.5, step=1)
        assert lc.get_run(run.info.run_id).info.status == "RUNNING"
    got = lc.get_run(run.info.run_id)
    assert got.info.status == "FINISHED" and got.data.metrics["loss"] == 0.5


def test_end_run_status_and_logging_autostarts_a_run(home: Path) -> None:
    lc.log_param("lr", 0.1)  # as in MLflow: logging with no active run starts one
    run = lc.active_run()
    assert run is not None
    lc.end_run(status="KILLED")
    assert lc.get_run(run.info.run_id).info.status == "KILLED"
    assert lc.last_active_run().info.run_id == run.info.run_id
    with pytest.raises(lc.InvalidInput, match="invalid run status"):
        lc.Client().set_terminated(run.info.run_id, "DONE")


def test_nan_and_infinity_round_trip(home: Path) -> None:
    with lc.start_run() as run:
        lc.log_metrics({"nan": math.nan, "inf": math.inf, "ninf": -math.inf})
    metrics = lc.get_run(run.info.run_id).data.metrics
    assert math.isnan(metrics["nan"]) and metrics["inf"] == math.inf and metrics["ninf"] == -math.inf
    assert math.isnan(lc.get_metric_history(run.info.run_id, "nan")[0].value)
    frame = lc.search_runs()
    assert frame.loc[0, "metrics.inf"] == math.inf and math.isnan(frame.loc[0, "metrics.nan"])


def test_latest_metric_is_highest_step_not_last_logged(home: Path) -> None:
    with lc.start_run() as run:
        lc.log_metric("m", 3.0, step=5)
        lc.log_metric("m", 1.0, step=2)
        lc.flush()
        lc.log_metric("m", 2.0, step=4)
    assert lc.get_run(run.info.run_id).data.metrics["m"] == 3.0


def test_validation_errors_name_key_and_rule(home: Path) -> None:
    with lc.start_run():
        lc.log_param("depth", 5)
        lc.log_param("depth", "5")  # same value: allowed, as in MLflow
        with pytest.raises(lc.InvalidInput, match="'depth' was already logged with value '5'"):
            lc.log_param("depth", 6)
        with pytest.raises(lc.InvalidInput, match="metric 'acc' must be a number, got 'high'"):
            lc.log_metric("acc", "high")
        with pytest.raises(lc.InvalidInput, match="invalid metric key 'a\\*b'"):
            lc.log_metric("a*b", 1.0)
        with pytest.raises(lc.InvalidInput, match="limit is 250"):
            lc.log_metric("k" * 251, 1.0)
        with pytest.raises(lc.InvalidInput, match="limit is 6000"):
            lc.log_param("long", "x" * 6001)
        with pytest.raises(lc.InvalidInput, match="limit is 5000"):
            lc.set_tag("long", "x" * 5001)
        with pytest.raises(lc.InvalidInput, match="stay inside"):
            lc.log_text("x", "../escape.txt")
        # A bad batch writes nothing at all.
        run_id = lc.active_run().info.run_id
        with pytest.raises(lc.InvalidInput):
            lc.Client().log_batch(run_id, params=[Param("ok", 1), Param("bad key!", 2)])
        assert "ok" not in lc.get_run(run_id).data.params


def test_numpy_values_are_accepted(home: Path) -> None:
    np = pytest.importorskip("numpy")
    with lc.start_run() as run:
        lc.log_metric("a", np.float32(0.5), step=np.int64(3))
        lc.log_metric("b", np.array(2.0))
    history = lc.get_metric_history(run.info.run_id, "a")
    assert history[0].value == 0.5 and history[0].step == 3
    assert lc.get_run(run.info.run_id).data.metrics["b"] == 2.0


def test_delete_and_restore_run(home: Path) -> None:
    with lc.start_run() as run:
        pass
    lc.delete_run(run.info.run_id)
    assert lc.search_runs().empty
    assert len(lc.search_runs(run_view_type=lc.ViewType.DELETED_ONLY)) == 1
    with pytest.raises(lc.InvalidInput, match="is deleted"):
        lc.Client().log_metric(run.info.run_id, "x", 1.0)
    lc.restore_run(run.info.run_id)
    assert list(lc.search_runs().run_id) == [run.info.run_id]


def test_experiments(home: Path) -> None:
    exp = lc.set_experiment("a")
    assert lc.set_experiment("a").experiment_id == exp.experiment_id
    assert lc.get_experiment_by_name("missing") is None
    with pytest.raises(lc.AlreadyExists, match="set_experiment"):
        lc.create_experiment("a")
    lc.create_experiment("b", tags={"team": "x"})
    names = [e.name for e in lc.search_experiments(filter_string="tags.team = 'x'")]
    assert names == ["b"]
    lc.delete_experiment(exp.experiment_id)
    with pytest.raises(lc.InvalidInput, match="restore_experiment"):
        lc.set_experiment("a")
    lc.restore_experiment(exp.experiment_id)
    assert lc.set_experiment("a").lifecycle_stage == "active"


def test_figures_tables_and_text(home: Path) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import altair as alt
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    chart = alt.Chart(pd.DataFrame({"x": [1, 2], "y": [3, 4]})).mark_line().encode(x="x", y="y")
    with lc.start_run() as run:
        lc.log_figure(fig, "plots/line.png")
        lc.log_figure(chart, "plots/chart.json")
        lc.log_table(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), "tables/t.json")
        lc.log_table({"a": [1]}, "tables/t.csv")
        lc.log_text("hello", "notes.txt")
        lc.log_dict({"k": 1}, "conf.yaml")
    folder = lc.Client().artifact_dir(run.info.run_id)
    assert (folder / "plots/line.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((folder / "plots/chart.json").read_text())["mark"]["type"] == "line"
    assert json.loads((folder / "tables/t.json").read_text()) == {"columns": ["a", "b"], "data": [[1, "x"], [2, "y"]]}
    assert (folder / "conf.yaml").read_text() == "k: 1\n"
    assert [f.path for f in lc.list_artifacts(run.info.run_id)] == ["conf.yaml", "notes.txt", "plots", "tables"]
    with pytest.raises(lc.InvalidInput, match="log_figure takes"):
        lc.log_figure(object(), "x.png", run_id=run.info.run_id)


def test_client_explicit_ids_and_log_batch(client: lc.Client) -> None:
    exp_id = client.create_experiment("explicit")
    run = client.create_run(exp_id, run_name="r")
    client.log_batch(
        run.info.run_id,
        metrics=[Metric("m", 1.0, 1000, 0), Metric("m", 2.0, 2000, 1)],
        params=[Param("p", "v")],
        tags=[RunTag("t", "u")],
    )
    client.set_terminated(run.info.run_id)
    got = client.get_run(run.info.run_id)
    assert got.data.metrics == {"m": 2.0} and got.data.params == {"p": "v"} and got.data.tags["t"] == "u"
    assert [m.timestamp for m in client.get_metric_history(run.info.run_id, "m")] == [1000, 2000]
    page = client.search_runs([exp_id], max_results=1)
    assert len(page) == 1 and page.token is None


def test_buffered_points_survive_a_failed_flush(home: Path) -> None:
    client = lc.Client()
    with lc.start_run() as run:
        lc.log_metric("m", 1.0)
        # Another process holds the write lock: the flush fails, nothing is dropped.
        blocker = sqlite3.connect(home / "lifecycle.db", timeout=0)
        blocker.execute("BEGIN IMMEDIATE")
        client.store.db.connection().execute("PRAGMA busy_timeout = 50")
        with pytest.raises(sqlite3.OperationalError):
            client.flush()
        blocker.execute("ROLLBACK")
        client.store.db.connection().execute("PRAGMA busy_timeout = 30000")
        lc.log_metric("m", 2.0, step=1)
    assert [m.value for m in lc.get_metric_history(run.info.run_id, "m")] == [1.0, 2.0]


def test_import_as_mlflow_runs_typical_code(home: Path) -> None:
    import jupyter_lifecycle as mlflow

    mlflow.set_tracking_uri(str(home))
    mlflow.set_experiment("compat")
    with mlflow.start_run() as run:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_metrics({"rmse": 0.7, "r2": 0.3}, step=1)
        mlflow.set_tags({"team": "ds"})
    client = mlflow.MlflowClient()
    assert client.get_run(run.info.run_uuid).data.metrics == {"rmse": 0.7, "r2": 0.3}
    try:
        mlflow.get_run("nope")
    except mlflow.MlflowException as exc:
        assert exc.to_dict()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    else:
        pytest.fail("get_run of an unknown id must raise")
    lc.set_store(None)


def test_mlflow_small_api_parent_run_experiment_tags_registry_uri(home: Path) -> None:
    from jupyter_lifecycle.tracking import MlflowClient  # `from mlflow.tracking import MlflowClient`

    assert MlflowClient is lc.Client
    with lc.start_run() as parent:
        with lc.start_run(nested=True) as child:
            pass
    assert lc.get_parent_run(child.info.run_id).info.run_id == parent.info.run_id
    assert lc.get_parent_run(parent.info.run_id) is None
    lc.set_experiment("tagged")
    lc.set_experiment_tag("team", "vision")
    lc.set_experiment_tags({"stage": "dev", "n": 3})
    assert lc.get_experiment_by_name("tagged").tags == {"team": "vision", "stage": "dev", "n": "3"}
    lc.delete_experiment_tag("stage")
    assert lc.get_experiment_by_name("tagged").tags == {"team": "vision", "n": "3"}
    with pytest.raises(lc.NotFound, match="has no tag 'stage'"):
        lc.delete_experiment_tag("stage")
    lc.set_registry_uri(lc.get_tracking_uri())  # the same store: fine
    lc.set_registry_uri(None)
    assert lc.get_registry_uri() == lc.get_tracking_uri()
    with pytest.raises(lc.InvalidInput, match="registry lives in the tracking store"):
        lc.set_registry_uri(str(home.parent / "elsewhere"))


@pytest.mark.parametrize(("tail", "status"), [("", "FINISHED"), ("raise SystemExit(3)", "FINISHED"),
                                               ("raise ValueError('boom')", "FAILED")])  # fmt: skip
def test_a_script_that_exits_with_a_run_open_ends_it_as_mlflow_does(home: Path, tail: str, status: str) -> None:
    import subprocess
    import sys

    script = f"import jupyter_lifecycle as lc\nrun = lc.start_run()\nlc.log_metric('m', 1.0)\nprint(run.info.run_id)\n{tail}\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    run = lc.get_run(done.stdout.split()[0])
    assert run.info.status == status and run.data.metrics == {"m": 1.0}


def test_entities_convert_with_dict_as_mlflows_do(client: lc.Client) -> None:
    with lc.start_run() as run:
        lc.log_param("lr", 0.1)
    fetched = lc.get_run(run.info.run_id)
    assert sorted(dict(fetched)) == ["data", "info", "inputs"]
    assert dict(fetched.data)["params"] == {"lr": "0.1"}
    assert dict(fetched.info)["run_id"] == run.info.run_id
    model = client.create_registered_model("dicted", tags={"team": "a"})
    assert dict(model)["name"] == "dicted" and dict(model)["tags"] == {"team": "a"}
