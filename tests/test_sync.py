"""Sync with a real MLflow tracking server (issue #19), started by the test from ``.venv-mlflow``.

Everything pushed is read back through MLflow's own ``MlflowClient`` in that
venv (a subprocess); a registered model pushed here loads there with
``mlflow.pyfunc.load_model("models:/name@champion")``. ``LIFECYCLE_SYNC_BACKEND``
points the server at another backend store (``make team-test``: PostgreSQL).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle import sync
from jupyter_lifecycle.store import open_store
from tests.mlflow_server import MLFLOW_BIN, ROOT, MlflowServer, free_port

pytestmark = [
    pytest.mark.mlflow,
    pytest.mark.skipif(not (MLFLOW_BIN / "mlflow").exists(), reason=f"{MLFLOW_BIN}/mlflow missing: run `make mlflow-venv`"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """One server for the module (starting one takes seconds to a minute on a loaded machine)."""
    running = MlflowServer(tmp_path_factory.mktemp("mlflow-server"))
    running.start()
    yield running
    running.kill()


@pytest.fixture
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A server of its own, for a test that kills it (the module's server stays up for the others)."""
    running = MlflowServer(tmp_path_factory.mktemp("mlflow-own"))
    running.start()
    yield running
    running.kill()


SNAPSHOT = """
def snapshot(names):
    result = {}
    for name in names:
        exp = client.get_experiment_by_name(name)
        if exp is None:
            continue
        runs = client.search_runs([exp.experiment_id], run_view_type=3)
        result[name] = {
            "tags": {k: v for k, v in exp.tags.items() if not k.startswith("mlflow.")},
            "runs": {r.data.tags.get("jupyter_lifecycle.run_id", r.info.run_id): {
                "remote_id": r.info.run_id, "name": r.info.run_name, "status": r.info.status,
                "start_time": r.info.start_time, "end_time": r.info.end_time, "stage": r.info.lifecycle_stage,
                "params": r.data.params, "tags": r.data.tags,
                "history": {k: [[m.step, m.timestamp, m.value] for m in client.get_metric_history(r.info.run_id, k)]
                            for k in r.data.metrics},
                "files": sorted(f for f in _files(r.info.run_id, "")),
            } for r in runs},
        }
    return result

def _files(run_id, path):
    for f in client.list_artifacts(run_id, path or None):
        if f.is_dir:
            yield from _files(run_id, f.path)
        else:
            yield f.path
"""

X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "b": [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]})


