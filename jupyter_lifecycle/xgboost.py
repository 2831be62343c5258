"""The XGBoost flavor, as ``mlflow.xgboost``: save, log and load boosters and their scikit-learn wrappers.

The folder is the one MLflow 3.17 writes: XGBoost's own file (``model.ubj``,
or ``model.json`` with ``model_format="json"``; never a pickle), ``MLmodel``
with an ``xgboost`` flavor naming the model's class, and ``python_function``
with ``loader_module: mlflow.xgboost``, so MLflow loads it without
jupyter-lifecycle installed and MLflow's own saves load here. Both
``xgboost.Booster`` (``xgboost.train``) and the scikit-learn wrappers
(``XGBClassifier``, ``XGBRegressor``, ``XGBRanker``...) are saved and loaded
back as what they were. ``autolog()`` logs training (see
``jupyter_lifecycle.autologging.xgboost``).
"""

from __future__ import annotations

import importlib
import inspect
import os
import platform
from pathlib import Path
from typing import Any

from .errors import InvalidInput
from .models.flavors import PYFUNC, Flavor, load_native, register_flavor
from .models.model import Model, ModelInfo
from .models.signature import ModelSignature

__all__ = ["autolog", "load_model", "log_model", "save_model"]

FLAVOR_NAME = "xgboost"
LOADER_MODULE = "mlflow.xgboost"
MODEL_FORMATS = ("ubj", "json")
BOOSTER_CLASS = "xgboost.core.Booster"


def _model_class(name: str, folder: Path) -> type:
    """The XGBoost class an ``MLmodel`` names; only XGBoost's own model classes are instantiated."""
    import xgboost

    module, _, attr = name.rpartition(".")
    cls = None
    if module.split(".")[0] == "xgboost":
        try:
            cls = getattr(importlib.import_module(module), attr, None)
        except ImportError:
            cls = None
    if not (isinstance(cls, type) and issubclass(cls, (xgboost.Booster, xgboost.XGBModel))):
        raise InvalidInput(
            f"the xgboost flavor in {str(folder)!r} names model_class {name!r}, which is not an XGBoost model "
            "class of the installed xgboost; save the model again, or install the xgboost version it was saved with"
        )
    return cls


def _load_xgb(folder: Path, conf: dict[str, Any]) -> Any:
    model = _model_class(str(conf.get("model_class", BOOSTER_CLASS)), folder)()
    model.load_model(str(folder / conf["data"]))
    return model


def _accepted(func: Any, params: dict[str, Any]) -> dict[str, Any]:
    """The ``params`` that ``func`` takes (MLflow drops the others rather than fail)."""
    try:
        accepted = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return params
    if any(p.kind is p.VAR_KEYWORD for p in accepted):
        return params
    names = {p.name for p in accepted}
    return {k: v for k, v in params.items() if k in names}


class _XGBoostImpl:
    """A booster or estimator with the pyfunc ``predict``; ``predict_proba`` and the rest pass through."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Predict as MLflow does: a booster gets a ``DMatrix``, feature names are checked."""
        import xgboost

        model = self.model
        if isinstance(model, xgboost.Booster):
            return model.predict(xgboost.DMatrix(data), validate_features=True, **_accepted(model.predict, params or {}))
        options = _accepted(model.predict, params or {})
        if isinstance(model, xgboost.XGBModel):
            options["validate_features"] = True
        return model.predict(data, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["model"], name)


def _load_pyfunc(folder: Path, conf: dict[str, Any]) -> Any:
    flavor = Model.load(folder).flavors.get(FLAVOR_NAME) or {"data": conf["data"]}
    return _XGBoostImpl(_load_xgb(folder, flavor))


register_flavor(Flavor(FLAVOR_NAME, (LOADER_MODULE, __name__), _load_pyfunc, _load_xgb))


