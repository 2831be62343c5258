"""Framework autologging: ``lc.autolog()`` patches training calls to log params, metrics and models.

scikit-learn is the first framework (``autologging.sklearn``); ``autolog`` is
MLflow's umbrella switch, ``autolog(disable=True)`` restores everything.
"""

from __future__ import annotations

import warnings
from typing import Any

from . import sklearn

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
    ``mlflow.autolog`` (``log_input_examples``, ``exclusive``...) are
    accepted so MLflow code runs unchanged, and ignored with a warning.
    """
    if mlflow_options and not silent:
        warnings.warn(
            f"jupyter-lifecycle autolog ignores {', '.join(sorted(mlflow_options))}: it supports disable, "
            "log_models, log_datasets, max_tuning_runs and silent",
            stacklevel=2,
        )
    sklearn.autolog(disable=disable, log_models=log_models, max_tuning_runs=max_tuning_runs, silent=silent,
                    log_datasets=log_datasets)  # fmt: skip
