"""The LightGBM flavor, as ``mlflow.lightgbm``: save, log and load boosters and their scikit-learn wrappers.

The folder is the one MLflow 3.17 writes. A ``lightgbm.Booster``
(``lightgbm.train``) is saved in LightGBM's own text format (``model.lgb``);
a scikit-learn wrapper (``LGBMClassifier``, ``LGBMRegressor``,
``LGBMRanker``) in the skops format (``model.skops``, MLflow 3.17's default:
no pickle, the booster is kept as its text inside), or with
``serialization_format="cloudpickle"`` / ``"pickle"`` as ``model.pkl``.
``python_function`` names ``loader_module: mlflow.lightgbm``, so MLflow loads
the folder without jupyter-lifecycle installed, and MLflow's saves load here.
``autolog()`` logs training (see ``jupyter_lifecycle.autologging.lightgbm``).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from .errors import InvalidInput
from .models.flavors import PYFUNC, Flavor, load_native, register_flavor
from .models.model import Model, ModelInfo
from .models.signature import ModelSignature

__all__ = ["autolog", "load_model", "log_model", "save_model"]

FLAVOR_NAME = "lightgbm"
LOADER_MODULE = "mlflow.lightgbm"
BOOSTER_CLASS = "lightgbm.basic.Booster"
SERIALIZATION_FORMATS = ("skops", "cloudpickle", "pickle")
# What MLflow 3.17 trusts when it loads a skops file of this flavor.
SKOPS_TRUSTED_TYPES = ("collections.OrderedDict", "lightgbm.basic.Booster", "lightgbm.sklearn.LGBMClassifier",
                       "lightgbm.sklearn.LGBMRegressor")  # fmt: skip


def _load_lgb(folder: Path, conf: dict[str, Any]) -> Any:
    from .sklearn import _load_estimator

    file = folder / conf["data"]
    if conf.get("model_class", BOOSTER_CLASS) == BOOSTER_CLASS:
        import lightgbm

        return lightgbm.Booster(model_file=str(file))
    # A scikit-learn wrapper is stored as scikit-learn estimators are (skops, cloudpickle or pickle).
    return _load_estimator(folder, {"pickled_model": conf["data"], "skops_trusted_types": conf.get("skops_trusted_types"),
                                    "serialization_format": conf.get("serialization_format", "cloudpickle")})  # fmt: skip


class _LightGBMImpl:
    """A booster or estimator with the pyfunc ``predict``; ``predict_proba`` and the rest pass through."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """The model's own ``predict`` (MLflow passes no params to LightGBM either)."""
        return self.model.predict(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["model"], name)


def _load_pyfunc(folder: Path, conf: dict[str, Any]) -> Any:
    flavor = Model.load(folder).flavors.get(FLAVOR_NAME) or {"data": conf["data"]}
    return _LightGBMImpl(_load_lgb(folder, flavor))


register_flavor(Flavor(FLAVOR_NAME, (LOADER_MODULE, __name__), _load_pyfunc, _load_lgb))


def _dump_estimator(model: Any, file: Path, serialization_format: str, trusted: list[str]) -> set[str]:
    """Write a scikit-learn wrapper; return the top-level modules the file refers to."""
    if serialization_format == "skops":
        import skops.io

        skops.io.dump(model, file)
        unknown = sorted(set(skops.io.get_untrusted_types(file=file)) - set(trusted))
        if unknown:
            raise InvalidInput(
                f"the skops file of this {type(model).__name__} refers to types skops does not trust: "
                f"{', '.join(unknown)}; pass skops_trusted_types=[...] naming them if you trust them, "
                "or save with serialization_format='cloudpickle'"
            )
        return {"lightgbm", "skops"}
    with open(file, "wb") as handle:
        if serialization_format == "cloudpickle":
            from .models import dependencies

            return dependencies.pickle_recording(model, handle) | {"cloudpickle"}
        import pickle

        pickle.dump(model, handle, protocol=pickle.DEFAULT_PROTOCOL)
        return {"lightgbm"}