def _build_store() -> dict[str, str]:
    """Two experiments, a parent run with a nested child, metric histories, artifacts, a notebook revision,
    a logged scikit-learn model registered twice with an alias, a stage and descriptions."""
    from sklearn.linear_model import LogisticRegression

    ids: dict[str, str] = {}
    lc.set_experiment("sync-a")
    lc.set_experiment_tag("team", "risk")
    with lc.start_run(run_name="parent") as parent:
        ids["parent"] = parent.info.run_id
        lc.log_params({"lr": "0.1", "depth": "3"})
        lc.set_tag("owner", "ada")
        lc.log_metrics({"loss": 1.0, "acc": 0.5}, step=0)
        for step in range(1, 1200):  # more than one log_batch request
            lc.log_metric("loss", 1.0 / (step + 1), step=step)
        lc.log_metric("weird", float("nan"), step=0)
        lc.log_metric("weird", float("inf"), step=1)
        lc.log_input(lc.data.from_pandas(X, name="train"), context="training")
        lc.log_text("hello", "notes/hello.txt")
        lc.log_dict({"k": [1, 2]}, "config.json")
        with lc.start_run(run_name="child", nested=True) as child:
            ids["child"] = child.info.run_id
            lc.log_metric("acc", 0.9)
        model = LogisticRegression().fit(X, [0, 0, 1, 0, 1, 1])
        info = lc.sklearn.log_model(model, name="model", input_example=X[:2])
        ids["model_id"] = info.model_id
    store = open_store()
    notebook = {"cells": [{"cell_type": "code", "source": "print(1)", "metadata": {}, "outputs": [],
                           "execution_count": 1}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}  # fmt: skip
    store.capture.put_revision(notebook, "/work/train.ipynb", "run_end", run_id=ids["parent"], moment="end")
    store.tracking.update_run(ids["parent"], notebook_path="/work/train.ipynb")
    lc.set_experiment("sync-b")
    with lc.start_run(run_name="other") as other:
        ids["other"] = other.info.run_id
        lc.log_param("p", "1")
    client = lc.Client()
    v1 = lc.register_model(f"runs:/{ids['parent']}/model", "sync-model")
    client.update_registered_model("sync-model", description="the team's model")
    client.set_registered_model_tag("sync-model", "domain", "fraud")
    v2 = lc.register_model(f"models:/{ids['model_id']}", "sync-model")
    client.update_model_version("sync-model", v2.version, description="second")
    client.transition_model_version_stage("sync-model", v1.version, "Staging")
    client.set_registered_model_alias("sync-model", "champion", v1.version)
    return ids


def _local(run_id: str) -> lc.Run:
    return lc.Client().get_run(run_id)


def test_push_everything_then_again_then_the_difference(home: Path, server: MlflowServer) -> None:
    ids = _build_store()
    report = sync.push(server.uri, progress=False)
    assert report.ok, str(report)
    assert report.created["experiment"] == 2 and report.created["run"] == 3
    assert report.created["registered_model"] == 1 and report.created["model_version"] == 2
    assert report.created["logged_model"] == 1

    seen = server.mlflow(SNAPSHOT + f"PARENT = {ids['parent']!r}" + """
out = snapshot(["sync-a", "sync-b"])
import mlflow.pyfunc, pandas as pd
model = mlflow.pyfunc.load_model("models:/sync-model@champion")
out["predict"] = [float(x) for x in model.predict(pd.DataFrame({"a": [0.0, 5.0], "b": [1.0, 0.0]}))]
rm = client.get_registered_model("sync-model")
logged = client.search_logged_models([client.get_experiment_by_name("sync-a").experiment_id])
out["logged"] = [[m.name, m.tags.get("jupyter_lifecycle.model_id"), sorted({x.key for x in m.metrics})] for m in logged]
run = client.get_run(out["sync-a"]["runs"][PARENT]["remote_id"])
out["inputs"] = [[i.dataset.name, i.dataset.digest, {t.key: t.value for t in i.tags}] for i in run.inputs.dataset_inputs]
out["model"] = {"description": rm.description, "tags": rm.tags, "aliases": rm.aliases}
out["versions"] = {v.version: {"stage": v.current_stage, "description": v.description, "source": v.source,
                               "run_id": v.run_id, "model_id": v.model_id}
                   for v in client.search_model_versions("name = 'sync-model'")}
""")
    assert isinstance(seen, dict)
    a = seen["sync-a"]
    assert a["tags"] == {"team": "risk"}
    parent, child = a["runs"][ids["parent"]], a["runs"][ids["child"]]
    local = _local(ids["parent"])
    assert (parent["name"], parent["status"], parent["start_time"], parent["end_time"]) == (
        "parent", "FINISHED", local.info.start_time, local.info.end_time)
    assert parent["params"] == {"lr": "0.1", "depth": "3"}
    assert parent["tags"]["owner"] == "ada" and parent["tags"]["mlflow.source.name"] == "/work/train.ipynb"
    # full histories, every point once, with their steps, timestamps and values (NaN and infinity included)
    # (MLflow's SQL store keeps infinity as the largest double)
    for key in ("loss", "acc", "weird"):
        mine = [[m.step, m.timestamp, 1.7976931348623157e308 if m.value == float("inf") else m.value]
                for m in lc.Client().get_metric_history(ids["parent"], key)]
        assert sorted(map(str, parent["history"][key])) == sorted(map(str, mine)), key
    assert len(parent["history"]["loss"]) == 1200
    assert child["tags"]["mlflow.parentRunId"] == parent["remote_id"]
    assert "notes/hello.txt" in parent["files"] and "config.json" in parent["files"]
    assert "notebook/train.ipynb" in parent["files"] and "model/MLmodel" in parent["files"]
    assert list(seen["sync-b"]["runs"]) == [ids["other"]]
    logged = lc.get_logged_model(ids["model_id"])
    assert seen["logged"] == [["model", ids["model_id"], sorted({m.key for m in logged.metrics})]] and logged.metrics
    train = lc.Client().get_run(ids["parent"]).inputs.dataset_inputs[0].dataset
    assert seen["inputs"] == [["train", train.digest, {"mlflow.data.context": "training"}]]
    # the registry, and a model that loads and predicts over there as it does here
    assert seen["model"] == {"description": "the team's model", "tags": {"domain": "fraud"}, "aliases": {"champion": "1"}}
    assert seen["versions"]["1"]["stage"] == "Staging" and seen["versions"]["2"]["description"] == "second"
    assert seen["versions"]["1"]["run_id"] == parent["remote_id"] and seen["versions"]["2"]["source"].startswith("models:/m-")
    here = lc.pyfunc.load_model("models:/sync-model@champion").predict(pd.DataFrame({"a": [0.0, 5.0], "b": [1.0, 0.0]}))
    assert seen["predict"] == [float(x) for x in here]

    # again: nothing new anywhere
    again = sync.push(server.uri, progress=False)
    assert again.ok and not again.created and not again.updated and again.metric_points == 0 and again.files == 0
    assert again.unchanged["run"] == 3

    # local changes: only the difference goes, the alias move is replayed
    client = lc.Client()
    client.log_metric(ids["parent"], "loss", 0.0001, step=1200)
    client.set_tag(ids["parent"], "owner", "grace")
    client.set_registered_model_alias("sync-model", "champion", 2)
    third = sync.push(server.uri, progress=False)
    assert third.ok, str(third)
    assert third.metric_points == 1 and third.updated["run"] == 1 and third.unchanged["run"] == 2
    after = server.mlflow(SNAPSHOT + """
out = snapshot(["sync-a"])
out["aliases"] = client.get_registered_model("sync-model").aliases
out["versions"] = len(client.search_model_versions("name = 'sync-model'"))
out["runs"] = len(client.search_runs([client.get_experiment_by_name("sync-a").experiment_id]))
""")
    assert isinstance(after, dict)
    parent = after["sync-a"]["runs"][ids["parent"]]
    assert len(parent["history"]["loss"]) == 1201 and parent["tags"]["owner"] == "grace"
    assert after["aliases"] == {"champion": "2"} and after["versions"] == 2 and after["runs"] == 2

    # conflicts: a tag changed over there, a run deleted over there: reported, never overwritten
    server.mlflow(f"""
client.set_tag({parent['remote_id']!r}, "owner", "someone-else")
client.delete_run(client.search_runs([client.get_experiment_by_name("sync-b").experiment_id])[0].info.run_id)
""")
    client.set_tag(ids["parent"], "owner", "linus")
    client.log_param(ids["other"], "q", "2")
    fourth = sync.push(server.uri, progress=False)
    assert not fourth.ok and len(fourth.conflicts) == 2, str(fourth)
    assert any(ids["parent"] in c and "owner" in c for c in fourth.conflicts)
    assert any(ids["other"] in c and "deleted" in c for c in fourth.conflicts)
    kept = server.mlflow(f"out = client.get_run({parent['remote_id']!r}).data.tags['owner']")
    assert kept == "someone-else"


STAGES = """
def stages(names):
    out = {}
    for name in names:
        exp = client.get_experiment_by_name(name)
        runs = client.search_runs([exp.experiment_id], run_view_type=3)
        out[name] = {"stage": exp.lifecycle_stage,
                     "runs": {r.data.tags.get("jupyter_lifecycle.run_id", r.info.run_name): r.info.lifecycle_stage
                              for r in runs}}
    return out
"""


def test_deletions_and_restores_are_pushed_and_theirs_are_conflicts(home: Path, server: MlflowServer) -> None:
    client = lc.Client()
    ids = {}
    for experiment, names in (("del-a", ["r1", "r2", "r3"]), ("del-b", ["r4", "r5"])):
        exp = client.create_experiment(experiment)
        for name in names:
            run = client.create_run(exp, run_name=name)
            client.log_metric(run.info.run_id, "m", 1.0)
            client.set_terminated(run.info.run_id)
            ids[name] = run.info.run_id
    client.delete_run(ids["r5"])  # never pushed: not sent, and no deletion to send
    assert sync.push(server.uri, progress=False).created == {"experiment": 2, "run": 4}
    both = ["del-a", "del-b"]

    # a run deleted here is deleted there at the next push, once; restored here, restored there
    client.delete_run(ids["r1"])
    dry = sync.push(server.uri, dry_run=True, progress=False)
    assert ("deleted", "run", f"r1 ({ids['r1']})") in dry.items
    first = sync.push(server.uri, progress=False)
    assert first.ok and first.deleted == {"run": 1} and first.unchanged["run"] == 3, str(first)
    assert not [i for i in dry.items if ids["r5"] in i[2]]
    assert "1 deleted" in str(first)
    seen = server.mlflow(STAGES + f"out = stages({both!r})")
    assert seen == {"del-a": {"stage": "active", "runs": {ids["r1"]: "deleted", ids["r2"]: "active", ids["r3"]: "active"}},
                    "del-b": {"stage": "active", "runs": {ids["r4"]: "active"}}}  # fmt: skip
    again = sync.push(server.uri, progress=False)
    assert again.ok and not again.deleted and again.unchanged["run"] == 4, str(again)
    client.restore_run(ids["r1"])
    client.log_metric(ids["r1"], "m", 2.0, step=1)
    restored = sync.push(server.uri, progress=False)
    assert restored.ok and restored.restored == {"run": 1} and restored.metric_points == 1, str(restored)
    seen = server.mlflow(STAGES + f"""
out = stages({both!r})
r1 = [r for r in client.search_runs([client.get_experiment_by_name("del-a").experiment_id])
      if r.info.run_name == "r1"][0]
out["r1"] = [m.value for m in client.get_metric_history(r1.info.run_id, "m")]
""")
    assert isinstance(seen, dict) and seen["del-a"]["runs"][ids["r1"]] == "active" and seen["r1"] == [1.0, 2.0]

    # a run someone deleted there: a conflict, not recreated, even with nothing new here
    server.mlflow("""
exp = client.get_experiment_by_name("del-a").experiment_id
client.delete_run([r for r in client.search_runs([exp]) if r.info.run_name == "r2"][0].info.run_id)
""")
    theirs = sync.push(server.uri, progress=False)
    assert not theirs.ok and len(theirs.conflicts) == 1 and ids["r2"] in theirs.conflicts[0], str(theirs)
    assert "deleted on the server" in theirs.conflicts[0]
    seen = server.mlflow(STAGES + f"out = stages({both!r})")
    assert isinstance(seen, dict) and seen["del-a"]["runs"][ids["r2"]] == "deleted" and len(seen["del-a"]["runs"]) == 3
    client.delete_run(ids["r2"])  # deleted on both sides now: settled, no conflict
    settled = sync.push(server.uri, progress=False)
    assert settled.ok and settled.deleted == {"run": 1}, str(settled)

    # an experiment deleted here is deleted there (MLflow deletes its runs with it); restored, restored
    client.restore_run(ids["r5"])
    assert sync.push(server.uri, progress=False).created == {"run": 1}
    client.delete_run(ids["r5"])
    assert sync.push(server.uri, progress=False).deleted == {"run": 1}
    client.delete_experiment(client.get_experiment_by_name("del-b").experiment_id)
    gone = sync.push(server.uri, progress=False)
    assert gone.ok and gone.deleted == {"experiment": 1}, str(gone)
    seen = server.mlflow(STAGES + f"out = stages({both!r})")
    assert isinstance(seen, dict) and seen["del-b"] == {"stage": "deleted", "runs": {ids["r4"]: "deleted", ids["r5"]: "deleted"}}
    client.restore_experiment(client.get_experiment_by_name("del-b").experiment_id)
    back = sync.push(server.uri, progress=False)
    # MLflow's restore_experiment restores every run in it: the one deleted here is deleted again
    assert back.ok and back.restored == {"experiment": 1} and back.deleted == {"run": 1}, str(back)
    seen = server.mlflow(STAGES + f"out = stages({both!r})")
    assert isinstance(seen, dict) and seen["del-b"] == {"stage": "active", "runs": {ids["r4"]: "active", ids["r5"]: "deleted"}}
    client.delete_experiment(client.get_experiment_by_name("del-a").experiment_id)
    server.mlflow('client.create_run(client.get_experiment_by_name("del-a").experiment_id, run_name="someone")')
    kept = sync.push(server.uri, progress=False)
    assert not kept.ok and "not pushed from here" in kept.conflicts[0], str(kept)
    seen = server.mlflow(STAGES + 'out = stages(["del-a"])')
    assert isinstance(seen, dict) and seen["del-a"]["stage"] == "active"


def test_registry_deletions_are_pushed_and_theirs_are_conflicts(home: Path, server: MlflowServer) -> None:
    from sklearn.linear_model import LogisticRegression

    from jupyter_lifecycle.sync.status import compare

    lc.set_experiment("registry-deletions")
    with lc.start_run(run_name="trained") as run:
        lc.sklearn.log_model(LogisticRegression().fit(X, [0, 0, 1, 0, 1, 1]), name="model")
    client = lc.Client()
    for name, count in (("kept", 2), ("gone", 1), ("edited", 1)):
        for _ in range(count):
            lc.register_model(f"runs:/{run.info.run_id}/model", name)
    first = sync.push(server.uri, progress=False)
    assert first.ok and first.created["registered_model"] == 3 and first.created["model_version"] == 4, str(first)
    registry = """
out = {m.name: sorted(int(v.version) for v in client.search_model_versions(f"name = '{m.name}'"))
       for m in client.search_registered_models() if m.name in ("kept", "gone", "edited")}
"""

    # a version and a model deleted here are deleted there; the dry run and the status say so first
    client.delete_model_version("kept", 2)
    client.delete_registered_model("gone")
    dry = sync.push(server.uri, dry_run=True, progress=False)
    assert {("deleted", "model_version", "kept v2"), ("deleted", "registered_model", "gone")} <= set(dry.items)
    status = compare(open_store(), server.uri)
    assert {("model_version", "kept v2 (deleted here)"), ("registered_model", "gone (deleted here)")} <= \
        {(e["kind"], e["label"]) for e in status["changed"]}  # fmt: skip
    assert "gone" not in {e["label"] for e in status["remote_only"]}
    assert server.mlflow(registry) == {"kept": [1, 2], "gone": [1], "edited": [1]}
    pushed = sync.push(server.uri, progress=False)
    assert pushed.ok and pushed.deleted == {"model_version": 1, "registered_model": 1}, str(pushed)
    assert server.mlflow(registry) == {"kept": [1], "edited": [1]}
    again = sync.push(server.uri, progress=False)
    assert again.ok and not again.deleted and not again.created, str(again)

    # someone's version in a model deleted here, and a version changed there: conflicts, nothing deleted
    server.mlflow("""
run_id = client.get_model_version("kept", "1").run_id
client.create_model_version("kept", client.get_run(run_id).info.artifact_uri + "/theirs", run_id)
client.update_model_version("edited", "1", description="theirs")
""")
    client.delete_registered_model("kept")
    client.delete_model_version("edited", 1)
    theirs = sync.push(server.uri, progress=False)
    assert not theirs.ok and not theirs.deleted and len(theirs.conflicts) == 2, str(theirs)
    assert any("'kept'" in c and "not pushed from here" in c for c in theirs.conflicts)
    assert any("edited/1" in c and "changed on the server" in c for c in theirs.conflicts)
    assert server.mlflow(registry) == {"kept": [1, 3], "edited": [1]}


def test_dry_run_sends_nothing_and_experiment_filter(home: Path, server: MlflowServer) -> None:
    lc.set_experiment("dry-a")
    with lc.start_run():
        lc.log_metric("m", 1.0)
    lc.set_experiment("dry-b")
    with lc.start_run():
        lc.log_metric("m", 2.0)
    dry = sync.push(server.uri, dry_run=True, progress=False)
    assert dry.dry_run and dry.created["run"] >= 2 and dry.metric_points >= 2
    assert server.mlflow("out = client.get_experiment_by_name('dry-a')") is None
    only = sync.push(server.uri, experiments=["dry-b"], progress=False)
    assert only.ok and only.created == {"experiment": 1, "run": 1}
    assert server.mlflow("out = client.get_experiment_by_name('dry-a')") is None
    with pytest.raises(lc.NotFound, match="nope"):
        sync.push(server.uri, experiments=["nope"], progress=False)
    with pytest.raises(lc.InvalidInput, match="credentials"):
        sync.push("http://user:secret@127.0.0.1:1", progress=False)


def test_push_survives_the_server_dying_mid_push(home: Path, own_server: MlflowServer) -> None:
    lc.set_experiment("crash")
    client = lc.Client()
    run_ids = []
    for i in range(4):
        run = client.create_run(lc.get_experiment_by_name("crash").experiment_id, run_name=f"r{i}")
        client.log_batch(run.info.run_id, metrics=[lc.Metric("x", float(s), 1_700_000_000_000 + s, s)
                                                   for s in range(3000)])  # fmt: skip
        client.set_terminated(run.info.run_id)
        run_ids.append(run.info.run_id)
    store = open_store()
    results: list[sync.SyncReport] = []
    pushing = threading.Thread(target=lambda: results.append(sync.push(own_server.uri, progress=False)))
    pushing.start()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # kill it once some runs are half-way through their points
        marks = [state.get("rowid", 0) for _, state in store.sync.mapped(own_server.uri, "run").values()]
        if sum(1 for m in marks if m) >= 2:
            break
        time.sleep(0.05)
    own_server.kill()
    pushing.join(300)
    assert results and not results[0].ok and results[0].errors, "the push should report what failed"
    own_server.start()
    resumed = sync.push(own_server.uri, progress=False)
    assert resumed.ok, str(resumed)
    seen = own_server.mlflow("""
exp = client.get_experiment_by_name("crash")
runs = client.search_runs([exp.experiment_id], run_view_type=3)
out = [[r.data.tags["jupyter_lifecycle.run_id"], r.info.status, len(client.get_metric_history(r.info.run_id, "x"))]
       for r in runs]
""")
    assert isinstance(seen, list)
    assert sorted(seen) == sorted([rid, "FINISHED", 3000] for rid in run_ids)


MLFLOW_LOGS = """
import mlflow, math
mlflow.set_experiment(EXPERIMENT)
with mlflow.start_run(run_name="theirs") as parent:
    mlflow.log_params({"alpha": "0.5", "layers": "2"})
    mlflow.set_tag("team", "vision")
    for step in range(300):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.log_metric("odd", float("nan"))
    mlflow.log_text("from mlflow", "notes/readme.txt")
    with mlflow.start_run(run_name="theirs-child", nested=True):
        mlflow.log_metric("acc", 0.75, step=3)
with mlflow.start_run(run_name="failed") as failed:
    mlflow.log_param("x", "1")
client.set_terminated(failed.info.run_id, "FAILED")
"""

COMPARE = SNAPSHOT + "\nout = snapshot([EXPERIMENT])[EXPERIMENT]"


def _compare_with_local(theirs: dict, experiment: str, remote_ids_are_local: bool = True) -> None:
    """Every run of ``theirs`` (an MlflowClient snapshot) is in the local store with the same fields."""
    client = lc.Client()
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None
    local_runs = client.search_runs([exp.experiment_id])
    assert len(local_runs) == len(theirs["runs"])
    by_name = {r.info.run_name: r for r in local_runs}
    for remote_id, run in theirs["runs"].items():
        mine = by_name[run["name"]]
        if remote_ids_are_local:
            assert mine.info.run_id == remote_id
        assert (mine.info.status, mine.info.start_time, mine.info.end_time) == (run["status"], run["start_time"], run["end_time"])
        assert mine.data.params == run["params"]
        expected_tags = {k: v for k, v in run["tags"].items() if k != "mlflow.parentRunId"}
        assert {k: v for k, v in mine.data.tags.items() if k != "mlflow.parentRunId"} == expected_tags
        for key, points in run["history"].items():
            local_points = [[m.step, m.timestamp, m.value] for m in client.get_metric_history(mine.info.run_id, key)]
            assert sorted(map(str, local_points)) == sorted(map(str, points)), key
        assert sorted(f.path for f in _walk(client, mine.info.run_id)) == run["files"]
        if "mlflow.parentRunId" in run["tags"]:
            parent_name = next(r["name"] for r in theirs["runs"].values() if r["remote_id"] == run["tags"]["mlflow.parentRunId"])
            assert mine.data.tags["mlflow.parentRunId"] == by_name[parent_name].info.run_id


def _walk(client: lc.Client, run_id: str, path: str | None = None) -> list[lc.FileInfo]:
    out = []
    for item in client.list_artifacts(run_id, path):
        out += _walk(client, run_id, item.path) if item.is_dir else [item]
    return out


def test_pull_a_team_experiment_into_a_fresh_store(home: Path, server: MlflowServer) -> None:
    theirs = server.mlflow("EXPERIMENT = 'team-pull'\n" + MLFLOW_LOGS + COMPARE)
    assert isinstance(theirs, dict) and len(theirs["runs"]) == 3
    report = sync.pull(server.uri, experiments=["team-pull"], progress=False)
    assert report.ok and report.created == {"experiment": 1, "run": 3}, str(report)
    assert report.metric_points == 302 and report.files == 1
    _compare_with_local(theirs, "team-pull")
    again = sync.pull(server.uri, experiments="team-pull", progress=False)
    assert again.ok and not again.created and again.metric_points == 0 and again.unchanged["run"] == 3
    with pytest.raises(lc.InvalidInput, match="--experiment"):
        sync.pull(server.uri, experiments=[], progress=False)


def test_pull_brings_the_deletions_made_there(home: Path, server: MlflowServer) -> None:
    server.mlflow("""
exp = client.create_experiment("team-del")
for name in ("a", "b"):
    client.set_terminated(client.create_run(exp, run_name=name).info.run_id)
""")
    assert sync.pull(server.uri, experiments="team-del", progress=False).created == {"experiment": 1, "run": 2}
    client = lc.Client()
    local = {r.info.run_name: r.info.run_id for r in client.search_runs([client.get_experiment_by_name("team-del").experiment_id])}
    by_name = 'run = {r.info.run_name: r.info.run_id for r in client.search_runs(' \
              '[client.get_experiment_by_name("team-del").experiment_id], run_view_type=3)}\n'  # fmt: skip

    server.mlflow(by_name + 'client.delete_run(run["a"])')
    gone = sync.pull(server.uri, experiments="team-del", progress=False)
    assert gone.ok and gone.deleted == {"run": 1} and gone.unchanged["run"] == 1, str(gone)
    assert client.get_run(local["a"]).info.lifecycle_stage == "deleted"
    assert [r.info.run_name for r in client.search_runs([client.get_experiment_by_name("team-del").experiment_id])] == ["b"]
    server.mlflow(by_name + 'client.restore_run(run["a"])')
    back = sync.pull(server.uri, experiments="team-del", progress=False)
    assert back.ok and back.restored == {"run": 1}, str(back)
    assert client.get_run(local["a"]).info.lifecycle_stage == "active"

    # a run pushed from here and deleted there is kept here, and said so
    mine = client.create_run(client.get_experiment_by_name("team-del").experiment_id, run_name="mine")
    client.set_terminated(mine.info.run_id)
    assert sync.push(server.uri, experiments="team-del", progress=False).created == {"run": 1}
    server.mlflow(by_name + 'client.delete_run(run["mine"])')
    kept = sync.pull(server.uri, experiments="team-del", progress=False)
    assert not kept.ok and mine.info.run_id in kept.conflicts[0] and "pushed from here" in kept.conflicts[0], str(kept)
    assert client.get_run(mine.info.run_id).info.lifecycle_stage == "active"
    client.delete_run(mine.info.run_id)
    assert sync.push(server.uri, experiments="team-del", progress=False).ok  # deleted on both sides: settled

    # an experiment the pull made here follows the deletion of its source, and its restore
    server.mlflow('client.delete_experiment(client.get_experiment_by_name("team-del").experiment_id)')
    gone = sync.pull(server.uri, experiments="team-del", progress=False)
    assert gone.ok and gone.deleted == {"experiment": 1}, str(gone)
    assert client.get_experiment_by_name("team-del").lifecycle_stage == "deleted"
    server.mlflow('client.restore_experiment(client.get_experiment_by_name("team-del").experiment_id)')
    back = sync.pull(server.uri, experiments="team-del", progress=False)
    assert back.ok and back.restored == {"experiment": 1}, str(back)
    assert client.get_experiment_by_name("team-del").lifecycle_stage == "active"


def _written_by_mlflow(tmp_path: Path, layout: str, code: str) -> tuple[Path, Any]:
    """An ``mlflow.db`` or ``mlruns/`` folder that MLflow 3.17 wrote by running ``code`` (with ``client``, an
    ``MlflowClient`` on it, in the store's folder; no server is started); returns it and what ``code`` returned."""
    folder = tmp_path / "theirs"
    folder.mkdir()
    source = folder / "mlflow.db" if layout == "mlflow.db" else folder / "mlruns"
    uri = f"sqlite:///{source}" if layout == "mlflow.db" else source.as_uri()
    # MLflow 3.17 refuses its file store unless asked: mlruns/ folders are what older MLflow left behind
    setup = "import os\nos.environ['MLFLOW_ALLOW_FILE_STORE'] = 'true'\n" \
            f"os.chdir({str(folder)!r})\nmlflow.set_tracking_uri({uri!r})\nmlflow.set_registry_uri({uri!r})\n" \
            "client = mlflow.MlflowClient()\n"  # fmt: skip
    return source, MlflowServer(tmp_path).mlflow(setup + code)


@pytest.mark.parametrize("layout", ["mlflow.db", "mlruns"])
def test_import_what_mlflow_wrote(home: Path, tmp_path: Path, layout: str) -> None:
    source, theirs = _written_by_mlflow(tmp_path, layout, "EXPERIMENT = 'imported'\n" + MLFLOW_LOGS + COMPARE)
    assert isinstance(theirs, dict) and len(theirs["runs"]) == 3
    report = sync.import_mlflow(source, progress=False)
    assert report.ok, str(report)
    assert report.created["run"] == 3 and report.metric_points == 302 and report.files == 1
    _compare_with_local(theirs, "imported")
    again = sync.import_mlflow(source, progress=False)
    assert again.ok and not again.created and again.metric_points == 0


def test_cli_and_magic_without_a_server(home: Path, tmp_path: Path, ipython: object,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """`sync push --dry-run` never contacts the server; `import` and `%lifecycle sync` go through the same code."""
    import sys

    lc.set_experiment("cli-exp")
    with lc.start_run():
        lc.log_metric("m", 1.0)
        lc.log_metric("m", 2.0, step=1)
    lc.flush()
    unreachable = f"http://127.0.0.1:{free_port()}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    dry = subprocess.run([sys.executable, "-m", "jupyter_lifecycle.cli", "sync", "push", unreachable, "--dry-run",
                          "--experiment", "cli-exp", "--since", "2020-01-01"], capture_output=True, text=True, env=env)  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert "would push to" in dry.stdout and "run: 1 new" in dry.stdout and "2 metric points" in dry.stdout
    later = subprocess.run([sys.executable, "-m", "jupyter_lifecycle.cli", "sync", "push", unreachable, "--dry-run",
                            "--since", "2999-01-01"], capture_output=True, text=True, env=env)  # fmt: skip
    assert later.returncode == 0 and "run:" not in later.stdout, later.stdout
    down = subprocess.run([sys.executable, "-m", "jupyter_lifecycle.cli", "sync", "push", unreachable],
                          capture_output=True, text=True, env=env)  # fmt: skip
    assert down.returncode == 1 and "cannot reach the MLflow server" in down.stdout, down.stdout + down.stderr
    bad = subprocess.run([sys.executable, "-m", "jupyter_lifecycle.cli", "sync", "push", "ftp://x"],
                         capture_output=True, text=True, env=env)  # fmt: skip
    assert bad.returncode == 1 and "not an MLflow tracking server URI" in bad.stderr
    missing = subprocess.run([sys.executable, "-m", "jupyter_lifecycle.cli", "import", str(tmp_path / "nothing")],
                             capture_output=True, text=True, env=env)  # fmt: skip
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    capsys.readouterr()
    result = ipython.run_cell(f"%lifecycle sync push {unreachable} --dry-run")  # type: ignore[attr-defined]
    shown = capsys.readouterr().out
    assert result.success and f"would push to {unreachable}" in shown and "run: 1 new" in shown, shown


