"""The model folder: the ``MLmodel`` file, the input example, the file hashes.

A model is a folder in MLflow's layout (``mlflow/models/model.py``):
``MLmodel`` (YAML), the serialized model, ``requirements.txt``,
``python_env.yaml``, ``conda.yaml``, ``input_example.json``, and optional
``code/`` and ``artifacts/``. This project adds one namespaced key to
``MLmodel``, ``jupyter_lifecycle:``, holding the sha256 of every other file;
MLflow keeps unknown keys as attributes, so it still loads the model, and
``verify_model`` refuses a folder whose files changed since they were saved.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AlreadyExists, InvalidInput, InvalidState, NotFound
from ..tracking.artifacts import sha256_file
from .signature import ModelSignature

MLMODEL = "MLmodel"
NAMESPACE = "jupyter_lifecycle"
"""The ``MLmodel`` key holding this project's metadata (file hashes, version)."""
INPUT_EXAMPLE = "input_example.json"
SERVING_INPUT_EXAMPLE = "serving_input_example.json"
_IGNORED_DIRS = {"__pycache__"}  # importing code/ at load time writes .pyc files there


def _yaml() -> tuple[Any, Any, Any]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml, loader, dumper


@dataclass
class Model:
    """The contents of an ``MLmodel`` file (MLflow's ``mlflow.models.Model``)."""

    artifact_path: str | None = None
    run_id: str | None = None
    utc_time_created: str = field(default_factory=lambda: str(_dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)))
    flavors: dict[str, Any] = field(default_factory=dict)
    signature: ModelSignature | None = None
    saved_input_example_info: dict[str, Any] | None = None
    model_uuid: str | None = field(default_factory=lambda: uuid.uuid4().hex)
    model_id: str | None = None
    model_size_bytes: int | None = None
    metadata: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Keys this project does not interpret (``mlflow_version``, ``prompts``...), kept as read."""
    path: Path | None = field(default=None, compare=False)
    """The folder this was read from (``None`` for a new model)."""

    # ---- MLflow's accessors -----------------------------------------------

    def get_input_schema(self) -> Any:
        """The input ``Schema``, or ``None`` without a signature."""
        return self.signature.inputs if self.signature is not None else None

    def get_output_schema(self) -> Any:
        """The output ``Schema``, or ``None``."""
        return self.signature.outputs if self.signature is not None else None

    def get_params_schema(self) -> Any:
        """The ``ParamSchema``, or ``None``."""
        return self.signature.params if self.signature is not None else None

    @property
    def file_hashes(self) -> dict[str, str]:
        """``{relative path: sha256}`` of every file saved with the model (empty for MLflow's own)."""
        return dict((self.extra.get(NAMESPACE) or {}).get("files") or {})

    def load_input_example(self, path: str | os.PathLike[str] | None = None) -> Any:
        """The saved input example (a DataFrame or numpy array), or ``None``."""
        info = self.saved_input_example_info
        folder = Path(path) if path is not None else self.path
        if not info or folder is None:
            return None
        return read_input_example(folder / info["artifact_path"], info)

    # ---- YAML --------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The mapping written to ``MLmodel``, keys as MLflow writes them."""
        out: dict[str, Any] = {}
        if self.artifact_path is not None:
            out["artifact_path"] = self.artifact_path
        out["flavors"] = self.flavors
        if self.signature is not None:
            out["is_signature_from_type_hint"] = False
        out["model_id"] = self.model_id
        if self.model_size_bytes is not None:
            out["model_size_bytes"] = self.model_size_bytes
        out["model_uuid"] = self.model_uuid
        if self.metadata is not None:
            out["metadata"] = self.metadata
        if self.run_id is not None:
            out["run_id"] = self.run_id
        if self.saved_input_example_info is not None:
            out["saved_input_example_info"] = self.saved_input_example_info
        if self.signature is not None:
            out["signature"] = self.signature.to_dict()
            out["type_hint_from_example"] = False
        out["utc_time_created"] = self.utc_time_created
        out.update(self.extra)
        return out

    def to_yaml(self) -> str:
        """``MLmodel`` as YAML text (``yaml.safe_dump``)."""
        yaml, _, dumper = _yaml()
        return yaml.dump(self.to_dict(), Dumper=dumper, default_flow_style=False, sort_keys=False)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write ``MLmodel`` into a folder (or to a file path ending in ``MLmodel``)."""
        target = Path(path)
        if target.is_dir():
            target = target / MLMODEL
        target.write_text(self.to_yaml(), encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path | None = None) -> Model:
        """A ``Model`` from the mapping in an ``MLmodel`` file."""
        data = dict(data)
        signature = data.pop("signature", None)
        data.pop("is_signature_from_type_hint", None)
        data.pop("type_hint_from_example", None)
        known = {k: data.pop(k) for k in ("artifact_path", "run_id", "flavors", "saved_input_example_info",
                                          "model_uuid", "model_id", "model_size_bytes", "metadata") if k in data}  # fmt: skip
        created = data.pop("utc_time_created", None)
        model = cls(**known, extra=data, path=path)
        if created is not None:
            model.utc_time_created = str(created)
        if "model_uuid" not in known:
            model.model_uuid = None
        model.flavors = model.flavors or {}
        if isinstance(signature, dict):
            model.signature = ModelSignature.from_dict(signature)
        return model

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Model:
        """Read ``MLmodel`` from a model folder (or the file itself)."""
        target = Path(path)
        folder = target.parent if target.name == MLMODEL else target
        file = folder / MLMODEL
        if not file.is_file():
            raise NotFound(
                f"no MLmodel file in {str(folder)!r}: this folder is not a saved model "
                "(save one with lc.pyfunc.save_model or lc.sklearn.save_model)"
            )
        yaml, loader, _ = _yaml()
        data = yaml.load(file.read_text(encoding="utf-8"), Loader=loader)
        if not isinstance(data, dict):
            raise InvalidInput(f"{str(file)!r} is not a valid MLmodel file: expected a YAML mapping")
        return cls.from_dict(data, path=folder)

    def get_model_info(self, model_uri: str | None = None) -> ModelInfo:
        """The ``ModelInfo`` summary of this model."""
        uri = model_uri or (f"runs:/{self.run_id}/{self.artifact_path}" if self.run_id else str(self.path or ""))
        return ModelInfo(
            artifact_path=self.artifact_path, flavors=self.flavors, model_uri=uri, model_uuid=self.model_uuid,
            run_id=self.run_id, saved_input_example_info=self.saved_input_example_info,
            signature=self.signature, utc_time_created=self.utc_time_created, model_id=self.model_id,
            model_size_bytes=self.model_size_bytes, metadata=self.metadata,
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"<Model flavors={list(self.flavors)} run_id={self.run_id} path={str(self.path) if self.path else None}>"


@dataclass(frozen=True)
class ModelInfo:
    """What ``log_model``/``save_model`` return (MLflow's ``ModelInfo``)."""

    artifact_path: str | None
    flavors: dict[str, Any]
    model_uri: str
    model_uuid: str | None
    run_id: str | None
    saved_input_example_info: dict[str, Any] | None
    signature: ModelSignature | None
    utc_time_created: str
    model_id: str | None = None
    model_size_bytes: int | None = None
    metadata: dict[str, Any] | None = None
    mlflow_version: str | None = None
    name: str | None = None
    """The logged model's name (MLflow 3); ``artifact_path`` is its folder."""
    registered_model_version: int | None = None
    """The version ``registered_model_name=`` created, if any."""


# ---- input examples ---------------------------------------------------------


def example_frame(example: Any) -> Any:
    """A dict/list/Series input example as the DataFrame it stands for (arrays stay arrays)."""
    import numpy as np
    import pandas as pd

    if isinstance(example, (pd.DataFrame, np.ndarray)):
        return example
    if isinstance(example, pd.Series):
        return example.to_frame()
    if isinstance(example, dict):
        if example and all(isinstance(v, np.ndarray) for v in example.values()):
            return example
        if all(not isinstance(v, (list, tuple, np.ndarray)) for v in example.values()):
            return pd.DataFrame([example])
        return pd.DataFrame(example)
    if isinstance(example, (list, tuple)):
        if example and all(isinstance(v, dict) for v in example):
            return pd.DataFrame.from_records(list(example))
        return pd.DataFrame({0: list(example)}) if not example or not isinstance(example[0], (list, tuple)) else \
            pd.DataFrame(list(example))  # fmt: skip
    return pd.DataFrame([[example]])


def write_input_example(folder: Path, example: Any) -> dict[str, Any]:
    """Write ``input_example.json`` (pandas split orient, or tf-serving for arrays); return its info."""
    import numpy as np
    import pandas as pd

    data = example_frame(example)
    if isinstance(data, pd.DataFrame):
        body = json.loads(data.to_json(orient="split", index=False, date_format="iso", default_handler=str))
        body.pop("index", None)
        info = {"artifact_path": INPUT_EXAMPLE, "pandas_orient": "split", "serving_input_path": SERVING_INPUT_EXAMPLE,
                "type": "dataframe"}  # fmt: skip
        serving = {"dataframe_split": body}
    else:
        inputs = data.tolist() if isinstance(data, np.ndarray) else {k: v.tolist() for k, v in data.items()}
        body = {"inputs": inputs}
        info = {"artifact_path": INPUT_EXAMPLE, "format": "tf-serving", "serving_input_path": SERVING_INPUT_EXAMPLE,
                "type": "ndarray"}  # fmt: skip
        serving = body
    (folder / INPUT_EXAMPLE).write_text(json.dumps(body), encoding="utf-8")
    (folder / SERVING_INPUT_EXAMPLE).write_text(json.dumps(serving, indent=2), encoding="utf-8")
    return info


def read_input_example(file: Path, info: dict[str, Any]) -> Any:
    """Read an input example back as a DataFrame or numpy array."""
    import numpy as np
    import pandas as pd

    body = json.loads(file.read_text(encoding="utf-8"))
    if info.get("type") == "ndarray":
        inputs = body["inputs"]
        return {k: np.asarray(v) for k, v in inputs.items()} if isinstance(inputs, dict) else np.asarray(inputs)
    if info.get("type") == "dataframe":
        return pd.DataFrame(body["data"], columns=body.get("columns"))
    return body


# ---- hashes -------------------------------------------------------------------


def model_files(folder: Path) -> list[str]:
    """Relative POSIX paths of every file in a model folder except ``MLmodel`` and caches."""
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _IGNORED_DIRS)
        for name in sorted(files):
            rel = Path(root, name).relative_to(folder).as_posix()
            if rel != MLMODEL and not name.endswith(".pyc"):
                out.append(rel)
    return out


_verified: dict[tuple[str, int, int, int, int, int], str] = {}  # stat_key(file) -> sha256 already checked


def stat_key(file: Path) -> tuple[str, int, int, int, int, int]:
    """What identifies one state of a file: path, device, inode, size, mtime and ctime (ns).

    (path, size, mtime) alone is not enough: anyone who can write a file can
    put its mtime back. ctime cannot be set by a user and moves on every
    write, chmod or rename, so a changed file never matches its old key
    (issue #12, defect 2).
    """
    st = file.stat()
    return str(file), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def file_matches(file: Path, digest: str) -> bool:
    """Whether ``file``'s sha256 is ``digest``; a file not touched since it last matched is not read again."""
    key = stat_key(file)  # taken before reading: a write during the hash gives the file a new key
    if _verified.get(key) == digest:
        return True
    if sha256_file(file) != digest:
        return False
    _verified[key] = digest
    return True


def verify_model(path: str | os.PathLike[str], model: Model | None = None) -> Model:
    """Check every file against the sha256 recorded in ``MLmodel``; return the ``Model``.

    Raises ``InvalidState`` naming each changed, missing or added file.
    Models saved by MLflow itself record no hashes and pass unchecked.
    """
    folder = Path(path)
    model = model or Model.load(folder)
    recorded = model.file_hashes
    if not recorded:
        return model
    problems = []
    present = set(model_files(folder))
    for rel, digest in recorded.items():
        if rel not in present:
            problems.append(f"{rel} is missing")
        elif not file_matches(folder / rel, digest):
            problems.append(f"{rel} changed (its sha256 differs from the one saved in MLmodel)")
    problems += [f"{rel} was added after the model was saved" for rel in sorted(present - set(recorded))]
    if problems:
        raise InvalidState(
            f"refusing to load the model in {str(folder)!r}: " + "; ".join(problems)
            + ". Restore the original files, or save the model again."
        )
    return model


# ---- writing a model folder ----------------------------------------------------


def _copy_code(folder: Path, code_paths: list[str | os.PathLike[str]]) -> None:
    code = folder / "code"
    code.mkdir()
    for item in code_paths:
        source = Path(item)
        if not source.exists():
            raise NotFound(f"code path {str(item)!r} does not exist; code_paths lists files or folders to ship")
        target = code / source.name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target)