def save_model(
    lgb_model: Any,
    path: str | os.PathLike[str],
    code_paths: list[str | os.PathLike[str]] | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: dict[str, Any] | None = None,
    serialization_format: str = "skops",
    skops_trusted_types: list[str] | None = None,
    *,
    _model: Model | None = None,
) -> ModelInfo:
    """Save a ``lightgbm.Booster`` or LightGBM scikit-learn estimator to a local folder in MLflow's format.

    A booster is written in LightGBM's text format; an estimator with
    ``serialization_format`` (``"skops"``, ``"cloudpickle"`` or ``"pickle"``).
    The signature is inferred from ``input_example`` and the model's
    predictions on it when not given; ``requirements.txt`` pins lightgbm and
    what predicting used.
    """
    import lightgbm

    from .models import dependencies
    from .models.model import write_model_folder

    is_booster = isinstance(lgb_model, lightgbm.Booster)
    if not (is_booster or isinstance(lgb_model, lightgbm.LGBMModel)):
        raise InvalidInput(f"lgb_model must be a lightgbm.Booster or a LightGBM scikit-learn estimator "
                           f"(LGBMClassifier...), not {type(lgb_model).__name__}")  # fmt: skip
    if serialization_format not in SERIALIZATION_FORMATS:
        raise InvalidInput(f"serialization_format must be one of {', '.join(SERIALIZATION_FORMATS)}, "
                           f"not {serialization_format!r}")  # fmt: skip
    if is_booster:
        data = "model.lgb"
    else:
        data = "model.skops" if serialization_format == "skops" else "model.pkl"
    model_class = f"{type(lgb_model).__module__}.{type(lgb_model).__qualname__}"
    trusted = sorted(set(SKOPS_TRUSTED_TYPES) | set(skops_trusted_types or ()) | {model_class})
    modules: set[str] = {"lightgbm"}

    def write(folder: Path) -> dict[str, Any]:
        conf: dict[str, Any] = {"code": "code" if code_paths else None, "data": data,
                                "lgb_version": lightgbm.__version__, "model_class": model_class}  # fmt: skip
        if is_booster:
            lgb_model.save_model(str(folder / data))
        else:
            modules.update(_dump_estimator(lgb_model, folder / data, serialization_format, trusted))
            conf["serialization_format"] = serialization_format
            if serialization_format == "skops":
                conf["skops_trusted_types"] = trusted
        return {
            FLAVOR_NAME: conf,
            PYFUNC: {"data": data, "loader_module": LOADER_MODULE, "python_version": platform.python_version()},
        }

    def requirements(folder: Path, used: set[str]) -> list[str]:
        return dependencies.resolve_requirements(modules | used, (), pip_requirements, extra_pip_requirements)

    model = write_model_folder(
        path, write, signature=signature, input_example=input_example,
        predict_example=_LightGBMImpl(lgb_model).predict, code_paths=code_paths, requirements=requirements,
        metadata=metadata, model=_model,
    )  # fmt: skip
    return model.get_model_info()


def log_model(
    lgb_model: Any,
    artifact_path: str | None = None,
    code_paths: list[str | os.PathLike[str]] | None = None,
    registered_model_name: str | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: dict[str, Any] | None = None,
    serialization_format: str = "skops",
    skops_trusted_types: list[str] | None = None,
    *,
    name: str | None = None,
    run_id: str | None = None,
    params: dict[str, Any] | None = None,
    tags: dict[str, Any] | None = None,
    model_type: str | None = None,
    step: int = 0,
    model_id: str | None = None,
) -> ModelInfo:
    """Log a LightGBM model as a logged model; ``info.model_uri`` is ``models:/<model_id>`` (see ``pyfunc.log_model``)."""
    from .models.logged import log_model_folder
    from .pyfunc import _register

    def save(folder: Path, model: Model) -> Model:
        save_model(lgb_model, folder, code_paths, signature, input_example, pip_requirements, extra_pip_requirements,
                   metadata, serialization_format, skops_trusted_types, _model=model)  # fmt: skip
        assert model.path is not None
        return model

    info = log_model_folder(artifact_path, save, run_id=run_id, name=name, params=params, tags=tags,
                            model_type=model_type, step=step, model_id=model_id)  # fmt: skip
    return _register(info, registered_model_name)


def load_model(model_uri: str | os.PathLike[str], dst_path: str | os.PathLike[str] | None = None) -> Any:
    """Load the model as what was saved: a ``lightgbm.Booster`` or the scikit-learn estimator (``LGBMClassifier``...)."""
    return load_native(model_uri, FLAVOR_NAME)


def autolog(log_models: bool = True, disable: bool = False, silent: bool = False, **mlflow_options: Any) -> None:
    """Log LightGBM training as MLflow does (``disable=True`` restores LightGBM exactly).

    Each ``lightgbm.train`` or estimator ``fit`` logs its params, every
    round's eval metrics (``valid_0-binary_logloss``... with ``step`` = the
    round), early stopping's ``best_iteration`` and ``stopped_iteration``,
    ``split`` and ``gain`` feature importance as JSON and PNG, and the
    model. Other options of ``mlflow.lightgbm.autolog`` are taken when
    they ask for what this autolog does and refused otherwise (``log_datasets=True``,
    ``registered_model_name``...).
    """
    from .autologging import lightgbm as autologging

    autologging.autolog(log_model, log_models=log_models, disable=disable, silent=silent, **mlflow_options)