@pytest.mark.slow
def test_push_100k_metric_points(home: Path, server: MlflowServer) -> None:
    """100,000 points in 4 runs (one of 70,000): every one arrives once, in log-batch requests of at most 1,000."""
    client = lc.Client()
    experiment = client.create_experiment("big")
    sizes = [70_000, 10_000, 10_000, 10_000]
    for n, size in enumerate(sizes):
        run = client.create_run(experiment, run_name=f"big-{n}")
        client.log_batch(run.info.run_id, metrics=[lc.Metric(f"k{i % 3}", i * 0.25, 1_700_000_000_000 + i, i)
                                                   for i in range(size)])  # fmt: skip
        client.set_terminated(run.info.run_id)
    before = (server.folder / "server.log").read_text().count("runs/log-batch")
    report = sync.push(server.uri, experiments=["big"], progress=False)
    assert report.ok and report.metric_points == 100_000, str(report)
    counts = server.mlflow("""
exp = client.get_experiment_by_name("big")
out = {r.info.run_name: sum(len(client.get_metric_history(r.info.run_id, k)) for k in r.data.metrics)
       for r in client.search_runs([exp.experiment_id])}
""")
    assert counts == {f"big-{n}": size for n, size in enumerate(sizes)}
    # packed to MLflow's limit of 1,000 entities per request (the first of each run also carries its tags)
    assert 100 <= (server.folder / "server.log").read_text().count("runs/log-batch") - before <= 104


