"""Saving, logging and loading models: flavors, input types, requirements, hashes, logged models."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
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

ROOT = Path(__file__).resolve().parents[1]

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


def test_type_hints_define_the_signature_and_the_input_shape(home: Path) -> None:
    class Lengths(lc.pyfunc.PythonModel):
        def predict(self, context, model_input: list[dict[str, str]], params=None) -> list[int]:  # type: ignore[no-untyped-def]
            assert isinstance(model_input, list) and isinstance(model_input[0], dict)
            return [len(row["text"]) for row in model_input]

    with lc.start_run():
        info = lc.pyfunc.log_model(name="lengths", python_model=Lengths())
    assert info.signature.inputs.to_dict() == [
        {"type": "map", "values": {"type": "string"}, "required": True}
    ]
    assert info.signature.outputs.to_dict() == [{"type": "long", "required": True}]
    model = lc.pyfunc.load_model(info.model_uri)
    assert model.predict([{"text": "abc"}, {"text": "de"}]) == [3, 2]
    assert model.predict(pd.DataFrame({"text": ["abcd"]})) == [4]  # records, as MLflow converts them


def test_an_unsupported_type_hint_names_itself(home: Path) -> None:
    class Odd(lc.pyfunc.PythonModel):
        def predict(self, model_input: list[set[int]], params=None):  # type: ignore[no-untyped-def]
            return model_input

    with pytest.raises(lc.InvalidInput, match=r"type hint set\[int\]"):
        lc.pyfunc.save_model(home / "odd", python_model=Odd())
    assert not (home / "odd").exists()  # nothing half-written


def test_loading_warns_once_about_requirements_this_environment_does_not_meet(home: Path) -> None:
    import warnings

    import numpy

    lc.pyfunc.save_model(home / "pinned", python_model=abs,
                         pip_requirements=["scikit-learn==0.0.1", "no-such-package-here==1.0",
                                           f"numpy=={numpy.__version__}", "pandas>=1"])  # fmt: skip
    with pytest.warns(UserWarning) as caught:
        lc.pyfunc.load_model(home / "pinned")
    (message,) = [str(w.message) for w in caught if "requirements" in str(w.message)]
    assert "scikit-learn==0.0.1 (installed: " in message and "no-such-package-here==1.0 (not installed)" in message
    assert "numpy" not in message and "pandas" not in message  # met: not mentioned
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lc.pyfunc.load_model(home / "pinned")  # once per model and process
        lc.pyfunc.save_model(home / "quiet", python_model=abs, pip_requirements=["scikit-learn==0.0.1"])
        lc.pyfunc.load_model(home / "quiet", suppress_warnings=True)


def test_a_requirement_met_by_another_build_of_the_package_is_met(tmp_path: Path) -> None:
    from importlib import metadata

    # MLflow pins `xgboost`; this environment has the `xgboost-cpu` build (the [xgboost] extra), which
    # provides the same `xgboost` package: met when the version is, "installed: xgboost-cpu X" when not
    version = metadata.version("xgboost-cpu")
    from jupyter_lifecycle.models.dependencies import requirement_mismatches

    (tmp_path / "requirements.txt").write_text(f"xgboost=={version}\n")
    assert requirement_mismatches(tmp_path) == []
    (tmp_path / "requirements.txt").write_text("xgboost==0.0.1\n")
    assert requirement_mismatches(tmp_path) == [f"xgboost==0.0.1 (installed: xgboost-cpu {version})"]


MODEL_CODE = """
import jupyter_lifecycle as lc

class Doubler(lc.pyfunc.PythonModel):
    def load_context(self, context):
        self.factor = float(open(context.artifacts["factor"]).read())

    def predict(self, context, model_input, params=None):
        return model_input["x"] * self.factor

