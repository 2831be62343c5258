"""The ``python_function`` flavor, as ``mlflow.pyfunc``: custom models and loading any model.

``save_model``/``log_model`` take a ``PythonModel`` subclass instance, any
object with a ``predict`` method, or a plain function. The folder names
MLflow's loader (``loader_module: mlflow.pyfunc.model``, ``python_model:
python_model.pkl``), so MLflow's ``pyfunc.load_model`` loads it too; the
pickled class refers to this module's ``PythonModel``, so that environment
needs jupyter-lifecycle installed, and ``requirements.txt`` says so.
"""

from __future__ import annotations

import inspect
import os
import platform
import shutil
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from .errors import InvalidInput, NotFound
from .models.flavors import PYFUNC, Flavor, PyFuncModel, load_pyfunc, register_flavor
from .models.model import Model, ModelInfo
from .models.signature import ModelSignature

__all__ = [
    "PyFuncModel", "PythonModel", "PythonModelContext", "get_model_dependencies", "load_model", "log_model",
    "save_model",
]  # fmt: skip

PICKLE = "python_model.pkl"
LOADER_MODULE = "mlflow.pyfunc.model"


class PythonModelContext:
    """What ``load_context`` and ``predict`` receive: the model's artifacts as local paths."""

    def __init__(self, artifacts: dict[str, str], model_config: dict[str, Any] | None = None) -> None:
        self._artifacts = artifacts
        self._model_config = model_config or {}

    @property
    def artifacts(self) -> dict[str, str]:
        """``{name: local path}`` of the files given as ``artifacts=`` at save time."""
        return self._artifacts

    @property
    def model_config(self) -> dict[str, Any]:
        """The ``model_config`` given at load time (empty by default)."""
        return self._model_config