def test_push_traces_with_spans_and_assessments(home: Path, server: MlflowServer) -> None:
    lc.set_experiment("sync-traces")
    with lc.start_run(run_name="agent") as run:
        @lc.trace(span_type="CHAIN")
        def answer(question: str) -> str:
            with lc.start_span("retrieve", span_type="RETRIEVER") as span:
                span.set_inputs({"q": question})
                span.set_outputs(["doc1"])
            return "Paris"

        assert answer("capital of France?") == "Paris"
    trace_id = lc.get_last_active_trace_id()
    lc.set_trace_tag(trace_id, "reviewed", "no")
    lc.log_feedback(trace_id=trace_id, name="correct", value=True, rationale="matches the docs")
    report = sync.push(server.uri, experiments="sync-traces", progress=False)
    assert report.ok, str(report)
    assert report.created["trace"] == 1

    check = f"""
    trace = client.get_trace({trace_id!r})
    run = client.search_runs([trace.info.experiment_id])[0]
    out = {{"spans": sorted((s.name, s.span_type, s.parent_id is None) for s in trace.data.spans),
            "inputs": [s.inputs for s in trace.data.spans if s.name == "retrieve"][0],
            "response": [s.outputs for s in trace.data.spans if s.parent_id is None][0], "state": str(trace.info.state),
            "tags": {{k: v for k, v in trace.info.tags.items() if not k.startswith("mlflow.")}},
            "source_run": trace.info.trace_metadata.get("mlflow.sourceRun"), "run_id": run.info.run_id,
            "experiment": client.get_experiment(trace.info.experiment_id).name,
            "assessments": sorted((a.name, a.value, a.rationale) for a in trace.info.assessments)}}
    """
    out = server.mlflow(check)
    assert out["spans"] == [["answer", "CHAIN", True], ["retrieve", "RETRIEVER", False]]
    assert out["inputs"] == {"q": "capital of France?"}
    assert out["response"] == "Paris" and out["state"].endswith("OK")
    assert out["tags"] == {"reviewed": "no"}
    assert out["experiment"] == "sync-traces"
    assert out["source_run"] == out["run_id"] != run.info.run_id  # named by its remote id
    assert out["assessments"] == [["correct", True, "matches the docs"]]

    again = sync.push(server.uri, experiments="sync-traces", progress=False)
    assert again.ok and again.unchanged["trace"] == 1 and "trace" not in again.created

    lc.set_trace_tag(trace_id, "reviewed", "yes")
    lc.log_expectation(trace_id=trace_id, name="expected_response", value="Paris")
    third = sync.push(server.uri, experiments="sync-traces", progress=False)
    assert third.ok and third.updated["trace"] == 1, str(third)
    out = server.mlflow(check)
    assert out["tags"] == {"reviewed": "yes"}
    assert out["assessments"] == [["correct", True, "matches the docs"], ["expected_response", "Paris", None]]
    assert server.mlflow("out = len(client.search_traces(locations=[client.get_experiment_by_name('sync-traces').experiment_id]))") == 1


