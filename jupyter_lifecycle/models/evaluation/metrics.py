"""The default evaluator's metrics, with MLflow 3.17's names, and ``make_metric`` for extra ones.

The builtin metrics are computed with scikit-learn's own functions, the way
``mlflow/models/evaluation/evaluators/classifier.py`` and ``regressor.py``
call them: binary classifiers use ``average="binary"`` on the positive label,
multiclass ones ``evaluator_config["average"]`` (default ``"weighted"``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...errors import InvalidInput


@dataclass(frozen=True)
class MetricValue:
    """What an extra metric's ``eval_fn`` returns (MLflow's ``MetricValue``): ``aggregate_results`` are logged."""

    scores: list[Any] | None = None
    justifications: list[str] | None = None
    aggregate_results: dict[str, float] | None = None


@dataclass(frozen=True)
class EvaluationMetric:
    """An extra metric for ``evaluate(extra_metrics=[...])``, made by ``make_metric``."""

    eval_fn: Callable[..., Any]
    name: str
    greater_is_better: bool
    long_name: str | None = None
    version: str | None = None
    metric_details: str | None = None
    metric_metadata: dict[str, Any] | None = None

    def __str__(self) -> str:
        return f"EvaluationMetric(name={self.name}, greater_is_better={self.greater_is_better})"


def make_metric(
    *,
    eval_fn: Callable[..., Any],
    greater_is_better: bool,
    name: str | None = None,
    long_name: str | None = None,
    version: str | None = None,
    metric_details: str | None = None,
    metric_metadata: dict[str, Any] | None = None,
    genai_metric_args: dict[str, Any] | None = None,
) -> EvaluationMetric:
    """An extra metric (``mlflow.models.make_metric``).

    ``eval_fn(predictions, targets, metrics)`` (MLflow's newer form, any of
    those parameter names) or ``eval_fn(eval_df, builtin_metrics)`` (the older
    one: ``eval_df`` has ``prediction`` and ``target`` columns) returns a
    number, or a ``MetricValue`` whose ``aggregate_results`` are logged as
    ``<name>/<key>``. ``name`` defaults to the function's name.
    """
    if genai_metric_args is not None:
        raise InvalidInput("genai_metric_args is for GenAI judges, which jupyter-lifecycle does not run; leave it out")
    if not callable(eval_fn):
        raise InvalidInput(f"make_metric: eval_fn must be a function, not {type(eval_fn).__name__}")
    if not isinstance(greater_is_better, bool):
        raise InvalidInput(f"make_metric: greater_is_better must be True or False, not {greater_is_better!r}")
    name = name or getattr(eval_fn, "__name__", None)
    if not name or name == "<lambda>":
        raise InvalidInput("make_metric: give the metric a name= (a lambda has none)")
    return EvaluationMetric(eval_fn, name, greater_is_better, long_name, version, metric_details, metric_metadata)


def classifier_metrics(
    y_true: Any, y_pred: Any, y_proba: Any, labels: list[Any], pos_label: Any, average: str
) -> dict[str, float]:
    """Accuracy, precision/recall/F1, log loss and ROC AUC (when probabilities exist), example count."""
    import numpy as np
    from sklearn import metrics as sk

    binary = len(labels) <= 2
    avg = "binary" if binary else average
    label_arg = {"pos_label": pos_label} if binary else {}
    out: dict[str, float] = {
        "example_count": float(len(y_true)),
        "accuracy_score": sk.accuracy_score(y_true, y_pred),
        "recall_score": sk.recall_score(y_true, y_pred, average=avg, labels=labels if not binary else None,
                                        zero_division=0, **label_arg),  # fmt: skip
        "precision_score": sk.precision_score(y_true, y_pred, average=avg, labels=labels if not binary else None,
                                              zero_division=0, **label_arg),  # fmt: skip
        "f1_score": sk.f1_score(y_true, y_pred, average=avg, labels=labels if not binary else None,
                                zero_division=0, **label_arg),  # fmt: skip
    }
    if binary:
        tn, fp, fn, tp = sk.confusion_matrix(y_true, y_pred, labels=labels).ravel()
        out.update(true_negatives=float(tn), false_positives=float(fp), false_negatives=float(fn),
                   true_positives=float(tp))  # fmt: skip
    if y_proba is not None:
        out["log_loss"] = sk.log_loss(y_true, y_proba, labels=labels)
        if binary:
            positive = np.asarray(y_proba)[:, labels.index(pos_label)]
            out["roc_auc"] = sk.roc_auc_score(np.asarray(y_true) == pos_label, positive)
            out["precision_recall_auc"] = sk.average_precision_score(y_true, positive, pos_label=pos_label)
        elif average in ("macro", "weighted"):
            out["roc_auc"] = sk.roc_auc_score(y_true, y_proba, average=average, multi_class="ovr", labels=labels)
    return {k: float(v) for k, v in out.items()}


def regressor_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    """MAE, MSE, RMSE, R², MAPE, max error, the target's sum and mean, example count."""
    import numpy as np
    from sklearn import metrics as sk

    mse = sk.mean_squared_error(y_true, y_pred)
    out = {
        "example_count": len(y_true),
        "mean_absolute_error": sk.mean_absolute_error(y_true, y_pred),
        "mean_squared_error": mse,
        "root_mean_squared_error": float(np.sqrt(mse)),
        "sum_on_target": float(np.sum(y_true)),
        "mean_on_target": float(np.mean(y_true)),
        "r2_score": sk.r2_score(y_true, y_pred),
        "max_error": sk.max_error(y_true, y_pred),
        "mean_absolute_percentage_error": sk.mean_absolute_percentage_error(y_true, y_pred),
    }
    return {k: float(v) for k, v in out.items()}


def extra_metric_values(
    metric: EvaluationMetric, eval_df: Any, builtin: dict[str, float]
) -> dict[str, float]:
    """Call an extra metric's ``eval_fn`` with the arguments its parameters name; its values by metric name."""
    params = list(inspect.signature(metric.eval_fn).parameters)
    named = {"predictions": eval_df["prediction"], "targets": eval_df["target"] if "target" in eval_df else None,
             "metrics": builtin, "eval_df": eval_df, "builtin_metrics": builtin}  # fmt: skip
    if params and all(p in named for p in params):
        value = metric.eval_fn(**{p: named[p] for p in params})
    else:
        value = metric.eval_fn(eval_df, builtin)
    if isinstance(value, MetricValue) or hasattr(value, "aggregate_results"):
        results = getattr(value, "aggregate_results", None) or {}
        return {f"{metric.name}/{k}": float(v) for k, v in results.items()}
    try:
        return {metric.name: float(value)}
    except (TypeError, ValueError):
        raise InvalidInput(f"extra metric {metric.name!r} returned {type(value).__name__} {value!r}: return a number "
                           "or a MetricValue(aggregate_results={...})") from None  # fmt: skip
