"""MLflow itself loads models saved here, and models saved by MLflow load here.

MLflow runs in its own venv (``make mlflow-venv``: MLflow 3.17.2), as a
subprocess, so it is never a dependency of this package.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import jupyter_lifecycle as lc

ROOT = Path(__file__).resolve().parents[1]
MLFLOW_PYTHON = ROOT / ".venv-mlflow" / "bin" / "python"


def _mlflow_available() -> str | None:
    if not MLFLOW_PYTHON.exists():
        return f"{MLFLOW_PYTHON} does not exist: run `make mlflow-venv`"
    probe = subprocess.run([str(MLFLOW_PYTHON), "-c", "import mlflow"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"{MLFLOW_PYTHON} cannot import mlflow: run `make mlflow-venv`"
    return None


_skip_reason = _mlflow_available()
pytestmark = [pytest.mark.mlflow, pytest.mark.skipif(_skip_reason is not None, reason=_skip_reason or "")]

X = pd.DataFrame({"a": [0.5, 1.0, 2.5, 3.0, 4.5, 5.0, 6.5, 7.0], "b": [3, 1, 4, 1, 5, 9, 2, 6]})
Y = [0, 0, 1, 0, 1, 1, 1, 1]


class Scaled(lc.pyfunc.PythonModel):
    def load_context(self, context):  # type: ignore[no-untyped-def]
        self.offset = float(Path(context.artifacts["offset"]).read_text())

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        return pd.DataFrame({"y": model_input["a"] * 2 + model_input["b"] + self.offset})


SCRIPT = textwrap.dedent(
    """
    import json, sys
    work = sys.argv[1]
    if sys.argv[2] == "block":
        class Block:  # prove the scikit-learn model needs no jupyter_lifecycle
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "jupyter_lifecycle":
                    raise ImportError("jupyter_lifecycle is blocked")
        sys.meta_path.insert(0, Block())
    import warnings
    warnings.filterwarnings("ignore")
    import pandas as pd
    import mlflow.pyfunc, mlflow.sklearn
    from sklearn.linear_model import LogisticRegression
    X = pd.DataFrame(json.loads(sys.argv[3]))
    out = {}
    for name in sys.argv[4].split(","):
        model = mlflow.pyfunc.load_model(f"{work}/{name}")
        out[name] = pd.DataFrame(model.predict(X)).to_numpy().ravel().tolist()
        out[name + ".inputs"] = [c.name for c in model.metadata.get_input_schema().inputs]
    if sys.argv[5] != "-":
        theirs = LogisticRegression(C=0.5).fit(X, json.loads(sys.argv[5]))
        # pip_requirements: skips MLflow's requirement inference, a subprocess taking ~10 s.
        mlflow.sklearn.save_model(theirs, f"{work}/theirs_skops", input_example=X[:2], pip_requirements=["scikit-learn"])
        mlflow.sklearn.save_model(theirs, f"{work}/theirs_cloudpickle", serialization_format="cloudpickle",
                                  pip_requirements=["scikit-learn"])
        out["theirs"] = theirs.predict_proba(X)[:, 1].tolist()
    print(json.dumps(out))
    """
)


def run_mlflow(work: Path, names: list[str], block: bool, save_theirs: bool = False) -> dict:
    done = subprocess.run(
        [str(MLFLOW_PYTHON), "-c", SCRIPT, str(work), "block" if block else "open", X.to_json(orient="columns"),
         ",".join(names), json.dumps(Y) if save_theirs else "-"],
        capture_output=True, text=True, cwd=work, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_mlflow_loads_our_sklearn_model_without_jupyter_lifecycle(tmp_path: Path) -> None:
    estimator = LogisticRegression().fit(X, Y)
    lc.sklearn.save_model(estimator, tmp_path / "ours_sklearn", input_example=X[:3])
    out = run_mlflow(tmp_path, ["ours_sklearn"], block=True, save_theirs=True)
    assert out["ours_sklearn"] == estimator.predict(X).tolist()
    assert out["ours_sklearn.inputs"] == ["a", "b"]
    ours = lc.pyfunc.load_model(tmp_path / "ours_sklearn").predict(X)
    assert out["ours_sklearn"] == ours.tolist()

    # The other way: MLflow's own saves (skops is its default format, cloudpickle the classic one).
    for name in ("theirs_skops", "theirs_cloudpickle"):
        native = lc.sklearn.load_model(tmp_path / name)
        assert np.allclose(native.predict_proba(X)[:, 1], out["theirs"])
        pyfunc = lc.pyfunc.load_model(tmp_path / name)
        assert pyfunc.predict(X).tolist() == native.predict(X).tolist()
    assert lc.pyfunc.load_model(tmp_path / "theirs_skops").metadata.get_input_schema().input_names() == ["a", "b"]


def test_mlflow_loads_our_python_model_with_artifacts(tmp_path: Path) -> None:
    (tmp_path / "offset.txt").write_text("10")
    # A class defined in a notebook (__main__) is pickled by value: save one from a fresh interpreter.
    notebook = "\n".join(["import sys", "from pathlib import Path", "import pandas as pd", "import jupyter_lifecycle as lc",
                          textwrap.dedent(inspect.getsource(Scaled)),
                          "lc.pyfunc.save_model(sys.argv[1], python_model=Scaled(), artifacts={'offset': sys.argv[2]},",
                          "                     input_example=pd.DataFrame({'a': [1.0], 'b': [1]}))"])  # fmt: skip
    subprocess.run([sys.executable, "-c", notebook, str(tmp_path / "ours_main"), str(tmp_path / "offset.txt")],
                   check=True, timeout=120)  # fmt: skip
    # A class from a module must be importable by name in MLflow's process: ship it in code/.
    source = textwrap.dedent(
        """
        from pathlib import Path
        import pandas as pd
        import jupyter_lifecycle as lc

        class Scaled(lc.pyfunc.PythonModel):
            def load_context(self, context):
                self.offset = float(Path(context.artifacts["offset"]).read_text())

            def predict(self, context, model_input, params=None):
                return pd.DataFrame({"y": model_input["a"] * 2 + model_input["b"] + self.offset})
        """
    )
    (tmp_path / "scaled_model.py").write_text(source)
    sys.path.insert(0, str(tmp_path))
    try:
        import scaled_model

        lc.pyfunc.save_model(tmp_path / "ours_code", python_model=scaled_model.Scaled(),
                             artifacts={"offset": tmp_path / "offset.txt"}, code_paths=[tmp_path / "scaled_model.py"],
                             input_example=X[:2])  # fmt: skip
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("scaled_model", None)
    (tmp_path / "scaled_model.py").unlink()
    out = run_mlflow(tmp_path, ["ours_code", "ours_main"], block=False)
    expected = (X["a"] * 2 + X["b"] + 10).tolist()
    assert out["ours_code"] == expected and out["ours_main"] == expected
    assert lc.pyfunc.load_model(tmp_path / "ours_main").predict(X)["y"].tolist() == expected
    assert lc.pyfunc.load_model(tmp_path / "ours_code").predict(X)["y"].tolist() == expected


def test_a_type_hinted_python_model_gets_lists_here_and_in_mlflow(tmp_path: Path) -> None:
    # MLflow 3: `predict(self, model_input: list[str])` defines the signature and receives a list.
    notebook = textwrap.dedent(
        """
        import sys
        import jupyter_lifecycle as lc

        class Upper(lc.pyfunc.PythonModel):
            def predict(self, model_input: list[str], params=None) -> list[str]:
                assert isinstance(model_input, list), type(model_input)
                return [text.upper() for text in model_input]

        lc.pyfunc.save_model(sys.argv[1], python_model=Upper())
        """
    )
    subprocess.run([sys.executable, "-c", notebook, str(tmp_path / "upper")], check=True, timeout=120)
    ours = lc.pyfunc.load_model(tmp_path / "upper")
    assert ours.metadata.signature.inputs.to_dict() == [{"type": "string", "required": True}]
    assert ours.metadata.signature.outputs.to_dict() == [{"type": "string", "required": True}]
    assert ours.predict(["ab", "c"]) == ["AB", "C"]
    assert ours.predict(pd.DataFrame({"text": ["df"]})) == ["DF"]
    with pytest.raises(lc.SchemaMismatch, match="expected string"):
        ours.predict([1, 2])
    theirs = textwrap.dedent(
        """
        import json, sys, warnings
        warnings.filterwarnings("ignore")
        import mlflow.pyfunc, pandas as pd
        model = mlflow.pyfunc.load_model(sys.argv[1])
        print(json.dumps([model.predict(["ab", "c"]), model.predict(pd.DataFrame({"text": ["df"]})),
                          model.metadata.get_input_schema().to_dict()]))
        """
    )
    done = subprocess.run([str(MLFLOW_PYTHON), "-c", theirs, str(tmp_path / "upper")], capture_output=True, text=True,
                          timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [["AB", "C"], ["DF"], [{"type": "string", "required": True}]]


def test_mlflow_loads_our_model_from_code(tmp_path: Path) -> None:
    code = tmp_path / "model.py"
    code.write_text("import jupyter_lifecycle as lc\n\nclass Double(lc.pyfunc.PythonModel):\n"
                    "    def predict(self, context, model_input, params=None):\n        return model_input['a'] * 2\n\n"
                    "lc.models.set_model(Double())\n")  # fmt: skip
    lc.pyfunc.save_model(tmp_path / "from_code", python_model=code, input_example=X[:2])
    out = run_mlflow(tmp_path, ["from_code"], block=False)
    assert out["from_code"] == (X["a"] * 2).tolist()
    assert lc.pyfunc.load_model(tmp_path / "from_code").predict(X).tolist() == out["from_code"]


LOGGED_SCRIPT = textwrap.dedent(
    """
    import json, sys, warnings
    warnings.filterwarnings("ignore")
    import pandas as pd
    import mlflow.pyfunc
    from mlflow.models import Model
    X = pd.DataFrame(json.loads(sys.argv[2]))
    out = {}
    for folder in sys.argv[1].split(","):
        meta = Model.load(folder)
        model = mlflow.pyfunc.load_model(folder)
        out[folder] = {"predictions": pd.DataFrame(model.predict(X)).to_numpy().ravel().tolist(),
                       "model_id": meta.model_id, "model_uuid": meta.model_uuid, "run_id": meta.run_id,
                       "artifact_path": meta.artifact_path, "pyfunc_model_id": model.model_id}
    print(json.dumps(out))
    """
)


def test_mlflow_loads_our_logged_models_with_the_fields_it_writes(home: Path) -> None:
    """MLflow 3.17's log_model writes model_id, model_uuid = model_id, artifact_path = the model's folder,
    and run_id only inside a run; our logged models carry the same, and MLflow reads them back."""
    estimator = LogisticRegression().fit(X, Y)
    alone = lc.sklearn.log_model(estimator, name="alone", input_example=X[:2])
    with lc.start_run() as run:
        inside = lc.sklearn.log_model(estimator, name="inside")
    folders = [lc.get_logged_model(alone.model_id).artifact_location, lc.get_logged_model(inside.model_id).artifact_location]
    done = subprocess.run([str(MLFLOW_PYTHON), "-c", LOGGED_SCRIPT, ",".join(folders), X.to_json(orient="columns")],
                          capture_output=True, text=True, timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    for info, folder, run_id in ((alone, folders[0], None), (inside, folders[1], run.info.run_id)):
        seen = out[folder]
        assert seen["predictions"] == estimator.predict(X).tolist()
        assert seen["model_id"] == seen["model_uuid"] == seen["pyfunc_model_id"] == info.model_id
        assert seen["artifact_path"] == folder == info.artifact_path and seen["run_id"] == run_id
    assert folders[0] == str(home / "artifacts" / "models" / alone.model_id)
