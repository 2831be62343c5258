"""Models from code (MLflow's): a Python file builds the model and hands it over with ``set_model``.

``lc.pyfunc.log_model(name="m", python_model="model.py")`` copies the file
into the model folder instead of pickling an object; loading runs the file
again, which calls ``lc.models.set_model(model)``. No pickle is involved, so
the model loads wherever its file's imports do.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from ..errors import InvalidInput

LOADER_MODULE = "mlflow.pyfunc.loaders.code_model"  # MLflow's loader for these models
MODULE_PREFIX = "jupyter_lifecycle_code_model_"
"""The name of the module a code file runs as starts with this (it is no requirement of the model)."""
_set: list[Any] = []


def set_model(model: Any) -> None:
    """Hand the model a models-from-code file builds to the loader (call it once, at the end of the file).

    Takes a ``PythonModel`` instance, an object with ``predict``, or a
    function. When MLflow itself is running the file (``mlflow.pyfunc.load_model``
    on a model saved here), the model is handed to MLflow's loader too, as a
    function MLflow understands.
    """
    if isinstance(model, (str, os.PathLike)) or not (hasattr(model, "predict") or callable(model)):
        raise InvalidInput(f"set_model takes a PythonModel, an object with predict, or a function, not {type(model).__name__}")
    _set.append(model)
    mlflow_models = sys.modules.get("mlflow.models")
    if mlflow_models is not None and hasattr(mlflow_models, "set_model"):
        mlflow_models.set_model(_as_function(model))


def _as_function(model: Any) -> Any:
    if callable(model) and not hasattr(model, "predict"):
        return model
    predict = model.predict
    try:
        import inspect

        names = [n for n in inspect.signature(predict).parameters if n not in ("self", "params")]
    except (TypeError, ValueError):
        names = []
    if len(names) == 2:  # a PythonModel's predict(context, model_input): no context outside this loader
        return lambda model_input: predict(None, model_input)
    return lambda model_input: predict(model_input)


def check_code_file(path: str | os.PathLike[str]) -> Path:
    """The absolute path of a models-from-code file, or ``InvalidInput`` saying what is wrong."""
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        hint = f" (did you mean {file.name}.py?)" if not file.suffix else ""
        raise InvalidInput(f"python_model {os.fspath(path)!r} is not a file{hint}: give the path of a .py file "
                           "that calls lc.models.set_model(...)")  # fmt: skip
    if file.suffix != ".py":
        raise InvalidInput(f"python_model {os.fspath(path)!r} must be a .py file that calls lc.models.set_model(...)")
    return file


def load_code_model(file: Path) -> Any:
    """Run a models-from-code file as a fresh module and return the model it passed to ``set_model``."""
    name = f"{MODULE_PREFIX}{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"cannot load {str(file)!r} as Python code")
    module = importlib.util.module_from_spec(spec)
    before = len(_set)
    sys.modules[name] = module  # so classes defined in the file pickle and resolve by name while it runs
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise InvalidInput(f"running the model code {str(file)!r} failed: {type(exc).__name__}: {exc}") from exc
    if len(_set) == before:
        raise InvalidInput(f"the model code {str(file)!r} never called lc.models.set_model(model): add that call "
                           "at the end of the file")  # fmt: skip
    return _set.pop()
