"""scikit-learn autolog: ``fit`` logs params, training metrics and the fitted model, as MLflow's does.

How it patches: every estimator class already defined (the subclasses of
``BaseEstimator``) gets its own ``fit``/``fit_transform``/``fit_predict``
wrapped, and ``BaseEstimator.__init_subclass__`` wraps those of classes
defined later, so enabling imports nothing from scikit-learn beyond
``sklearn.base``. ``disable()`` puts every original back exactly.

What a fit logs: only the outermost patched call logs (a Pipeline's steps or
a search's candidate fits log nothing themselves). With no active run the fit
gets its own run; inside a run the first fit logs into it and later fits get
nested child runs, so two models in one ``%%track`` cell never collide.
With ``log_datasets`` (the default, as in MLflow) the ``fit`` data is
logged as the run's input dataset, context ``train`` (MLflow's autolog
context). Hyperparameter searches (``GridSearchCV``, ``RandomizedSearchCV``) also log
``best_*`` params, ``best_cv_score``, ``cv_results.csv`` and one child run
per candidate (the best ``max_tuning_runs``). Logging problems are warned
about, never raised: the fit itself always proceeds as without autolog.
"""

from __future__ import annotations

import functools
import inspect
import math
import tempfile
import threading
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..entities import Metric, Param, RunTag
from ..tracking import fluent, inputs
from ..tracking.validation import MAX_PARAM_VALUE_LENGTH

FIT_METHODS = ("fit", "fit_transform", "fit_predict")
_MISSING = object()

_settings: dict[str, Any] = {"log_models": True, "log_datasets": True, "max_tuning_runs": 5, "silent": False}
_patches: list[tuple[type, str, Any]] = []
_init_subclass_original: Any = _MISSING
_enabled = False
_depth = 0
_lock = threading.RLock()
_runs_with_fit: set[str] = set()
_warned: set[str] = set()


def is_enabled() -> bool:
    """Whether scikit-learn autolog is on."""
    return _enabled


def autolog(
    disable: bool = False,
    log_models: bool = True,
    max_tuning_runs: int | None = 5,
    silent: bool = False,
    log_datasets: bool = True,
    log_model: Callable[..., Any] | None = None,
) -> None:
    """Patch scikit-learn estimators' ``fit`` to log runs (``disable=True`` restores the originals).

    ``log_datasets=False`` stops logging the ``fit`` data as the run's
    training dataset; ``silent=True`` hides the warnings autolog gives when
    it cannot log something. ``log_model`` saves a fitted model (the sklearn
    flavor's, passed in by the caller, so this module never imports the
    flavor that imports it); without one, models are saved as a cloudpickle file.
    """
    global _enabled, _init_subclass_original
    if disable:
        _restore()
        return
    _settings.update(log_models=log_models, log_datasets=log_datasets, max_tuning_runs=max_tuning_runs, silent=silent,
                     log_model=log_model)  # fmt: skip
    if _enabled:
        return
    from sklearn.base import BaseEstimator

    with _lock:
        seen: set[type] = set()
        stack: list[type] = [BaseEstimator]
        while stack:
            cls = stack.pop()
            if cls in seen:
                continue
            seen.add(cls)
            _patch_class(cls)
            stack.extend(cls.__subclasses__())
        _init_subclass_original = BaseEstimator.__dict__.get("__init_subclass__", _MISSING)

        def __init_subclass__(cls: type, **kwargs: Any) -> None:
            if _init_subclass_original is _MISSING:
                super(BaseEstimator, cls).__init_subclass__(**kwargs)  # type: ignore[misc]
            else:
                _init_subclass_original.__get__(None, cls)(**kwargs)
            _patch_class(cls)

        BaseEstimator.__init_subclass__ = classmethod(__init_subclass__)  # type: ignore[assignment]
        _enabled = True


def disable() -> None:
    """Restore every patched method (and ``BaseEstimator.__init_subclass__``) exactly as it was."""
    _restore()


def _restore() -> None:
    global _enabled, _init_subclass_original
    if not _enabled:
        return
    from sklearn.base import BaseEstimator

    with _lock:
        for cls, name, original in reversed(_patches):
            setattr(cls, name, original)
        _patches.clear()
        if _init_subclass_original is _MISSING:
            del BaseEstimator.__init_subclass__
        else:
            BaseEstimator.__init_subclass__ = _init_subclass_original  # type: ignore[method-assign]
        _init_subclass_original = _MISSING
        _enabled = False


def _patch_class(cls: type) -> None:
    for name in FIT_METHODS:
        original = cls.__dict__.get(name)
        if isinstance(original, types.FunctionType) and not hasattr(original, "__lifecycle_original__"):
            _patches.append((cls, name, original))
            setattr(cls, name, _wrap(original))


def _enter() -> bool:
    """Count a patched fit in; True for the outermost one (the only one that logs)."""
    global _depth
    with _lock:
        _depth += 1
        return _depth == 1 and _enabled