TEAM_MODELS = """
import pandas as pd
from sklearn.linear_model import LogisticRegression
X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "b": [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]})
mlflow.set_experiment("team-models")
for labels in ([0, 0, 1, 0, 1, 1], [1, 1, 0, 1, 0, 0]):
    with mlflow.start_run():
        mlflow.sklearn.log_model(LogisticRegression().fit(X, labels), name="model", registered_model_name="team-model")
client.set_registered_model_alias("team-model", "champion", "1")
client.transition_model_version_stage("team-model", "2", "Staging")
client.update_registered_model("team-model", description="the team's model")
client.set_registered_model_tag("team-model", "owner", "bo")
client.update_model_version("team-model", "1", description="first")
client.set_model_version_tag("team-model", "1", "validated", "yes")
out = [list(map(int, mlflow.pyfunc.load_model(f"models:/team-model/{v}").predict(X))) for v in (1, 2)]
"""


def _team_registry_brought(report: sync.SyncReport) -> tuple[Any, Any]:
    """Check that a pull or import brought TEAM_MODELS' registry whole; its two versions."""
    assert report.ok, str(report)
    assert report.created == {"experiment": 1, "run": 2, "registered_model": 1, "model_version": 2}, str(report)
    client = lc.Client()
    model = client.get_registered_model("team-model")
    assert model.description == "the team's model" and model.tags == {"owner": "bo"} and model.aliases == {"champion": 1}
    v1, v2 = client.get_model_version("team-model", 1), client.get_model_version("team-model", 2)
    assert (v1.description, v1.tags, v1.current_stage, v2.current_stage) == ("first", {"validated": "yes"}, "None", "Staging")
    return v1, v2


