"""XGBoost and LightGBM autolog: params, metric histories against the libraries' evals_result, early
stopping, feature importance, the model, runs, the interplay with scikit-learn autolog, exact restore."""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("xgboost")
pytest.importorskip("lightgbm")

import lightgbm as lgb  # noqa: E402
import xgboost as xgb  # noqa: E402
import xgboost.sklearn  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import jupyter_lifecycle as lc  # noqa: E402
from jupyter_lifecycle.autologging import sklearn as sk_autolog  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def split(loader: Any = load_breast_cancer) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    X, y = loader(return_X_y=True, as_frame=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0)
    return Xtr, Xte, ytr, yte


def patched_attributes() -> dict[str, Any]:
    """Everything either autolog patches, read from the classes' and modules' own dicts."""
    out = {"xgboost.train": vars(xgb)["train"], "xgboost.sklearn.train": vars(xgboost.sklearn)["train"],
           "lightgbm.train": vars(lgb)["train"], "lightgbm.sklearn.train": vars(lgb.sklearn)["train"],
           "DMatrix.__init__": vars(xgb.DMatrix)["__init__"], "QuantileDMatrix.__init__": vars(xgb.QuantileDMatrix)["__init__"],
           "Dataset.__init__": vars(lgb.Dataset)["__init__"]}  # fmt: skip
    for cls in (xgb.XGBModel, xgb.XGBClassifier, xgb.XGBRanker, xgb.XGBRFClassifier, xgb.XGBRFRegressor,
                lgb.LGBMModel, lgb.LGBMClassifier, lgb.LGBMRegressor, lgb.LGBMRanker):  # fmt: skip
        out[f"{cls.__name__}.fit"] = vars(cls)["fit"]
    return out


@pytest.fixture
def autolog(home: Path) -> Iterator[None]:
    lc.autolog()
    yield
    lc.autolog(disable=True)


def runs() -> list[Any]:
    return list(lc.search_runs(output_format="list", search_all_experiments=True))


def history(run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in lc.get_metric_history(run_id, key)]


def artifact(run_id: str, path: str) -> Path:
    return Path(lc.get_run(run_id).info.artifact_uri.removeprefix("file://")) / path


def test_xgboost_train_logs_like_mlflow(autolog: None) -> None:
    Xtr, Xte, ytr, yte = split()
    dtrain, dvalid = xgb.DMatrix(Xtr, ytr), xgb.DMatrix(Xte, yte)
    evals_result: dict[str, Any] = {}
    callbacks: list[Any] = []
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 2, "eta": 0.5}, dtrain, 60,
                        evals=[(dtrain, "train"), (dvalid, "valid")], early_stopping_rounds=3, verbose_eval=False,
                        evals_result=evals_result, callbacks=callbacks)  # fmt: skip
    assert callbacks == []  # the caller's list is left alone
    (run,) = runs()
    run_id = run.info.run_id
    assert run.info.status == "FINISHED" and run.data.tags["mlflow.autologging"] == "xgboost"
    assert run.data.params["max_depth"] == "2" and run.data.params["objective"] == "binary:logistic"
    assert run.data.params["num_boost_round"] == "60" and run.data.params["early_stopping_rounds"] == "3"
    assert "dtrain" not in run.data.params and "evals" not in run.data.params

    rounds = len(evals_result["valid"]["logloss"])
    assert rounds < 60, "early stopping should have stopped this training"
    for data in ("train", "valid"):
        points = history(run_id, f"{data}-logloss")
        # one point per round, step = the round, values = XGBoost's own record; then the best round once more
        assert points[:-1] == list(enumerate(evals_result[data]["logloss"]))
        assert points[-1] == (rounds, evals_result[data]["logloss"][booster.best_iteration])
    assert run.data.metrics["best_iteration"] == booster.best_iteration
    assert run.data.metrics["stopped_iteration"] == rounds - 1
    assert run.data.metrics["valid-logloss"] == pytest.approx(booster.best_score)

    importance = json.loads(artifact(run_id, "feature_importance_weight.json").read_text())
    assert importance == booster.get_score(importance_type="weight")
    assert artifact(run_id, "feature_importance_weight.png").read_bytes().startswith(PNG_MAGIC)

    model = lc.xgboost.load_model(f"runs:/{run_id}/model")
    assert isinstance(model, xgb.Booster)
    np.testing.assert_allclose(model.predict(xgb.DMatrix(Xte)), booster.predict(xgb.DMatrix(Xte)), rtol=1e-6)
    pyfunc = lc.pyfunc.load_model(f"runs:/{run_id}/model")
    assert pyfunc.metadata.get_input_schema().input_names() == list(Xtr.columns)  # from the DMatrix's first rows
    assert len(pyfunc.metadata.load_input_example()) == 5