def _leave() -> None:
    global _depth
    with _lock:
        _depth -= 1


def _wrap(original: Any) -> Any:
    # The wrapper's code names only module-level functions: cloudpickle pickles
    # a notebook-defined estimator class by value, and must not meet the lock.
    @functools.wraps(original)
    def fit_with_autolog(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            if _enter():
                return _fit_and_log(original, self, args, kwargs)
            return original(self, *args, **kwargs)
        finally:
            _leave()

    fit_with_autolog.__lifecycle_original__ = original  # type: ignore[attr-defined]
    return fit_with_autolog


def _warn(what: str, exc: BaseException) -> None:
    if what not in _warned and not _settings["silent"]:
        _warned.add(what)
        warnings.warn(f"jupyter-lifecycle autolog could not {what}: {type(exc).__name__}: {exc}", stacklevel=4)


def _fit_and_log(original: Any, estimator: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    active = fluent.active_run()
    own = None
    try:
        if active is None or active.info.run_id in _runs_with_fit:
            own = fluent.start_run(nested=active is not None, run_name=_run_name(estimator))
        run = own or active
        assert run is not None
        _runs_with_fit.add(run.info.run_id)
        _log_params(run, estimator)
    except Exception as exc:
        _warn("start logging the fit", exc)
        if own is None:
            return original(estimator, *args, **kwargs)
        run = own
    if _settings["log_datasets"]:
        try:
            _log_dataset(run, *_fit_inputs(estimator, args, kwargs)[:2])
        except Exception as exc:
            _warn("log the training dataset", exc)
    try:
        result = original(estimator, *args, **kwargs)
    except BaseException as exc:
        if own is not None:
            _end(own, "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
        raise
    try:
        _log_after_fit(run, estimator, args, kwargs)
    except Exception as exc:
        _warn("log the fitted estimator", exc)
    if own is not None:
        _end(own, "FINISHED")
    return result


def _end(run: Any, status: str) -> None:
    while any(r is run for r in fluent.run_stack()):
        fluent.end_run(status)


def _run_name(estimator: Any) -> str:
    import random

    return f"{type(estimator).__name__}-{random.randint(1, 9999)}"


def _param_text(value: Any) -> str:
    text = str(value)
    return text if len(text) <= MAX_PARAM_VALUE_LENGTH else text[: MAX_PARAM_VALUE_LENGTH - 3] + "..."


def _log_params(run: Any, estimator: Any) -> None:
    client, run_id = run.client, run.info.run_id
    existing = client.get_run(run_id).data.params
    params = {k: _param_text(v) for k, v in estimator.get_params(deep=True).items()}
    # A param cannot change within a run: keep what the user logged.
    fresh = [Param(k, v) for k, v in params.items() if k not in existing]
    tags = [RunTag("mlflow.autologging", "sklearn"), RunTag("estimator_name", type(estimator).__name__),
            RunTag("estimator_class", f"{type(estimator).__module__}.{type(estimator).__qualname__}")]  # fmt: skip
    client.log_batch(run_id, params=fresh, tags=tags)


def _training_metrics(estimator: Any, X: Any, y: Any, sample_weight: Any) -> dict[str, float]:
    from sklearn import metrics
    from sklearn.base import is_classifier, is_regressor

    out: dict[str, float] = {}

    def add(name: str, compute: Any) -> None:
        try:
            value = float(compute())
        except Exception:  # a metric that does not apply (e.g. roc_auc without predict_proba)
            return
        if not math.isnan(value):
            out[name] = value

    sw = {"sample_weight": sample_weight} if sample_weight is not None else {}
    if y is not None and is_classifier(estimator):
        pred = estimator.predict(X)
        add("training_accuracy_score", lambda: metrics.accuracy_score(y, pred, **sw))
        for name, fn in (("precision", metrics.precision_score), ("recall", metrics.recall_score),
                         ("f1", metrics.f1_score)):  # fmt: skip
            add(f"training_{name}_score", lambda fn=fn: fn(y, pred, average="weighted", zero_division=0, **sw))
        if hasattr(estimator, "predict_proba"):
            proba = estimator.predict_proba(X)
            add("training_log_loss", lambda: metrics.log_loss(y, proba, labels=estimator.classes_, **sw))
            if proba.shape[1] == 2:
                add("training_roc_auc", lambda: metrics.roc_auc_score(y, proba[:, 1], **sw))
            else:
                add("training_roc_auc", lambda: metrics.roc_auc_score(y, proba, multi_class="ovr", **sw))
    elif y is not None and is_regressor(estimator):
        pred = estimator.predict(X)
        add("training_mean_squared_error", lambda: metrics.mean_squared_error(y, pred, **sw))
        add("training_root_mean_squared_error", lambda: math.sqrt(metrics.mean_squared_error(y, pred, **sw)))
        add("training_mean_absolute_error", lambda: metrics.mean_absolute_error(y, pred, **sw))
        add("training_r2_score", lambda: metrics.r2_score(y, pred, **sw))
    if hasattr(estimator, "score"):
        add("training_score", lambda: estimator.score(X, y, **sw) if y is not None else estimator.score(X))
    return out


def _fit_inputs(estimator: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any, Any]:
    X = args[0] if args else kwargs.get("X")
    y = args[1] if len(args) > 1 else kwargs.get("y")
    return X, y, kwargs.get("sample_weight")


def _log_dataset(run: Any, X: Any, y: Any) -> None:
    """Log the fit data as the run's input dataset, context ``train``, as MLflow's sklearn autolog."""
    import numpy as np
    import pandas as pd

    from .. import data

    if X is None:
        return
    if hasattr(X, "toarray"):  # a scipy sparse matrix, made dense as MLflow does
        X = X.toarray()
    if isinstance(X, pd.DataFrame):
        dataset: Any = data.from_pandas(X)
    elif isinstance(X, np.ndarray):
        targets = None if y is None else np.asarray(y.toarray() if hasattr(y, "toarray") else y)
        dataset = data.from_numpy(X, targets=targets)
    else:
        return  # lists and other inputs: MLflow logs no dataset for them either
    run.client.log_inputs(run.info.run_id, [inputs.dataset_input(dataset, "train")])


def _log_after_fit(run: Any, estimator: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    client, run_id = run.client, run.info.run_id
    X, y, sample_weight = _fit_inputs(estimator, args, kwargs)
    metric_values: dict[str, float] = {}
    if X is not None:
        try:
            metric_values = _training_metrics(estimator, X, y, sample_weight)
        except Exception as exc:
            _warn("compute training metrics", exc)
    if hasattr(estimator, "cv_results_") and hasattr(estimator, "best_params_"):
        _log_search(run, estimator, metric_values)
    if metric_values:
        client.log_batch(run_id, metrics=[Metric(k, v, None, 0) for k, v in metric_values.items()])  # type: ignore[arg-type]
    if _settings["log_models"]:
        best = getattr(estimator, "best_estimator_", None)
        try:
            _log_model(run, estimator, X)
            if best is not None:
                _log_model(run, best, X, "best_estimator")
        except Exception as exc:
            _warn("log the fitted model", exc)


def _log_search(run: Any, search: Any, metric_values: dict[str, float]) -> None:
    import pandas as pd

    client, run_id = run.client, run.info.run_id
    existing = client.get_run(run_id).data.params
    best = [Param(f"best_{k}", _param_text(v)) for k, v in search.best_params_.items() if f"best_{k}" not in existing]
    client.log_batch(run_id, params=best)
    if getattr(search, "best_score_", None) is not None:
        metric_values["best_cv_score"] = float(search.best_score_)
    results = pd.DataFrame(search.cv_results_)
    client.log_table(run_id, results.drop(columns=["params"]), "cv_results.csv")
    order = results.sort_values("rank_test_score" if "rank_test_score" in results else results.columns[0]).index
    limit = _settings["max_tuning_runs"]
    chosen = list(order if limit is None else order[: int(limit)])
    score_columns = [c for c in results.columns if c.startswith(("mean_test", "std_test", "rank_test",
                                                                 "mean_fit_time", "mean_score_time"))]  # fmt: skip
    parent_name = run.info.run_name or run_id
    # Child runs are created through the client so they never disturb the active-run stack.
    for position, index in enumerate(chosen):
        child = client.create_run(run.info.experiment_id, run_name=f"{parent_name}-candidate-{position + 1}",
                                  parent_run_id=run_id, tags={"estimator_name": type(search.estimator).__name__})  # fmt: skip
        params = [Param(k, _param_text(v)) for k, v in results.loc[index, "params"].items()]
        metrics = [Metric(c, float(results.loc[index, c]), None, 0) for c in score_columns  # type: ignore[arg-type]
                   if isinstance(results.loc[index, c], (int, float)) or hasattr(results.loc[index, c], "item")]  # fmt: skip
        client.log_batch(child.info.run_id, metrics=metrics, params=params)
        client.set_terminated(child.info.run_id, "FINISHED")


def _log_model(run: Any, model: Any, X: Any, artifact_path: str = "model") -> None:
    """Log the model with the flavor's ``log_model`` (MLflow's format), else as a cloudpickle file."""
    log_model = _settings.get("log_model")
    if log_model is not None and fluent.active_run() is run:
        options: dict[str, Any] = {}
        accepted = inspect.signature(log_model).parameters
        if X is not None and "input_example" in accepted:
            try:
                options["input_example"] = X[:5]
            except Exception:
                pass
        log_model(model, artifact_path, **options)
        return
    import cloudpickle

    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "model.pkl"
        file.write_bytes(cloudpickle.dumps(model))
        run.client.log_artifact(run.info.run_id, file, artifact_path)
