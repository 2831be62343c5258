"""Model endpoints (issue #16, parts 3-4): detached servers in the store, seen and stopped from other
processes and kernels, dead ones reported dead, and the inference table of what they answered."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests

import jupyter_lifecycle as lc
from jupyter_lifecycle.store.liveness import process_alive

ROOT = Path(__file__).resolve().parents[1]


def _iris() -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


def _register(name: str = "iris") -> Any:
    """Train and register a classifier; returns it (version 1 of ``name``)."""
    from sklearn.linear_model import LogisticRegression

    X, y = _iris()
    clf = LogisticRegression(max_iter=500).fit(X, y)
    with lc.start_run():
        lc.sklearn.log_model(clf, name="model", input_example=X.head(3), registered_model_name=name)
    return clf


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JUPYTER_LIFECYCLE_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "jupyter_lifecycle.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120)  # fmt: skip


def _wait_gone(pid: int, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid, int(time.time() * 1000)):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def cleanup() -> Any:
    """Endpoints a test started are stopped even when it fails."""
    started: list[lc.Endpoint] = []
    yield started
    for endpoint in started:
        try:
            endpoint.stop(timeout=5)
        except lc.LifecycleError:
            pass


def test_serve_returns_a_handle_that_predicts_over_http_and_is_listed(home: Path, cleanup: list[Any]) -> None:
    clf = _register()
    X, _ = _iris()
    lc.Client().set_registered_model_alias("iris", "champion", 1)
    ep = lc.serve("models:/iris@champion")
    cleanup.append(ep)
    assert ep.url.startswith("http://127.0.0.1:") and ep.port and ep.port > 0
    assert ep.model_uri == "models:/iris@champion" and ep.model_name == "iris" and ep.version == "1"
    assert ep.alive and ep.status == "RUNNING" and process_alive(ep.pid, int(time.time() * 1000))
    assert ep.predict(X.iloc[10:30]).tolist() == clf.predict(X.iloc[10:30]).tolist()
    # MLflow's protocol, from any HTTP client.
    answer = requests.post(f"{ep.url}/invocations", json={"dataframe_records": X.head(2).to_dict("records")}, timeout=10)
    assert answer.json() == {"predictions": clf.predict(X.head(2)).tolist()}
    # The server binds 127.0.0.1 only.
    listening = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout
    assert f"127.0.0.1:{ep.port}" in listening
    listed = lc.endpoints()
    assert listed.columns.tolist()[:9] == ["endpoint_id", "model_uri", "model_name", "version", "url", "port", "pid",
                                          "status", "uptime"]  # fmt: skip
    row = listed.set_index("endpoint_id").loc[ep.endpoint_id]
    assert (row.model_uri, row.version, row.port, row.pid, row.status) == ("models:/iris@champion", "1", ep.port,
                                                                          ep.pid, "RUNNING")  # fmt: skip
    deadline = time.monotonic() + 10
    while ep.requests_served < 2 and time.monotonic() < deadline:  # counted in batches, about once a second
        time.sleep(0.1)
    assert ep.requests_served == 2
    assert "Serving models:/iris@champion at" in ep.logs()
    with pytest.raises(lc.LifecycleError, match="400"):
        ep.predict(pd.DataFrame({"nope": [1.0]}))
    ep.stop()
    assert ep.status == "STOPPED" and not ep.alive and _wait_gone(ep.pid)
    assert ep.endpoint_id not in lc.endpoints().endpoint_id.tolist()
    assert lc.endpoints(all=True).set_index("endpoint_id").loc[ep.endpoint_id, "status"] == "STOPPED"


def test_bad_arguments_are_refused_before_anything_starts(home: Path) -> None:
    _register()
    with pytest.raises(lc.InvalidInput, match="env_manager 'conda'"):
        lc.serve("models:/iris/1", env_manager="conda")
    with pytest.raises(lc.InvalidInput, match="workers"):
        lc.serve("models:/iris/1", workers=0)
    with pytest.raises(lc.InvalidInput, match="port"):
        lc.serve("models:/iris/1", port=70000)
    with pytest.raises(lc.NotFound, match="version 7"):
        lc.serve("models:/iris/7")
    with pytest.raises(lc.NotFound, match="no endpoint 'ep-000000000000'"):
        lc.get_endpoint("ep-000000000000")
    with pytest.raises(lc.NotFound, match="no running endpoint serves 'iris'"):
        lc.get_endpoint("iris")
    assert lc.endpoints(all=True).empty


def test_a_server_that_cannot_load_the_model_fails_with_its_log(home: Path, tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = _iris()
    path = tmp_path / "broken"
    lc.sklearn.save_model(LogisticRegression(max_iter=500).fit(X, y), path)
    (path / "model.pkl").write_bytes(b"not a pickle")
    with pytest.raises(lc.LifecycleError, match=r"exited with status 1 before answering(.|\n)*model.pkl changed"):
        lc.serve(str(path))
    (row,) = lc.endpoints(all=True).itertuples()
    assert row.status == "FAILED" and row.model_uri == str(path)
    assert lc.endpoints().empty


def test_a_killed_endpoint_is_reported_dead_not_running(home: Path, cleanup: list[Any]) -> None:
    _register()
    ep = lc.serve("models:/iris/1")
    cleanup.append(ep)
    os.killpg(ep.pid, signal.SIGKILL)
    assert _wait_gone(ep.pid)
    assert ep.status == "DEAD" and not ep.alive
    assert lc.endpoints().set_index("endpoint_id").loc[ep.endpoint_id, "status"] == "DEAD"
    listed = _cli("endpoints", home=home)
    assert listed.returncode == 0 and ep.endpoint_id in listed.stdout and "DEAD" in listed.stdout
    assert "RUNNING" not in listed.stdout
    ep.stop()  # acknowledges it: no longer listed
    assert lc.endpoints().empty


def test_replace_stops_the_endpoints_of_the_same_model(home: Path, cleanup: list[Any]) -> None:
    _register()
    _register("other")
    first = lc.serve("models:/iris/1")
    other = lc.serve("models:/other/1")
    cleanup += [first, other]
    second = lc.serve("models:/iris/1", replace=True)
    cleanup.append(second)
    assert first.status == "STOPPED" and _wait_gone(first.pid)
    assert second.alive and other.alive
    assert lc.get_endpoint("iris").endpoint_id == second.endpoint_id
    assert lc.get_endpoint("models:/iris/1").endpoint_id == second.endpoint_id


def test_two_workers_share_the_port_and_stop_together(home: Path, cleanup: list[Any]) -> None:
    clf = _register()
    X, _ = _iris()
    ep = lc.serve("models:/iris/1", workers=2, log_requests=True)
    cleanup.append(ep)
    for i in range(10):
        assert ep.predict(X.iloc[[i]]).tolist() == clf.predict(X.iloc[[i]]).tolist()
    children = subprocess.run(["pgrep", "-P", str(ep.pid)], capture_output=True, text=True).stdout.split()
    assert len(children) == 2
    ep.stop()
    assert all(_wait_gone(int(pid)) for pid in children)
    # Each worker wrote its own requests before exiting.
    assert len(lc.inference_log("iris")) == 10


def test_inference_table_rows_equal_the_requests_sent(home: Path, cleanup: list[Any]) -> None:
    clf = _register()
    X, _ = _iris()
    ep = lc.serve("models:/iris/1", log_requests=True)
    cleanup.append(ep)
    batches = [X.iloc[i * 7:i * 7 + 1 + i % 3] for i in range(12)]
    before = pd.Timestamp.now(tz="UTC")
    for batch in batches:
        ep.predict(batch)
    csv = requests.post(f"{ep.url}/invocations", data=X.iloc[50:52].to_csv(index=False),
                        headers={"Content-Type": "text/csv"}, timeout=10)  # fmt: skip
    assert csv.status_code == 200
    bad = requests.post(f"{ep.url}/invocations", json={"dataframe_split": {"columns": ["x"], "data": [[1]]}}, timeout=10)
    assert bad.status_code == 400
    ep.stop()  # a graceful stop writes the last batch
    log = lc.inference_log("iris")
    assert len(log) == len(batches) + 2
    assert log.status_code.tolist() == [200] * (len(batches) + 1) + [400]
    assert (log.model_version == "1").all() and (log.endpoint_id == ep.endpoint_id).all()
    assert (log.latency_ms > 0).all() and log.timestamp.is_monotonic_increasing and (log.timestamp >= before).all()
    for (_, row), batch in zip(log.iloc[:len(batches)].iterrows(), batches, strict=True):
        pd.testing.assert_frame_equal(row.inputs, batch.reset_index(drop=True), check_dtype=False)
        assert row.predictions == clf.predict(batch).tolist()
    pd.testing.assert_frame_equal(log.inputs.iloc[12], X.iloc[50:52].reset_index(drop=True), check_dtype=False)
    assert log.predictions.iloc[13] is None and "x" in log.request.iloc[13]
    assert json.loads(log.response.iloc[13])["error_code"] == "BAD_REQUEST"
    flat = lc.inference_log("iris", rows=True)
    assert len(flat[flat.status_code == 200]) == sum(len(b) for b in batches) + 2
    assert flat.prediction.dropna().astype(int).tolist()[:3] == clf.predict(batches[0]).tolist() + clf.predict(
        batches[1]).tolist()[:2]  # fmt: skip
    assert ep.requests_served == len(batches) + 2
    # Filters: version, since, by endpoint; a misspelled model is named.
    assert len(lc.inference_log("iris", version=1)) == len(log) and lc.inference_log("iris", version=2).empty
    assert lc.inference_log("iris", since=pd.Timestamp.now(tz="UTC") + pd.Timedelta("1h")).empty
    assert len(lc.inference_log("iris", since=pd.Timedelta("1h"))) == len(log)
    assert len(lc.inference_log(ep.endpoint_id)) == len(log)
    assert len(lc.inference_log("models:/iris/1")) == len(log)
    with pytest.raises(lc.NotFound, match="iriss"):
        lc.inference_log("iriss")


def test_an_endpoint_without_log_requests_writes_no_rows(home: Path, cleanup: list[Any]) -> None:
    _register()
    X, _ = _iris()
    ep = lc.serve("models:/iris/1")
    cleanup.append(ep)
    ep.predict(X.head(3))
    ep.stop()
    assert lc.inference_log("iris").empty and ep.requests_served == 1


def test_the_cli_serve_is_an_endpoint_and_endpoints_stop_stops_it(home: Path) -> None:
    clf = _register()
    X, _ = _iris()
    env = {**os.environ, "JUPYTER_LIFECYCLE_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "jupyter_lifecycle.cli", "serve", "models:/iris/1", "--port", "0",
                             "--log-requests"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "logging requests" in line, line
        (row,) = lc.endpoints().itertuples()
        assert row.pid == proc.pid and row.status == "RUNNING"
        answer = requests.post(f"{row.url}/invocations", json={"dataframe_split": json.loads(
            X.head(4).to_json(orient="split", index=False))}, timeout=10)  # fmt: skip
        assert answer.json()["predictions"] == clf.predict(X.head(4)).tolist()
        stopped = _cli("endpoints", "stop", row.endpoint_id, home=home)
        assert stopped.returncode == 0 and f"{row.endpoint_id}: STOPPED" in stopped.stdout
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(lc.inference_log("iris")) == 1
    assert _cli("endpoints", home=home).stdout.strip() == "(none)"
    assert row.endpoint_id in _cli("endpoints", "--all", home=home).stdout
    assert _cli("endpoints", "stop", home=home).returncode == 2


def test_an_endpoint_survives_the_restart_of_the_kernel_that_started_it(home: Path, tmp_path: Path) -> None:
    """A real kernel (nbclient) starts it; the restarted kernel finds it; another process stops it."""
    import nbformat
    from jupyter_core.utils import run_sync
    from nbclient import NotebookClient

    clf = _register()
    X, _ = _iris()
    cells = [
        "import os, jupyter_lifecycle as lc\nep = lc.serve('models:/iris/1')\nprint(ep.endpoint_id, os.getpid())",
        "import os, jupyter_lifecycle as lc\nfrom sklearn.datasets import load_iris\n"
        "X = load_iris(as_frame=True).data\nep = lc.get_endpoint(ENDPOINT)\n"
        "print(os.getpid(), ep.alive, ep.predict(X.head(6)).tolist())",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(tmp_path)}})
    with client.setup_kernel():
        client.execute_cell(nb.cells[0], 0)
        endpoint_id, first_kernel = nb.cells[0].outputs[0]["text"].split()
        run_sync(client.km.restart_kernel)(now=True)
        run_sync(client.kc.wait_for_ready)(timeout=60)
        nb.cells[1].source = nb.cells[1].source.replace("ENDPOINT", repr(endpoint_id))
        client.execute_cell(nb.cells[1], 1)
        second_kernel, alive, predictions = nb.cells[1].outputs[0]["text"].split(" ", 2)
    assert second_kernel != first_kernel and not process_alive(int(first_kernel), int(time.time() * 1000))
    assert alive == "True" and json.loads(predictions) == clf.predict(X.head(6)).tolist()
    ep = lc.get_endpoint(endpoint_id)
    assert ep.alive
    stopped = _cli("endpoints", "stop", endpoint_id, home=home)  # from another process
    assert stopped.returncode == 0, stopped.stderr
    assert _wait_gone(ep.pid) and ep.status == "STOPPED"


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_virtualenv_endpoint_serves_from_the_models_environment(home: Path, shared_envs: Path, cleanup: list[Any]) -> None:
    """The isolated environment is built from requirements.txt (pip, minutes the first time: shared by the
    session's virtualenv tests) and serves."""
    from jupyter_lifecycle.models.environment import get_model_dependencies
    from jupyter_lifecycle.scoring.environment import environment_dir

    clf = _register()
    X, _ = _iris()
    ep = lc.serve("models:/iris/1", env_manager="virtualenv")
    cleanup.append(ep)
    environment = environment_dir(get_model_dependencies("models:/iris/1"))
    assert environment.parent == shared_envs and (environment / ".jupyter_lifecycle_ready").exists()
    executable = Path(os.readlink(f"/proc/{ep.pid}/exe"))
    assert os.readlink(environment / "bin" / "python") in (str(executable), executable.name) or str(
        environment) in subprocess.run(["ps", "-o", "args=", "-p", str(ep.pid)], capture_output=True, text=True).stdout  # fmt: skip
    assert ep.predict(X.head(5)).tolist() == clf.predict(X.head(5)).tolist()


def test_magics_start_list_and_stop_endpoints(ipython: Any, home: Path) -> None:
    from tests.test_magics import run, shown

    _register()
    try:
        _, out = run(ipython, "%lifecycle serve models:/iris/1 --log-requests")
        assert "Endpoint('ep-" in shown(out) and "iris v1" in shown(out) and "RUNNING" in shown(out)
        (endpoint_id,) = lc.endpoints().endpoint_id.tolist()
        assert lc.get_endpoint(endpoint_id).alive
        _, out = run(ipython, "%lifecycle endpoints")
        assert endpoint_id in shown(out) and "RUNNING" in shown(out)
        result, out = run(ipython, "%lifecycle endpoints stop")
        assert "name the endpoints to stop" in out.stderr + str(result.error_in_exec)
        _, out = run(ipython, "%lifecycle endpoints stop --all")
        assert f"{endpoint_id}: STOPPED" in out.stdout
        assert lc.endpoints().empty and lc.get_endpoint(endpoint_id).status == "STOPPED"
    finally:
        for endpoint_id in lc.endpoints().endpoint_id:
            lc.get_endpoint(endpoint_id).stop()


def test_drift_chart_compares_served_inputs_with_the_logged_training_data(home: Path, tmp_path: Path,
                                                                         cleanup: list[Any]) -> None:  # fmt: skip
    import io

    from sklearn.linear_model import LogisticRegression

    from jupyter_lifecycle.notebook.charts import drift_frame

    X, y = _iris()
    X.to_csv(tmp_path / "train.csv", index=False)
    with lc.start_run():
        lc.log_input(lc.data.from_pandas(X, source=str(tmp_path / "train.csv"), name="iris-train"), context="training")
        lc.sklearn.log_model(LogisticRegression(max_iter=500).fit(X, y), name="model", input_example=X.head(3),
                             registered_model_name="iris")  # fmt: skip
    ep = lc.serve("models:/iris/1", log_requests=True)
    cleanup.append(ep)
    shifted = X.copy()
    shifted["petal length (cm)"] += 3.0  # one feature drifts, the others are served as trained
    for start in range(0, 150, 10):
        ep.predict(shifted.iloc[start:start + 10])
    requests.post(f"{ep.url}/invocations", json={"dataframe_split": {"columns": ["x"], "data": [[1]]}}, timeout=10)
    ep.stop()
    chart = lc.charts.drift("iris")
    spec = chart.to_dict()  # valid vega-lite (altair validates it)
    assert "iris v1: served inputs (150 rows) against training (iris-train, train.csv)" in json.dumps(spec)
    frame = drift_frame(lc.inference_log("iris", rows=True)[X.columns], X)
    psi = frame.groupby("feature").psi.first()
    assert psi["petal length (cm)"] > 1.0 and (psi.drop("petal length (cm)") < 0.01).all()
    for _, part in frame.groupby(["feature", "data"]):
        assert part.share.sum() == pytest.approx(1.0)
    # The chart ships these numbers, and the traffic: 16 requests, one refused.
    shipped = [pd.read_csv(io.StringIO(d)) for d in spec["datasets"].values()]
    distributions = next(d for d in shipped if "psi" in d.columns)
    assert distributions.groupby("feature").psi.first().round(6).to_dict() == psi.round(6).to_dict()
    traffic = next(d for d in shipped if "requests" in d.columns)
    assert traffic.requests.sum() == 16 and traffic.errors.sum() == 1
    # Explicit training data, a served-only chart when none is known, and a model with no requests.
    assert "training (given)" in json.dumps(lc.charts.drift("iris", training=X.head(50)).to_dict())
    with pytest.raises(lc.NotFound, match="no logged requests for 'iris' version 2"):
        lc.charts.drift("iris", version=2)
    with pytest.raises(lc.InvalidInput, match="'nope'"):
        lc.charts.drift("iris", features=["nope"])