def test_xgboost_estimator_logs_params_histories_and_itself(autolog: None) -> None:
    Xtr, Xte, ytr, yte = split()
    clf = xgb.XGBClassifier(n_estimators=12, max_depth=2, importance_type="gain")
    clf.fit(Xtr, ytr, eval_set=[(Xtr, ytr), (Xte, yte)], verbose=False)
    (run,) = runs()
    run_id = run.info.run_id
    assert run.data.tags["estimator_name"] == "XGBClassifier" and run.data.tags["mlflow.autologging"] == "xgboost"
    assert run.data.params["n_estimators"] == "12" and run.data.params["num_boost_round"] == "12"
    results = clf.evals_result()
    for name in ("validation_0", "validation_1"):
        assert history(run_id, f"{name}-logloss") == list(enumerate(results[name]["logloss"]))
    assert "best_iteration" not in run.data.metrics  # no early stopping
    model = lc.xgboost.load_model(f"runs:/{run_id}/model")
    assert isinstance(model, xgb.XGBClassifier)
    np.testing.assert_allclose(model.predict_proba(Xte), clf.predict_proba(Xte), rtol=1e-6)
    assert lc.pyfunc.load_model(f"runs:/{run_id}/model").predict(Xte).tolist() == clf.predict(Xte).tolist()


def test_lightgbm_train_logs_like_mlflow(autolog: None) -> None:
    Xtr, Xte, ytr, yte = split()
    train_set = lgb.Dataset(Xtr, ytr)
    valid_set = lgb.Dataset(Xte, yte, reference=train_set)
    recorded: dict[str, Any] = {}
    user_callbacks = [lgb.record_evaluation(recorded), lgb.early_stopping(3, verbose=False)]
    booster = lgb.train({"objective": "binary", "num_leaves": 4, "learning_rate": 0.5, "verbose": -1}, train_set, 80,
                        valid_sets=[train_set, valid_set], valid_names=["train", "valid"], callbacks=user_callbacks)  # fmt: skip
    assert len(user_callbacks) == 2
    (run,) = runs()
    run_id = run.info.run_id
    assert run.data.tags["mlflow.autologging"] == "lightgbm"
    assert run.data.params["num_leaves"] == "4" and run.data.params["num_boost_round"] == "80"
    rounds = len(recorded["valid"]["binary_logloss"])
    assert booster.best_iteration < rounds < 80
    for data in ("train", "valid"):
        points = history(run_id, f"{data}-binary_logloss")
        assert points[:-1] == list(enumerate(recorded[data]["binary_logloss"]))
        assert points[-1] == (rounds, recorded[data]["binary_logloss"][booster.best_iteration - 1])
    assert run.data.metrics["best_iteration"] == booster.best_iteration
    assert run.data.metrics["stopped_iteration"] == rounds
    assert run.data.metrics["valid-binary_logloss"] == pytest.approx(booster.best_score["valid"]["binary_logloss"])
    for kind in ("split", "gain"):
        logged = json.loads(artifact(run_id, f"feature_importance_{kind}.json").read_text())
        assert logged == dict(zip(booster.feature_name(), booster.feature_importance(kind).tolist(), strict=True))
        assert artifact(run_id, f"feature_importance_{kind}.png").read_bytes().startswith(PNG_MAGIC)
    model = lc.lightgbm.load_model(f"runs:/{run_id}/model")
    assert isinstance(model, lgb.Booster)
    np.testing.assert_allclose(lc.pyfunc.load_model(f"runs:/{run_id}/model").predict(Xte), booster.predict(Xte))


def test_lightgbm_estimator_logs_once_without_its_label_encoder(autolog: None) -> None:
    Xtr, Xte, ytr, yte = split(load_diabetes)
    reg = lgb.LGBMRegressor(n_estimators=15, num_leaves=4, verbose=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=lgb.basic.LGBMDeprecationWarning)  # eval_set, in lightgbm 4.7
        reg.fit(Xtr, ytr, eval_set=[(Xte, yte)])
    lgb.LGBMClassifier(n_estimators=3, verbose=-1).fit(*split()[::2])  # fits a scikit-learn label encoder inside
    assert len(runs()) == 2
    by_name = {r.data.tags["estimator_name"]: r for r in runs()}
    assert set(by_name) == {"LGBMRegressor", "LGBMClassifier"}
    run_id = by_name["LGBMRegressor"].info.run_id
    assert history(run_id, "valid_0-l2") == list(enumerate(reg.evals_result_["valid_0"]["l2"]))
    assert by_name["LGBMRegressor"].data.params["n_estimators"] == "15"
    model = lc.lightgbm.load_model(f"runs:/{run_id}/model")
    assert isinstance(model, lgb.LGBMRegressor)
    np.testing.assert_allclose(model.predict(Xte), reg.predict(Xte))


