"""XGBoost autolog: ``xgboost.train`` and the scikit-learn wrappers' ``fit`` log as ``mlflow.xgboost.autolog``.

Metric names are MLflow's: ``<eval set>-<metric>`` (``train-logloss``, and
``validation_0-logloss``... for the wrappers' ``eval_set``), one point per
boosting round. Feature importance defaults to the ``weight`` type. The
shared machinery is in ``boosting``; the model is logged with the
``log_model`` the flavor (``jupyter_lifecycle.xgboost``) hands in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .boosting import Framework, Session, check_options

__all__ = ["autolog", "is_enabled"]


class XGBoostAutolog(Framework):
    """How XGBoost trains, for the shared autolog machinery."""

    name = "xgboost"
    train_data_argument = "dtrain"
    unlogged_arguments = ("params", "dtrain", "evals", "obj", "feval", "evals_result", "xgb_model", "callbacks",
                          "learning_rates")  # fmt: skip
    estimator_modules = ("xgboost.sklearn",)

    def patch_targets(self) -> tuple[list[tuple[Any, str]], list[type], list[type]]:
        """``xgboost.train`` and the copy the wrappers call, ``XGBModel``, ``DMatrix`` and ``QuantileDMatrix``."""
        import xgboost
        import xgboost.sklearn

        return [(xgboost, "train"), (xgboost.sklearn, "train")], [xgboost.XGBModel], \
            [xgboost.DMatrix, xgboost.QuantileDMatrix]  # fmt: skip

    def callback(self, session: Session) -> Any:
        """An ``xgboost.callback.TrainingCallback`` recording every round's last eval values."""
        import xgboost

        class Recorder(xgboost.callback.TrainingCallback):
            def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, dict[str, list[Any]]]) -> bool:
                session.record(epoch, {f"{data}-{metric}": values[-1] for data, metrics in evals_log.items()
                                       for metric, values in metrics.items()})  # fmt: skip
                return False

        return Recorder()

    def early_stopping(self, booster: Any, arguments: dict[str, Any], rounds: int) -> tuple[int, int] | None:
        """``(best_iteration, last round)`` when ``early_stopping_rounds`` was given (MLflow's rule)."""
        if not arguments.get("early_stopping_rounds"):
            return None
        return int(booster.best_iteration), rounds - 1

    def best_round(self, booster: Any) -> int:
        """XGBoost counts rounds from 0."""
        return int(booster.best_iteration)

    def importance(self, booster: Any) -> dict[str, dict[str, Any]]:
        """``booster.get_score`` for each of ``importance_types`` (default ``["weight"]``)."""
        kinds = self.settings.get("importance_types") or ["weight"]
        return {kind: booster.get_score(importance_type=kind) for kind in kinds}

    def model_options(self) -> dict[str, Any]:
        """The ``model_format`` autolog was given."""
        return {"model_format": self.settings.get("model_format", "ubj")}


_framework = XGBoostAutolog()


def is_enabled() -> bool:
    """Whether XGBoost autolog is on."""
    return _framework.enabled


def autolog(
    log_model: Callable[..., Any] | None = None,
    importance_types: list[str] | None = None,
    log_models: bool = True,
    model_format: str = "ubj",
    disable: bool = False,
    silent: bool = False,
    **mlflow_options: Any,
) -> None:
    """Patch XGBoost to log training (``disable=True`` restores it exactly); ``log_model`` saves the model."""
    check_options("xgboost", mlflow_options, "importance_types, log_models, model_format, disable and silent")
    if disable:
        _framework.disable()
        return
    _framework.enable(log_model, importance_types=importance_types, log_models=log_models, model_format=model_format,
                      silent=silent)  # fmt: skip
