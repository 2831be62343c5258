"""``lc.models.evaluate``: metrics equal scikit-learn's own, artifacts and tables logged, thresholds checked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression

import jupyter_lifecycle as lc
from jupyter_lifecycle.errors import InvalidInput
from jupyter_lifecycle.models import MetricThreshold, ModelValidationFailedException, make_metric


@pytest.fixture
def binary() -> tuple[LogisticRegression, pd.DataFrame]:
    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    x = x.iloc[:, :6]
    model = LogisticRegression(max_iter=3000).fit(x, y)
    return model, x.assign(label=y)


def test_binary_classifier_metrics_equal_sklearn(home: Path, binary: tuple) -> None:
    model, df = binary
    with lc.start_run() as run:
        info = lc.sklearn.log_model(model, name="model")
        result = lc.models.evaluate(info.model_uri, df, targets="label", model_type="classifier")
    x, y = df.drop(columns="label"), df["label"]
    pred, proba = model.predict(x), model.predict_proba(x)[:, 1]
    expected = {
        "accuracy_score": sk.accuracy_score(y, pred), "precision_score": sk.precision_score(y, pred),
        "recall_score": sk.recall_score(y, pred), "f1_score": sk.f1_score(y, pred),
        "log_loss": sk.log_loss(y, model.predict_proba(x)), "roc_auc": sk.roc_auc_score(y, proba),
        "precision_recall_auc": sk.average_precision_score(y, proba), "example_count": len(y),
        "score": model.score(x, y),
    }  # fmt: skip
    for key, value in expected.items():
        assert result.metrics[key] == pytest.approx(value, rel=1e-12), key
    tn, fp, fn, tp = sk.confusion_matrix(y, pred).ravel()
    assert (result.metrics["true_negatives"], result.metrics["true_positives"]) == (tn, tp)
    # logged on the run and on the logged model, with the dataset
    logged = lc.get_run(run.info.run_id).data.metrics
    assert logged["f1_score"] == pytest.approx(expected["f1_score"])
    model_metrics = {m.key: m for m in lc.get_logged_model(info.model_id).metrics}
    assert model_metrics["roc_auc"].value == pytest.approx(expected["roc_auc"])
    assert model_metrics["roc_auc"].dataset_digest == lc.data.from_pandas(df, targets="label").digest
    assert result.model_id == info.model_id
    # MLflow's artifact names, as PNG files, and the per-row table
    files = {f.path for f in lc.list_artifacts(run.info.run_id)}
    for name in ("confusion_matrix", "roc_curve_plot", "precision_recall_curve_plot", "calibration_curve_plot",
                 "lift_curve_plot"):
        assert f"{name}.png" in files
        assert result.artifacts[name].path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = json.loads(result.artifacts["eval_results_table"].path.read_text())
    assert len(table["data"]) == len(df) and {"target", "prediction"} <= set(table["columns"])
    assert (result.tables["eval_results_table"]["prediction"].to_numpy() == pred).all()
    # the inline display: metrics table and the plots
    page = result._repr_html_()
    assert "f1_score" in page and page.count("data:image/png;base64,") == 5


def test_multiclass_weighted_and_macro(home: Path) -> None:
    x, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=3000).fit(x, y)
    df = x.assign(label=y)
    pred = model.predict(x)
    weighted = lc.evaluate(model, df, targets="label", model_type="classifier")
    macro = lc.evaluate(model, df, targets="label", model_type="classifier", evaluator_config={"average": "macro"})
    for name, fn in (("precision_score", sk.precision_score), ("recall_score", sk.recall_score), ("f1_score", sk.f1_score)):
        assert weighted.metrics[name] == pytest.approx(fn(y, pred, average="weighted"))
        assert macro.metrics[name] == pytest.approx(fn(y, pred, average="macro"))
    assert weighted.metrics["roc_auc"] == pytest.approx(
        sk.roc_auc_score(y, model.predict_proba(x), multi_class="ovr", average="weighted"))
    assert "per_class_metrics" in weighted.artifacts


def test_regressor_metrics_equal_sklearn(home: Path) -> None:
    x, y = load_diabetes(return_X_y=True)
    model = LinearRegression().fit(x, y)
    pred = model.predict(x)
    dataset = lc.data.from_numpy(x, targets=y)
    result = lc.models.evaluate(model.predict, dataset, model_type="regressor")
    expected = {
        "mean_absolute_error": sk.mean_absolute_error(y, pred), "mean_squared_error": sk.mean_squared_error(y, pred),
        "root_mean_squared_error": np.sqrt(sk.mean_squared_error(y, pred)), "r2_score": sk.r2_score(y, pred),
        "mean_absolute_percentage_error": sk.mean_absolute_percentage_error(y, pred),
        "max_error": sk.max_error(y, pred), "example_count": len(y), "sum_on_target": y.sum(),
        "mean_on_target": y.mean(),
    }  # fmt: skip
    assert set(expected) == set(result.metrics)
    for key, value in expected.items():
        assert result.metrics[key] == pytest.approx(value, rel=1e-12), key
    assert result.artifacts["residuals_plot"].path.is_file()


def test_extra_metrics_baseline_and_thresholds(home: Path, binary: tuple) -> None:
    model, df = binary
    weak = LogisticRegression(max_iter=3000).fit(df[["mean radius"]], df["label"])

    def weak_predict(frame: pd.DataFrame) -> np.ndarray:
        return weak.predict(frame[["mean radius"]])

    def error_rate(predictions: pd.Series, targets: pd.Series) -> float:
        return float((predictions != targets).mean())

    extra = make_metric(eval_fn=error_rate, greater_is_better=False)
    result = lc.evaluate(model, df, targets="label", model_type="classifier", extra_metrics=[extra],
                         baseline_model=weak_predict)  # fmt: skip
    assert result.metrics["error_rate"] == pytest.approx(1 - result.metrics["accuracy_score"])
    assert result.baseline_metrics["accuracy_score"] < result.metrics["accuracy_score"]
    lc.validate_evaluation_results({"f1_score": MetricThreshold(min_absolute_change=0.01, greater_is_better=True)},
                                   result)  # fmt: skip
    weak_result = lc.evaluate(weak_predict, df, targets="label", model_type="classifier", extra_metrics=[extra])
    # the order (candidate, baseline, thresholds=) works too; every failure is listed
    with pytest.raises(ModelValidationFailedException) as failed:
        lc.validate_evaluation_results(weak_result, result, thresholds={
            "f1_score": MetricThreshold(threshold=0.99, greater_is_better=True),
            "error_rate": MetricThreshold(min_absolute_change=0.01, greater_is_better=False),
            "accuracy_score": MetricThreshold(threshold=0.1, greater_is_better=True),
            "nope": MetricThreshold(threshold=1.0, greater_is_better=True),
        })  # fmt: skip
    message = str(failed.value)
    assert "3 threshold(s)" in message
    assert "f1_score=" in message and "0.99" in message and "error_rate=" in message and "'nope'" not in message
    assert "nope: the candidate has no such metric" in message and "accuracy_score" not in message


def test_bad_input_is_named(home: Path, binary: tuple) -> None:
    model, df = binary
    with pytest.raises(InvalidInput, match="targets column 'churned' is not in the evaluation data; its columns: mean radius"):
        lc.evaluate(model, df, targets="churned", model_type="classifier")
    with pytest.raises(InvalidInput, match="model_type must be 'classifier' or 'regressor'"):
        lc.evaluate(model, df, targets="label", model_type="question-answering")
    with pytest.raises(InvalidInput, match="evaluator_config keys \\['bogus'\\]"):
        lc.evaluate(model, df, targets="label", model_type="classifier", evaluator_config={"bogus": 1})
    with pytest.raises(InvalidInput, match="env_manager='virtualenv'"):
        lc.evaluate(model, df, targets="label", model_type="classifier", env_manager="virtualenv")
    with pytest.raises(InvalidInput, match="greater_is_better"):
        MetricThreshold(threshold=0.5)
    assert lc.search_runs().empty  # nothing was logged by the refused calls


def test_precomputed_predictions_column(home: Path, binary: tuple) -> None:
    model, df = binary
    scored = df.assign(pred=model.predict(df.drop(columns="label")))
    result = lc.evaluate(data=scored, predictions="pred", targets="label", model_type="classifier")
    assert result.metrics["accuracy_score"] == pytest.approx(sk.accuracy_score(scored["label"], scored["pred"]))
    assert "log_loss" not in result.metrics  # no probabilities without a model


# ---- the same numbers and names as MLflow 3.17's own evaluate (run in .venv-mlflow) --------

MLFLOW_PYTHON = Path(__file__).resolve().parents[1] / ".venv-mlflow" / "bin" / "python"
MLFLOW_SCRIPT = """
import json, sys, warnings
warnings.filterwarnings("ignore")
import mlflow, pandas as pd
mlflow.set_tracking_uri("sqlite:///" + sys.argv[1] + "/mlflow.db")
out = {}
for kind, folder, csv in json.loads(sys.argv[2]):
    with mlflow.start_run():
        result = mlflow.models.evaluate(folder, pd.read_csv(csv), targets="label", model_type=kind)
    out[folder] = {"metrics": result.metrics, "artifacts": sorted(result.artifacts)}
