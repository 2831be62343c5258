"""The flavor registry and ``PyFuncModel``, the object ``load_model`` returns.

A flavor tells how to load one kind of model. ``MLmodel`` names a
``loader_module`` under ``python_function``; models saved here name modules
MLflow has (``mlflow.sklearn``, ``mlflow.pyfunc.model``) so that MLflow loads
them, and this registry maps those names to this project's loaders, so
MLflow is never needed here.

Flavors register themselves: a flavor module calls ``register_flavor`` when
imported, and declares itself under the ``jupyter_lifecycle.flavors`` entry
point group (one entry per flavor name and loader module, the value being the
module), so that it is found without this registry importing it and without
importing every framework up front (as papermill finds its engines). A
package of your own adds a flavor the same way. A loader module nobody
registered falls back to MLflow's own module when MLflow is installed.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, NotFound
from .dependencies import warn_on_mismatch
from .model import Model, verify_model
from .uri import resolve_model_uri

PYFUNC = "python_function"


@dataclass(frozen=True)
class Flavor:
    """How to load models of one flavor.

    ``load_pyfunc(folder, python_function_conf)`` returns an object with
    ``predict(data, params=None)``; ``load_native(folder, flavor_conf)``
    returns the framework's own object (the estimator, the booster...).
    """

    name: str
    loader_modules: tuple[str, ...]
    load_pyfunc: Callable[[Path, dict[str, Any]], Any]
    load_native: Callable[[Path, dict[str, Any]], Any] | None = None


_FLAVORS: dict[str, Flavor] = {}
_BY_LOADER: dict[str, Flavor] = {}

ENTRY_POINT_GROUP = "jupyter_lifecycle.flavors"
"""Entry point group: flavor or loader-module name -> the module that registers it when imported."""


def register_flavor(flavor: Flavor) -> None:
    """Make a flavor loadable by its name and by each of its ``loader_modules``."""
    _FLAVORS[flavor.name] = flavor
    for module in flavor.loader_modules:
        _BY_LOADER[module] = flavor


def get_flavor(name: str) -> Flavor | None:
    """The registered flavor with this name or loader module, importing its module if needed."""
    found = _FLAVORS.get(name) or _BY_LOADER.get(name)
    if found is None:
        for entry in entry_points(group=ENTRY_POINT_GROUP, name=name):
            entry.load()  # importing the module registers its flavor
        found = _FLAVORS.get(name) or _BY_LOADER.get(name)
    return found


def list_flavors() -> list[str]:
    """Names of the flavors registered so far (built-in ones register on first use)."""
    return sorted(_FLAVORS)


def add_code_paths(folder: Path, conf: dict[str, Any]) -> None:
    """Put the model's ``code/`` folder first on ``sys.path`` (and forget stale copies of its modules)."""
    code = conf.get("code")
    if not code:
        return
    root = folder / code
    entry = str(root)
    if entry not in sys.path:
        sys.path.insert(0, entry)
    for child in root.iterdir():
        name = child.stem if child.suffix == ".py" else child.name
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None) or ""
        if module is not None and not origin.startswith(entry):
            del sys.modules[name]  # another model's or the notebook's version of the same module


