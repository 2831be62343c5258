"""The scikit-learn flavor, as ``mlflow.sklearn``: save, log and load estimators.

The folder is the one MLflow writes with ``serialization_format="cloudpickle"``:
``python_function`` names ``loader_module: mlflow.sklearn`` and ``model.pkl``,
so MLflow loads it without jupyter-lifecycle installed. Loading here accepts
MLflow's three formats: ``cloudpickle``, ``pickle`` and ``skops`` (MLflow
3.17's default; needs the ``skops`` package).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from .errors import InvalidInput, NotFound
from .models.flavors import PYFUNC, Flavor, load_native, register_flavor
from .models.model import Model, ModelInfo
from .models.signature import ModelSignature

__all__ = ["load_model", "log_model", "save_model"]

FLAVOR_NAME = "sklearn"
PICKLE = "model.pkl"
LOADER_MODULE = "mlflow.sklearn"
SERIALIZATION_FORMATS = ("cloudpickle", "pickle", "skops")


def _load_estimator(folder: Path, conf: dict[str, Any]) -> Any:
    file = folder / conf.get("pickled_model", PICKLE)
    fmt = conf.get("serialization_format", "pickle")
    if fmt not in SERIALIZATION_FORMATS:
        raise InvalidInput(f"unknown sklearn serialization_format {fmt!r} in {str(folder)!r}; "
                           f"known: {', '.join(SERIALIZATION_FORMATS)}")  # fmt: skip
    if fmt == "skops":
        try:
            import skops.io
        except ImportError:
            raise NotFound(
                f"the model in {str(folder)!r} is saved in the skops format (MLflow's default for scikit-learn); "
                "install skops to load it: pip install skops"
            ) from None
        return skops.io.load(file, trusted=conf.get("skops_trusted_types"))
    with open(file, "rb") as handle:
        if fmt == "cloudpickle":
            import cloudpickle

            return cloudpickle.load(handle)
        import pickle

        return pickle.load(handle)


class _SklearnImpl:
    """An estimator with the pyfunc ``predict``; ``predict_proba`` and the rest pass through."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """The estimator's ``predict``."""
        return self.model.predict(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["model"], name)


def _load_pyfunc(folder: Path, conf: dict[str, Any]) -> Any:
    meta = Model.load(folder)
    flavor = meta.flavors.get(FLAVOR_NAME)
    if flavor is None:  # a python_function-only folder written by an old MLflow
        flavor = {"pickled_model": conf.get("model_path", PICKLE), "serialization_format": "pickle"}
    return _SklearnImpl(_load_estimator(folder, flavor))


register_flavor(Flavor(FLAVOR_NAME, (LOADER_MODULE, __name__), _load_pyfunc, _load_estimator))