print(json.dumps(out, default=float))
"""


@pytest.mark.mlflow
@pytest.mark.skipif(not MLFLOW_PYTHON.exists(), reason=f"{MLFLOW_PYTHON} does not exist: run `make mlflow-venv`")
def test_metric_names_and_values_equal_mlflows(home: Path, tmp_path: Path) -> None:
    import subprocess

    cases = []
    for kind, (x, y), model in (
        ("classifier", load_breast_cancer(return_X_y=True, as_frame=True), LogisticRegression(max_iter=3000)),
        ("classifier", load_iris(return_X_y=True, as_frame=True), LogisticRegression(max_iter=3000)),
        ("regressor", load_diabetes(return_X_y=True, as_frame=True), LinearRegression()),
    ):
        x = x.iloc[:, :6]
        df = x.assign(label=y)
        csv = tmp_path / f"{len(cases)}.csv"
        df.to_csv(csv, index=False)
        folder = tmp_path / f"model{len(cases)}"
        lc.sklearn.save_model(model.fit(x, y), folder)
        cases.append((kind, str(folder), str(csv)))
    out = subprocess.run([str(MLFLOW_PYTHON), "-c", MLFLOW_SCRIPT, str(tmp_path), json.dumps(cases)],
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    theirs = json.loads(out.stdout.strip().splitlines()[-1])
    for kind, folder, csv in cases:
        ours = lc.evaluate(folder, pd.read_csv(csv), targets="label", model_type=kind)
        assert set(ours.metrics) == set(theirs[folder]["metrics"]), folder
        for key, value in theirs[folder]["metrics"].items():
            assert ours.metrics[key] == pytest.approx(value, rel=1e-9), (folder, key)
        # every artifact MLflow logs here has the same name here (residuals_plot and the table are ours too)
        assert set(theirs[folder]["artifacts"]) <= set(ours.artifacts), folder