lc.models.set_model(Doubler())
"""


def test_models_from_code_keep_the_file_not_a_pickle(home: Path, tmp_path: Path) -> None:
    (tmp_path / "doubler.py").write_text(MODEL_CODE)
    (tmp_path / "factor.txt").write_text("2")
    with lc.start_run():
        info = lc.pyfunc.log_model(name="m", python_model=tmp_path / "doubler.py", artifacts={"factor": tmp_path / "factor.txt"},
                                   input_example=pd.DataFrame({"x": [1.0]}))  # fmt: skip
    (tmp_path / "doubler.py").unlink()  # the model folder holds its own copy
    folder = lc.models.resolve_model_uri(info.model_uri)
    assert (folder / "doubler.py").read_text() == MODEL_CODE and not (folder / "python_model.pkl").exists()
    conf = lc.models.Model.load(folder).flavors["python_function"]
    assert conf["loader_module"] == "mlflow.pyfunc.loaders.code_model" and conf["model_code_path"].endswith("doubler.py")
    assert info.signature.inputs.input_names() == ["x"]
    model = lc.pyfunc.load_model(info.model_uri)
    assert model.predict(pd.DataFrame({"x": [2.0, 3.5]})).tolist() == [4.0, 7.0]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (None, "is not a file"),
        ("x = 1\n", "never called lc.models.set_model"),
        ("raise RuntimeError('boom')\n", "RuntimeError: boom"),
        ("import jupyter_lifecycle as lc\nlc.models.set_model('model.pkl')\n", "set_model takes a PythonModel"),
    ],
)
def test_models_from_code_errors_say_what_to_do(home: Path, tmp_path: Path, source: str | None, message: str) -> None:
    file = tmp_path / "model.py"
    if source is not None:
        file.write_text(source)
    with pytest.raises(lc.InvalidInput, match=message):
        lc.pyfunc.save_model(tmp_path / "saved", python_model=file)
    assert not (tmp_path / "saved").exists()


def _tiny_wheel(folder: Path) -> Path:
    """A real (hand-built) wheel of a one-module package, ``tinylib==1.0``."""
    import base64
    import hashlib
    import zipfile

    files = {"tinylib.py": "ANSWER = 42\n",
             "tinylib-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: tinylib\nVersion: 1.0\n",
             "tinylib-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}  # fmt: skip
    record = [f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).decode().rstrip('=')},"
              f"{len(text.encode())}" for name, text in files.items()]  # fmt: skip
    files["tinylib-1.0.dist-info/RECORD"] = "\n".join([*record, "tinylib-1.0.dist-info/RECORD,,"]) + "\n"
    wheel = folder / "tinylib-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel


def test_local_wheels_travel_with_the_model_and_install_from_anywhere(home: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    wheel = _tiny_wheel(tmp_path)
    lc.pyfunc.save_model(home / "m", python_model=abs, pip_requirements=[str(wheel)])
    wheel.unlink()  # the model folder must not need the original
    assert (home / "m" / "wheels" / wheel.name).is_file()
    assert (home / "m" / "requirements.txt").read_text() == "wheels/tinylib-1.0-py3-none-any.whl\n"
    resolved = lc.models.get_model_dependencies(home / "m")
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target", str(target),
                    "-r", resolved], check=True, cwd=tmp_path, timeout=120)  # fmt: skip
    assert (target / "tinylib.py").read_text() == "ANSWER = 42\n"
    lc.pyfunc.load_model(home / "m", suppress_warnings=True)  # the bundled files are part of the verified model
    with pytest.raises(lc.InvalidInput, match="names a wheel that does not exist"):
        lc.pyfunc.save_model(home / "n", python_model=abs, extra_pip_requirements=[str(wheel)])


def test_conda_env_is_kept_and_its_pip_list_becomes_the_requirements(home: Path, tmp_path: Path) -> None:
    import yaml

    conda = {"name": "team", "channels": ["defaults"],
             "dependencies": ["python=3.11", "libgomp", {"pip": ["scikit-learn>=1.3", "pandas"]}]}  # fmt: skip
    (tmp_path / "conda.yaml").write_text(yaml.safe_dump(conda))
    for name, given in (("as_dict", conda), ("as_path", tmp_path / "conda.yaml")):
        lc.sklearn.save_model(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), home / name, conda_env=given)
        assert yaml.safe_load((home / name / "conda.yaml").read_text()) == conda  # the conda packages are kept too
        assert (home / name / "requirements.txt").read_text().splitlines() == ["scikit-learn>=1.3", "pandas"]
    with pytest.raises(lc.InvalidInput, match="only one of conda_env, pip_requirements"):
        lc.pyfunc.save_model(home / "both", python_model=abs, conda_env=conda, pip_requirements=["x"])
    with pytest.raises(lc.InvalidInput, match="'dependencies' list"):
        lc.pyfunc.save_model(home / "bad", python_model=abs, conda_env={"dependencies": "numpy"})


def test_code_path_and_infer_code_paths(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "helpers_for_infer.py").write_text("class Triple:\n    def predict(self, df):\n        return df * 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import helpers_for_infer  # a local module, not an installed package

    lc.pyfunc.save_model(home / "inferred", python_model=helpers_for_infer.Triple(), infer_code_paths=True)
    assert (home / "inferred" / "code" / "helpers_for_infer.py").is_file()
    import subprocess
    import sys

    load = "import sys, jupyter_lifecycle as lc; print(lc.pyfunc.load_model(sys.argv[1]).predict(2))"
    done = subprocess.run([sys.executable, "-c", load, str(home / "inferred")], capture_output=True, text=True,
                          cwd=home, timeout=120)  # a fresh process, where only code/ has the module  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == "6", done.stderr
    lc.pyfunc.save_model(home / "old_name", python_model=abs, code_path=[tmp_path / "helpers_for_infer.py"])
    assert (home / "old_name" / "code" / "helpers_for_infer.py").is_file()
    with pytest.raises(lc.InvalidInput, match="not both"):
        lc.pyfunc.save_model(home / "both", python_model=abs, code_paths=[tmp_path], code_path=[tmp_path])


def test_inferred_requirements_are_what_predicting_needs(tmp_path: Path) -> None:
    """A plain scikit-learn model fed a DataFrame, in a fresh interpreter as in a notebook: pandas and
    scikit-learn call pyarrow and narwhals inside themselves, and their own requirements bring those (issue #14)."""
    script = textwrap.dedent(f"""
        from pathlib import Path
        import jupyter_lifecycle as lc
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression
        X, y = load_iris(return_X_y=True, as_frame=True)
        model = LogisticRegression(max_iter=300).fit(X, y)
        lc.set_store(Path({str(tmp_path / "store")!r})); lc.set_experiment("r")
        with lc.start_run():
            info = lc.sklearn.log_model(model, name="model", input_example=X.head(5))
        print(open(lc.models.get_model_dependencies(info.model_uri)).read())
    """)
    # the package under test comes first on the path, wherever the subprocess runs
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.environ.get("PYTHONPATH", ""), str(ROOT)])}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240, check=True,
                         cwd=tmp_path, env=env)  # fmt: skip
    names = {line.split("==")[0] for line in out.stdout.split()}
    assert {"scikit-learn", "numpy", "cloudpickle"} <= names
    assert not names & {"pyarrow", "narwhals", "pandas", "scipy"}, out.stdout
