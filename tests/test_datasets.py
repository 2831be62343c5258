"""Datasets (#13 part 2): lc.data, log_input/log_inputs, run.inputs, autolog's training dataset, lineage, displays."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from IPython.utils.capture import capture_output

import jupyter_lifecycle as lc
from jupyter_lifecycle.entities import Dataset, DatasetInput, InputTag, LoggedModelInput, RunInputs

DF = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "city": ["a", "b", "c", "d"], "y": [0, 1, 0, 1]})


def _tables(home: Path) -> dict[str, int]:
    with sqlite3.connect(home / "lifecycle.db") as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("datasets", "run_inputs", "input_tags")}  # fmt: skip


# ---- building datasets -----------------------------------------------------


def test_from_pandas_record_fields() -> None:
    ds = lc.data.from_pandas(DF, source="data/train.csv", name="train", targets="y")
    assert (ds.name, ds.targets, ds.source.source_type) == ("train", "y", "local")
    assert len(ds.digest) == 8 and int(ds.digest, 16) >= 0
    config = ds.to_dict()
    assert config["source"] == '{"uri": "data/train.csv"}'
    assert json.loads(config["profile"]) == {"num_rows": 4, "num_elements": 12}
    assert json.loads(config["schema"]) == {"mlflow_colspec": [
        {"type": "double", "name": "x", "required": True},
        {"type": "string", "name": "city", "required": True},
        {"type": "long", "name": "y", "required": True},
    ]}  # fmt: skip
    assert repr(ds) == f"<PandasDataset: name='train' digest='{ds.digest}' source_type='local' num_rows=4 num_elements=12>"


def test_digest_is_stable_over_equal_content_and_changes_with_it() -> None:
    one = lc.data.from_pandas(DF).digest
    assert lc.data.from_pandas(DF.copy()).digest == one
    assert lc.data.from_pandas(DF, name="other", source="s3://b/k.csv").digest == one  # name/source are not content
    changed = DF.copy()
    changed.loc[2, "x"] = 30.0
    assert lc.data.from_pandas(changed).digest != one
    assert lc.data.from_pandas(DF.rename(columns={"x": "z"})).digest != one
    assert lc.data.from_pandas(DF, digest="custom01").digest == "custom01"


def test_sources_resolve_like_mlflow(tmp_path: Path) -> None:
    cases = {
        "data.csv": ("local", {"uri": "data.csv"}), "file:///tmp/d.csv": ("local", {"uri": "file:///tmp/d.csv"}),
        "https://x.org/d.csv": ("http", {"url": "https://x.org/d.csv"}), "s3://b/d.csv": ("s3", {"uri": "s3://b/d.csv"}),
    }  # fmt: skip
    for given, (kind, fields) in cases.items():
        source = lc.data.from_pandas(DF, source=given).source
        assert (source.source_type, source.to_dict()) == (kind, fields)
    assert lc.data.from_pandas(DF, source=tmp_path / "p.csv").source.to_dict() == {"uri": str(tmp_path / "p.csv")}
    code = lc.data.from_pandas(DF).source  # no source: the code running now, as MLflow
    assert code.source_type == "code" and {"mlflow.user", "mlflow.source.name"} <= set(code.to_dict()["tags"])


def test_from_numpy_profile_schema_and_dicts() -> None:
    ds = lc.data.from_numpy(np.arange(12).reshape(4, 3), source="x.npy", targets=np.array([0, 1, 0, 1]))
    assert json.loads(ds.to_dict()["profile"]) == {
        "features_shape": [4, 3], "features_size": 12, "features_nbytes": 96,
        "targets_shape": [4], "targets_size": 4, "targets_nbytes": 32}  # fmt: skip
    spec = json.loads(ds.to_dict()["schema"])["mlflow_tensorspec"]
    assert json.loads(spec["features"])[0]["tensor-spec"] == {"dtype": "int64", "shape": [-1, 3]}
    named = lc.data.from_numpy({"b": np.ones((4, 2)), "a": np.arange(4)})
    assert named.digest == lc.data.from_numpy({"a": np.arange(4), "b": np.ones((4, 2))}).digest  # key order is not content
    assert json.loads(named.to_dict()["profile"])["features_shape"] == {"b": [4, 2], "a": [4]}


def test_bad_dataset_arguments_are_refused_with_the_argument_named() -> None:
    with pytest.raises(lc.InvalidInput, match="targets='label' is not a column"):
        lc.data.from_pandas(DF, targets="label")
    with pytest.raises(lc.InvalidInput, match="predictions='p' is not a column"):
        lc.data.from_pandas(DF, predictions="p")
    with pytest.raises(lc.InvalidInput, match="df must be a pandas DataFrame, not list"):
        lc.data.from_pandas([[1, 2]])  # type: ignore[arg-type]
    with pytest.raises(lc.InvalidInput, match="features must be a numpy array"):
        lc.data.from_numpy([1, 2, 3])
    with pytest.raises(lc.InvalidInput, match="source must be a path or URI string"):
        lc.data.from_pandas(DF, source=42)  # type: ignore[arg-type]
    with pytest.raises(lc.InvalidInput, match="name must be a non-empty string"):
        lc.data.from_pandas(DF, name="")


def test_unhashable_columns_still_get_a_digest_and_are_logged(home: Path) -> None:
    df = pd.DataFrame({"tags": [["a"], ["b", "c"]], "meta": [{"k": 1}, {"k": 2}], "n": [1, 2]})
    ds = lc.data.from_pandas(df, name="nested")
    assert len(ds.digest) == 8
    only_lists = pd.DataFrame({"tags": [["a"], ["b"]]})  # nothing hashable at all: the shape and names still count
    assert lc.data.from_pandas(only_lists).digest != lc.data.from_pandas(pd.DataFrame({"other": [["a"], ["b"]]})).digest
    duplicate = lc.data.from_pandas(pd.DataFrame([[1, 2]], columns=["a", "a"]))
    assert len(duplicate.digest) == 8 and duplicate.to_dict()["schema"] is None  # no single type per name
    objects = lc.data.from_numpy(np.array([{"a": 1}, {"b": 2}], dtype=object))
    assert len(objects.digest) == 8
    with lc.start_run() as run:
        lc.log_input(ds, context="training")
    assert lc.get_run(run.info.run_id).inputs.dataset_inputs[0].dataset.digest == ds.digest


# ---- logging and reading back ------------------------------------------------


def test_log_input_links_dataset_with_context_and_tags(home: Path) -> None:
    ds = lc.data.from_pandas(DF, source="data/train.csv", name="train", targets="y")
    with lc.start_run() as run:
        lc.log_input(ds, context="training", tags={"split": "v1", "fold": 3})
    got = lc.get_run(run.info.run_id)
    assert isinstance(got.inputs, RunInputs) and got.inputs.model_inputs == []
    (item,) = got.inputs.dataset_inputs
    assert item.dataset == Dataset("train", ds.digest, "local", '{"uri": "data/train.csv"}',
                                   ds.to_dict()["schema"], '{"num_rows": 4, "num_elements": 12}')  # fmt: skip
    assert item.tags == [InputTag("fold", "3"), InputTag("mlflow.data.context", "training"), InputTag("split", "v1")]
    assert item.context == "training"
    assert got.to_dictionary()["inputs"]["dataset_inputs"][0]["tags"]["mlflow.data.context"] == "training"
    assert item.summary() == f"train@{ds.digest} (training, 4 rows, from local data/train.csv)"


def test_same_dataset_is_one_record_per_experiment_and_linked_once_per_run(home: Path) -> None:
    ds = lc.data.from_pandas(DF, name="train")
    with lc.start_run() as first:
        lc.log_input(ds, context="training")
        lc.log_input(ds, context="eval")  # already linked: MLflow keeps the first link and its tags
    with lc.start_run() as second:
        lc.log_input(lc.data.from_pandas(DF.copy(), name="train"), context="eval")
        lc.log_input(lc.data.from_pandas(DF.head(2), name="train"), context="eval")  # other content: new record
    assert _tables(home) == {"datasets": 2, "run_inputs": 3, "input_tags": 3}
    assert [i.context for i in lc.get_run(first.info.run_id).inputs.dataset_inputs] == ["training"]
    assert [i.context for i in lc.get_run(second.info.run_id).inputs.dataset_inputs] == ["eval", "eval"]
    lc.set_experiment("other")
    with lc.start_run():
        lc.log_input(ds)  # no context: no tag
    assert _tables(home) == {"datasets": 3, "run_inputs": 4, "input_tags": 3}


def test_log_inputs_batch_and_search_runs_list(home: Path) -> None:
    train = lc.data.from_pandas(DF, name="train")
    test = lc.data.from_numpy(np.eye(3), name="test")
    with lc.start_run() as run:
        lc.log_inputs([train, test], contexts=["training", "test"], tags_list=[None, {"my_tag": "x"}])
    with lc.start_run() as bare:
        pass
    runs = {r.info.run_id: r for r in lc.search_runs(output_format="list")}
    items = runs[run.info.run_id].inputs.dataset_inputs
    assert [(i.dataset.name, i.context) for i in items] == [("train", "training"), ("test", "test")]
    assert items[1].tags == [InputTag("mlflow.data.context", "test"), InputTag("my_tag", "x")]
    assert runs[bare.info.run_id].inputs == RunInputs()
    frame = lc.search_runs()
    assert len(frame) == 2 and not any(c.startswith("inputs") for c in frame.columns)  # as MLflow's DataFrame


def test_client_log_inputs_with_entities_and_models(client: lc.Client) -> None:
    run = client.create_run()
    entity = Dataset("raw", "abcd1234", "http", '{"url": "https://x.org/d.csv"}')
    client.log_inputs(run.info.run_id, datasets=[DatasetInput(entity, [InputTag("mlflow.data.context", "eval")])],
                      models=[LoggedModelInput("m-0123456789abcdef0123456789abcdef")])  # fmt: skip
    got = client.get_run(run.info.run_id).inputs
    assert got.dataset_inputs == [DatasetInput(entity, [InputTag("mlflow.data.context", "eval")])]
    assert got.model_inputs == [LoggedModelInput("m-0123456789abcdef0123456789abcdef")]
    paged = client.search_runs([run.info.experiment_id])
    assert paged[0].inputs == got


def test_log_input_with_model_input(home: Path) -> None:
    with lc.start_run() as run:
        lc.log_input(lc.data.from_pandas(DF), context="eval", model=LoggedModelInput("m-abc"))
    assert lc.get_run(run.info.run_id).inputs.model_inputs == [LoggedModelInput("m-abc")]


def test_wrong_types_are_refused_and_nothing_is_written(home: Path) -> None:
    ds = lc.data.from_pandas(DF)
    with lc.start_run() as run:
        with pytest.raises(lc.InvalidInput, match="context must be a string"):
            lc.log_input(ds, context=["training"])  # type: ignore[arg-type]
        with pytest.raises(lc.InvalidInput, match="tags must be a dict"):
            lc.log_input(ds, tags=["a"])  # type: ignore[arg-type]
        with pytest.raises(lc.InvalidInput, match=r"tags\['k'\] must be a string"):
            lc.log_input(ds, tags={"k": [1]})
        with pytest.raises(lc.InvalidInput, match="dataset must be a dataset made by lc.data.from_pandas"):
            lc.log_input(DF)
        with pytest.raises(lc.InvalidInput, match="needs a dataset when context or tags"):
            lc.log_input(None, context="training")
        with pytest.raises(lc.InvalidInput, match=r"contexts must be a list as long as datasets \(2\)"):
            lc.log_inputs([ds, ds], contexts=["training"])
        with pytest.raises(lc.InvalidInput, match=r"contexts\[1\] must be a string"):
            lc.log_inputs([ds, ds], contexts=["training", 3])
        with pytest.raises(lc.InvalidInput, match=r"tags_list\[0\] must be a dict"):
            lc.log_inputs([ds], tags_list=["a=b"])
        with pytest.raises(lc.InvalidInput, match="datasets must be a list of datasets, not PandasDataset"):
            lc.log_inputs(ds)  # type: ignore[arg-type]
        # the second entry is bad: the first must not be written either
        with pytest.raises(lc.InvalidInput, match=r"datasets\[1\] must be a dataset"):
            lc.log_inputs([ds, "not a dataset"], contexts=["training", "eval"])
        too_long = Dataset("n" * 501, "abcd1234", "local", '{"uri": "x"}')
        with pytest.raises(lc.InvalidInput, match=r"datasets\[1\].dataset.name is 501 characters long"):
            lc.Client().log_inputs(run.info.run_id, [DatasetInput(ds._to_mlflow_entity()), DatasetInput(too_long)])
        with pytest.raises(lc.InvalidInput, match=r"datasets\[0\] must be a DatasetInput"):
            lc.Client().log_inputs(run.info.run_id, [ds])  # type: ignore[list-item]
        with pytest.raises(lc.InvalidInput, match="tag value.*limit is 500|is 501 characters; the limit is 500"):
            lc.log_input(ds, tags={"k": "v" * 501})
    assert _tables(home) == {"datasets": 0, "run_inputs": 0, "input_tags": 0}
    assert lc.get_run(run.info.run_id).inputs == RunInputs()


def test_a_failing_write_leaves_nothing_half_written(home: Path) -> None:
    """A store error in the middle of a batch rolls every row of it back."""
    a, b = lc.data.from_pandas(DF, name="a"), lc.data.from_pandas(DF, name="b")
    with lc.start_run() as run:
        lc.log_input(a)
    store = lc.Client().store
    with sqlite3.connect(home / "lifecycle.db") as conn:  # make the input-tag insert fail for dataset b
        conn.execute("CREATE TRIGGER no_eval BEFORE INSERT ON input_tags WHEN NEW.value = 'eval'"
                     " BEGIN SELECT RAISE(ABORT, 'refused'); END")  # fmt: skip
    with pytest.raises(sqlite3.IntegrityError, match="refused"):
        store.datasets.log_inputs(run.info.run_id, [DatasetInput(b._to_mlflow_entity(), [InputTag("k", "eval")])])
    assert _tables(home) == {"datasets": 1, "run_inputs": 1, "input_tags": 0}


def test_logging_to_a_deleted_run_is_refused(client: lc.Client) -> None:
    run = client.create_run()
    client.delete_run(run.info.run_id)
    with pytest.raises(lc.InvalidInput, match="is deleted"):
        client.log_inputs(run.info.run_id, [DatasetInput(lc.data.from_pandas(DF)._to_mlflow_entity())])
    with pytest.raises(lc.NotFound):
        client.log_inputs("0" * 32, [DatasetInput(lc.data.from_pandas(DF)._to_mlflow_entity())])


def test_log_input_without_run_starts_one(home: Path) -> None:
    lc.log_input(lc.data.from_pandas(DF), context="training")
    run = lc.active_run()
    assert run is not None
    assert len(lc.get_run(run.info.run_id).inputs.dataset_inputs) == 1


# ---- autolog, lineage, displays ----------------------------------------------


def test_autolog_logs_the_fit_data_as_training_dataset(home: Path) -> None:
    from sklearn.linear_model import LinearRegression, LogisticRegression

    lc.autolog(log_models=False)
    try:
        LogisticRegression().fit(DF[["x"]], DF["y"])
        frame_run = lc.last_active_run()
        LinearRegression().fit(np.arange(8.0).reshape(4, 2), pd.Series([1.0, 2.0, 3.0, 4.0]))
        array_run = lc.last_active_run()
        lc.autolog(log_models=False, log_datasets=False)
        LinearRegression().fit(np.arange(8.0).reshape(4, 2), [1.0, 2.0, 3.0, 4.0])
        off_run = lc.last_active_run()
    finally:
        lc.autolog(disable=True)
    assert frame_run is not None and array_run is not None and off_run is not None
    (item,) = frame_run.inputs.dataset_inputs
    assert item.context == "train" and item.dataset.digest == lc.data.from_pandas(DF[["x"]]).digest
    assert item.dataset.source_type == "code"
    (item,) = array_run.inputs.dataset_inputs
    profile = json.loads(item.dataset.profile or "{}")
    assert profile["features_shape"] == [4, 2] and profile["targets_shape"] == [4]
    assert off_run.inputs.dataset_inputs == []


def test_lineage_shows_the_runs_datasets(home: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    ds = lc.data.from_pandas(DF, source="data/train.csv", name="train", targets="y")
    with lc.start_run() as run:
        lc.log_input(ds, context="training")
        lc.sklearn.log_model(LogisticRegression().fit(DF[["x"]], DF["y"]), "model")
    found = lc.lineage(f"runs:/{run.info.run_id}/model")
    assert [d.dataset.name for d in found.datasets] == ["train"]
    assert f"dataset:       train@{ds.digest} (training, 4 rows, from local data/train.csv)" in str(found)
    assert found.to_dict()["datasets"][0]["tags"] == {"mlflow.data.context": "training"}
    assert f"train@{ds.digest}" in found._repr_html_()
    assert found.run is not None and found.run.inputs.dataset_inputs == found.datasets


def test_dataset_and_run_html(home: Path) -> None:
    ds = lc.data.from_pandas(DF, source="data/train.csv", name="train")
    page = ds._repr_html_()
    assert "Dataset train" in page and ds.digest in page and "local data/train.csv" in page
    assert "<td" in page and ">city<" in page and ">string<" in page and ">num_rows<" in page
    arrays = lc.data.from_numpy(np.eye(2), name="eye")._repr_html_()
    assert ">features<" in arrays and ">float64<" in arrays
    with lc.start_run() as run:
        lc.log_input(ds, context="training")
    run_page = lc.get_run(run.info.run_id)._repr_html_()  # type: ignore[attr-defined]
    assert ">train<" in run_page and ">training<" in run_page and ds.digest in run_page


def test_lifecycle_show_lists_datasets(ipython: object, home: Path) -> None:
    ds = lc.data.from_pandas(DF, source="data/train.csv", name="train")
    with lc.start_run() as run:
        lc.log_input(ds, context="training")
    with capture_output() as captured:
        ipython.run_cell(f"%lifecycle show {run.info.run_id}", store_history=True)  # type: ignore[attr-defined]
    (output,) = captured.outputs
    text, page = output.data["text/plain"], output.data["text/html"]
    assert f"Datasets:\n  dataset 1: train@{ds.digest} (training, 4 rows, from local data/train.csv)" in text
    assert "<b>Datasets</b>" in page and f"train@{ds.digest}" in page


def test_migration_adds_the_tables_to_an_old_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_lifecycle.store import Store, migrations

    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:migrations.MIGRATIONS.index(migrations.m0007_datasets)])
        old = Store(tmp_path / "old")
        # A run as that schema held it (today's create_run writes columns of later migrations).
        old.db.connection().execute("INSERT INTO runs (run_id, experiment_id, status, start_time, artifact_location)"
                                    " VALUES ('r1', ?, 'FINISHED', 1, 'artifacts/r1')", [old.tracking.create_experiment("e")])  # fmt: skip
        old.db.close()
    store = Store(tmp_path / "old")
    assert "m0007_datasets" in {r[0] for r in store.db.query("SELECT name FROM schema_migrations")}
    store.datasets.log_inputs("r1", [DatasetInput(Dataset("d", "12345678", "local", '{"uri": "x"}'))])
    assert store.datasets.run_inputs(["r1"])["r1"].dataset_inputs[0].dataset.name == "d"


def test_datasets_in_a_real_kernel(home: Path, tmp_path: Path) -> None:
    """A notebook run by a real kernel: log_input, an autologged fit, the dataset's display, %lifecycle show."""
    import os

    import nbformat
    from nbclient import NotebookClient

    from jupyter_lifecycle import config

    cells = [
        "%load_ext jupyter_lifecycle\nimport jupyter_lifecycle as mlflow\nimport pandas as pd\n"
        "df = pd.DataFrame({'x': [1.0, 2.0, 3.0, 4.0], 'y': [0, 1, 0, 1]})\n"
        "train = mlflow.data.from_pandas(df, source='data/train.csv', name='train', targets='y')",
        "train",
        "with mlflow.start_run(run_name='manual') as run:\n    mlflow.log_input(train, context='training')",
        "from sklearn.linear_model import LogisticRegression\nmlflow.autolog(log_models=False)\n"
        "LogisticRegression().fit(df[['x']], df['y'])\nmlflow.autolog(disable=True)",
        "%lifecycle show {run.info.run_id}",
    ]
    path = tmp_path / "datasets.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in cells])
    env = {**os.environ, config.HOME_ENV: str(home), config.NOTEBOOK_ENV: str(path)}
    NotebookClient(nb, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute(env=env)  # fmt: skip
    digest = lc.data.from_pandas(DF[["x", "y"]], name="train").digest  # the same content as the notebook's
    shown = nb.cells[1].outputs[0]["data"]
    assert shown["text/plain"].startswith(f"<PandasDataset: name='train' digest='{digest}'")
    assert "Dataset train" in shown["text/html"]
    show = nb.cells[4].outputs[0]["data"]["text/plain"]
    assert f"dataset 1: train@{digest} (training, 4 rows, from local data/train.csv)" in show
    runs = {r.info.run_name: r for r in lc.search_runs(search_all_experiments=True, output_format="list")}
    assert [i.context for i in runs["manual"].inputs.dataset_inputs] == ["training"]
    (fitted,) = [r for name, r in runs.items() if name.startswith("LogisticRegression")]
    assert [(i.context, i.dataset.source_type) for i in fitted.inputs.dataset_inputs] == [("train", "code")]
    assert json.loads(fitted.inputs.dataset_inputs[0].dataset.source)["tags"]["mlflow.source.type"] == "NOTEBOOK"


def test_search_runs_filters_by_dataset_name_digest_and_context(home: Path) -> None:
    train = lc.data.from_pandas(DF, name="train")
    test = lc.data.from_pandas(DF.head(2), name="test")
    with lc.start_run(run_name="fit"):
        lc.log_input(train, context="training")
        lc.log_input(test, context="eval")
    with lc.start_run(run_name="eval-only"):
        lc.log_input(test, context="eval")
    with lc.start_run(run_name="none"):
        pass

    def names(filter_string: str) -> list[str]:
        return sorted(lc.search_runs(filter_string=filter_string)["tags.mlflow.runName"])

    assert names("datasets.name = 'train'") == ["fit"]
    assert names(f"dataset.digest = '{test.digest}'") == ["eval-only", "fit"]
    assert names("datasets.context = 'eval' and datasets.name = 'test'") == ["eval-only", "fit"]
    assert names("datasets.context = 'training'") == ["fit"]
    assert names("datasets.name LIKE 'tr%'") == ["fit"]
    assert names("datasets.name IN ('nope', 'test')") == ["eval-only", "fit"]
    assert [r.info.run_name for r in lc.search_runs(filter_string="datasets.name != 'test'", output_format="list")] == ["fit"]
    with pytest.raises(lc.InvalidInput, match="datasets.size is not a dataset field; use datasets.name"):
        lc.search_runs(filter_string="datasets.size = '3'")
    with pytest.raises(lc.InvalidInput, match="does not support '>'"):
        lc.search_runs(filter_string="datasets.name > 'a'")
    with pytest.raises(lc.InvalidInput, match="cannot order runs by datasets.name"):
        lc.search_runs(order_by=["datasets.name"])
    with pytest.raises(lc.InvalidInput, match="experiments can be filtered by"):
        lc.search_experiments(filter_string="datasets.name = 'train'")
