"""Saving, logging and loading models: flavors, input types, requirements, hashes, logged models."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LogisticRegression

import jupyter_lifecycle as lc
from jupyter_lifecycle.errors import AlreadyExists, InvalidInput, InvalidState, NotFound, SchemaMismatch
from jupyter_lifecycle.models import Flavor, Model, get_flavor, register_flavor, verify_model
from jupyter_lifecycle.store import open_store

# Doubler lives in this test module, which is not an installed package: saving it warns (tested below).
pytestmark = pytest.mark.filterwarnings("ignore:the model refers to module")

X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "b": [1, 2, 3, 4, 5, 6]})
Y = [0, 1, 0, 1, 1, 1]


@pytest.fixture(scope="module")
def estimator() -> LogisticRegression:
    return LogisticRegression().fit(X, Y)


class Doubler(lc.pyfunc.PythonModel):
    """Uses pandas at predict time and an artifact read in load_context."""

    def load_context(self, context: lc.pyfunc.PythonModelContext) -> None:
        self.factor = float(Path(context.artifacts["factor"]).read_text())

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        scale = (params or {}).get("scale", 1.0)
        return pd.DataFrame({"y": model_input["a"] * self.factor * scale})


def requirement_names(folder: Path) -> set[str]:
    return {line.split("==")[0] for line in (folder / "requirements.txt").read_text().split()}


def test_sklearn_folder_layout_and_mlmodel_keys(tmp_path: Path, estimator: LogisticRegression) -> None:
    info = lc.sklearn.save_model(estimator, tmp_path / "m", input_example=X[:3])
    folder = tmp_path / "m"
    names = {p.name for p in folder.iterdir()}
    assert {"MLmodel", "model.pkl", "requirements.txt", "python_env.yaml", "conda.yaml", "input_example.json"} <= names
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    py = mlmodel["flavors"]["python_function"]
    assert py["loader_module"] == "mlflow.sklearn" and py["model_path"] == "model.pkl"
    assert py["env"] == {"conda": "conda.yaml", "virtualenv": "python_env.yaml"} and py["python_version"]
    assert mlmodel["flavors"]["sklearn"]["serialization_format"] == "cloudpickle"
    assert {"model_uuid", "utc_time_created", "signature", "saved_input_example_info", "model_size_bytes"} <= set(mlmodel)
    assert json.loads(mlmodel["signature"]["inputs"])[0] == {"type": "double", "name": "a", "required": True}
    files = mlmodel["jupyter_lifecycle"]["files"]
    assert set(files) == {p.name for p in folder.iterdir()} - {"MLmodel"}
    assert json.loads((folder / "input_example.json").read_text()) == {"columns": ["a", "b"], "data": [[1.0, 1], [2.0, 2], [3.0, 3]]}
    conda = yaml.safe_load((folder / "conda.yaml").read_text())
    assert conda["dependencies"][-1]["pip"] == (folder / "requirements.txt").read_text().split()
    assert yaml.safe_load((folder / "python_env.yaml").read_text())["dependencies"] == ["-r requirements.txt"]
    assert info.signature is not None and info.model_uuid == mlmodel["model_uuid"]


def test_sklearn_round_trip_every_input_type(tmp_path: Path, estimator: LogisticRegression) -> None:
    lc.sklearn.save_model(estimator, tmp_path / "m", input_example=X[:2])
    model = lc.pyfunc.load_model(tmp_path / "m")
    expected = estimator.predict(X)
    assert (model.predict(X) == expected).all()
    assert (model.predict(X.to_dict(orient="records")) == expected).all()
    assert (model.predict(X.to_dict(orient="list")) == expected).all()
    assert (model.predict(X.to_numpy()) == expected).all()
    assert model.predict({"a": 1.0, "b": 1}).tolist() == estimator.predict(X[:1]).tolist()
    native = lc.sklearn.load_model(tmp_path / "m")
    assert np.allclose(native.predict_proba(X), estimator.predict_proba(X))
    assert np.allclose(model.unwrap_python_model().predict_proba(X), estimator.predict_proba(X))
    assert model.metadata.get_input_schema().input_names() == ["a", "b"]
    assert model.model_path == (tmp_path / "m").resolve()


def test_pyfunc_predict_fn_and_numpy_model(tmp_path: Path, estimator: LogisticRegression) -> None:
    lc.sklearn.save_model(estimator, tmp_path / "p", input_example=X[:2], pyfunc_predict_fn="predict_proba")
    assert np.allclose(lc.pyfunc.load_model(tmp_path / "p").predict(X), estimator.predict_proba(X))
    arrays = LogisticRegression().fit(X.to_numpy(), Y)
    lc.sklearn.save_model(arrays, tmp_path / "n", input_example=X.to_numpy()[:2])
    loaded = lc.pyfunc.load_model(tmp_path / "n")
    assert loaded.metadata.get_input_schema().is_tensor_spec()
    assert (loaded.predict(X.to_numpy().astype("float32")) == arrays.predict(X.to_numpy())).all()
    assert isinstance(loaded.metadata.load_input_example(), np.ndarray)


def test_signature_enforced_on_loaded_model(tmp_path: Path, estimator: LogisticRegression) -> None:
    lc.sklearn.save_model(estimator, tmp_path / "m", input_example=X[:2])
    model = lc.pyfunc.load_model(tmp_path / "m")
    with pytest.raises(SchemaMismatch, match="missing column 'b'"):
        model.predict(X[["a"]])
    with pytest.raises(SchemaMismatch, match="column 'b'.*NaN"):
        model.predict(X.assign(b=[1, None, 3, 4, 5, 6]))
    assert len(model.predict(X[["b", "a"]].assign(extra="x"))) == len(X)


def test_python_model_with_artifacts_code_paths_and_params(tmp_path: Path) -> None:
    (tmp_path / "factor.txt").write_text("3")
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "shift_helpers.py").write_text("def shift(x):\n    return x + 100\n")

    class Shifted(lc.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            import shift_helpers

            return shift_helpers.shift(model_input["a"])

    signature = lc.infer_signature(X, pd.DataFrame({"y": [1.0]}), params={"scale": 1.0})
    lc.pyfunc.save_model(tmp_path / "d", python_model=Doubler(), artifacts={"factor": tmp_path / "factor.txt"},
                         signature=signature, input_example=X[:2])  # fmt: skip
    doubled = lc.pyfunc.load_model(tmp_path / "d")
    assert doubled.predict(X)["y"].tolist() == (X["a"] * 3).tolist()
    assert doubled.predict(X, params={"scale": 2.0})["y"].tolist() == (X["a"] * 6).tolist()
    assert isinstance(doubled.unwrap_python_model(), Doubler)
    assert (tmp_path / "d" / "artifacts" / "factor.txt").is_file()
    with pytest.raises(SchemaMismatch, match="param 'scale'"):
        doubled.predict(X, params={"scale": "big"})

    import sys

    sys.path.insert(0, str(lib))
    try:
        lc.pyfunc.save_model(tmp_path / "s", python_model=Shifted(), code_paths=[lib / "shift_helpers.py"], input_example=X[:2])
    finally:
        sys.path.remove(str(lib))
        sys.modules.pop("shift_helpers", None)
    (lib / "shift_helpers.py").unlink()  # the model must use its own copy in code/
    shifted = lc.pyfunc.load_model(tmp_path / "s")
    assert shifted.predict(X).tolist() == (X["a"] + 100).tolist()
    assert yaml.safe_load((tmp_path / "s" / "MLmodel").read_text())["flavors"]["python_function"]["code"] == "code"
    lc.pyfunc.load_model(tmp_path / "s")  # loading again: code/__pycache__ does not count as tampering


def test_any_object_with_predict_and_functions(tmp_path: Path) -> None:
    class Rule:
        def predict(self, data):  # type: ignore[no-untyped-def]
            return (data["a"] > 2).astype(int)

    lc.pyfunc.save_model(tmp_path / "o", python_model=Rule(), input_example=X[:2])
    assert lc.pyfunc.load_model(tmp_path / "o").predict(X).tolist() == [0, 0, 1, 1, 1, 1]
    lc.pyfunc.save_model(tmp_path / "f", python_model=lambda data: data["b"] * 10)
    assert lc.pyfunc.load_model(tmp_path / "f").predict(X).tolist() == [10, 20, 30, 40, 50, 60]
    with pytest.raises(InvalidInput, match="predict"):
        lc.pyfunc.save_model(tmp_path / "bad", python_model=42)


def test_dependencies_for_sklearn_and_custom_model(tmp_path: Path, estimator: LogisticRegression) -> None:
    lc.sklearn.save_model(estimator, tmp_path / "sk", input_example=X[:2])
    names = requirement_names(tmp_path / "sk")
    assert {"scikit-learn", "numpy", "cloudpickle"} <= names
    assert not names & {"torch", "jupyterlab", "altair", "pytest", "ipykernel", "jupyter-lifecycle", "setuptools"}
    import sklearn

    assert f"scikit-learn=={sklearn.__version__}" in (tmp_path / "sk" / "requirements.txt").read_text().split()

    (tmp_path / "factor.txt").write_text("2")
    with pytest.warns(UserWarning, match="refers to module 'tests'.*code_paths"):
        lc.pyfunc.save_model(tmp_path / "py", python_model=Doubler(), artifacts={"factor": tmp_path / "factor.txt"},
                             input_example=X[:2])  # fmt: skip
    names = requirement_names(tmp_path / "py")
    assert {"pandas", "cloudpickle", "jupyter-lifecycle"} <= names
    assert "scikit-learn" not in names and "altair" not in names

    lc.pyfunc.save_model(tmp_path / "extra", python_model=Doubler(), artifacts={"factor": tmp_path / "factor.txt"},
                         extra_pip_requirements=["lightgbm==4.5.0"])  # fmt: skip
    assert "lightgbm==4.5.0" in (tmp_path / "extra" / "requirements.txt").read_text().split()
    lc.pyfunc.save_model(tmp_path / "only", python_model=Doubler(), artifacts={"factor": tmp_path / "factor.txt"},
                         pip_requirements=["pandas"])  # fmt: skip
    assert (tmp_path / "only" / "requirements.txt").read_text().split() == ["pandas"]
    assert lc.models.get_model_dependencies(tmp_path / "only") == str(tmp_path / "only" / "requirements.txt")


def test_changed_added_and_missing_files_are_refused(tmp_path: Path, estimator: LogisticRegression) -> None:
    lc.sklearn.save_model(estimator, tmp_path / "m", input_example=X[:2])
    folder = tmp_path / "m"
    verify_model(folder)
    original = (folder / "requirements.txt").read_text()
    (folder / "requirements.txt").write_text(original + "evil==1.0\n")
    with pytest.raises(InvalidState, match="requirements.txt changed"):
        lc.pyfunc.load_model(folder)
    (folder / "requirements.txt").write_text(original)
    (folder / "sneaky.py").write_text("print('hi')")
    with pytest.raises(InvalidState, match="sneaky.py was added"):
        lc.sklearn.load_model(folder)
    (folder / "sneaky.py").unlink()
    (folder / "model.pkl").unlink()
    with pytest.raises(InvalidState, match="model.pkl is missing"):
        lc.pyfunc.load_model(folder)


def test_save_refuses_existing_folder_and_bad_uris(tmp_path: Path, estimator: LogisticRegression) -> None:
    lc.sklearn.save_model(estimator, tmp_path / "m")
    with pytest.raises(AlreadyExists):
        lc.sklearn.save_model(estimator, tmp_path / "m")
    with pytest.raises(InvalidInput, match="Accepted forms"):
        lc.pyfunc.load_model("s3x://bucket/model")
    with pytest.raises(NotFound):
        lc.pyfunc.load_model(tmp_path / "nothing")
    assert lc.pyfunc.load_model((tmp_path / "m").as_uri()).predict(X).tolist() == estimator.predict(X).tolist()


def test_log_model_records_files_logged_model_and_search(home: Path, estimator: LogisticRegression) -> None:
    lc.set_experiment("models")
    with lc.start_run() as run:
        lc.log_metric("accuracy", 0.9)
        info = lc.sklearn.log_model(estimator, "model", input_example=X[:3])
    with lc.start_run() as other:
        lc.log_metric("accuracy", 0.7)
        (home.parent / "factor.txt").write_text("2")
        py_info = lc.pyfunc.log_model("wrapper", python_model=Doubler(), artifacts={"factor": home.parent / "factor.txt"})
    assert info.model_uri == f"models:/{info.model_id}" and info.run_id == run.info.run_id
    assert info.name == "model" and re.fullmatch(r"m-[0-9a-f]{32}", info.model_id)
    assert info.artifact_path == str(lc.Client().artifact_dir(run.info.run_id) / "model")  # MLflow 3: the folder
    loaded = lc.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    assert loaded.metadata.run_id == run.info.run_id and loaded.model_id == info.model_id
    assert (loaded.predict(X) == estimator.predict(X)).all()
    listed = {f.path for f in lc.list_artifacts(run.info.run_id, "model")}
    assert "model/MLmodel" in listed and "model/model.pkl" in listed

    frame = lc.search_logged_models()
    assert list(frame["model_id"]) == [py_info.model_id, info.model_id]
    assert list(frame["source_run_id"]) == [other.info.run_id, run.info.run_id]
    assert frame.loc[frame["name"] == "model", "metrics.accuracy"].item() == 0.9
    best = lc.search_logged_models(filter_string="metrics.accuracy > 0.8")
    assert list(best["model_id"]) == [info.model_id]
    ordered = lc.search_logged_models(order_by=["metrics.accuracy DESC"])
    assert list(ordered["name"]) == ["model", "wrapper"]
    ordered = lc.search_logged_models(order_by=[{"field_name": "metrics.accuracy", "ascending": True}])
    assert list(ordered["name"]) == ["wrapper", "model"]
    assert list(lc.search_logged_models(filter_string="flavors LIKE '%sklearn%'")["name"]) == ["model"]
    store_row = open_store().models.get(info.model_id)
    assert store_row.model_size_bytes > 0 and store_row.flavors == ("python_function", "sklearn")
    with pytest.raises(InvalidInput, match="logged models can be filtered by"):
        lc.search_logged_models(filter_string="attributes.colour = 'red'")


def test_log_model_without_a_run_starts_none(home: Path, estimator: LogisticRegression) -> None:
    info = lc.sklearn.log_model(estimator, name="auto")
    assert lc.active_run() is None and info.run_id is None and lc.search_runs().empty  # as MLflow 3
    assert info.artifact_path == str(home / "artifacts" / "models" / info.model_id)
    assert lc.models.get_model_dependencies(info.model_uri).endswith("requirements.txt")


def test_flavor_registry_accepts_new_flavors(tmp_path: Path) -> None:
    class Constant:
        def predict(self, data, params=None):  # type: ignore[no-untyped-def]
            return np.full(len(data), 7)

    register_flavor(Flavor("constant", ("acme.constant",), lambda folder, conf: Constant(),
                           lambda folder, conf: "native constant"))  # fmt: skip
    folder = tmp_path / "c"
    folder.mkdir()
    Model(flavors={"python_function": {"loader_module": "acme.constant"}, "constant": {}}).save(folder)
    assert lc.pyfunc.load_model(folder).predict(X).tolist() == [7] * 6
    assert lc.models.load_native(folder, "constant") == "native constant"
    assert get_flavor("sklearn") is not None  # built-in flavors register on first use
    Model(flavors={"python_function": {"loader_module": "nobody.knows"}}).save(folder)
    with pytest.raises(NotFound, match="register_flavor"):
        lc.pyfunc.load_model(folder)


def test_import_jupyter_lifecycle_stays_light() -> None:
    import subprocess
    import sys

    code = textwrap.dedent(
        """
        import sys
        import jupyter_lifecycle as lc
        lc.models
        heavy = [m for m in ("sklearn", "cloudpickle") if m in sys.modules]
        print(heavy)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_model_that_fails_on_its_example_is_saved_with_a_warning(tmp_path: Path) -> None:
    def broken(data):  # type: ignore[no-untyped-def]
        raise ValueError("not today")

    with pytest.warns(UserWarning, match="not today"):
        info = lc.pyfunc.save_model(tmp_path / "b", python_model=broken, input_example=X[:2])
    assert info.signature is not None and info.signature.outputs is None
    assert info.signature.inputs.input_names() == ["a", "b"]
