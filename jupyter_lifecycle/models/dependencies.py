"""A model's Python requirements: inferred from what it really uses, pinned.

Two sources of module names, both cheap and in-process (MLflow starts a
subprocess for this, which is most of its 5.8 s ``log_model``):

- every object, class, function and module the pickler writes (a
  ``persistent_id`` hook sees each one), so a pickled scikit-learn pipeline
  names ``sklearn`` and ``numpy``, and a ``PythonModel`` defined in a
  notebook names the modules its methods refer to;
- every Python and C function called while the model predicts on the input
  example (``sys.setprofile``), which catches lazy imports and libraries
  used only at predict time.

Top-level module names map to distributions with
``importlib.metadata.packages_distributions()`` and are pinned to the
installed versions. Standard-library and local modules (``code_paths``) are
left out; never the whole environment.
"""

from __future__ import annotations

import importlib.metadata as metadata
import io
import json
import os
import platform
import shutil
import sys
import threading
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..errors import InvalidInput

REQUIREMENTS = "requirements.txt"
WHEELS = "wheels"
PYTHON_ENV = "python_env.yaml"
CONDA_ENV = "conda.yaml"

# _distutils_hack is setuptools' import hook: it runs on every import, for any model.
_SKIP = set(sys.stdlib_module_names) | {"__main__", "builtins", "__mp_main__", "_distutils_hack", ""}
_distributions: dict[str, list[str]] | None = None
_LIBRARY_DIRS = (f"{os.sep}site-packages{os.sep}", f"{os.sep}dist-packages{os.sep}")
_library_files: dict[str, bool] = {}
_lock = threading.Lock()


def _top(name: object) -> str | None:
    if not isinstance(name, str):
        return None
    top = name.partition(".")[0]
    return None if top in _SKIP or top.startswith("_cython") else top


def pickle_recording(obj: Any, file: io.BufferedIOBase | Any) -> set[str]:
    """Pickle ``obj`` into ``file`` with cloudpickle; return the top-level modules it referenced."""
    import cloudpickle

    modules: set[str] = set()
    seen_types: set[type] = set()

    class RecordingPickler(cloudpickle.Pickler):  # type: ignore[misc]
        def persistent_id(self, item: Any) -> None:
            kind = type(item)
            if kind not in seen_types:
                seen_types.add(kind)
                top = _top(kind.__module__)
                if top:
                    modules.add(top)
            if isinstance(item, type) or callable(item) and hasattr(item, "__module__"):
                top = _top(getattr(item, "__module__", None))
                if top:
                    modules.add(top)
            elif kind.__name__ == "module":
                top = _top(item.__name__)
                if top:
                    modules.add(top)
            return None

    RecordingPickler(file, protocol=cloudpickle.DEFAULT_PROTOCOL).dump(obj)
    return modules


def _library_file(filename: str) -> bool:
    """Whether code from ``filename`` belongs to an installed distribution (not the model's own code)."""
    known = _library_files.get(filename)
    if known is None:
        known = _library_files[filename] = any(part in filename for part in _LIBRARY_DIRS)
    return known


def _model_side(frame: Any) -> bool:
    """Whether ``frame`` runs the model's code: a notebook, a local module, or this package's
    predict wrappers. Standard-library frames (functools, contextlib...) are looked through."""
    for _ in range(8):
        name = frame.f_globals.get("__name__", "") or ""
        top = name.partition(".")[0]
        if top == "jupyter_lifecycle":
            return True
        if top not in sys.stdlib_module_names or top == "__main__":
            return not _library_file(frame.f_code.co_filename)
        frame = frame.f_back
        if frame is None:
            return True
    return False


