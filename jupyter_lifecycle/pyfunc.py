"""The ``python_function`` flavor, as ``mlflow.pyfunc``: custom models and loading any model.

``save_model``/``log_model`` take a ``PythonModel`` subclass instance, any
object with a ``predict`` method, or a plain function. The folder names
MLflow's loader (``loader_module: mlflow.pyfunc.model``, ``python_model:
python_model.pkl``), so MLflow's ``pyfunc.load_model`` loads it too; the
pickled class refers to this module's ``PythonModel``, so that environment
needs jupyter-lifecycle installed, and ``requirements.txt`` says so.
"""

from __future__ import annotations

import datetime
import inspect
import os
import platform
import shutil
import typing
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from .errors import InvalidInput, NotFound
from .models import code, dependencies
from .models.flavors import PYFUNC, Flavor, PyFuncModel, load_pyfunc, register_flavor
from .models.model import Model, ModelInfo
from .models.signature import Array, ColSpec, ModelSignature, Schema

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
        """``predict``'s type hints for the input and the output (``None`` when absent); MLflow's loader reads them."""
        return SimpleNamespace(input=_input_hint(self.predict), output=_hints(self.predict).get("return"))


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


def _hints(func: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(func)
    except Exception:  # a hint naming something undefined: treat the function as unhinted
        return {}


def _input_hint(predict: Any) -> Any:
    """The type hint of ``predict``'s input argument (after ``context`` when it takes one), or ``None``."""
    names = [n for n in _parameters(predict) if n not in ("self", "params")]
    if not names:
        return None
    return _hints(predict).get(names[1] if _takes_context(predict) and len(names) > 1 else names[0])


_HINT_TYPES = {str: "string", int: "long", float: "double", bool: "boolean", bytes: "binary",
               datetime.datetime: "datetime"}  # fmt: skip


def _hint_type(hint: Any) -> Any:
    """The signature column type of one element type hint (MLflow 3's mapping)."""
    if hint in _HINT_TYPES:
        return _HINT_TYPES[hint]
    if hint is Any:
        return {"type": "any"}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list and len(args) == 1:
        return Array(_hint_type(args[0]))
    if origin is dict and len(args) == 2 and args[0] is str:
        value = _hint_type(args[1])
        return {"type": "map", "values": value.to_dict() if isinstance(value, Array) else
                value if isinstance(value, dict) else {"type": value}}  # fmt: skip
    raise InvalidInput(
        f"cannot build a signature from the type hint {hint!r}: use str, int, float, bool, bytes, datetime, "
        "Any, list[...] or dict[str, ...] as the element type, or pass signature="
    )


def _signature_from_hints(python_model: Any) -> ModelSignature | None:
    """MLflow 3's signature from ``predict(self, model_input: list[X]) -> list[Y]`` hints, or ``None`` without them."""
    hint = _input_hint(python_model.predict)
    if typing.get_origin(hint) is not list:  # no hint, or a DataFrame/array one: the example decides, as before
        return None
    (element,) = typing.get_args(hint) or (Any,)
    output = _hints(python_model.predict).get("return")
    outputs = None
    if typing.get_origin(output) is list and typing.get_args(output):
        outputs = Schema([ColSpec(_hint_type(typing.get_args(output)[0]))])
    return ModelSignature(inputs=Schema([ColSpec(_hint_type(element))]), outputs=outputs)


def _hinted_input(data: Any, hint: Any) -> Any:
    """Data shaped as ``predict``'s ``list[...]`` hint asks: a one-column frame (or records) becomes a list."""
    import pandas as pd

    element = (typing.get_args(hint) or (Any,))[0]
    if isinstance(data, pd.DataFrame):
        if element is dict or typing.get_origin(element) is dict:
            return data.iloc[:, 0].tolist() if list(data.columns) == [0] else data.to_dict(orient="records")
        return data.iloc[:, 0].tolist()
    if isinstance(data, pd.Series):
        return data.tolist()
    if hasattr(data, "tolist") and not isinstance(data, (list, str)):
        return data.tolist()
    return data


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
        hint = _input_hint(python_model.predict)
        self._list_hint = hint if typing.get_origin(hint) is list or hint is list else None

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Call the model's ``predict`` with or without the context, as it is declared.

        A ``predict`` hinted ``model_input: list[...]`` receives a list, as in
        MLflow 3, even when the caller (or the signature check) built a DataFrame.
        """
        if self._list_hint is not None:
            data = _hinted_input(data, self._list_hint)
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


def _load_code_python_model(folder: Path, conf: dict[str, Any]) -> Any:
    # MLflow keeps the file beside MLmodel and records where it came from: load the copy.
    model = code.load_code_model(folder / Path(str(conf.get("model_code_path", ""))).name)
    python_model = model if isinstance(model, PythonModel) else _ObjectModel(model)
    artifacts = {name: str(folder / info["path"]) for name, info in (conf.get("artifacts") or {}).items()}
    context = PythonModelContext(artifacts, conf.get("config"))
    python_model.load_context(context)
    return _PythonModelImpl(python_model, context)


register_flavor(Flavor(PYFUNC, (LOADER_MODULE, __name__), _load_python_model))
register_flavor(Flavor(f"{PYFUNC}.code", (code.LOADER_MODULE,), _load_code_python_model))


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
    conda_env: str | os.PathLike[str] | dict[str, Any] | None = None,
    infer_code_paths: bool = False,
    code_path: list[str | os.PathLike[str]] | None = None,
    _model: Model | None = None,
) -> ModelInfo:
    """Save a custom model to a local folder in MLflow's format.

    ``python_model`` is a ``PythonModel`` instance, any object with
    ``predict``, a function, or the path of a ``.py`` file that builds the
    model and calls ``lc.models.set_model(model)`` (MLflow's models from
    code: the file is kept instead of a pickle). ``artifacts`` (``{name: path or URI}``) are
    copied into ``artifacts/`` and handed to ``load_context``; ``code_paths``
    are copied into ``code/`` and put on ``sys.path`` at load. The signature
    is inferred from ``input_example`` when not given; requirements are
    inferred from what the model uses unless ``pip_requirements`` replaces
    them (``extra_pip_requirements`` adds to them); ``conda_env`` (a dict or a
    ``conda.yaml`` path) is kept as the model's ``conda.yaml`` and its ``pip``
    list becomes the requirements. ``infer_code_paths=True`` adds the local
    modules (files not installed as packages) the model's pickle refers to to
    ``code_paths``; ``code_path`` is MLflow's older name for ``code_paths``.
    """
    import io

    import cloudpickle

    from .models.model import write_model_folder

    if python_model is None:
        raise InvalidInput("save_model needs python_model=: a PythonModel instance, an object with predict, or a function")
    code_file = None
    if isinstance(python_model, (str, os.PathLike)):  # models from code: the file builds the model
        code_file = code.check_code_file(python_model)
        python_model, code_modules = dependencies.record_imports(lambda: code.load_code_model(code_file))
    if not isinstance(python_model, PythonModel):
        if not (hasattr(python_model, "predict") or callable(python_model)):
            raise InvalidInput(f"python_model must have a predict method or be callable; got {type(python_model).__name__}")
        python_model = _ObjectModel(python_model)
    elif signature is None:
        signature = _signature_from_hints(python_model)  # MLflow 3: a type-hinted predict defines the signature
    pip_requirements, extra_pip_requirements, conda = dependencies.environment_arguments(
        conda_env, pip_requirements, extra_pip_requirements
    )
    code_paths = dependencies.code_paths_argument(code_paths, code_path)
    if infer_code_paths and code_file is None:
        local = dependencies.local_module_files(dependencies.pickle_recording(python_model, io.BytesIO()))
        code_paths = [*(code_paths or []), *local]
    state: dict[str, Any] = {}

    def write(folder: Path) -> dict[str, Any]:
        saved = _copy_artifacts(folder, artifacts) if artifacts else None
        state["artifacts"] = saved or {}
        conf: dict[str, Any] = {}
        if saved:
            conf["artifacts"] = saved
        if code_file is not None:
            shutil.copy2(code_file, folder / code_file.name)
            state["modules"] = code_modules
            conf.update({"code": None, "loader_module": code.LOADER_MODULE, "model_code_path": str(code_file),
                         "python_version": platform.python_version(), "streamable": False})  # fmt: skip
        else:
            with open(folder / PICKLE, "wb") as handle:
                state["modules"] = dependencies.pickle_recording(python_model, handle)
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
        if code_file is not None:
            conf["model_code_path"] = code_file.name
            loaded = _load_code_python_model(state["folder"], conf)
        else:
            loaded = _load_python_model(state["folder"], conf)
        return loaded.predict(example)

    def requirements(folder: Path, used: set[str]) -> list[str]:
        code_dir = folder / "code"
        shipped = {p.stem if p.suffix == ".py" else p.name for p in code_dir.iterdir()} if code_dir.is_dir() else set()
        modules = {m for m in state["modules"] | used if not m.startswith(code.MODULE_PREFIX)}
        local = dependencies.unpackaged(modules, shipped)
        if local:
            warnings.warn(
                f"the model refers to module{'s' if len(local) > 1 else ''} {', '.join(map(repr, local))}, which "
                "is neither an installed package nor in code_paths, so it will not load where that file is "
                f"missing; pass code_paths=[...] with {'their' if len(local) > 1 else 'its'} file, or define the "
                "class in the notebook",
                stacklevel=3,
            )
        # The pickle refers to this module's PythonModel (or _ObjectModel) class, so loading needs this package.
        return dependencies.resolve_requirements(modules, ["cloudpickle", "jupyter-lifecycle"],
                                                 pip_requirements, extra_pip_requirements)  # fmt: skip

    model = write_model_folder(
        path, write, signature=signature, input_example=input_example,
        predict_example=predict_example if input_example is not None else None, code_paths=code_paths,
        requirements=requirements, metadata=metadata, model=_model, conda_env=conda,
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
    conda_env: str | os.PathLike[str] | dict[str, Any] | None = None,
    infer_code_paths: bool = False,
    code_path: list[str | os.PathLike[str]] | None = None,
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
                   extra_pip_requirements, metadata, model_config, conda_env=conda_env,
                   infer_code_paths=infer_code_paths, code_path=code_path, _model=model)  # fmt: skip
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
    folder there first. A requirement the environment does not meet is
    warned about once per model (``suppress_warnings=True`` silences it).
    """
    if dst_path is not None:
        from .models.uri import resolve_model_uri

        source = resolve_model_uri(model_uri)
        target = Path(dst_path) / source.name
        shutil.copytree(source, target, dirs_exist_ok=True)
        model_uri = target
    return load_pyfunc(model_uri, model_config=model_config, suppress_warnings=suppress_warnings)


def get_model_dependencies(model_uri: str | os.PathLike[str], format: str = "pip") -> str:
    """The path of the model's ``requirements.txt`` (or ``conda.yaml`` with ``format="conda"``)."""
    from .models.environment import get_model_dependencies as get

    return get(model_uri, format)