class PythonModel:
    """Base class of custom models: override ``predict`` (and ``load_context`` to read artifacts)."""

    def load_context(self, context: PythonModelContext) -> None:
        """Called once when the model loads; read files from ``context.artifacts`` here."""

    def predict(self, context: PythonModelContext, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        """Return predictions for ``model_input`` (checked against the signature first)."""
        raise NotImplementedError(f"{type(self).__name__} must define predict(self, context, model_input, params=None)")

    @property
    def predict_type_hints(self) -> Any:
        """MLflow's loader reads this; this project does not convert inputs by type hints."""
        return SimpleNamespace(input=None, output=None)


class _ObjectModel(PythonModel):
    """Wraps any object with ``predict`` (or a function) as a ``PythonModel``."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, context: PythonModelContext, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        """Call the wrapped object's ``predict`` (or the function itself)."""
        call = self.model.predict if hasattr(self.model, "predict") else self.model
        if params and "params" in _parameters(call):
            return call(model_input, params=params)
        return call(model_input)


def _parameters(func: Any) -> list[str]:
    try:
        return list(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        return []


def _takes_context(func: Any) -> bool:
    names = [n for n in _parameters(func) if n not in ("self", "params")]
    return "context" in names or len(names) == 2  # MLflow's rule: predict(self, ctx, model_input, ...)


class _PythonModelImpl:
    """A loaded ``PythonModel`` with the pyfunc ``predict(data, params=None)``."""

    def __init__(self, python_model: Any, context: PythonModelContext) -> None:
        self.python_model = python_model
        self.context = context
        self._with_context = _takes_context(python_model.predict)
        self._with_params = "params" in _parameters(python_model.predict)

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Call the model's ``predict`` with or without the context, as it is declared."""
        kwargs = {"params": params} if self._with_params else {}
        if self._with_context:
            return self.python_model.predict(self.context, data, **kwargs)
        return self.python_model.predict(data, **kwargs)

    def unwrap_python_model(self) -> Any:
        """The ``PythonModel`` instance."""
        return self.python_model

    @property
    def model(self) -> Any:
        """The wrapped object for models saved from a plain object, else the ``PythonModel``."""
        return self.python_model.model if isinstance(self.python_model, _ObjectModel) else self.python_model


def _load_python_model(folder: Path, conf: dict[str, Any]) -> Any:
    import cloudpickle

    if "model_code_path" in conf:
        raise InvalidInput(
            f"the model in {str(folder)!r} is an MLflow 'models from code' model; load it with "
            "mlflow.pyfunc.load_model (jupyter-lifecycle loads pickled python models only)"
        )
    if conf.get("python_model_compression"):
        raise InvalidInput(f"the model in {str(folder)!r} is compressed ({conf['python_model_compression']}); "
                           "load it with mlflow.pyfunc.load_model")  # fmt: skip
    file = folder / conf.get("python_model", PICKLE)
    try:
        with open(file, "rb") as handle:
            python_model = cloudpickle.load(handle)
    except ModuleNotFoundError as exc:
        raise NotFound(
            f"loading {file.name} needs the module {exc.name!r}, which is not installed: install the model's "
            f"requirements (pip install -r {folder / 'requirements.txt'})"
        ) from exc
    artifacts = {name: str(folder / info["path"]) for name, info in (conf.get("artifacts") or {}).items()}
    context = PythonModelContext(artifacts, conf.get("config"))
    python_model.load_context(context)
    return _PythonModelImpl(python_model, context)


register_flavor(Flavor(PYFUNC, (LOADER_MODULE, __name__), _load_python_model))


def _copy_artifacts(folder: Path, artifacts: dict[str, Any]) -> dict[str, dict[str, str]]:
    from .models.uri import resolve_model_uri

    root = folder / "artifacts"
    root.mkdir()
    saved = {}
    for name, uri in artifacts.items():
        text = os.fspath(uri)
        source = resolve_model_uri(text) if ":" in text[2:] else Path(text)
        if not source.exists():
            raise NotFound(f"artifact {name!r} points to {text!r}, which does not exist")
        target = root / source.name
        if target.exists():
            raise InvalidInput(f"two artifacts are both named {source.name!r}; rename one of the files")
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
        saved[name] = {"path": f"artifacts/{source.name}", "uri": text}
    return saved


def save_model(
    path: str | os.PathLike[str],
    python_model: Any = None,
    artifacts: dict[str, Any] | None = None,
    code_paths: list[str | os.PathLike[str]] | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: dict[str, Any] | None = None,
    model_config: dict[str, Any] | None = None,
    *,
    _model: Model | None = None,
) -> ModelInfo:
    """Save a custom model to a local folder in MLflow's format.

    ``python_model`` is a ``PythonModel`` instance, any object with
    ``predict``, or a function. ``artifacts`` (``{name: path or URI}``) are
    copied into ``artifacts/`` and handed to ``load_context``; ``code_paths``
    are copied into ``code/`` and put on ``sys.path`` at load. The signature
    is inferred from ``input_example`` when not given; requirements are
    inferred from what the model uses unless ``pip_requirements`` replaces
    them (``extra_pip_requirements`` adds to them).
    """
    import cloudpickle

    from .models import dependencies
    from .models.model import write_model_folder

    if python_model is None:
        raise InvalidInput("save_model needs python_model=: a PythonModel instance, an object with predict, or a function")
    if not isinstance(python_model, PythonModel):
        if not (hasattr(python_model, "predict") or callable(python_model)):
            raise InvalidInput(f"python_model must have a predict method or be callable; got {type(python_model).__name__}")
        python_model = _ObjectModel(python_model)
    state: dict[str, Any] = {}

    def write(folder: Path) -> dict[str, Any]:
        saved = _copy_artifacts(folder, artifacts) if artifacts else None
        state["artifacts"] = saved or {}
        with open(folder / PICKLE, "wb") as handle:
            state["modules"] = dependencies.pickle_recording(python_model, handle)
        conf: dict[str, Any] = {}
        if saved:
            conf["artifacts"] = saved
        conf.update({"cloudpickle_version": cloudpickle.__version__, "code": None, "loader_module": LOADER_MODULE,
                     "python_model": PICKLE, "python_version": platform.python_version(), "streamable": False})  # fmt: skip
        if model_config:
            conf["config"] = model_config
        state["folder"] = folder
        return {PYFUNC: conf}

    def predict_example(example: Any) -> Any:
        # Predict with a copy loaded from the saved files, as a user will: this
        # checks the saved model works and records what it imports.
        conf = {"python_model": PICKLE, "artifacts": state["artifacts"], "config": model_config}
        loaded = _load_python_model(state["folder"], conf)
        return loaded.predict(example)

    def requirements(folder: Path, used: set[str]) -> list[str]:
        code = folder / "code"
        shipped = {p.stem if p.suffix == ".py" else p.name for p in code.iterdir()} if code.is_dir() else set()
        local = dependencies.unpackaged(state["modules"], shipped)
        if local:
            warnings.warn(
                f"the model refers to module{'s' if len(local) > 1 else ''} {', '.join(map(repr, local))}, which "
                "is neither an installed package nor in code_paths, so it will not load where that file is "
                f"missing; pass code_paths=[...] with {'their' if len(local) > 1 else 'its'} file, or define the "
                "class in the notebook",
                stacklevel=3,
            )
        # The pickle refers to this module's PythonModel (or _ObjectModel) class, so loading needs this package.
        return dependencies.resolve_requirements(state["modules"] | used, ["cloudpickle", "jupyter-lifecycle"],
                                                 pip_requirements, extra_pip_requirements)  # fmt: skip

    model = write_model_folder(
        path, write, signature=signature, input_example=input_example,
        predict_example=predict_example if input_example is not None else None, code_paths=code_paths,
        requirements=requirements, metadata=metadata, model=_model,
    )  # fmt: skip
    return model.get_model_info()


def log_model(
    artifact_path: str | None = None,
    python_model: Any = None,
    artifacts: dict[str, Any] | None = None,
    code_paths: list[str | os.PathLike[str]] | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: dict[str, Any] | None = None,
    model_config: dict[str, Any] | None = None,
    registered_model_name: str | None = None,
    *,
    name: str | None = None,
    run_id: str | None = None,
    params: dict[str, Any] | None = None,
    tags: dict[str, Any] | None = None,
    model_type: str | None = None,
    step: int = 0,
    model_id: str | None = None,
) -> ModelInfo:
    """Log a custom model as a logged model (``info.model_uri`` is ``models:/<model_id>``).

    Takes the arguments of ``save_model``. In a run the files go to the
    run's artifacts (``runs:/<run_id>/<name>`` works too); without one, no
    run is started. ``params``, ``tags`` and ``model_type`` describe the
    logged model; ``model_id`` fills one made by ``initialize_logged_model``;
    ``registered_model_name`` registers it as a new version of that name.
    """
    from .models.logged import log_model_folder

    def save(folder: Path, model: Model) -> Model:
        save_model(folder, python_model, artifacts, code_paths, signature, input_example, pip_requirements,
                   extra_pip_requirements, metadata, model_config, _model=model)  # fmt: skip
        return Model.load(folder)

    info = log_model_folder(artifact_path, save, run_id=run_id, name=name, params=params, tags=tags,
                            model_type=model_type, step=step, model_id=model_id)  # fmt: skip
    return _register(info, registered_model_name)


def _register(info: ModelInfo, registered_model_name: str | None) -> ModelInfo:
    if registered_model_name:
        from dataclasses import replace

        from .registry import register_model

        version = register_model(info.model_uri, registered_model_name)
        return replace(info, registered_model_version=version.version)
    return info


def load_model(
    model_uri: str | os.PathLike[str],
    suppress_warnings: bool = False,
    dst_path: str | os.PathLike[str] | None = None,
    model_config: dict[str, Any] | None = None,
) -> PyFuncModel:
    """Load any model in MLflow's format as a ``PyFuncModel`` whose ``predict`` checks the signature.

    Accepts ``runs:/<run_id>/<path>``, ``models:/<name>/<version>`` (and
    ``@alias``, ``/<stage>``), ``file://`` URIs and paths. Files are checked
    against the sha256 recorded at save time. ``dst_path`` copies the model
    folder there first.
    """
    if dst_path is not None:
        from .models.uri import resolve_model_uri

        source = resolve_model_uri(model_uri)
        target = Path(dst_path) / source.name
        shutil.copytree(source, target, dirs_exist_ok=True)
        model_uri = target
    return load_pyfunc(model_uri, model_config=model_config)


def get_model_dependencies(model_uri: str | os.PathLike[str], format: str = "pip") -> str:
    """The path of the model's ``requirements.txt`` (or ``conda.yaml`` with ``format="conda"``)."""
    from .models.dependencies import get_model_dependencies as get

    return get(model_uri, format)
