"""Logged models as MLflow 3 entities: ``m-<id>`` records, ``models:/m-<id>`` URIs, model metrics per dataset."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import requests
from sklearn.linear_model import LogisticRegression

import jupyter_lifecycle as lc
from jupyter_lifecycle.errors import AlreadyExists, InvalidInput, NotFound
from jupyter_lifecycle.store import open_store

X = pd.DataFrame({"a": [0.5, 1.0, 2.5, 3.0, 4.5, 5.0], "b": [3.0, 1.0, 4.0, 1.0, 5.0, 9.0]})
Y = [0, 0, 1, 0, 1, 1]
MODEL_ID = re.compile(r"m-[0-9a-f]{32}")


@dataclass(frozen=True)
class Data:
    """Any object with ``.name`` and ``.digest`` is a dataset to ``log_metric``."""

    name: str
    digest: str


@pytest.fixture
def estimator() -> LogisticRegression:
    return LogisticRegression().fit(X, Y)


def test_log_model_without_a_run_starts_none_and_loads_everywhere(home: Path, estimator: LogisticRegression) -> None:
    info = lc.sklearn.log_model(estimator, name="clf", input_example=X[:2])
    assert MODEL_ID.fullmatch(info.model_id) and info.model_uri == f"models:/{info.model_id}"
    assert lc.active_run() is None and info.run_id is None and lc.search_runs().empty
    folder = home / "artifacts" / "models" / info.model_id
    assert (folder / "MLmodel").is_file() and info.artifact_path == str(folder)

    model = lc.get_logged_model(info.model_id)
    assert (model.name, model.status, model.source_run_id) == ("clf", "READY", None)
    assert model.experiment_id == lc.get_experiment_by_name("Default").experiment_id
    assert model.artifact_location == str(folder) and model.flavors == ("python_function", "sklearn")
    assert model.tags["mlflow.user"] and model.tags["mlflow.source.type"] in ("LOCAL", "NOTEBOOK")
    assert lc.last_logged_model() == model

    want = estimator.predict(X).tolist()
    assert lc.pyfunc.load_model(info.model_uri).predict(X).tolist() == want
    assert lc.sklearn.load_model(info.model_uri).predict(X).tolist() == want
    assert lc.score(info.model_uri, X, progress=False)["prediction"].tolist() == want
    assert lc.models.get_model_dependencies(info.model_uri).endswith("requirements.txt")


def test_inside_a_run_the_model_links_to_it_and_takes_its_metrics_and_params(
    home: Path, estimator: LogisticRegression
) -> None:
    with lc.start_run() as run:
        lc.log_param("C", 1.0)
        lc.log_metric("train_acc", 0.95)
        info = lc.sklearn.log_model(estimator, name="model", params={"solver": "lbfgs"}, tags={"team": "risk"},
                                    model_type="classifier")  # fmt: skip
        lc.log_metric("val_acc", 0.9)  # at the model's step: the model's too, as in MLflow 3
        lc.log_metric("loss", 0.3, step=5)  # another step: the run's only
    model = lc.get_logged_model(info.model_id)
    assert model.source_run_id == run.info.run_id == info.run_id and model.experiment_id == run.info.experiment_id
    assert model.params == {"C": "1.0", "solver": "lbfgs"} and model.tags["team"] == "risk"
    assert model.model_type == "classifier" and model.artifact_path == "model"
    assert {m.key: m.value for m in model.metrics} == {"train_acc": 0.95, "val_acc": 0.9}
    assert all(m.model_id == model.model_id and m.run_id == run.info.run_id for m in model.metrics)
    # the run keeps its own copy, and its runs:/ URI still loads
    assert lc.get_run(run.info.run_id).data.metrics == {"train_acc": 0.95, "val_acc": 0.9, "loss": 0.3}
    assert lc.pyfunc.load_model(f"runs:/{run.info.run_id}/model").metadata.model_id == info.model_id
    assert "model/MLmodel" in {f.path for f in lc.list_artifacts(run.info.run_id, "model")}


def test_metrics_per_dataset_answer_which_model_is_best_on_which_data(
    home: Path, estimator: LogisticRegression
) -> None:
    lc.set_experiment("bakeoff")
    train, test = Data("train", "aaaa1111"), Data("test", "bbbb2222")
    ids = {}
    for name, test_acc, train_acc in (("small", 0.70, 0.99), ("medium", 0.85, 0.90), ("large", 0.80, 0.97)):
        with lc.start_run():
            info = lc.sklearn.log_model(estimator, name=name)
            lc.log_metric("accuracy", test_acc, model_id=info.model_id, dataset=test)
            lc.log_metrics({"accuracy": train_acc}, model_id=info.model_id, dataset=train)
        ids[name] = info.model_id
    metric = lc.get_logged_model(ids["medium"]).metrics
    assert {(m.dataset_name, m.dataset_digest, m.value) for m in metric} == {("test", "bbbb2222", 0.85),
                                                                               ("train", "aaaa1111", 0.90)}  # fmt: skip

    def best(dataset: str) -> list[str]:
        found = lc.search_logged_models(
            datasets=[{"dataset_name": dataset}], output_format="list",
            order_by=[{"field_name": "metrics.accuracy", "ascending": False, "dataset_name": dataset}],
        )  # fmt: skip
        return [m.name for m in found]

    assert best("test") == ["medium", "large", "small"] and best("train") == ["small", "large", "medium"]
    on_test = lc.search_logged_models(filter_string="metrics.accuracy > 0.75", datasets=[{"dataset_name": "test",
                                      "dataset_digest": "bbbb2222"}], output_format="list")  # fmt: skip
    assert {m.name for m in on_test} == {"medium", "large"}
    anywhere = lc.search_logged_models(filter_string="metrics.accuracy > 0.95", output_format="list")
    assert {m.name for m in anywhere} == {"small", "large"}  # any dataset counts without datasets=
    frame = lc.search_logged_models()
    assert list(frame.columns[:13]) == ["artifact_location", "creation_timestamp", "experiment_id",
                                        "last_updated_timestamp", "metrics", "model_id", "model_type", "name",
                                        "params", "source_run_id", "status", "status_message", "tags"]  # fmt: skip
    assert list(frame["name"]) == ["large", "medium", "small"]
    assert lc.search_logged_models(experiment_ids=[lc.create_experiment("empty")]).empty
    with pytest.raises(InvalidInput, match="dataset_name"):
        lc.search_logged_models(datasets=[{"dataset_digest": "x"}])
    with pytest.raises(InvalidInput, match=r"\.name and \.digest"):
        lc.log_metric("accuracy", 0.5, model_id=ids["small"], dataset=object())
    with pytest.raises(InvalidInput, match="model_id"):
        lc.log_metric("accuracy", 0.5, dataset=test)
    assert lc.active_run() is None  # bad input starts no run


def test_tags_params_status_and_the_active_model(home: Path, estimator: LogisticRegression) -> None:
    pending = lc.initialize_logged_model(name="agent", params={"temperature": 0.2}, model_type="agent")
    assert pending.status == "PENDING" and pending.params == {"temperature": "0.2"}
    with pytest.raises(NotFound, match="has no files yet"):
        lc.pyfunc.load_model(pending.model_uri)
    info = lc.sklearn.log_model(estimator, model_id=pending.model_id, params={"top_k": 3})
    assert info.model_id == pending.model_id and lc.get_logged_model(pending.model_id).status == "READY"
    assert lc.pyfunc.load_model(info.model_uri).predict(X).tolist() == estimator.predict(X).tolist()
    assert lc.finalize_logged_model(pending.model_id, "FAILED").status == "FAILED"
    with pytest.raises(InvalidInput, match="READY"):
        lc.finalize_logged_model(pending.model_id, "DONE")

    lc.set_logged_model_tags(pending.model_id, {"stage": "eval", "n": 3})
    assert lc.get_logged_model(pending.model_id).tags["n"] == "3"
    lc.delete_logged_model_tag(pending.model_id, "stage")
    assert "stage" not in lc.get_logged_model(pending.model_id).tags
    with pytest.raises(NotFound, match="no tag 'stage'"):
        lc.delete_logged_model_tag(pending.model_id, "stage")
    assert lc.search_logged_models(filter_string="tags.n = '3' AND params.top_k = '3'", output_format="list")[0].name == "agent"

    assert lc.get_active_model_id() is None
    with lc.set_active_model(name="agent") as active:
        assert active.model_id == pending.model_id == lc.get_active_model_id()
        lc.log_model_params({"max_tokens": 100})
    assert lc.get_active_model_id() is None
    assert lc.get_logged_model(pending.model_id).params["max_tokens"] == "100"
    with pytest.raises(InvalidInput, match="already has param"):
        lc.log_model_params({"max_tokens": 200}, model_id=pending.model_id)
    fresh = lc.set_active_model(name="new-agent")  # unknown name: created, as MLflow does
    assert lc.get_logged_model(fresh.model_id).tags["mlflow.model.isExternal"] == "true"
    assert lc.get_active_model_id() == fresh.model_id


def test_client_methods(client: lc.Client) -> None:
    experiment_id = client.create_experiment("c")
    models = [client.create_logged_model(experiment_id, name=f"m{i}", params={"i": i}) for i in range(5)]
    assert all(m.status == "PENDING" and MODEL_ID.fullmatch(m.model_id) for m in models)
    assert client.finalize_logged_model(models[0].model_id, "READY").status == "READY"
    client.set_logged_model_tags(models[1].model_id, {"k": "v"})
    client.delete_logged_model_tag(models[1].model_id, "k")
    client.log_model_params(models[2].model_id, {"extra": 1})
    assert client.get_logged_model(models[2].model_id).params == {"i": "2", "extra": "1"}
    first = client.search_logged_models([experiment_id], max_results=3)
    second = client.search_logged_models([experiment_id], max_results=3, page_token=first.token)
    assert [m.name for m in first] == ["m4", "m3", "m2"] and [m.name for m in second] == ["m1", "m0"]
    assert second.token is None
    with lc.start_run(experiment_id=experiment_id) as run:
        pass
    client.log_metric(run.info.run_id, "f1", 0.5, model_id=models[3].model_id, dataset_name="d", dataset_digest="1")
    assert client.get_logged_model(models[3].model_id).metrics[0].dataset_name == "d"
    assert client.get_run(run.info.run_id).data.metrics == {"f1": 0.5}


def test_unknown_or_bad_model_ids_and_failures_leave_nothing(home: Path, estimator: LogisticRegression) -> None:
    info = lc.sklearn.log_model(estimator, name="kept")
    typo = info.model_id[:-1] + ("0" if info.model_id[-1] != "0" else "1")
    with pytest.raises(NotFound) as caught:
        lc.pyfunc.load_model(f"models:/{typo}")
    assert info.model_id in str(caught.value) and "'kept'" in str(caught.value) and typo in str(caught.value)
    with pytest.raises(NotFound, match="closest"):
        lc.get_logged_model(typo)
    with pytest.raises(NotFound, match="closest"):
        lc.log_metric("x", 1.0, model_id=typo)
    assert lc.active_run() is None  # checked before a run is started for the point

    before = len(lc.search_logged_models(output_format="list"))
    with pytest.raises(NotFound, match="code path"):
        lc.sklearn.log_model(estimator, name="broken", code_paths=[str(home / "missing.py")])
    assert len(lc.search_logged_models(output_format="list")) == before
    assert sorted(p.name for p in (home / "artifacts" / "models").iterdir()) == [info.model_id]
    with lc.start_run() as run:
        with pytest.raises(NotFound):
            lc.sklearn.log_model(estimator, name="broken", code_paths=[str(home / "missing.py")])
    assert not (lc.Client().artifact_dir(run.info.run_id) / "broken").exists()
    assert len(lc.search_logged_models(output_format="list")) == before
    with pytest.raises(InvalidInput, match="give only name"):
        lc.sklearn.log_model(estimator, "a", name="b")
    with lc.start_run() as run:
        first = lc.sklearn.log_model(estimator, name="twice")
        with pytest.raises(AlreadyExists, match="already has a model named 'twice'"):
            lc.sklearn.log_model(estimator, name="twice")
    assert lc.pyfunc.load_model(first.model_uri).predict(X).tolist() == estimator.predict(X).tolist()
    assert len(lc.search_logged_models(output_format="list")) == before + 1
    with pytest.raises(AlreadyExists, match="already has files"):
        lc.sklearn.log_model(estimator, model_id=first.model_id)
    assert lc.pyfunc.load_model(first.model_uri).predict(X).tolist() == estimator.predict(X).tolist()


def test_registry_versions_carry_the_logged_model(home: Path, estimator: LogisticRegression) -> None:
    with lc.start_run() as run:
        lc.log_metric("accuracy", 0.8)
        info = lc.sklearn.log_model(estimator, name="model", params={"C": 1}, registered_model_name="churn")
    assert info.registered_model_version == 1
    version = lc.Client().get_model_version("churn", 1)
    assert version.model_id == info.model_id and version.run_id == run.info.run_id
    assert [(p.key, p.value) for p in version.params or []] == [("C", "1")]
    assert [(m.key, m.value) for m in version.metrics or []] == [("accuracy", 0.8)]
    by_runs_uri = lc.register_model(f"runs:/{run.info.run_id}/model", "churn")  # the MLmodel names the logged model
    assert by_runs_uri.model_id == info.model_id
    lineage = lc.lineage("models:/churn/1")
    assert lineage.logged_model is not None and lineage.logged_model.model_id == info.model_id
    assert lineage.to_dict()["logged_model"]["metrics"][0]["key"] == "accuracy"
    assert f"logged model:  model ({info.model_id})" in str(lineage) and info.model_id in lineage._repr_html_()
    assert lc.lineage(info.model_uri).run.info.run_id == run.info.run_id
    client = lc.Client()
    mv = client.create_model_version("churn", info.model_uri)
    assert mv.model_id == info.model_id and mv.source == info.model_uri
    assert list(lc.search_model_versions("name = 'churn'")["model_id"]) == [info.model_id] * 3


def test_html_repr_shows_metrics_with_their_dataset(home: Path, estimator: LogisticRegression) -> None:
    info = lc.sklearn.log_model(estimator, name="shown")
    with lc.start_run():
        lc.log_metric("auc", 0.875, model_id=info.model_id, dataset=Data("holdout", "c0ffee00"))
    page = lc.get_logged_model(info.model_id)._repr_html_()
    assert "Logged model shown" in page and "holdout (c0ffee00)" in page and "0.875" in page
    assert info.model_uri in page and "READY" in page


def test_an_older_store_gains_the_logged_model_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_lifecycle import config
    from jupyter_lifecycle.store import migrations

    home = tmp_path / "old"
    home.mkdir()
    conn = sqlite3.connect(home / config.DB_FILENAME, isolation_level=None)
    for step in migrations.MIGRATIONS[:5]:
        step(conn)
    conn.execute("PRAGMA user_version = 5")
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
                 " applied_time INTEGER NOT NULL)")  # fmt: skip
    conn.executemany("INSERT INTO schema_migrations (name, applied_time) VALUES (?, 0)",
                     [(s.__name__,) for s in migrations.MIGRATIONS[:5]])  # fmt: skip
    conn.execute("INSERT INTO experiments VALUES ('e1', 'old', 'artifacts/e1', 'active', 0, 0)")
    conn.execute("INSERT INTO runs (run_id, experiment_id, run_name, status, start_time, artifact_location,"
                 " lifecycle_stage) VALUES ('r1', 'e1', 'r', 'FINISHED', 0, 'artifacts/e1/r1', 'active')")  # fmt: skip
    conn.execute("INSERT INTO latest_metrics VALUES ('r1', 'acc', 0.5, 0, 0)")
    conn.execute(f"INSERT INTO logged_models VALUES ('m-{'0' * 32}', 'e1', 'r1', 'model', 'model', '[]', NULL, NULL,"
                 " 'u', 1, 'h', 'READY', 7)")  # fmt: skip
    conn.close()
    store = open_store(home)
    model = store.models.get(f"m-{'0' * 32}")
    assert model.artifact_location == str(home / "artifacts/e1/r1/model") and model.last_updated_timestamp == 7
    assert [(m.key, m.value) for m in model.metrics] == [("acc", 0.5)]


def test_serve_a_logged_model_by_its_uri(home: Path, estimator: LogisticRegression) -> None:
    info = lc.sklearn.log_model(estimator, name="served", input_example=X[:2])
    import os

    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_lifecycle.cli", "serve", info.model_uri, "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "JUPYTER_LIFECYCLE_HOME": str(home)},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert url, line + proc.stdout.read()
        answer = requests.post(f"{url.group(0)}/invocations", json={"dataframe_split": X.to_dict(orient="split")},
                               timeout=30)  # fmt: skip
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == estimator.predict(X).tolist()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    missing = subprocess.run([sys.executable, "-m", "jupyter_lifecycle.cli", "serve", f"models:/m-{'f' * 32}"],
                             capture_output=True, text=True, timeout=60,
                             env={**os.environ, "JUPYTER_LIFECYCLE_HOME": str(home)})  # fmt: skip
    assert missing.returncode == 1 and "no logged model" in missing.stderr and info.model_id in missing.stderr


def test_a_scoring_notebook_for_a_logged_model_runs(home: Path, tmp_path: Path, estimator: LogisticRegression) -> None:
    import papermill

    info = lc.sklearn.log_model(estimator, name="scored", input_example=X[:2])  # no run: its own folder
    X.to_csv(tmp_path / "in.csv", index=False)
    path = lc.generate_scoring_notebook(info.model_uri, input_path=str(tmp_path / "in.csv"),
                                        output_path=str(tmp_path / "out.csv"), notebook_path=tmp_path / "s.ipynb")  # fmt: skip
    assert f"**scored** `{info.model_id}`" in path.read_text()
    papermill.execute_notebook(str(path), str(tmp_path / "s.out.ipynb"), parameters={"install_requirements": False},
                               kernel_name="python3", cwd=str(tmp_path), progress_bar=False)  # fmt: skip
    assert pd.read_csv(tmp_path / "out.csv")["prediction"].tolist() == estimator.predict(X).tolist()
