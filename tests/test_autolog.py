"""scikit-learn autolog: params, training metrics, models, search child runs, exact restore."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_iris, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import jupyter_lifecycle as lc
from jupyter_lifecycle.autologging import sklearn as sk_autolog


@pytest.fixture
def autolog(home: Path) -> Iterator[None]:
    lc.autolog()
    yield
    lc.autolog(disable=True)


def all_runs() -> list[Any]:
    return list(lc.search_runs(output_format="list", search_all_experiments=True))


def model_files(run_id: str) -> set[str]:
    return {f.path for f in lc.list_artifacts(run_id, "model")}


def test_fit_without_run_gets_its_own_run(autolog: None) -> None:
    X, y = load_iris(return_X_y=True)
    LogisticRegression(C=0.5, max_iter=300).fit(X, y)
    assert lc.active_run() is None
    (run,) = all_runs()
    assert run.info.status == "FINISHED"
    assert run.data.params["C"] == "0.5" and run.data.params["max_iter"] == "300"
    assert run.data.tags["estimator_name"] == "LogisticRegression" and run.data.tags["mlflow.autologging"] == "sklearn"
    for key in ("training_accuracy_score", "training_f1_score", "training_log_loss", "training_roc_auc",
                "training_score"):  # fmt: skip
        assert key in run.data.metrics, key
    assert 0.9 < run.data.metrics["training_accuracy_score"] <= 1.0
    assert model_files(run.info.run_id)


def test_pipeline_logs_once_with_step_params_and_regressor_metrics(autolog: None) -> None:
    X, y = make_regression(n_samples=60, n_features=3, noise=0.1, random_state=0)
    with lc.start_run(run_name="pipe") as run:
        Pipeline([("scale", StandardScaler()), ("reg", LinearRegression())]).fit(X, y)
        # A second fit in the same run goes to a child run instead of clashing params.
        LinearRegression(fit_intercept=False).fit(X, y)
    runs = {r.info.run_name: r for r in all_runs()}
    assert len(runs) == 2  # the inner step fits logged nothing of their own
    pipe = runs["pipe"]
    assert pipe.data.params["reg__fit_intercept"] == "True" and "scale__with_mean" in pipe.data.params
    assert pipe.data.metrics["training_r2_score"] > 0.99
    assert "training_root_mean_squared_error" in pipe.data.metrics
    (child,) = [r for r in runs.values() if r.info.run_id != run.info.run_id]
    assert child.info.parent_run_id == run.info.run_id and child.data.params["fit_intercept"] == "False"


def test_grid_search_logs_best_and_child_runs(autolog: None) -> None:
    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(LogisticRegression(max_iter=200), {"C": [0.01, 0.1, 1.0]}, cv=3)
    search.fit(X, y)
    runs = all_runs()
    (parent,) = [r for r in runs if r.info.parent_run_id is None]
    children = [r for r in runs if r.info.parent_run_id == parent.info.run_id]
    assert len(runs) == 4 and len(children) == 3
    assert parent.data.params["best_C"] == str(search.best_params_["C"])
    assert parent.data.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert {c.data.params["C"] for c in children} == {"0.01", "0.1", "1.0"}
    assert all("mean_test_score" in c.data.metrics for c in children)
    paths = {f.path for f in lc.list_artifacts(parent.info.run_id)}
    assert "cv_results.csv" in paths and {"model", "best_estimator"} <= paths


def test_failed_fit_marks_its_run_failed_and_raises(autolog: None) -> None:
    with pytest.raises(ValueError):
        LogisticRegression().fit([[1.0], [2.0]], [0, 0])  # one class: sklearn refuses
    (run,) = all_runs()
    assert run.info.status == "FAILED" and lc.active_run() is None


def test_disable_restores_originals_and_later_classes(home: Path) -> None:
    before = {cls: dict(cls.__dict__) for cls in (LogisticRegression, Pipeline, GridSearchCV, BaseEstimator)}
    lc.autolog()
    lc.autolog(exclusive=False, log_input_examples=True)  # twice is harmless; MLflow's options that say what it does
    assert sk_autolog.is_enabled()
    assert LogisticRegression.__dict__["fit"] is not before[LogisticRegression]["fit"]

    class Constant(ClassifierMixin, BaseEstimator):  # defined while autolog is on
        def fit(self, X: Any, y: Any) -> Constant:
            self.classes_ = sorted(set(y))
            return self

        def predict(self, X: Any) -> list[Any]:
            return [self.classes_[0]] * len(X)

    Constant().fit([[1], [2]], [1, 1])
    (run,) = all_runs()
    assert model_files(run.info.run_id)  # a notebook-defined class pickles despite the patch
    lc.autolog(disable=True)
    assert not sk_autolog.is_enabled()
    for cls, attrs in before.items():
        for name in ("fit", "fit_transform", "fit_predict", "__init_subclass__"):
            assert cls.__dict__.get(name) is attrs.get(name), f"{cls.__name__}.{name} not restored"
    assert not hasattr(Constant.__dict__["fit"], "__lifecycle_original__")
    LogisticRegression(max_iter=1000).fit(*load_iris(return_X_y=True))
    assert len(all_runs()) == 1  # nothing logged once disabled


@pytest.mark.parametrize(("options", "message"), [
    ({"exclusive": True}, "exclusive=True is not supported"),
    ({"log_input_examples": False}, "always logs 5 rows"),
    ({"extra_tags": {"team": "a"}}, "extra_tags is not supported"),
    ({"no_such_option": 1}, "has no option 'no_such_option'"),
])  # fmt: skip
def test_mlflow_options_autolog_does_not_honour_are_refused(home: Path, options: dict, message: str) -> None:
    with pytest.raises(lc.InvalidInput, match=message):
        lc.autolog(**options)
    assert not sk_autolog.is_enabled()  # refused before anything was patched



def test_mlflow_sklearn_autolog_is_the_sklearn_part(home: Path) -> None:
    lc.sklearn.autolog(log_input_examples=True)  # `mlflow.sklearn.autolog(...)` after the import swap
    try:
        LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    finally:
        lc.sklearn.autolog(disable=True)
    (run,) = all_runs()
    assert run.data.params["C"] == "1.0"
    (model,) = lc.search_logged_models(output_format="list")
    assert model.source_run_id == run.info.run_id and "sklearn" in lc.models.Model.load(
        lc.models.resolve_model_uri(f"models:/{model.model_id}")).flavors  # fmt: skip
    assert not sk_autolog.is_enabled()
