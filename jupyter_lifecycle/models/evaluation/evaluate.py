"""``evaluate``: MLflow's default evaluator for classifiers and regressors, logged on the run and the model.

``model`` is a model URI, a loaded pyfunc model, a fitted estimator or any
callable (``None`` with ``predictions=`` evaluates a column of precomputed
predictions); ``data`` a DataFrame, a numpy array or an ``lc.data`` dataset.
Metrics go to the active run (one is started when none is) and, in MLflow
3's way, to the logged model with the dataset; the plots (PNG) and the
per-row ``eval_results_table.json`` go to the run's artifacts.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import InvalidInput
from ...tracking import fluent
from . import plots
from .metrics import EvaluationMetric, classifier_metrics, extra_metric_values, regressor_metrics

if TYPE_CHECKING:
    import pandas as pd

MODEL_TYPES = ("classifier", "regressor")
CONFIG_KEYS = ("pos_label", "average", "label_list", "metric_prefix", "log_model_explainability")
EVAL_TABLE = "eval_results_table"


@dataclass(frozen=True)
class EvaluationArtifact:
    """One artifact ``evaluate`` logged: ``uri`` (in the run), ``path`` (local file), ``content``."""

    uri: str
    path: Path
    content: Any = None


@dataclass(frozen=True)
class EvaluationResult:
    """What ``evaluate`` returns (MLflow's ``EvaluationResult``): ``metrics``, ``artifacts``, ``tables``.

    ``baseline_metrics`` are the baseline model's metrics on the same data
    (``evaluate(baseline_model=...)``), used by ``validate_evaluation_results``.
    In a notebook it displays as a metrics table and the plots.
    """

    metrics: dict[str, float]
    artifacts: dict[str, EvaluationArtifact] = field(default_factory=dict)
    run_id: str | None = None
    model_id: str | None = None
    baseline_metrics: dict[str, float] | None = None
    _tables: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Per-row tables by name (``eval_results_table``: features, target, prediction)."""
        return dict(self._tables)


# ---- the inputs ---------------------------------------------------------------


def _frame(data: Any, targets: Any, predictions: str | None, feature_names: list[str] | None) -> tuple[Any, Any, Any]:
    """``(features DataFrame, target Series or None, dataset)`` from any accepted ``data``."""
    import numpy as np
    import pandas as pd

    from ...data.datasets import from_numpy, from_pandas  # the dataset logged with the metrics

    dataset = None
    if hasattr(data, "df") and hasattr(data, "digest"):  # lc.data.from_pandas
        dataset, targets, predictions = data, targets or data.targets, predictions or data.predictions
        data = data.df
    elif hasattr(data, "features") and hasattr(data, "digest"):  # lc.data.from_numpy
        dataset = data
        targets = data.targets if targets is None else targets
        data = data.features
    if isinstance(data, pd.DataFrame):
        if targets is not None and not isinstance(targets, str):
            raise InvalidInput(f"with a DataFrame, targets must be the name of its target column, not "
                               f"{type(targets).__name__}")  # fmt: skip
        wanted = [c for c in (targets, predictions) if c is not None]
        missing = [c for c in wanted if c not in data.columns]
        if missing:
            which = "targets" if missing[0] == targets else "predictions"
            raise InvalidInput(f"{which} column {missing[0]!r} is not in the evaluation data; its columns: "
                               f"{', '.join(map(str, data.columns))}")  # fmt: skip
        y = data[targets] if targets is not None else None
        if feature_names is not None:
            unknown = [f for f in feature_names if f not in data.columns]
            if unknown:
                raise InvalidInput(f"feature_names {unknown} are not columns of the evaluation data")
            features = data[list(feature_names)]
        else:
            features = data.drop(columns=wanted)
        if dataset is None:
            dataset = from_pandas(data, targets=targets, predictions=predictions)
        return features, y, (dataset, data[predictions] if predictions else None)
    array = np.asarray(data) if isinstance(data, np.ndarray | list) else None
    if array is None:
        raise InvalidInput(f"data must be a DataFrame, a numpy array or an lc.data dataset, not {type(data).__name__}")
    if array.ndim != 2:
        raise InvalidInput(f"a numpy evaluation array must be 2-D (rows x features), not {array.ndim}-D")
    if predictions is not None:
        raise InvalidInput("predictions= names a column: pass a DataFrame, not a numpy array")
    if targets is None or isinstance(targets, str):
        raise InvalidInput("with a numpy array, targets must be an array of labels as long as data")
    y_arr = np.asarray(targets)
    if len(y_arr) != len(array):
        raise InvalidInput(f"targets has {len(y_arr)} values but data has {len(array)} rows")
    names = list(feature_names) if feature_names is not None else [f"feature_{i + 1}" for i in range(array.shape[1])]
    if len(names) != array.shape[1]:
        raise InvalidInput(f"feature_names has {len(names)} names but data has {array.shape[1]} columns")
    if dataset is None:
        dataset = from_numpy(array, targets=y_arr)
    return pd.DataFrame(array, columns=names), pd.Series(y_arr, name="target"), (dataset, None)


def _model(model: Any, model_config: dict[str, Any] | None) -> tuple[Any, Any, str | None]:
    """``(predict function, the estimator (for ``predict_proba`` and ``score``) or None, model URI or None)``."""
    from ..flavors import PyFuncModel, load_pyfunc

    uri = None
    if isinstance(model, str | os.PathLike):
        uri = os.fspath(model)
        model = load_pyfunc(uri, model_config=model_config)
    elif model_config:
        raise InvalidInput("model_config applies when model is a URI to load; this model is already loaded")
    if isinstance(model, PyFuncModel):
        raw = model.get_raw_model()
        return model.predict, raw if hasattr(raw, "predict") else None, uri
    if hasattr(model, "predict") and callable(model.predict):
        return model.predict, model, uri
    if callable(model):
        return model, None, uri
    raise InvalidInput(f"model must be a model URI, a loaded pyfunc model or a callable, not {type(model).__name__}")


def _model_id(explicit: str | None, uri: str | None) -> str | None:
    from ..logged import get_active_model_id
    from ..model import mlmodel_model_id
    from ..uri import logged_model_id, resolve_model_uri

    if explicit is not None:
        return explicit
    if uri is not None:
        found = logged_model_id(uri) or mlmodel_model_id(resolve_model_uri(uri))
        if found is not None and fluent.client().store.models.exists(found):
            return found
        return None
    return get_active_model_id()


def _flat(values: Any) -> Any:
    import numpy as np

    out = np.asarray(values)
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.ndim != 1:
        raise InvalidInput(f"the model returned predictions of shape {out.shape}: evaluate needs one value per row")
    return out


# ---- measuring ----------------------------------------------------------------


@dataclass
class _Measured:
    metrics: dict[str, float]
    plots: dict[str, dict[str, Any]]
    table: Any
    per_class: Any = None


def _measure(
    predict: Any, raw: Any, features: Any, y: Any, given: Any, model_type: str, config: dict[str, Any],
    extra: list[EvaluationMetric], inference_params: dict[str, Any] | None,
) -> _Measured:  # fmt: skip
    import numpy as np
    import pandas as pd

    if given is not None:
        y_pred = _flat(given)
    else:
        y_pred = _flat(predict(features, params=inference_params) if inference_params else predict(features))
    if y is None:
        raise InvalidInput("evaluate needs targets= (the target column) to compute metrics")
    y_true = np.asarray(y)
    table = features.reset_index(drop=True).assign(target=y_true, prediction=y_pred)
    charts: dict[str, dict[str, Any]] = {}
    per_class = None
    if model_type == "classifier":
        labels = list(config.get("label_list") or sorted(set(y_true.tolist()) | set(y_pred.tolist())))
        pos_label = config.get("pos_label", labels[-1])
        if pos_label not in labels:
            raise InvalidInput(f"evaluator_config pos_label {pos_label!r} is not one of the labels {labels}")
        proba = None
        if hasattr(raw, "predict_proba") and given is None:
            raw_proba = np.asarray(raw.predict_proba(features))
            classes = list(getattr(raw, "classes_", labels))
            if set(labels) <= set(classes):
                proba = raw_proba[:, [classes.index(label) for label in labels]]
        metrics = classifier_metrics(y_true, y_pred, proba, labels, pos_label, config.get("average", "weighted"))
        charts["confusion_matrix"] = plots.confusion_matrix(y_true, y_pred, labels)
        if proba is not None:
            binary = len(labels) <= 2
            scores = {str(pos_label): proba[:, labels.index(pos_label)]} if binary else \
                {str(label): proba[:, i] for i, label in enumerate(labels)}  # fmt: skip
            positives = {str(label): label for label in labels}
            charts["roc_curve_plot"] = plots.roc_curve(y_true, scores, positives)
            charts["precision_recall_curve_plot"] = plots.precision_recall_curve(y_true, scores, positives)
            if binary:
                charts["lift_curve_plot"] = plots.lift_curve(y_true, scores[str(pos_label)], pos_label)
            charts["calibration_curve_plot"] = plots.calibration_curve(y_true, scores, positives)
        if len(labels) > 2:
            from sklearn.metrics import precision_recall_fscore_support

            p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
            per_class = pd.DataFrame({"positive_class": labels, "precision": p, "recall": r, "f1": f,
                                      "example_count": s})  # fmt: skip
    else:
        try:
            y_true, y_pred = y_true.astype(float), y_pred.astype(float)
        except (TypeError, ValueError):
            raise InvalidInput("a regressor's targets and predictions must be numbers; use model_type='classifier' "
                               "for labels") from None  # fmt: skip
        metrics = regressor_metrics(y_true, y_pred)
        charts["residuals_plot"] = plots.residuals(y_true, y_pred)
    if raw is not None and given is None and hasattr(raw, "score"):
        try:
            metrics["score"] = float(raw.score(features, y_true))
        except Exception:  # noqa: BLE001 - an estimator whose score needs more than (X, y): MLflow skips it too
            pass
    for metric in extra:
        metrics.update(extra_metric_values(metric, table, dict(metrics)))
    prefix = config.get("metric_prefix") or ""
    return _Measured({f"{prefix}{k}": v for k, v in metrics.items()}, charts, table, per_class)


def _check_options(model_type: Any, evaluators: Any, evaluator_config: Any, env_manager: str, extra: Any,
                   dataset_path: Any) -> dict[str, Any]:  # fmt: skip
    import importlib.util

    if importlib.util.find_spec("sklearn") is None:
        raise InvalidInput("evaluate computes its metrics with scikit-learn, which is not installed: "
                           "pip install 'jupyter-lifecycle[sklearn]'")  # fmt: skip
    if model_type not in MODEL_TYPES:
        raise InvalidInput(f"model_type must be 'classifier' or 'regressor', not {model_type!r}")
    if evaluators not in (None, "default", ["default"]):
        raise InvalidInput(f"evaluators={evaluators!r}: only the 'default' evaluator exists here")
    if env_manager != "local":
        raise InvalidInput(f"env_manager={env_manager!r}: evaluate runs the model in this environment ('local'); "
                           "score in another one with lc.score or a scoring notebook")  # fmt: skip
    if dataset_path is not None:
        raise InvalidInput("dataset_path is not supported: pass lc.data.from_pandas(df, source=path) as data")
    config = dict(evaluator_config or {})
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise InvalidInput(f"evaluator_config keys {unknown} are unknown; the known ones: {', '.join(CONFIG_KEYS)}")
    if config.pop("log_model_explainability", False):
        raise InvalidInput("log_model_explainability (SHAP) is not supported: set it to False or leave it out")
    if config.get("average", "weighted") not in ("micro", "macro", "weighted"):
        raise InvalidInput(f"evaluator_config average must be 'micro', 'macro' or 'weighted', not {config['average']!r}")
    for metric in extra or []:
        if not isinstance(metric, EvaluationMetric):
            raise InvalidInput(f"extra_metrics must be made by make_metric, not {type(metric).__name__}")
    return config


def evaluate(
    model: Any = None,
    data: Any = None,
    *,
    model_type: str | None = None,
    targets: Any = None,
    predictions: str | None = None,
    dataset_path: str | None = None,
    feature_names: list[str] | None = None,
    evaluators: str | list[str] | None = None,
    evaluator_config: dict[str, Any] | None = None,
    extra_metrics: list[EvaluationMetric] | None = None,
    custom_artifacts: list[Any] | None = None,
    env_manager: str = "local",
    model_config: dict[str, Any] | None = None,
    inference_params: dict[str, Any] | None = None,
    model_id: str | None = None,
    baseline_model: Any = None,
) -> EvaluationResult:
    """Evaluate a model on labelled data with MLflow's default metrics, plots and per-row table.

    Classifiers get ``accuracy_score``, ``precision_score``, ``recall_score``,
    ``f1_score`` (binary on ``evaluator_config["pos_label"]``, default the
    largest label; else ``evaluator_config["average"]``, default
    ``"weighted"``), ``log_loss``, ``roc_auc`` and ``precision_recall_auc``
    when the model has ``predict_proba``, the confusion counts and
    ``example_count``; regressors ``mean_absolute_error``,
    ``mean_squared_error``, ``root_mean_squared_error``, ``r2_score``,
    ``mean_absolute_percentage_error``, ``max_error``, ``sum_on_target``,
    ``mean_on_target``, ``example_count``. ``extra_metrics`` come from
    ``make_metric``; ``custom_artifacts`` are functions ``(eval_df, metrics,
    artifacts_dir) -> {name: file path}``. ``baseline_model`` is evaluated on
    the same data (not logged): its metrics are the result's
    ``baseline_metrics`` for ``validate_evaluation_results``. Everything is
    logged on the active run (started and ended here if none) and the
    metrics on the logged model (``model_id``, default: the model the URI
    names, else the active model) with the dataset.
    """
    config = _check_options(model_type, evaluators, evaluator_config, env_manager, extra_metrics, dataset_path)
    assert model_type is not None
    if model is None and predictions is None:
        raise InvalidInput("evaluate needs a model, or predictions= naming a column of precomputed predictions")
    if model is not None and predictions is not None:
        raise InvalidInput("give either a model or predictions=, not both")
    if data is None:
        raise InvalidInput("evaluate needs data= (a DataFrame, numpy array or lc.data dataset with the targets)")
    features, y, (dataset, given) = _frame(data, targets, predictions, feature_names)
    predict, raw, uri = _model(model, model_config) if model is not None else (None, None, None)
    measured = _measure(predict, raw, features, y, given, model_type, config, list(extra_metrics or []),
                        inference_params)  # fmt: skip
    baseline = None
    if baseline_model is not None:
        b_predict, b_raw, _ = _model(baseline_model, None)
        baseline = _measure(b_predict, b_raw, features, y, None, model_type, config, list(extra_metrics or []),
                            inference_params).metrics  # fmt: skip
    target_model = _model_id(model_id, uri)
    started = fluent.active_run() is None
    run = fluent.active_run() or fluent.start_run()
    try:
        c, run_id = run.client, run.info.run_id
        fluent.log_input(dataset, context="eval")
        if target_model is not None:
            fluent.log_metrics(measured.metrics, model_id=target_model, dataset=dataset)
        else:
            fluent.log_metrics(measured.metrics)
        artifacts = _log_artifacts(c, run_id, measured, custom_artifacts)
    except BaseException:
        if started:
            fluent.end_run("FAILED")
        raise
    if started:
        fluent.end_run()
    return EvaluationResult(measured.metrics, artifacts, run_id, target_model, baseline,
                            {EVAL_TABLE: measured.table})  # fmt: skip


def _log_artifacts(c: Any, run_id: str, measured: _Measured, custom: list[Any] | None) -> dict[str, EvaluationArtifact]:
    root = c.store.tracking.artifact_dir(run_id)
    out: dict[str, EvaluationArtifact] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in measured.plots.items():
            path = Path(tmp) / f"{name}.png"
            path.write_bytes(plots.png(spec))
            c.log_artifact(run_id, path)
            out[name] = EvaluationArtifact(f"runs:/{run_id}/{name}.png", root / f"{name}.png")
        if measured.per_class is not None:
            path = Path(tmp) / "per_class_metrics.csv"
            measured.per_class.to_csv(path, index=False)
            c.log_artifact(run_id, path)
            out["per_class_metrics"] = EvaluationArtifact(f"runs:/{run_id}/per_class_metrics.csv",
                                                          root / "per_class_metrics.csv", measured.per_class)  # fmt: skip
        for fn in custom or []:
            folder = Path(tmp) / "custom"
            folder.mkdir(exist_ok=True)
            produced = fn(measured.table, dict(measured.metrics), str(folder))
            if not isinstance(produced, dict):
                raise InvalidInput(f"custom artifact function {getattr(fn, '__name__', fn)!r} must return "
                                   f"{{name: file path}}, not {type(produced).__name__}")  # fmt: skip
            for name, value in produced.items():
                path = Path(os.fspath(value))
                if not path.is_file():
                    raise InvalidInput(f"custom artifact {name!r}: {path} is not a file")
                c.log_artifact(run_id, path)
                out[name] = EvaluationArtifact(f"runs:/{run_id}/{path.name}", root / path.name)
    c.log_table(run_id, measured.table, f"{EVAL_TABLE}.json")
    out[EVAL_TABLE] = EvaluationArtifact(f"runs:/{run_id}/{EVAL_TABLE}.json", root / f"{EVAL_TABLE}.json",
                                         measured.table)  # fmt: skip
    return out