def record_imports(call: Callable[[], Any]) -> tuple[Any, set[str]]:
    """Run ``call()``; return its result and the top-level modules predicting needs.

    Those are the modules whose functions the model's own code calls (a
    notebook, local modules, this package's wrappers: not what a library
    calls inside itself, which its own requirements bring), and the
    top-level packages first imported while it runs. So a scikit-learn model
    fed a DataFrame names ``sklearn``, not the ``pyarrow`` and ``narwhals``
    that pandas and scikit-learn call internally (issue #14).
    """
    modules: set[str] = set()
    before = set(sys.modules)

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            caller = frame.f_back
            if caller is None or _model_side(caller):
                modules.add(frame.f_globals.get("__name__", ""))
        elif event == "c_call" and _model_side(frame):
            modules.add(getattr(arg, "__module__", None) or "")

    if sys.getprofile() is not None:  # someone is profiling (cProfile): leave their hook alone
        result = call()
    else:
        sys.setprofile(profile)
        try:
            result = call()
        finally:
            sys.setprofile(None)
    loaded_before = {name.partition(".")[0] for name in before}
    modules |= {name for name in set(sys.modules) - before if name.partition(".")[0] not in loaded_before}
    # Our own frames (the call wrapper) are not the model's; a PythonModel
    # still names jupyter_lifecycle through its pickled base class.
    return result, {top for m in modules if (top := _top(m)) and top != "jupyter_lifecycle"}


def _environment_key() -> str:
    """Changes whenever a package is installed or removed (its site-packages folder's mtime changes)."""
    parts = [sys.prefix]
    for entry in sys.path:
        if entry.endswith(("site-packages", "dist-packages")):
            try:
                parts.append(f"{entry}:{os.stat(entry).st_mtime_ns}")
            except OSError:
                continue
    return "\n".join(parts)


def _distribution_map() -> dict[str, list[str]]:
    """``packages_distributions()``, kept per process and on disk until the environment changes.

    Computing it reads every installed distribution's file list (~0.2 s
    here), which alone would take half of ``log_model``'s time budget.
    """
    global _distributions
    with _lock:
        if _distributions is not None:
            return _distributions
        from .. import config

        key = _environment_key()
        import hashlib

        venv = hashlib.sha256(sys.prefix.encode()).hexdigest()[:16]  # one file per environment
        cache = config.CACHE_DIR / f"packages_distributions-{venv}.json"
        try:
            saved = json.loads(cache.read_text())
            if saved.get("key") == key:
                _distributions = {k: list(v) for k, v in saved["map"].items()}
                return _distributions
        except (OSError, ValueError, KeyError, AttributeError):
            pass
        _distributions = {k: list(v) for k, v in metadata.packages_distributions().items()}
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"key": key, "map": _distributions}))
            os.replace(tmp, cache)
        except OSError:
            pass  # a read-only home only loses the cache
        return _distributions