def test_pull_registered_models_with_versions_aliases_and_stages(home: Path, server: MlflowServer) -> None:
    predictions = server.mlflow(TEAM_MODELS)
    v1, v2 = _team_registry_brought(sync.pull(server.uri, experiments="team-models", progress=False))
    assert {v1.run_id, v2.run_id} == {r.info.run_id for r in lc.search_runs(experiment_names=["team-models"], output_format="list")}
    assert v1.source.startswith(f"runs:/{v1.run_id}/models/")  # the pulled run's artifacts
    champion = lc.pyfunc.load_model("models:/team-model@champion")
    assert list(map(int, champion.predict(X))) == predictions[0]  # type: ignore[index]
    assert list(map(int, lc.pyfunc.load_model("models:/team-model/2").predict(X))) == predictions[1]  # type: ignore[index]

    again = sync.pull(server.uri, experiments="team-models", progress=False)
    assert again.ok and not again.created and again.unchanged["model_version"] == 2, str(again)

    server.mlflow('client.set_registered_model_alias("team-model", "champion", "2")\n'
                  'client.transition_model_version_stage("team-model", "2", "Production")')
    third = sync.pull(server.uri, experiments="team-models", progress=False)
    assert third.ok and not third.created and third.updated["model_version"] == 1, str(third)
    client = lc.Client()
    assert client.get_registered_model("team-model").aliases == {"champion": 2}
    assert client.get_model_version("team-model", 2).current_stage == "Production"


