"""Batch scoring: ``lc.score`` on pandas and on a local Dask cluster, formats by extension, the CLI."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle.cli import main
from jupyter_lifecycle.scoring import read_table, score


@pytest.fixture
def iris_model(home: Path, tmp_path: Path) -> tuple[str, object, pd.DataFrame]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from jupyter_lifecycle import sklearn as lc_sklearn

    X, y = load_iris(return_X_y=True, as_frame=True)
    clf = LogisticRegression(max_iter=500).fit(X, y)
    with lc.start_run():
        info = lc_sklearn.log_model(clf, "model", input_example=X.head(3))
    return info.model_uri, clf, X


def test_score_a_frame_in_batches(iris_model: tuple[str, object, pd.DataFrame]) -> None:
    uri, clf, X = iris_model
    scored = lc.score(uri, X, batch_size=7, progress=False)
    assert list(scored.columns) == [*X.columns, "prediction"]
    assert scored["prediction"].tolist() == clf.predict(X).tolist()  # type: ignore[attr-defined]
    assert scored.index.equals(X.index)


@pytest.mark.parametrize("source, target", [("csv", "parquet"), ("parquet", "json"), ("jsonl", "csv"), ("json", "jsonl")])
def test_formats_by_extension(iris_model: tuple[str, object, pd.DataFrame], tmp_path: Path, source: str, target: str) -> None:
    uri, clf, X = iris_model
    src = tmp_path / f"in.{source}"
    {"csv": lambda: X.to_csv(src, index=False), "parquet": lambda: X.to_parquet(src),
     "json": lambda: X.to_json(src, orient="records"), "jsonl": lambda: X.to_json(src, orient="records", lines=True)}[source]()  # fmt: skip
    out = score(uri, src, tmp_path / f"out.{target}", progress=False)
    assert out == tmp_path / f"out.{target}"
    back = read_table(out)
    assert back["prediction"].tolist() == clf.predict(X).tolist()  # type: ignore[attr-defined]


def test_mismatch_lists_every_problem(iris_model: tuple[str, object, pd.DataFrame], tmp_path: Path) -> None:
    uri, _, X = iris_model
    bad = X.drop(columns=["petal width (cm)"]).assign(**{"sepal width (cm)": "wide"})
    with pytest.raises(lc.SchemaMismatch) as caught:
        score(uri, bad, progress=False)
    message = str(caught.value)
    assert "petal width (cm)" in message and "sepal width (cm)" in message
    with pytest.raises(lc.InvalidInput, match="extension"):
        score(uri, X, tmp_path / "out.xlsx", progress=False)
    with pytest.raises(lc.InvalidInput, match="engine"):
        score(uri, X, engine="spark")
    with pytest.raises(lc.InvalidInput, match="does not exist"):
        score(uri, tmp_path / "missing.csv")


def test_dask_engine_on_a_local_cluster(iris_model: tuple[str, object, pd.DataFrame], tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    uri, clf, X = iris_model
    big = pd.concat([X] * 4, ignore_index=True)
    big.to_csv(tmp_path / "big.csv", index=False)
    out = score(uri, tmp_path / "big.csv", tmp_path / "scored.parquet", engine="dask", batch_size=100)
    back = pd.read_parquet(out)
    assert len(back) == 600
    assert back["prediction"].tolist() == clf.predict(big).tolist()  # type: ignore[attr-defined]
    frame = score(uri, big, engine="dask")  # a DataFrame in (2 partitions), a pandas DataFrame out
    assert frame["prediction"].tolist() == clf.predict(big).tolist()  # type: ignore[attr-defined]
    with pytest.raises(lc.SchemaMismatch, match="petal width"):
        score(uri, big.drop(columns=["petal width (cm)"]), engine="dask")
    from distributed import LocalCluster

    # A scheduler given by address (here a cluster of one in-process worker, as a remote one would be named).
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        out = score(uri, tmp_path / "big.csv", tmp_path / "scored.csv", engine="dask", scheduler=cluster.scheduler_address)
        assert pd.read_csv(out)["prediction"].tolist() == clf.predict(big).tolist()  # type: ignore[attr-defined]


def test_cli_score_and_scoring_notebook(iris_model: tuple[str, object, pd.DataFrame], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    import nbformat

    uri, clf, X = iris_model
    X.to_csv(tmp_path / "in.csv", index=False)
    assert main(["score", uri, str(tmp_path / "in.csv"), str(tmp_path / "out.csv")]) == 0
    assert pd.read_csv(tmp_path / "out.csv")["prediction"].tolist() == clf.predict(X).tolist()  # type: ignore[attr-defined]
    assert main(["scoring-notebook", uri, "-o", str(tmp_path / "s.ipynb"), "--input", "in.csv", "--output", "o.json"]) == 0
    assert str(tmp_path / "s.ipynb") in capsys.readouterr().out
    nb = nbformat.read(tmp_path / "s.ipynb", as_version=4)
    nbformat.validate(nb)
    assert "input_path = 'in.csv'" in nb.cells[1].source and "output_path = 'o.json'" in nb.cells[1].source
    X.drop(columns=["sepal length (cm)"]).to_csv(tmp_path / "bad.csv", index=False)
    assert main(["score", uri, str(tmp_path / "bad.csv"), str(tmp_path / "bad_out.csv")]) == 1
    assert "sepal length (cm)" in capsys.readouterr().err
    assert not (tmp_path / "bad_out.csv").exists()


def test_lifecycle_score_magic(iris_model: tuple[str, object, pd.DataFrame], ipython: object, tmp_path: Path) -> None:
    from IPython.utils.capture import capture_output

    uri, clf, X = iris_model
    X.to_csv(tmp_path / "in.csv", index=False)
    with capture_output() as captured:
        result = ipython.run_cell(f"%lifecycle score {uri} {tmp_path / 'in.csv'} {tmp_path / 'out.parquet'}")  # type: ignore[attr-defined]
    assert result.success, result.error_in_exec
    assert "out.parquet" in captured.stdout
    assert pd.read_parquet(tmp_path / "out.parquet")["prediction"].tolist() == clf.predict(X).tolist()  # type: ignore[attr-defined]
    with capture_output() as captured:
        shown = ipython.run_cell(f"%lifecycle score {uri} {tmp_path / 'in.csv'} --batch-size 50")  # type: ignore[attr-defined]
    assert shown.success, shown.error_in_exec
    # The scored DataFrame is displayed; a widget progress bar may come first
    # when tqdm.auto finds ipykernel loaded (as it does in a real notebook).
    (table,) = [o for o in captured.outputs if "text/html" in o.data]
    assert "prediction" in table.data["text/html"] and "150 rows" in table.data["text/html"]
    with capture_output():
        bad = ipython.run_cell(f"%lifecycle score {uri} {tmp_path / 'missing.csv'}")  # type: ignore[attr-defined]
    assert not bad.success and "does not exist" in str(bad.error_in_exec)


def test_every_model_uri_form(iris_model: tuple[str, object, pd.DataFrame]) -> None:
    from jupyter_lifecycle.models.uri import resolve_model_uri
    from jupyter_lifecycle.scoring import build_scoring_notebook

    uri, clf, X = iris_model
    version = lc.register_model(uri, "iris")
    client = lc.Client()
    client.set_registered_model_alias("iris", "champion", version.version)
    client.transition_model_version_stage("iris", version.version, "Production")
    folder = resolve_model_uri(uri)
    forms = [uri, "models:/iris/1", "models:/iris@champion", "models:/iris/Production", "models:/iris/latest",
             str(folder), folder.as_uri()]  # fmt: skip
    want = clf.predict(X.head(20)).tolist()  # type: ignore[attr-defined]
    for form in forms:
        assert lc.score(form, X.head(20), progress=False)["prediction"].tolist() == want, form
        header = build_scoring_notebook(form).cells[0].source
        assert f"`{form}`" in header and "sepal length (cm)" in header, form
        if form.startswith("models:/m-"):  # log_model's URI: the logged model itself
            assert "**model**" in header and form[len("models:/"):] in header, form
        elif form.startswith("models:/"):
            assert "**iris** version 1" in header and "`@champion`" in header and "Production" in header, form