class PyFuncModel:
    """A loaded model with MLflow's ``PyFuncModel`` interface: ``predict`` checks the signature."""

    def __init__(self, metadata: Model, impl: Any, model_path: Path) -> None:
        self._meta = metadata
        self._impl = impl
        self.model_path = model_path
        conf = metadata.flavors.get(PYFUNC, {})
        self._predict = getattr(impl, conf.get("predict_fn", "predict"))
        signature = metadata.signature
        self._inputs = signature.inputs if signature is not None else None
        self._params = signature.params if signature is not None else None

    @property
    def metadata(self) -> Model:
        """The model's ``MLmodel`` contents (signature, flavors, run id...)."""
        return self._meta

    @property
    def model_id(self) -> str | None:
        """The logged-model id (``None`` for a model saved outside a run)."""
        return self._meta.model_id

    @property
    def loader_module(self) -> str:
        """The ``loader_module`` named in ``MLmodel``."""
        return str(self._meta.flavors.get(PYFUNC, {}).get("loader_module"))

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Predict on a DataFrame, numpy array, dict or list, after checking it against the signature."""
        from .enforce import enforce_params, enforce_schema

        if self._inputs is not None:
            data = enforce_schema(data, self._inputs)
        if self._params is not None:
            params = enforce_params(params, self._params)
        if params:
            return self._predict(data, params=params)
        return self._predict(data)

    def unwrap_python_model(self) -> Any:
        """The ``PythonModel`` instance inside (MLflow's name); the raw object for other flavors."""
        unwrap = getattr(self._impl, "unwrap_python_model", None)
        if unwrap is not None:
            return unwrap()
        return getattr(self._impl, "model", self._impl)

    def get_raw_model(self) -> Any:
        """The underlying framework object (the estimator for sklearn)."""
        return getattr(self._impl, "model", self._impl)

    def __repr__(self) -> str:
        return f"mlflow.pyfunc.loaded_model:\n  path: {self.model_path}\n  flavor: {self.loader_module}\n"


def _load_with_mlflow(loader: str, data_path: Path) -> Any:
    try:
        module = importlib.import_module(loader)
    except ImportError:
        known = ", ".join(sorted(_BY_LOADER)) or "none yet"
        raise NotFound(
            f"no flavor can load this model: its loader_module is {loader!r}, which jupyter-lifecycle does not "
            f"know (known: {known}) and which cannot be imported. Install the package that provides it "
            "(for MLflow's flavors: pip install mlflow), or register a Flavor for it with "
            "jupyter_lifecycle.models.register_flavor."
        ) from None
    return module._load_pyfunc(str(data_path))


def load_pyfunc(
    model_uri: str | os.PathLike[str],
    verify: bool = True,
    model_config: dict[str, Any] | None = None,
    suppress_warnings: bool = False,
) -> PyFuncModel:
    """Load any model as a ``PyFuncModel`` (``mlflow.pyfunc.load_model``).

    The folder's files are checked against their recorded sha256 first
    (``verify=False`` skips that). ``model_config`` overrides the saved
    ``config`` a ``PythonModel`` sees in its context. A ``requirements.txt``
    pin the environment does not meet is warned about once, as MLflow does
    (``suppress_warnings=True`` silences it).
    """
    folder = resolve_model_uri(model_uri)
    meta = verify_model(folder) if verify else Model.load(folder)
    if not suppress_warnings:
        warn_on_mismatch(folder)
    conf = meta.flavors.get(PYFUNC)
    if conf is None:
        raise InvalidInput(
            f"the model at {str(model_uri)!r} has no python_function flavor (it has {', '.join(meta.flavors) or 'none'}); "
            "load it with its own flavor's load_model instead"
        )
    add_code_paths(folder, conf)
    loader = str(conf.get("loader_module", ""))
    flavor = get_flavor(loader)
    if model_config:
        conf = {**conf, "config": {**(conf.get("config") or {}), **model_config}}
    if flavor is not None:
        impl = flavor.load_pyfunc(folder, conf)
    else:
        impl = _load_with_mlflow(loader, folder / conf["data"] if "data" in conf else folder)
    return PyFuncModel(meta, impl, folder)


def load_native(model_uri: str | os.PathLike[str], flavor_name: str, verify: bool = True) -> Any:
    """Load a model as its framework's own object through the named flavor."""
    folder = resolve_model_uri(model_uri)
    meta = verify_model(folder) if verify else Model.load(folder)
    conf = meta.flavors.get(flavor_name)
    if conf is None:
        raise InvalidInput(
            f"the model at {str(model_uri)!r} has no {flavor_name} flavor (it has {', '.join(meta.flavors)}); "
            "load it with lc.pyfunc.load_model instead"
        )
    flavor = get_flavor(flavor_name)
    if flavor is None or flavor.load_native is None:
        raise NotFound(f"no loader is registered for the {flavor_name!r} flavor")
    add_code_paths(folder, meta.flavors.get(PYFUNC, {}) | conf)
    return flavor.load_native(folder, conf)
