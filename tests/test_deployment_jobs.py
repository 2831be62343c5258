"""Deployment jobs: notebook tasks run by a detached worker with papermill, approvals from other processes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import nbformat
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

import jupyter_lifecycle as lc
from jupyter_lifecycle.errors import Conflict, InvalidInput, InvalidState

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jupyter_lifecycle.cli", "--store", str(home), *args],
                          capture_output=True, text=True, timeout=120, env=ENV)  # fmt: skip


@pytest.fixture
def model(client: lc.Client, tmp_path: Path) -> dict[str, Any]:
    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    x = x.iloc[:, :5]
    frame = x.assign(label=y)
    frame.to_csv(tmp_path / "eval.csv", index=False)
    with lc.start_run():
        info = lc.sklearn.log_model(LogisticRegression(max_iter=3000).fit(x, y), name="model")
    client.create_registered_model("fraud")
    return {"uri": info.model_uri, "eval": str(tmp_path / "eval.csv")}


def test_set_job_writes_default_notebooks_and_refuses_missing_ones(client: lc.Client, model: dict, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"task 'nope': the notebook .*nope.ipynb does not exist"):
        client.set_deployment_job("fraud", tasks=[str(tmp_path / "nope.ipynb")])
    job = client.set_deployment_job("fraud", directory=tmp_path / "job", parameters={"eval_data": model["eval"]})
    assert [t.name for t in job.tasks] == ["evaluate", "approve", "deploy"]
    for task in job.tasks:
        nb = nbformat.read(task.notebook, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1 and "model_uri" in tagged[0].source and "version" in tagged[0].source
    # the user's edits are kept when the defaults are written again
    Path(job.tasks[0].notebook).write_text(Path(job.tasks[0].notebook).read_text().replace("Evaluate", "Mine"))
    again = client.set_deployment_job("fraud", directory=tmp_path / "job")
    assert again.job_id == job.job_id and "Mine" in Path(job.tasks[0].notebook).read_text()
    assert client.get_deployment_job("fraud").parameters == {}
    assert [a.activity_type for a in client.list_activity("fraud")].count("SET_DEPLOYMENT_JOB") == 2
    # MLflow's deployment_job_id: another model copies the job
    client.create_registered_model("fraud2", deployment_job_id=job.job_id)
    assert [t.notebook for t in client.get_deployment_job("fraud2").tasks] == [t.notebook for t in job.tasks]
    client.update_registered_model("fraud2", deployment_job_id="")
    with pytest.raises(lc.NotFound, match="has no deployment job"):
        client.get_deployment_job("fraud2")


def test_two_runs_of_one_version_never_at_once(client: lc.Client, model: dict, tmp_path: Path) -> None:
    version = client.create_model_version("fraud", model["uri"])  # no job yet: nothing starts
    assert version.deployment_job_state is None
    job = client.set_deployment_job("fraud", directory=tmp_path / "job")
    store = client.store
    first = store.deployment.create_run(job, 1, 0, "me")
    state = client.get_model_version("fraud", 1).deployment_job_state
    assert (state.job_id, state.run_id, state.run_state, state.job_state) == (job.job_id, first.run_id, "PENDING", "CONNECTED")
    assert "deployment job</th><td" in client.get_model_version("fraud", 1)._repr_html_()
    from jupyter_lifecycle.server.api import _version

    assert _version(client.get_model_version("fraud", 1))["deployment_job_state"]["run_state"] == "PENDING"
    with pytest.raises(Conflict, match=f"already has a deployment job run in progress \\(run {first.run_id}"):
        store.deployment.create_run(job, 1, 0, "me")
    # the rule lives in SQL: a raw insert from any process is refused too
    conn = sqlite3.connect(store.db_path)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO deployment_job_runs (run_id, job_id, name, version, status, parameters,"
                     " creation_timestamp, last_updated_timestamp) VALUES ('x', ?, 'fraud', 1, 'RUNNING', '{}', 0, 0)",
                     (job.job_id,))  # fmt: skip
    conn.close()
    # a run whose worker process is gone does not block the version
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store.deployment.set_worker(first.run_id, dead.pid)
    second = store.deployment.create_run(job, 1, 1, "me")
    assert store.deployment.get_run(first.run_id).error == f"the worker process {dead.pid} is gone"
    assert [t.status for t in second.tasks] == ["SKIPPED", "PENDING", "PENDING"]


def _wait(client: lc.Client, name: str, version: int, until: tuple[str, ...], timeout: float = 240) -> Any:
    return client.wait_for_deployment_job(name, version, timeout=timeout, until=until)


def test_job_runs_end_to_end_in_a_detached_worker(client: lc.Client, model: dict, tmp_path: Path, home: Path) -> None:
    client.set_deployment_job("fraud", directory=tmp_path / "job", parameters={"eval_data": model["eval"]})
    # version 1 is registered by another process, killed (as a kernel restart kills its process group)
    # while the worker it started goes on
    starter = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time, jupyter_lifecycle as lc
        lc.Client().create_model_version("fraud", {model["uri"]!r})
        print("registered", flush=True)
        time.sleep(600)
    """)], env={**ENV, "JUPYTER_LIFECYCLE_HOME": str(home)}, stdout=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    assert starter.stdout is not None and starter.stdout.readline().strip() == "registered"
    os.killpg(starter.pid, signal.SIGKILL)
    starter.wait()
    run = _wait(client, "fraud", 1, ("APPROVAL", "FAILED", "SUCCEEDED"))
    assert run.status == "APPROVAL", run
    state = client.get_model_version("fraud", 1).deployment_job_state
    assert (state.run_state, state.current_task_name, state.job_state) == ("APPROVAL", "approve", "CONNECTED")
    assert state.tasks == {"evaluate": "SUCCEEDED", "approve": "RUNNING", "deploy": "PENDING"}
    # the evaluation's metrics are on the version (its logged model), measured on the eval data
    assert {m.key for m in client.get_model_version("fraud", 1).metrics} >= {"accuracy_score", "f1_score", "roc_auc"}
    # two jobs for one version never run at once
    with pytest.raises(Conflict, match="already has a deployment job run in progress"):
        client.start_deployment_job("fraud", 1)
    # approved from another process (the CLI)
    out = _cli(home, "approve", "fraud", "1", "--comment", "looks good")
    assert out.returncode == 0 and "approved the request to move 'fraud' version 1 to Production" in out.stdout
    run = _wait(client, "fraud", 1, ("SUCCEEDED", "FAILED"))
    assert run.status == "SUCCEEDED", run
    version = client.get_model_version("fraud", 1)
    assert version.aliases == ["champion"] and version.current_stage == "Production"
    assert version.deployment_job_state.run_state == "SUCCEEDED"
    for task in run.tasks:  # the executed notebooks are kept in the store, linked from the run
        assert Path(task.output_notebook).is_file() and Path(task.output_notebook).is_relative_to(home)
        executed = nbformat.read(task.output_notebook, as_version=4)
        assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    kinds = [a.activity_type for a in client.list_activity("fraud", 1)]
    for kind in ("DEPLOYMENT_JOB_PENDING", "DEPLOYMENT_TASK_RUNNING", "DEPLOYMENT_TASK_SUCCEEDED",
                 "DEPLOYMENT_JOB_APPROVAL", "APPROVED_REQUEST", "DEPLOYMENT_JOB_RUNNING", "DEPLOYMENT_JOB_SUCCEEDED"):
        assert kind in kinds, kind
    _check_endpoint(version, model)  # the deploy task (re)started the version's endpoint

    # version 2: the same model is not better than the champion, so a threshold against it fails
    client.set_deployment_job("fraud", directory=tmp_path / "job", parameters={
        "eval_data": model["eval"],
        "thresholds": {"accuracy_score": {"min_absolute_change": 0.01, "greater_is_better": True}}})  # fmt: skip
    client.create_model_version("fraud", model["uri"])
    run = _wait(client, "fraud", 2, ("SUCCEEDED", "FAILED", "APPROVAL"))
    assert run.status == "FAILED" and run.current_task_name == "evaluate"
    state = client.get_model_version("fraud", 2).deployment_job_state
    assert state.run_state == "FAILED" and "ModelValidationFailedException" in state.error
    assert "accuracy_score" in state.error and "than the baseline's" in state.error
    failed = client.list_activity("fraud", 2)[-1]
    assert failed.activity_type == "DEPLOYMENT_JOB_FAILED" and "accuracy_score" in failed.comment
    assert Path(run.tasks[0].output_notebook).is_file()  # the executed notebook shows the error cell
    assert client.get_model_version("fraud", 1).aliases == ["champion"]

    # re-run from the failed task once the thresholds are fixed; a rejection stops the job
    client.set_deployment_job("fraud", directory=tmp_path / "job", parameters={"eval_data": model["eval"]})
    rerun = client.rerun_deployment_job("fraud", 2)
    assert [t.status for t in rerun.tasks] == ["PENDING", "PENDING", "PENDING"]
    _wait(client, "fraud", 2, ("APPROVAL", "FAILED"))
    assert _cli(home, "reject", "fraud", "2", "--comment", "not now").returncode == 0
    run = _wait(client, "fraud", 2, ("SUCCEEDED", "FAILED"))
    assert run.status == "FAILED" and run.current_task_name == "approve"
    assert "was rejected by" in run.error and "not now" in run.error
    assert [r.status for r in client.get_deployment_job_runs("fraud", 2)] == ["FAILED", "FAILED"]
    listing = _cli(home, "deploy-job", "runs", "fraud", "2")
    assert listing.returncode == 0 and "rejected" in listing.stdout


