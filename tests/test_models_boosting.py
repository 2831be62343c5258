"""The XGBoost and LightGBM flavors: native files, round trips, MLflow both ways, serving, scoring.

Small real models on scikit-learn's bundled data sets. MLflow runs in its own
venv (``make mlflow-venv``) as a subprocess; the scoring server and the
scoring notebook's kernel are fresh processes, so they find the flavors
through the installed entry points, as a user's ``jupyter-lifecycle serve`` does.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests
import yaml

pytest.importorskip("xgboost")
pytest.importorskip("lightgbm")

import lightgbm as lgb  # noqa: E402
import xgboost as xgb  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes  # noqa: E402

import jupyter_lifecycle as lc  # noqa: E402
from jupyter_lifecycle.errors import InvalidInput  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MLFLOW_PYTHON = ROOT / ".venv-mlflow" / "bin" / "python"


def cancer() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X, y


def diabetes() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return X, y


def mlmodel(folder: Path) -> dict[str, Any]:
    return yaml.safe_load((folder / "MLmodel").read_text())


def requirements(folder: Path) -> list[str]:
    return (folder / "requirements.txt").read_text().split()


def trained() -> dict[str, tuple[Any, pd.DataFrame]]:
    """One model of each kind the flavors save: native boosters and scikit-learn wrappers."""
    X, y = cancer()
    Xr, yr = diabetes()
    return {
        "xgb_booster": (xgb.train({"objective": "binary:logistic", "max_depth": 3}, xgb.DMatrix(X, y), 8), X),
        "xgb_classifier": (xgb.XGBClassifier(n_estimators=8, max_depth=3).fit(X, y), X),
        "xgb_regressor": (xgb.XGBRegressor(n_estimators=8, max_depth=3).fit(Xr, yr), Xr),
        "lgb_booster": (lgb.train({"objective": "binary", "num_leaves": 7, "verbose": -1}, lgb.Dataset(X, y), 8), X),
        "lgb_classifier": (lgb.LGBMClassifier(n_estimators=8, num_leaves=7, verbose=-1).fit(X, y), X),
        "lgb_regressor": (lgb.LGBMRegressor(n_estimators=8, num_leaves=7, verbose=-1).fit(Xr, yr), Xr),
    }


def predictions(model: Any, X: pd.DataFrame) -> np.ndarray:
    """What MLflow's pyfunc returns for a model: boosters predict on a DMatrix, estimators on the frame."""
    if isinstance(model, xgb.Booster):
        return model.predict(xgb.DMatrix(X))
    return np.asarray(model.predict(X))


@pytest.fixture(scope="module")
def models() -> dict[str, tuple[Any, pd.DataFrame]]:
    return trained()