def test_runs_inside_a_user_run_and_inside_a_pipeline(autolog: None) -> None:
    Xtr, _, ytr, _ = split()
    with lc.start_run(run_name="mine") as parent:
        xgb.XGBClassifier(n_estimators=3).fit(Xtr, ytr)
        lgb.LGBMClassifier(n_estimators=3, verbose=-1).fit(Xtr, ytr)  # the run has a model already: a child run
    by_name = {r.info.run_name: r for r in runs()}
    assert by_name["mine"].data.tags["mlflow.autologging"] == "xgboost"
    (child,) = [r for r in runs() if r.info.run_name != "mine"]
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert child.data.tags["mlflow.autologging"] == "lightgbm"

    Pipeline([("scale", StandardScaler()), ("xgb", xgb.XGBClassifier(n_estimators=3))]).fit(Xtr, ytr)
    (pipeline,) = [r for r in runs() if r.data.tags.get("estimator_name") == "Pipeline"]
    assert pipeline.data.tags["mlflow.autologging"] == "sklearn"
    assert len(runs()) == 3  # the XGBClassifier step logged nothing of its own


def test_a_failing_training_ends_its_run_failed(autolog: None) -> None:
    Xtr, _, ytr, _ = split()
    with pytest.raises(xgb.core.XGBoostError):
        xgb.train({"objective": "no-such-objective"}, xgb.DMatrix(Xtr, ytr), 3)
    (run,) = runs()
    assert run.info.status == "FAILED"
    assert lc.active_run() is None


def test_disable_restores_everything_exactly(home: Path) -> None:
    before = patched_attributes()
    sklearn_before = vars(xgb.XGBClassifier)["fit"]
    lc.autolog()
    during = patched_attributes()
    assert all(during[k] is not before[k] for k in before), [k for k in before if during[k] is before[k]]
    lc.autolog(disable=True)
    assert patched_attributes() == before and all(patched_attributes()[k] is before[k] for k in before)
    assert vars(xgb.XGBClassifier)["fit"] is sklearn_before
    Xtr, _, ytr, _ = split()
    xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(Xtr, ytr), 2)
    lgb.LGBMClassifier(n_estimators=2, verbose=-1).fit(Xtr, ytr)
    assert runs() == []


def test_flavor_autolog_alone_and_after_sklearn_autolog(home: Path) -> None:
    before = patched_attributes()
    Xtr, _, ytr, _ = split()
    # scikit-learn autolog first: it wraps XGBClassifier.fit itself; XGBoost autolog then logs the fit once.
    sk_autolog.autolog()
    lc.xgboost.autolog(importance_types=["gain", "cover"], model_format="json")
    try:
        xgb.XGBClassifier(n_estimators=3).fit(Xtr, ytr)
        lgb.LGBMClassifier(n_estimators=3, verbose=-1).fit(Xtr, ytr)  # LightGBM autolog is off: scikit-learn's logs it
    finally:
        lc.xgboost.autolog(disable=True)
        sk_autolog.autolog(disable=True)
    assert all(patched_attributes()[k] is before[k] for k in before)
    tags = sorted(r.data.tags["mlflow.autologging"] for r in runs())
    assert tags == ["sklearn", "xgboost"]
    (xgb_run,) = [r for r in runs() if r.data.tags["mlflow.autologging"] == "xgboost"]
    files = {f.path for f in lc.list_artifacts(xgb_run.info.run_id)}
    assert {"feature_importance_gain.json", "feature_importance_cover.png"} <= files
    assert "feature_importance_weight.json" not in files
    assert {f.path for f in lc.list_artifacts(xgb_run.info.run_id, "model")} >= {"model/model.json"}


def test_log_models_false_and_ignored_options(home: Path) -> None:
    Xtr, _, ytr, _ = split()
    with pytest.raises(lc.InvalidInput, match="cannot take log_datasets=True: it logs no training dataset"):
        lc.lightgbm.autolog(log_models=False, log_datasets=True)
    with pytest.raises(lc.InvalidInput, match="does not register"):
        lc.xgboost.autolog(registered_model_name="m")
    lc.lightgbm.autolog(log_models=False, log_datasets=False, log_input_examples=True)
    try:
        lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(Xtr, ytr), 3)
    finally:
        lc.lightgbm.autolog(disable=True)
    (run,) = runs()
    assert {f.path for f in lc.list_artifacts(run.info.run_id)} == {
        "feature_importance_gain.json", "feature_importance_gain.png", "feature_importance_split.json",
        "feature_importance_split.png"}  # fmt: skip


def test_autolog_without_the_libraries_installed(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sklearn.linear_model import LogisticRegression

    before = patched_attributes()
    for library in ("xgboost", "lightgbm"):
        monkeypatch.setitem(sys.modules, library, None)  # as if not installed: importing it fails
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lc.autolog()
        try:
            # (the estimators' fit are scikit-learn's to patch here: their classes exist in this process)
            assert all(patched_attributes()[k] is before[k] for k in before if not k.endswith(".fit"))
            Xtr, _, ytr, _ = split()
            LogisticRegression(max_iter=5000).fit(Xtr, ytr)  # scikit-learn autolog still on
        finally:
            lc.autolog(disable=True)
    (run,) = runs()
    assert run.data.tags["mlflow.autologging"] == "sklearn"