def _check_endpoint(version: Any, model: dict) -> None:
    import pandas as pd
    import requests

    url = version.tags["deployment_job.endpoint"]
    rows = pd.read_csv(model["eval"]).drop(columns="label").head(3)
    reply = requests.post(f"{url}/invocations", json={"dataframe_split": json.loads(rows.to_json(orient="split"))},
                          timeout=30)  # fmt: skip
    assert reply.status_code == 200 and len(reply.json()["predictions"]) == 3
    endpoint = lc.get_endpoint(version.tags["deployment_job.endpoint_id"])
    assert endpoint.url == url and len(endpoint.predict(rows)) == 3
    endpoint.stop()  # the worker that started it is gone: stopped from this process


def test_magics(ipython: Any, client: lc.Client, model: dict, tmp_path: Path) -> None:
    ipython.run_line_magic("lifecycle", f"deploy-job set fraud --dir {tmp_path / 'nb'} --param eval_data=x.csv "
                                        "\"thresholds={'f1_score':{'threshold':0.5,'greater_is_better':True}}\"")  # fmt: skip
    job = client.get_deployment_job("fraud")
    assert job.parameters == {"eval_data": "x.csv", "thresholds": {"f1_score": {"threshold": 0.5, "greater_is_better": True}}}
    shown = ipython.run_line_magic("lifecycle", "deploy-job show fraud")
    assert shown is None or shown == job
    client.delete_deployment_job("fraud")
    client.create_model_version("fraud", model["uri"])
    client.create_transition_request("fraud", 1, "Staging")
    ipython.run_line_magic("lifecycle", "approve fraud 1 --comment ok")
    assert client.get_model_version("fraud", 1).current_stage == "Staging"
    with pytest.raises(InvalidInput, match="has no pending transition request"):
        from jupyter_lifecycle.registry.deployment import decide

        decide(client, "fraud", 1, True)
    with pytest.raises(InvalidState, match="not FAILED"):
        client.rerun_deployment_job("fraud", 1)