@pytest.fixture(scope="module")
def saved(models: dict[str, tuple[Any, pd.DataFrame]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every kind saved by us with an input example (ubj for XGBoost's default, json for one more)."""
    root = tmp_path_factory.mktemp("boosting")
    for name, (model, X) in models.items():
        flavor = lc.xgboost if name.startswith("xgb") else lc.lightgbm
        flavor.save_model(model, root / name, input_example=X.head(3))
    lc.xgboost.save_model(models["xgb_classifier"][0], root / "xgb_classifier_json", model_format="json")
    return root


def test_files_are_native_and_mlmodel_has_mlflows_keys(saved: Path) -> None:
    expected = {"xgb_booster": ("model.ubj", "xgboost.core.Booster"), "xgb_classifier": ("model.ubj", "xgboost.sklearn.XGBClassifier"),
                "xgb_classifier_json": ("model.json", "xgboost.sklearn.XGBClassifier"),
                "lgb_booster": ("model.lgb", "lightgbm.basic.Booster"), "lgb_classifier": ("model.skops", "lightgbm.sklearn.LGBMClassifier")}  # fmt: skip
    for name, (data, model_class) in expected.items():
        flavors = mlmodel(saved / name)["flavors"]
        flavor = flavors["xgboost" if name.startswith("xgb") else "lightgbm"]
        assert flavor["data"] == data and flavor["model_class"] == model_class, name
        assert flavors["python_function"]["data"] == data
        assert flavors["python_function"]["loader_module"] == ("mlflow.xgboost" if name.startswith("xgb") else "mlflow.lightgbm")
        assert not list((saved / name).glob("*.pkl")), f"{name} holds a pickle"
    assert mlmodel(saved / "xgb_classifier")["flavors"]["xgboost"]["model_format"] == "ubj"
    assert mlmodel(saved / "xgb_classifier")["flavors"]["xgboost"]["xgb_version"] == xgb.__version__
    assert json.loads((saved / "xgb_classifier_json" / "model.json").read_text())["learner"]
    assert (saved / "lgb_booster" / "model.lgb").read_text().startswith("tree\nversion=")  # LightGBM's text format
    lgb_flavor = mlmodel(saved / "lgb_classifier")["flavors"]["lightgbm"]
    assert lgb_flavor["serialization_format"] == "skops" and lgb_flavor["lgb_version"] == lgb.__version__
    assert "lightgbm.sklearn.LGBMClassifier" in lgb_flavor["skops_trusted_types"]


def test_round_trip_gives_the_same_model_and_predictions(models: dict[str, tuple[Any, pd.DataFrame]], saved: Path) -> None:
    for name, (model, X) in models.items():
        flavor = lc.xgboost if name.startswith("xgb") else lc.lightgbm
        native = flavor.load_model(saved / name)
        assert type(native) is type(model), name
        np.testing.assert_allclose(predictions(native, X), predictions(model, X), rtol=1e-6, err_msg=name)
        pyfunc = lc.pyfunc.load_model(saved / name)
        assert pyfunc.loader_module == f"mlflow.{flavor.FLAVOR_NAME}"
        np.testing.assert_allclose(np.asarray(pyfunc.predict(X)), predictions(model, X), rtol=1e-6, err_msg=name)
        assert pyfunc.metadata.get_input_schema().input_names() == list(X.columns)
        assert pyfunc.get_raw_model() is not None and type(pyfunc.get_raw_model()) is type(model)
    clf = lc.xgboost.load_model(saved / "xgb_classifier_json")
    np.testing.assert_allclose(clf.predict_proba(models["xgb_classifier"][1]),
                               models["xgb_classifier"][0].predict_proba(models["xgb_classifier"][1]), rtol=1e-6)  # fmt: skip


def test_signature_is_enforced_on_the_pyfunc(saved: Path, models: dict[str, tuple[Any, pd.DataFrame]]) -> None:
    X = models["xgb_booster"][1]
    pyfunc = lc.pyfunc.load_model(saved / "xgb_booster")
    with pytest.raises(lc.SchemaMismatch, match="mean radius"):
        pyfunc.predict(X.drop(columns=["mean radius"]))


def test_requirements_pin_the_library_not_the_environment(saved: Path) -> None:
    from importlib.metadata import version

    xgb_lines = requirements(saved / "xgb_classifier")
    lgb_lines = requirements(saved / "lgb_classifier")
    xgb_dist = "xgboost-cpu" if any(line.startswith("xgboost-cpu==") for line in xgb_lines) else "xgboost"
    assert f"{xgb_dist}=={version(xgb_dist)}" in xgb_lines
    assert f"lightgbm=={version('lightgbm')}" in lgb_lines and f"skops=={version('skops')}" in lgb_lines
    assert f"lightgbm=={version('lightgbm')}" in requirements(saved / "lgb_booster")
    for lines in (xgb_lines, lgb_lines):
        assert all("==" in line for line in lines)
        assert not {"pytest", "jupyterlab", "mypy", "ruff"} & {line.split("==")[0] for line in lines}
    assert not any(line.startswith("lightgbm") for line in xgb_lines)


def test_cloudpickle_for_lightgbm_wrappers_and_bad_arguments(models: dict[str, tuple[Any, pd.DataFrame]], tmp_path: Path) -> None:
    model, X = models["lgb_regressor"]
    lc.lightgbm.save_model(model, tmp_path / "pickled", serialization_format="cloudpickle")
    assert mlmodel(tmp_path / "pickled")["flavors"]["lightgbm"]["data"] == "model.pkl"
    np.testing.assert_allclose(lc.lightgbm.load_model(tmp_path / "pickled").predict(X), model.predict(X))
    with pytest.raises(InvalidInput, match="model_format"):
        lc.xgboost.save_model(models["xgb_booster"][0], tmp_path / "x", model_format="deprecated")
    with pytest.raises(InvalidInput, match="LGBMRegressor"):
        lc.xgboost.save_model(model, tmp_path / "y")
    with pytest.raises(InvalidInput, match="serialization_format"):
        lc.lightgbm.save_model(model, tmp_path / "z", serialization_format="joblib")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_a_forged_model_class_is_refused(models: dict[str, tuple[Any, pd.DataFrame]], tmp_path: Path) -> None:
    lc.xgboost.save_model(models["xgb_booster"][0], tmp_path / "m")
    meta = mlmodel(tmp_path / "m")
    meta["flavors"]["xgboost"]["model_class"] = "subprocess.Popen"
    meta.pop("jupyter_lifecycle")  # as a folder written by hand would be: no hashes to check
    (tmp_path / "m" / "MLmodel").write_text(yaml.safe_dump(meta))
    with pytest.raises(InvalidInput, match="subprocess.Popen"):
        lc.xgboost.load_model(tmp_path / "m")


def test_log_model_into_a_run_and_register(home: Path, models: dict[str, tuple[Any, pd.DataFrame]]) -> None:
    clf, X = models["xgb_classifier"]
    booster = models["lgb_booster"][0]
    with lc.start_run() as run:
        info = lc.xgboost.log_model(clf, name="xgb", input_example=X.head(2), model_format="json",
                                    registered_model_name="cancer-xgb")  # fmt: skip
        lgb_info = lc.lightgbm.log_model(booster, name="lgb")
    assert info.model_uri == f"models:/{info.model_id}"  # MLflow 3: a logged model, its files in the run
    np.testing.assert_allclose(lc.xgboost.load_model(f"runs:/{run.info.run_id}/xgb").predict_proba(X),
                               clf.predict_proba(X), rtol=1e-6)  # fmt: skip
    assert {f.path for f in lc.list_artifacts(run.info.run_id, "xgb")} >= {"xgb/model.json", "xgb/MLmodel"}
    loaded = lc.xgboost.load_model("models:/cancer-xgb/1")
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), rtol=1e-6)
    np.testing.assert_allclose(lc.pyfunc.load_model(lgb_info.model_uri).predict(X), booster.predict(X), rtol=1e-6)
    logged = lc.search_logged_models(output_format="list")
    assert sorted(m.name for m in logged) == ["lgb", "xgb"]
    assert {m.loader_module for m in logged} == {"mlflow.xgboost", "mlflow.lightgbm"}


def test_score_batches_and_cli(home: Path, saved: Path, models: dict[str, tuple[Any, pd.DataFrame]], tmp_path: Path) -> None:
    from jupyter_lifecycle.cli import main

    model, X = models["lgb_classifier"]
    scored = lc.score(str(saved / "lgb_classifier"), X, batch_size=100, progress=False)
    assert scored["prediction"].tolist() == model.predict(X).tolist()
    X.to_csv(tmp_path / "in.csv", index=False)
    assert main(["score", str(saved / "xgb_regressor"), str(tmp_path / "in.csv"), str(tmp_path / "out.csv")]) == 1  # wrong columns
    Xr = models["xgb_regressor"][1]
    Xr.to_csv(tmp_path / "in.csv", index=False)
    assert main(["score", str(saved / "xgb_regressor"), str(tmp_path / "in.csv"), str(tmp_path / "out.csv")]) == 0
    np.testing.assert_allclose(pd.read_csv(tmp_path / "out.csv")["prediction"], models["xgb_regressor"][0].predict(Xr), rtol=1e-5)


# ---- fresh processes: the entry points ------------------------------------------------------


def test_a_fresh_process_finds_the_flavors_by_entry_point(saved: Path) -> None:
    """``import jupyter_lifecycle`` imports neither library; loading a model finds its flavor by entry point.

    Needs the package installed with this pyproject.toml's entry points
    (``make install``, or ``pip install -e .`` after pulling).
    """
    code = textwrap.dedent(
        """
        import json, sys
        import pandas as pd
        import jupyter_lifecycle
        from jupyter_lifecycle.models import get_flavor, load_pyfunc
        assert "xgboost" not in sys.modules and "lightgbm" not in sys.modules, "the core imported a library"
        for loader, name in [("mlflow.xgboost", "xgboost"), ("mlflow.lightgbm", "lightgbm")]:
            flavor = get_flavor(loader)
            assert flavor is not None, (
                f"no flavor for {loader}: the installed entry points are stale, reinstall: pip install -e .")
            assert flavor.name == name and get_flavor(name) is flavor
        model = load_pyfunc(sys.argv[1])  # loader_module: mlflow.xgboost, found by entry point
        print(model.predict(pd.DataFrame(json.loads(sys.argv[2]))).tolist())
        """
    )
    X = cancer()[0].head(4)
    done = subprocess.run([sys.executable, "-c", code, str(saved / "xgb_booster"), X.to_json()], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    want = xgb.Booster(model_file=str(saved / "xgb_booster" / "model.ubj")).predict(xgb.DMatrix(X))
    np.testing.assert_allclose(json.loads(done.stdout.strip().splitlines()[-1]), want, rtol=1e-6)


def test_serve_over_http(saved: Path, models: dict[str, tuple[Any, pd.DataFrame]], tmp_path: Path) -> None:
    from tests.test_serving import start_server, stop_server

    for name in ("xgb_classifier", "lgb_booster"):
        model, X = models[name]
        proc, url = start_server(saved / name, home=tmp_path / name)
        try:
            rows = X.iloc[[0, 1, 19, 20]]
            reply = requests.post(f"{url}/invocations", json={"dataframe_split": rows.to_dict(orient="split")}, timeout=30)
            assert reply.status_code == 200, reply.text
            np.testing.assert_allclose(reply.json()["predictions"], predictions(model, rows), rtol=1e-6)
            bad = requests.post(f"{url}/invocations", json={"dataframe_records": [{"mean radius": 1.0}]}, timeout=30)
            assert bad.status_code == 400 and "mean texture" in bad.text
            assert requests.get(f"{url}/metadata", timeout=30).json()["flavors"] == sorted(mlmodel(saved / name)["flavors"])
        finally:
            assert stop_server(proc) == 0


def test_scoring_notebook_runs_in_a_fresh_kernel(home: Path, saved: Path, models: dict[str, tuple[Any, pd.DataFrame]],
                                                 tmp_path: Path) -> None:  # fmt: skip
    import papermill

    model, X = models["xgb_classifier"]
    X.to_csv(tmp_path / "new.csv", index=False)
    path = lc.generate_scoring_notebook(str(saved / "xgb_classifier"), input_path=str(tmp_path / "new.csv"),
                                        output_path=str(tmp_path / "scored.csv"), notebook_path=tmp_path / "score.ipynb")  # fmt: skip
    papermill.execute_notebook(str(path), str(tmp_path / "out.ipynb"), parameters={"install_requirements": False},
                               kernel_name="python3", cwd=str(tmp_path), progress_bar=False)  # fmt: skip
    assert pd.read_csv(tmp_path / "scored.csv")["prediction"].tolist() == model.predict(X).tolist()


# ---- MLflow both ways --------------------------------------------------------------------------


def _mlflow_skip() -> str | None:
    if not MLFLOW_PYTHON.exists():
        return f"{MLFLOW_PYTHON} does not exist: run `make mlflow-venv`"
    probe = subprocess.run([str(MLFLOW_PYTHON), "-c", "import mlflow, xgboost, lightgbm"], capture_output=True, text=True)
    return None if probe.returncode == 0 else f"{MLFLOW_PYTHON} lacks mlflow, xgboost or lightgbm: run `make mlflow-venv`"


MLFLOW_SCRIPT = textwrap.dedent(
    """
    import json, sys
    class Block:  # MLflow loads our models without jupyter_lifecycle
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "jupyter_lifecycle":
                raise ImportError("jupyter_lifecycle is blocked")
    sys.meta_path.insert(0, Block())
    import warnings
    warnings.filterwarnings("ignore")
    import numpy as np, pandas as pd, xgboost as xgb, lightgbm as lgb
    import mlflow.pyfunc, mlflow.xgboost, mlflow.lightgbm
    from sklearn.datasets import load_breast_cancer
    work, ours = sys.argv[1], sys.argv[2].split(",")
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    out = {}
    for name in ours:
        flavor = mlflow.xgboost if name.startswith("xgb") else mlflow.lightgbm
        native = flavor.load_model(f"{work}/{name}")
        frame = pd.DataFrame(json.loads(sys.argv[3])[name])
        raw = native.predict(xgb.DMatrix(frame)) if isinstance(native, xgb.Booster) else native.predict(frame)
        out[name] = {"class": f"{type(native).__module__}.{type(native).__name__}", "native": np.asarray(raw).tolist(),
                     "pyfunc": np.asarray(mlflow.pyfunc.load_model(f"{work}/{name}").predict(frame)).tolist()}
    # Theirs: pip_requirements skips MLflow's requirement inference (a ~10 s subprocess).
    reqs = {"pip_requirements": ["xgboost", "lightgbm"]}
    mlflow.xgboost.save_model(xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, y), 6), f"{work}/theirs_xgb_booster",
                              model_format="json", **reqs)
    mlflow.xgboost.save_model(xgb.XGBClassifier(n_estimators=6).fit(X, y), f"{work}/theirs_xgb_classifier",
                              input_example=X.head(2), **reqs)
    mlflow.lightgbm.save_model(lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(X, y), 6),
                               f"{work}/theirs_lgb_booster", **reqs)
    mlflow.lightgbm.save_model(lgb.LGBMClassifier(n_estimators=6, verbose=-1).fit(X, y), f"{work}/theirs_lgb_classifier",
                               input_example=X.head(2), **reqs)
    for name in ("theirs_xgb_booster", "theirs_xgb_classifier", "theirs_lgb_booster", "theirs_lgb_classifier"):
        out[name] = np.asarray(mlflow.pyfunc.load_model(f"{work}/{name}").predict(X)).tolist()
    print(json.dumps(out))
    """
)


@pytest.mark.mlflow
@pytest.mark.skipif(_mlflow_skip() is not None, reason=_mlflow_skip() or "")
def test_mlflow_loads_ours_and_we_load_mlflows(saved: Path, models: dict[str, tuple[Any, pd.DataFrame]]) -> None:
    names = list(models)
    frames = {name: json.loads(models[name][1].head(25).to_json(orient="columns")) for name in names}
    done = subprocess.run([str(MLFLOW_PYTHON), "-c", MLFLOW_SCRIPT, str(saved), ",".join(names), json.dumps(frames)],
                          capture_output=True, text=True, timeout=300, cwd=saved)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    for name in names:
        model, X = models[name]
        want = predictions(model, X.head(25))
        assert out[name]["class"] == f"{type(model).__module__}.{type(model).__name__}", name
        np.testing.assert_allclose(out[name]["native"], want, rtol=1e-6, err_msg=name)
        np.testing.assert_allclose(out[name]["pyfunc"], want, rtol=1e-6, err_msg=name)

    X, _ = cancer()
    for name, kind in [("theirs_xgb_booster", xgb.Booster), ("theirs_xgb_classifier", xgb.XGBClassifier),
                       ("theirs_lgb_booster", lgb.Booster), ("theirs_lgb_classifier", lgb.LGBMClassifier)]:  # fmt: skip
        flavor = lc.xgboost if "xgb" in name else lc.lightgbm
        native = flavor.load_model(saved / name)
        assert isinstance(native, kind), name
        pyfunc = lc.pyfunc.load_model(saved / name)
        np.testing.assert_allclose(np.asarray(pyfunc.predict(X)), out[name], rtol=1e-6, err_msg=name)
        np.testing.assert_allclose(predictions(native, X), out[name], rtol=1e-6, err_msg=name)


def test_boosting_log_model_takes_mlflow_3s_logged_model_arguments(home: Path, models: dict[str, tuple[Any, pd.DataFrame]]) -> None:
    clf = models["xgb_classifier"][0]
    info = lc.xgboost.log_model(clf, name="tagged", params={"depth": 3}, tags={"team": "a"}, model_type="classifier")
    logged = lc.get_logged_model(info.model_id)
    assert logged.params == {"depth": "3"} and logged.tags["team"] == "a" and logged.model_type == "classifier"
    assert lc.active_run() is None  # MLflow 3: no run is started for it
