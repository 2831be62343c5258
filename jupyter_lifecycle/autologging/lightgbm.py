"""LightGBM autolog: ``lightgbm.train`` and the scikit-learn wrappers' ``fit`` log as ``mlflow.lightgbm.autolog``.

Metric names are MLflow's: ``<valid set>-<metric>`` (``valid_0-binary_logloss``,
``training-l2``...), one point per boosting round. Feature importance is
logged for both ``split`` and ``gain``. The shared machinery is in
``boosting``; the model is logged with the ``log_model`` the flavor
(``jupyter_lifecycle.lightgbm``) hands in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .boosting import Framework, Session, check_options

__all__ = ["autolog", "is_enabled"]


class LightGBMAutolog(Framework):
    """How LightGBM trains, for the shared autolog machinery."""

    name = "lightgbm"
    train_data_argument = "train_set"
    unlogged_arguments = ("params", "train_set", "valid_sets", "valid_names", "fobj", "feval", "init_model",
                          "learning_rates", "callbacks")  # fmt: skip
    estimator_modules = ("lightgbm.sklearn",)

    def patch_targets(self) -> tuple[list[tuple[Any, str]], list[type], list[type]]:
        """``lightgbm.train`` and the copy the wrappers call, ``LGBMModel``, ``Dataset``."""
        import lightgbm
        import lightgbm.sklearn

        return [(lightgbm, "train"), (lightgbm.sklearn, "train")], [lightgbm.LGBMModel], [lightgbm.Dataset]

    def callback(self, session: Session) -> Any:
        """A LightGBM callback recording every round's eval values (before early stopping may end training)."""

        def record(env: Any) -> None:
            session.record(env.iteration, {f"{data}-{name}": value for data, name, value, *_ in env.evaluation_result_list})

        record.order = 0  # type: ignore[attr-defined]  # LightGBM runs callbacks by order; early stopping's is 30
        return record

    def early_stopping(self, booster: Any, arguments: dict[str, Any], rounds: int) -> tuple[int, int] | None:
        """``(best_iteration, rounds)`` when LightGBM kept a best iteration (MLflow's rule)."""
        if not booster.best_iteration > 0:
            return None
        return int(booster.best_iteration), rounds

    def best_round(self, booster: Any) -> int:
        """LightGBM counts iterations from 1."""
        return int(booster.best_iteration) - 1

    def importance(self, booster: Any) -> dict[str, dict[str, Any]]:
        """``split`` and ``gain`` importance per feature."""
        names = booster.feature_name()
        return {kind: dict(zip(names, booster.feature_importance(importance_type=kind).tolist(), strict=True))
                for kind in ("split", "gain")}  # fmt: skip


_framework = LightGBMAutolog()


def is_enabled() -> bool:
    """Whether LightGBM autolog is on."""
    return _framework.enabled


def autolog(
    log_model: Callable[..., Any] | None = None,
    log_models: bool = True,
    disable: bool = False,
    silent: bool = False,
    **mlflow_options: Any,
) -> None:
    """Patch LightGBM to log training (``disable=True`` restores it exactly); ``log_model`` saves the model."""
    check_options("lightgbm", mlflow_options, "log_models, disable and silent")
    if disable:
        _framework.disable()
        return
    _framework.enable(log_model, log_models=log_models, silent=silent)