def distributions_for(modules: Iterable[str]) -> dict[str, str]:
    """``{distribution: version}`` for top-level module names (unknown and local modules are skipped)."""
    found: dict[str, str] = {}
    mapping: dict[str, list[str]] | None = None
    for module in sorted(set(modules)):
        names: list[str] = []
        try:  # the common case, module name == distribution name, needs no scan
            dist = metadata.distribution(module)
            if module in (_read_top_level(dist) or [module]):
                names = [dist.metadata["Name"]]
        except metadata.PackageNotFoundError:
            pass
        if not names and module == "jupyter_lifecycle":
            names = ["jupyter-lifecycle"]  # an editable install lists no top-level packages
        if not names:
            mapping = mapping if mapping is not None else _distribution_map()
            names = mapping.get(module, [])
        for name in names:
            try:
                found[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                continue
    return found


def unpackaged(modules: Iterable[str], shipped: Iterable[str] = ()) -> list[str]:
    """Modules that are neither installed distributions nor ``shipped`` (in ``code/``): local files.

    A pickled class from such a module loads only where that file is importable.
    """
    known = set(distributions_for(modules))
    mapping = _distribution_map()
    out = []
    for module in sorted(set(modules) - set(shipped) - {"jupyter_lifecycle"}):
        if mapping.get(module) or any(module.replace("_", "-").lower() == k.lower() for k in known):
            continue
        try:
            metadata.distribution(module)
        except metadata.PackageNotFoundError:
            out.append(module)
    return out


def local_module_files(modules: Iterable[str]) -> list[Path]:
    """The files (or package folders) of the local modules among ``modules``: what ``infer_code_paths`` ships."""
    out = []
    for name in unpackaged(modules):
        module = sys.modules.get(name)
        file = getattr(module, "__file__", None)
        if name == "__main__" or name in sys.stdlib_module_names or not file:
            continue  # notebook classes pickle by value; the standard library is everywhere
        path = Path(file)
        out.append(path.parent if path.name == "__init__.py" else path)
    return out


def _read_top_level(dist: metadata.Distribution) -> list[str] | None:
    text = dist.read_text("top_level.txt")
    return text.split() if text else None


def pinned(distributions: dict[str, str]) -> list[str]:
    """``name==version`` lines, sorted."""
    return [f"{name}=={version}" for name, version in sorted(distributions.items(), key=lambda kv: kv[0].lower())]


def read_requirements(spec: str | os.PathLike[str] | Iterable[str]) -> list[str]:
    """Requirement lines from a list, or from a requirements file path."""
    if isinstance(spec, (str, os.PathLike)):
        path = Path(spec)
        if not path.is_file():
            raise InvalidInput(f"pip_requirements {str(spec)!r} is not a file; pass a list of requirement strings "
                               "or the path of a requirements.txt")  # fmt: skip
        spec = path.read_text().splitlines()
    return [line.strip() for line in spec if line.strip() and not line.strip().startswith("#")]


def requirement_name(line: str) -> str:
    """The distribution name a requirement line names, normalized (``Scikit_Learn>=1`` -> ``scikit-learn``)."""
    import re

    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else line.strip().lower()


def resolve_requirements(
    modules: Iterable[str],
    always: Iterable[str] = (),
    pip_requirements: str | os.PathLike[str] | Iterable[str] | None = None,
    extra_pip_requirements: str | os.PathLike[str] | Iterable[str] | None = None,
) -> list[str]:
    """The final ``requirements.txt`` lines.

    ``pip_requirements`` replaces the inferred list; ``extra_pip_requirements``
    adds to it (an extra line naming an inferred distribution replaces that pin).
    ``always`` lists distributions the flavor needs in any case (cloudpickle...).
    """
    if pip_requirements is not None and extra_pip_requirements is not None:
        raise InvalidInput("pass pip_requirements (replaces the inferred list) or extra_pip_requirements (adds to it), "
                           "not both")  # fmt: skip
    if pip_requirements is not None:
        return read_requirements(pip_requirements)
    found = distributions_for(modules)
    for name in always:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    lines = pinned(found)
    if extra_pip_requirements is not None:
        extra = read_requirements(extra_pip_requirements)
        names = {requirement_name(e) for e in extra}
        lines = [line for line in lines if requirement_name(line) not in names] + extra
    return lines


_checked: set[Path] = set()


def requirement_mismatches(folder: Path) -> list[str]:
    """Each line of the model's ``requirements.txt`` that the running environment does not satisfy, explained."""
    from packaging.requirements import InvalidRequirement, Requirement

    path = folder / "requirements.txt"
    if not path.is_file():
        return []
    problems = []
    for line in read_requirements(path):
        if line.startswith("-"):  # pip options (-r, --index-url...) say nothing about this environment
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement:  # a path or URL (a local wheel): nothing to compare
            continue
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        if requirement_name(requirement.name) in ("mlflow", "mlflow-skinny"):
            continue  # models saved by MLflow name it, but this project loads their formats itself
        installed, label = _version(requirement.name), ""
        if installed is None:  # another build of it may provide the same package: xgboost as xgboost-cpu
            provider = _provider(requirement.name)
            installed, label = (None, "") if provider is None else (_version(provider), f"{provider} ")
        if installed is None:
            problems.append(f"{line} (not installed)")
        elif requirement.specifier and not requirement.specifier.contains(installed, prereleases=True):
            problems.append(f"{line} (installed: {label}{installed})")
    return problems


def _provider(name: str) -> str | None:
    """The installed distribution that provides the import package a distribution ``name`` would
    (``xgboost-cpu`` for ``xgboost``), else ``None``."""
    providers = _distribution_map().get(requirement_name(name).replace("-", "_"), [])
    return providers[0] if providers else None


def warn_on_mismatch(folder: Path) -> None:
    """Warn once per model folder and process when its requirements differ from this environment, as MLflow does."""
    if folder in _checked:
        return
    _checked.add(folder)
    problems = requirement_mismatches(folder)
    if problems:
        warnings.warn(
            f"the model in {str(folder)!r} was saved with requirements this environment does not meet: "
            f"{'; '.join(problems)}. Predictions may differ or fail; install them with "
            f"`pip install -r {folder / 'requirements.txt'}` (or score it with env_manager='virtualenv')",
            stacklevel=3,
        )


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment_arguments(
    conda_env: str | os.PathLike[str] | dict[str, Any] | None,
    pip_requirements: Any,
    extra_pip_requirements: Any,
) -> tuple[Any, Any, dict[str, Any] | None]:
    """MLflow's three ways to state a model's environment, as ``(pip_requirements, extra, conda.yaml)``.

    ``conda_env`` (a dict or a ``conda.yaml`` path) is kept as the model's
    ``conda.yaml`` and its ``pip:`` list becomes ``requirements.txt``, as in
    MLflow; it excludes the other two, which MLflow refuses to mix too.
    """
    if conda_env is None:
        return pip_requirements, extra_pip_requirements, None
    if pip_requirements is not None or extra_pip_requirements is not None:
        raise InvalidInput("give only one of conda_env, pip_requirements and extra_pip_requirements")
    import yaml

    if isinstance(conda_env, (str, os.PathLike)):
        path = Path(conda_env)
        if not path.is_file():
            raise InvalidInput(f"conda_env {os.fspath(conda_env)!r} is not a file: give a conda.yaml path or a dict")
        try:
            conda_env = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise InvalidInput(f"conda_env {os.fspath(path)!r} is not valid YAML: {exc}") from None
    if not isinstance(conda_env, dict) or not isinstance(conda_env.get("dependencies", []), list):
        raise InvalidInput("conda_env must be a mapping with a 'dependencies' list, as in a conda.yaml")
    pip: list[str] = []
    for item in conda_env.get("dependencies", []):
        if isinstance(item, dict) and "pip" in item:
            if not isinstance(item["pip"], list) or not all(isinstance(line, str) for line in item["pip"]):
                raise InvalidInput("conda_env's 'pip' entry must be a list of requirement strings")
            pip.extend(item["pip"])
    return pip, None, conda_env


def code_paths_argument(code_paths: Any, code_path: Any) -> Any:
    """``code_paths``, or MLflow's older name ``code_path`` for it (never both)."""
    if code_path is None:
        return code_paths
    if code_paths is not None:
        raise InvalidInput("give code_paths (code_path is its older name), not both")
    return code_path


def bundle_wheels(folder: Path, requirements: list[str]) -> list[str]:
    """Copy each local wheel a requirement names into ``folder/wheels/`` and name it there, relatively.

    So a model whose requirements include ``dist/mylib-1.0-py3-none-any.whl``
    installs on another machine, as MLflow does for local wheels.
    """
    out = []
    for line in requirements:
        if not line.lower().endswith(".whl") or line.startswith(("-", "http://", "https://", f"{WHEELS}/")):
            out.append(line)
            continue
        wheel = Path(line.removeprefix("file://")).expanduser()
        if not wheel.is_file():
            raise InvalidInput(f"the requirement {line!r} names a wheel that does not exist: give the path of the .whl file")
        target = folder / WHEELS / wheel.name
        target.parent.mkdir(exist_ok=True)
        shutil.copy2(wheel, target)
        out.append(f"{WHEELS}/{wheel.name}")
    return out


def write_environment(folder: Path, requirements: list[str], conda_env: dict[str, Any] | None = None) -> None:
    """Write ``requirements.txt``, ``python_env.yaml`` and ``conda.yaml`` that agree with each other.

    A ``conda_env`` given by the user is written as its ``conda.yaml`` unchanged.
    """
    import yaml

    (folder / REQUIREMENTS).write_text("\n".join(requirements) + ("\n" if requirements else ""), encoding="utf-8")
    python = platform.python_version()
    build = [f"{tool}=={v}" if (v := _version(tool)) else tool for tool in ("pip", "setuptools", "wheel")]
    python_env = {"python": python, "build_dependencies": build, "dependencies": [f"-r {REQUIREMENTS}"]}
    (folder / PYTHON_ENV).write_text(yaml.safe_dump(python_env, sort_keys=False), encoding="utf-8")
    pip = _version("pip")
    conda = conda_env or {
        "channels": ["conda-forge"],
        "dependencies": [f"python={python}", f"pip<={pip}" if pip else "pip", {"pip": list(requirements)}],
        "name": "mlflow-env",
    }
    (folder / CONDA_ENV).write_text(yaml.safe_dump(conda, sort_keys=False), encoding="utf-8")