def save_model(
    sk_model: Any,
    path: str | os.PathLike[str],
    code_paths: list[str | os.PathLike[str]] | None = None,
    serialization_format: str = "cloudpickle",
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    pyfunc_predict_fn: str = "predict",
    metadata: dict[str, Any] | None = None,
    *,
    conda_env: str | os.PathLike[str] | dict[str, Any] | None = None,
    code_path: list[str | os.PathLike[str]] | None = None,
    _model: Model | None = None,
) -> ModelInfo:
    """Save a scikit-learn estimator to a local folder in MLflow's format.

    The signature is inferred from ``input_example`` and the estimator's
    predictions on it when not given. ``pyfunc_predict_fn`` picks what
    ``pyfunc`` calls (``predict_proba`` for probabilities). ``conda_env`` and
    ``code_path`` work as in ``pyfunc.save_model``.
    """
    import pickle

    import sklearn

    from .models import dependencies
    from .models.model import write_model_folder

    if serialization_format not in ("cloudpickle", "pickle"):
        raise InvalidInput(f"serialization_format must be 'cloudpickle' or 'pickle', not {serialization_format!r}")
    if not hasattr(sk_model, pyfunc_predict_fn):
        raise InvalidInput(f"{type(sk_model).__name__} has no {pyfunc_predict_fn!r} method to serve as pyfunc predict")
    pip_requirements, extra_pip_requirements, conda = dependencies.environment_arguments(
        conda_env, pip_requirements, extra_pip_requirements
    )
    code_paths = dependencies.code_paths_argument(code_paths, code_path)
    modules: set[str] = set()

    def write(folder: Path) -> dict[str, Any]:
        with open(folder / PICKLE, "wb") as handle:
            if serialization_format == "cloudpickle":
                modules.update(dependencies.pickle_recording(sk_model, handle))
            else:
                pickle.dump(sk_model, handle, protocol=pickle.DEFAULT_PROTOCOL)
                modules.add(type(sk_model).__module__.partition(".")[0])
        return {
            PYFUNC: {"loader_module": LOADER_MODULE, "model_path": PICKLE, "predict_fn": pyfunc_predict_fn,
                     "python_version": platform.python_version()},
            FLAVOR_NAME: {"code": None, "pickled_model": PICKLE, "serialization_format": serialization_format,
                          "sklearn_version": sklearn.__version__},
        }  # fmt: skip

    def requirements(folder: Path, used: set[str]) -> list[str]:
        always = ["scikit-learn"] + (["cloudpickle"] if serialization_format == "cloudpickle" else [])
        return dependencies.resolve_requirements(modules | used, always, pip_requirements, extra_pip_requirements)

    model = write_model_folder(
        path, write, signature=signature, input_example=input_example,
        predict_example=getattr(sk_model, pyfunc_predict_fn), code_paths=code_paths, requirements=requirements,
        metadata=metadata, model=_model, conda_env=conda,
    )  # fmt: skip
    return model.get_model_info()


def log_model(
    sk_model: Any,
    artifact_path: str | None = None,
    code_paths: list[str | os.PathLike[str]] | None = None,
    serialization_format: str = "cloudpickle",
    registered_model_name: str | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    pyfunc_predict_fn: str = "predict",
    metadata: dict[str, Any] | None = None,
    *,
    name: str | None = None,
    run_id: str | None = None,
    params: dict[str, Any] | None = None,
    tags: dict[str, Any] | None = None,
    model_type: str | None = None,
    step: int = 0,
    model_id: str | None = None,
    conda_env: str | os.PathLike[str] | dict[str, Any] | None = None,
    code_path: list[str | os.PathLike[str]] | None = None,
) -> ModelInfo:
    """Log an estimator as a logged model; ``info.model_uri`` is ``models:/<model_id>`` (see ``pyfunc.log_model``)."""
    from .models.logged import log_model_folder
    from .pyfunc import _register

    def save(folder: Path, model: Model) -> Model:
        save_model(sk_model, folder, code_paths, serialization_format, signature, input_example, pip_requirements,
                   extra_pip_requirements, pyfunc_predict_fn, metadata, conda_env=conda_env, code_path=code_path,
                   _model=model)  # fmt: skip
        assert model.path is not None
        return model

    info = log_model_folder(artifact_path, save, run_id=run_id, name=name, params=params, tags=tags,
                            model_type=model_type, step=step, model_id=model_id)  # fmt: skip
    return _register(info, registered_model_name)


def load_model(model_uri: str | os.PathLike[str], dst_path: str | os.PathLike[str] | None = None) -> Any:
    """Load the scikit-learn estimator itself (``predict_proba``, ``classes_``... all there)."""
    return load_native(model_uri, FLAVOR_NAME)


def autolog(
    disable: bool = False,
    log_models: bool = True,
    max_tuning_runs: int | None = 5,
    silent: bool = False,
    log_datasets: bool = True,
    **mlflow_options: Any,
) -> None:
    """``mlflow.sklearn.autolog``: scikit-learn's part of ``lc.autolog`` (see there for what it logs).

    MLflow's other options are taken when they ask for what autolog here does
    and refused otherwise.
    """
    from .autologging import sklearn as autologging
    from .autologging.options import check_mlflow_options

    check_mlflow_options("sklearn", mlflow_options, "disable, log_models, log_datasets, max_tuning_runs and silent")
    autologging.autolog(disable=disable, log_models=log_models, max_tuning_runs=max_tuning_runs, silent=silent,
                        log_datasets=log_datasets, log_model=log_model)  # fmt: skip

