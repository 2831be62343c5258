"""Framework autologging: ``lc.autolog()`` patches training calls to log params, metrics and models.

scikit-learn (``autologging.sklearn``), XGBoost and LightGBM
(``autologging.xgboost``, ``autologging.lightgbm``, switched on through their
flavors, which hand in their ``log_model``); ``autolog`` is MLflow's umbrella
switch, ``autolog(disable=True)`` restores everything.
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from typing import Any

from . import sklearn  # noqa: F401  (lc.autologging.sklearn: is_enabled, disable)
from .options import check_mlflow_options

__all__ = ["autolog"]


def autolog(
    disable: bool = False,
    log_models: bool = True,
    max_tuning_runs: int | None = 5,
    silent: bool = False,
    log_datasets: bool = True,
    **mlflow_options: Any,
) -> None:
    """Switch autologging on (or off with ``disable=True``) for every supported framework.

    ``log_models=False`` skips saving fitted models; ``log_datasets=False``
    skips logging the ``fit`` data as the run's dataset; ``max_tuning_runs`` caps
    the child runs a hyperparameter search logs (best first; ``None`` for
    all); ``silent=True`` hides autolog's warnings. Other options of
    ``mlflow.autolog`` (``log_input_examples``, ``exclusive``...) are taken
    when they ask for what autolog here does and refused otherwise (see
    ``options.py``), so MLflow code runs unchanged and nothing is ignored.
    """
    check_mlflow_options("jupyter-lifecycle", mlflow_options,
                         "disable, log_models, log_datasets, max_tuning_runs and silent")  # fmt: skip
    _boosting_autolog(disable=disable, log_models=log_models, silent=silent)
    from .. import sklearn as sklearn_flavor  # its log_model saves the fitted models in MLflow's format

    sklearn_flavor.autolog(disable=disable, log_models=log_models, max_tuning_runs=max_tuning_runs, silent=silent,
                           log_datasets=log_datasets)  # fmt: skip


def _boosting_autolog(disable: bool, log_models: bool, silent: bool) -> None:
    """XGBoost and LightGBM autolog, for the libraries that are installed.

    Switched on before scikit-learn's, whose ``fit`` patches then leave their
    estimators (``XGBClassifier``...) to them. Switching off touches only a
    library already imported.
    """
    from .. import lightgbm, xgboost

    for library, flavor in (("xgboost", xgboost), ("lightgbm", lightgbm)):
        if sys.modules.get(library) is None and (disable or importlib.util.find_spec(library) is None):
            continue
        try:
            flavor.autolog(log_models=log_models, disable=disable, silent=silent)
        except Exception as exc:  # a broken install of one library must not stop the others' autolog
            if not silent:
                warnings.warn(f"jupyter-lifecycle autolog skips {library}: {type(exc).__name__}: {exc}", stacklevel=3)
