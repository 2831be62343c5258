"""A model's environment files by model URI: ``get_model_dependencies``, as in MLflow."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .. import config
from ..errors import InvalidInput, NotFound
from .dependencies import CONDA_ENV, REQUIREMENTS, WHEELS
from .uri import resolve_model_uri


def get_model_dependencies(model_uri: str | os.PathLike[str], format: str = "pip") -> str:
    """The path of a model's ``requirements.txt`` (``format="conda"``: its ``conda.yaml``), as in MLflow.

    When the model bundles local wheels, this is a copy naming them by
    absolute path, so ``pip install -r`` works from any directory.
    """
    folder = resolve_model_uri(model_uri)
    if format not in ("pip", "conda"):
        raise InvalidInput(f"format must be 'pip' or 'conda', not {format!r}")
    file = folder / (REQUIREMENTS if format == "pip" else CONDA_ENV)
    if not file.is_file():
        raise NotFound(f"the model at {str(model_uri)!r} has no {file.name}")
    if format == "pip" and f"\n{WHEELS}/" in "\n" + file.read_text(encoding="utf-8"):
        return str(_absolute_wheels(folder, file))
    return str(file)


def _absolute_wheels(folder: Path, file: Path) -> Path:
    """A copy of ``requirements.txt`` naming the bundled wheels by absolute path.

    pip reads paths in a requirements file relative to its working directory,
    not to the file, so ``pip install -r`` from anywhere needs them absolute.
    """
    lines = [str(folder / line) if line.startswith(f"{WHEELS}/") else line
             for line in file.read_text(encoding="utf-8").splitlines()]  # fmt: skip
    text = "\n".join(lines) + "\n"
    target = config.CACHE_DIR / "requirements" / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.txt"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target