def save_model(
    xgb_model: Any,
    path: str | os.PathLike[str],
    code_paths: list[str | os.PathLike[str]] | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    model_format: str = "ubj",
    metadata: dict[str, Any] | None = None,
    *,
    _model: Model | None = None,
) -> ModelInfo:
    """Save an ``xgboost.Booster`` or XGBoost scikit-learn estimator to a local folder in MLflow's format.

    ``model_format`` is ``"ubj"`` (XGBoost's binary JSON, MLflow's default)
    or ``"json"``. The signature is inferred from ``input_example`` and the
    model's predictions on it when not given; ``requirements.txt`` pins
    xgboost and what predicting used.
    """
    import xgboost

    from .models import dependencies
    from .models.model import write_model_folder

    if not isinstance(xgb_model, (xgboost.Booster, xgboost.XGBModel)):
        raise InvalidInput(f"xgb_model must be an xgboost.Booster or an XGBoost scikit-learn estimator "
                           f"(XGBClassifier...), not {type(xgb_model).__name__}")  # fmt: skip
    if model_format not in MODEL_FORMATS:
        raise InvalidInput(f"model_format must be 'ubj' or 'json', not {model_format!r}")
    data = f"model.{model_format}"
    model_class = f"{type(xgb_model).__module__}.{type(xgb_model).__qualname__}"

    def write(folder: Path) -> dict[str, Any]:
        xgb_model.save_model(str(folder / data))
        return {
            PYFUNC: {"data": data, "loader_module": LOADER_MODULE, "python_version": platform.python_version()},
            FLAVOR_NAME: {"code": "code" if code_paths else None, "data": data, "model_class": model_class,
                          "model_format": model_format, "xgb_version": xgboost.__version__},
        }  # fmt: skip

    def requirements(folder: Path, used: set[str]) -> list[str]:
        return dependencies.resolve_requirements(used | {"xgboost"}, (), pip_requirements, extra_pip_requirements)

    model = write_model_folder(
        path, write, signature=signature, input_example=input_example,
        predict_example=_XGBoostImpl(xgb_model).predict, code_paths=code_paths, requirements=requirements,
        metadata=metadata, model=_model,
    )  # fmt: skip
    return model.get_model_info()


def log_model(
    xgb_model: Any,
    artifact_path: str | None = None,
    code_paths: list[str | os.PathLike[str]] | None = None,
    registered_model_name: str | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    model_format: str = "ubj",
    metadata: dict[str, Any] | None = None,
    *,
    name: str | None = None,
    run_id: str | None = None,
    params: dict[str, Any] | None = None,
    tags: dict[str, Any] | None = None,
    model_type: str | None = None,
    step: int = 0,
    model_id: str | None = None,
) -> ModelInfo:
    """Log an XGBoost model as a logged model; ``info.model_uri`` is ``models:/<model_id>`` (see ``pyfunc.log_model``)."""
    from .models.logged import log_model_folder
    from .pyfunc import _register

    def save(folder: Path, model: Model) -> Model:
        save_model(xgb_model, folder, code_paths, signature, input_example, pip_requirements, extra_pip_requirements,
                   model_format, metadata, _model=model)  # fmt: skip
        assert model.path is not None
        return model

    info = log_model_folder(artifact_path, save, run_id=run_id, name=name, params=params, tags=tags,
                            model_type=model_type, step=step, model_id=model_id)  # fmt: skip
    return _register(info, registered_model_name)


def load_model(model_uri: str | os.PathLike[str], dst_path: str | os.PathLike[str] | None = None) -> Any:
    """Load the model as what was saved: an ``xgboost.Booster`` or the scikit-learn estimator (``XGBClassifier``...)."""
    return load_native(model_uri, FLAVOR_NAME)


def autolog(
    importance_types: list[str] | None = None,
    log_models: bool = True,
    model_format: str = "ubj",
    disable: bool = False,
    silent: bool = False,
    **mlflow_options: Any,
) -> None:
    """Log XGBoost training as MLflow does (``disable=True`` restores XGBoost exactly).

    Each ``xgboost.train`` or estimator ``fit`` logs its params, every
    round's eval metrics (``validation_0-logloss``... with ``step`` = the
    round), early stopping's ``best_iteration`` and ``stopped_iteration``,
    feature importance (``importance_types``, default ``["weight"]``) as JSON
    and PNG, and the model. Other options of ``mlflow.xgboost.autolog`` are taken when
    they ask for what this autolog does and refused otherwise (``log_datasets=True``,
    ``registered_model_name``...).
    """
    from .autologging import xgboost as autologging

    autologging.autolog(log_model, importance_types=importance_types, log_models=log_models,
                        model_format=model_format, disable=disable, silent=silent, **mlflow_options)  # fmt: skip