def write_model_folder(
    path: str | os.PathLike[str],
    write: Callable[[Path], dict[str, Any]],
    *,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    predict_example: Callable[[Any], Any] | None = None,
    code_paths: list[str | os.PathLike[str]] | None = None,
    requirements: Callable[[Path, set[str]], list[str]] | None = None,
    metadata: dict[str, Any] | None = None,
    model: Model | None = None,
    conda_env: dict[str, Any] | None = None,
) -> Model:
    """Write a complete model folder at ``path`` atomically and return its ``Model``.

    ``write(tmp_folder)`` saves the flavor's own files and returns the
    ``flavors`` mapping. The signature is inferred from ``input_example``
    (and ``predict_example(example)`` for the outputs) when not given.
    ``requirements(tmp_folder, modules)`` returns the pinned requirement
    lines; ``modules`` holds what predicting on the example used. A
    ``conda_env`` dict is written as the model's ``conda.yaml`` unchanged.
    """
    from . import dependencies
    from .signature import infer_signature

    target = Path(path).expanduser().absolute()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise AlreadyExists(f"cannot save a model to {str(target)!r}: it already exists; choose another path")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".tmp-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        model = model or Model()
        model.metadata = metadata
        if code_paths:
            _copy_code(tmp, list(code_paths))
        flavors = write(tmp)
        used: set[str] = set()
        example = None
        if input_example is not None:
            example = example_frame(input_example)
            model.saved_input_example_info = write_input_example(tmp, input_example)
        output = None
        if predict_example is not None and example is not None:
            try:
                output, used = dependencies.record_imports(lambda: predict_example(example))
            except Exception as exc:  # a model that cannot predict on its example is still worth saving
                warnings.warn(
                    f"predicting on the input example failed ({type(exc).__name__}: {exc}); the model is saved, "
                    "but its signature has no outputs and its requirements come from the pickle alone",
                    stacklevel=3,
                )
        if signature is None and example is not None:
            signature = infer_signature(example, output)
        model.signature = signature
        lines = requirements(tmp, used) if requirements is not None else []
        dependencies.write_environment(tmp, dependencies.bundle_wheels(tmp, lines), conda_env)
        py = flavors.get("python_function")
        if py is not None:
            py.setdefault("env", {"conda": "conda.yaml", "virtualenv": "python_env.yaml"})
            if code_paths:
                py["code"] = "code"
        model.flavors = flavors
        files = model_files(tmp)
        hashes = {rel: sha256_file(tmp / rel) for rel in files}
        model.model_size_bytes = sum((tmp / rel).stat().st_size for rel in files)
        from .._version import __version__

        model.extra[NAMESPACE] = {"version": __version__, "files": hashes}
        model.save(tmp / MLMODEL)
        if target.exists():
            target.rmdir()
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    model.path = target
    return model


def _mlmodel_field(folder: Path, key: str) -> str | None:
    import yaml

    try:
        data = yaml.safe_load((folder / MLMODEL).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    value = data.get(key) if isinstance(data, dict) else None
    return str(value) if value else None


def mlmodel_run_id(folder: Path) -> str | None:
    """The ``run_id`` a model folder's ``MLmodel`` names, or ``None`` (no file, unreadable, or no run)."""
    return _mlmodel_field(folder, "run_id")


def mlmodel_model_id(folder: Path) -> str | None:
    """The logged model (``model_id``) a model folder's ``MLmodel`` names, or ``None``."""
    return _mlmodel_field(folder, "model_id")