def test_status_compares_without_sending_then_push_through_the_rest_api(home: Path, server: MlflowServer) -> None:
    from jupyter_lifecycle.server import api
    from jupyter_lifecycle.sync.status import compare

    lc.set_experiment("status-exp")
    with lc.start_run(run_name="first") as first:
        lc.log_metric("m", 1.0)
    store = open_store()
    assert sync.push(server.uri, experiments="status-exp", progress=False).ok
    with lc.start_run(run_name="second") as second:
        lc.log_metric("m", 2.0)
    lc.Client().set_tag(first.info.run_id, "note", "changed")
    server.mlflow("""
exp = client.get_experiment_by_name("status-exp").experiment_id
client.create_run(exp, run_name="theirs")
client.create_experiment("status-only-there")
""")
    status = compare(store, server.uri)
    local_only = {(e["kind"], e["label"]) for e in status["local_only"]}
    assert ("run", f"second ({second.info.run_id})") in local_only
    assert {(e["kind"], e["label"]) for e in status["changed"]} >= {("run", f"first ({first.info.run_id})")}
    remote_only = {(e["kind"], e["label"].split(" (")[0]) for e in status["remote_only"]}
    assert {("run", "theirs"), ("experiment", "status-only-there")} <= remote_only
    assert ("experiment", "status-exp") not in remote_only and not status["errors"]
    assert server.mlflow("out = len(client.search_runs([client.get_experiment_by_name('status-exp').experiment_id]))") == 2

    report = api.sync_push(lc.Client(), server.uri)["report"]
    assert report["ok"] and report["created"].get("run", 0) >= 1 and report["updated"]["run"] == 1, report["text"]
    after = compare(store, server.uri)
    assert not after["changed"] and not [e for e in after["local_only"] if e["kind"] == "run"]
    with pytest.raises(lc.InvalidInput, match="uri="):
        api.sync_status(lc.Client(), "")


@pytest.mark.parametrize("layout", ["mlflow.db", "mlruns"])
def test_import_brings_the_registry_mlflow_wrote(home: Path, tmp_path: Path, layout: str) -> None:
    source, predictions = _written_by_mlflow(tmp_path, layout, TEAM_MODELS)
    v1, _ = _team_registry_brought(sync.import_mlflow(source, experiments=["team-models"], progress=False))
    assert v1.source.startswith(f"runs:/{v1.run_id}/models/m-")  # the logged model's files, into the run's artifacts
    assert list(map(int, lc.pyfunc.load_model("models:/team-model@champion").predict(X))) == predictions[0]  # type: ignore[index]
    assert list(map(int, lc.pyfunc.load_model("models:/team-model/2").predict(X))) == predictions[1]  # type: ignore[index]
    again = sync.import_mlflow(source, experiments=["team-models"], progress=False)
    assert again.ok and not again.created and again.unchanged["model_version"] == 2, str(again)