def test_example_notebook(home: Path, tmp_path: Path) -> None:
    """example_notebooks/deployment_job.ipynb: evaluate -> register -> job -> approve -> endpoint -> inference log."""
    from nbclient import NotebookClient

    nb = nbformat.read(ROOT / "example_notebooks" / "deployment_job.ipynb", as_version=4)
    env = {**ENV, "JUPYTER_LIFECYCLE_HOME": str(home)}
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute(env=env)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "job is APPROVAL at task approve" in printed
    assert "deployment job SUCCEEDED" in printed and "version 1 is @champion in Production" in printed
    assert "served 5 predictions at http://127.0.0.1:" in printed
    assert "inference log: 1 request(s), 5 row(s)" in printed
    assert not lc.get_endpoint(lc.Client().get_model_version("cancer-classifier", 1).tags["deployment_job.endpoint_id"]).alive


def test_an_approval_wait_ends_when_its_store_is_deleted(client: lc.Client, model: dict) -> None:
    """A job's approve task left waiting on a store that was deleted (a removed temp folder) stops instead of polling forever."""
    import threading

    from jupyter_lifecycle.errors import NotFound
    from jupyter_lifecycle.registry.approval import wait_for_approval

    client.create_model_version("fraud", model["uri"])
    ended: list[BaseException] = []

    def wait() -> None:
        try:
            wait_for_approval("fraud", 1, poll_seconds=0.05, timeout=120)
        except BaseException as exc:  # noqa: BLE001 (the test looks at whatever ended the wait)
            ended.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    for _ in range(600):
        if client.list_transition_requests("fraud", 1):
            break
        waiter.join(0.05)
    assert client.list_transition_requests("fraud", 1), "the wait opened no transition request"
    client.store.db_path.unlink()
    waiter.join(60)
    assert not waiter.is_alive() and len(ended) == 1
    assert isinstance(ended[0], NotFound) and "is gone" in str(ended[0])
