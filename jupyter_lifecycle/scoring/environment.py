"""Isolated environments for scoring (``env_manager="virtualenv"``), as MLflow builds them.

One virtual environment per distinct ``requirements.txt`` (and Python
version), kept under the store home in ``envs/<hash>/`` (or under
``$JUPYTER_LIFECYCLE_ENVS``, shared by every store) and reused: the
first scoring run pays for the install, later ones start at once. The
environment gets the model's pinned requirements plus jupyter-lifecycle
itself (the same version as here), and runs ``jupyter-lifecycle score``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..errors import LifecycleError

ENV_MANAGERS = ("local", "virtualenv")
READY = ".jupyter_lifecycle_ready"


def _self_requirement() -> str:
    """How to install this jupyter-lifecycle into another environment (its source folder if editable)."""
    from .._version import __version__

    try:
        direct = metadata.distribution("jupyter-lifecycle").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        direct = None
    if direct:
        info = json.loads(direct)
        if info.get("url", "").startswith("file://"):
            return info["url"][len("file://"):]
    return f"jupyter-lifecycle=={__version__}"


def environments_root() -> Path:
    """The folder of the isolated environments: ``$JUPYTER_LIFECYCLE_ENVS`` when set, else the store home's ``envs/``.

    The variable lets several stores (test sessions, one per project...)
    share environments: each is keyed by its requirements, so sharing is safe.
    """
    from ..config import ENVS_ENV, resolve_home

    shared = os.environ.get(ENVS_ENV)
    return Path(shared).expanduser().absolute() if shared else resolve_home() / "envs"


def environment_dir(requirements: str | os.PathLike[str]) -> Path:
    """Where the environment for a ``requirements.txt`` lives (it may not exist yet)."""
    text = Path(requirements).read_text(encoding="utf-8")
    key = hashlib.sha256(f"{sys.version_info[:2]}\n{_self_requirement()}\n{text}".encode()).hexdigest()[:16]
    return environments_root() / key


def ensure_environment(model_uri: str, quiet: bool = True) -> Path:
    """The Python executable of an isolated environment with the model's requirements; built once.

    Builds in a temporary folder and renames it into place, so an
    interrupted build is never reused.
    """
    from ..models.environment import get_model_dependencies

    requirements = get_model_dependencies(model_uri)
    target = environment_dir(requirements)
    python = target / "bin" / "python"
    if (target / READY).exists():
        return python
    staging = target.with_name(target.name + f".building-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    flags = ["--quiet"] if quiet else []
    try:
        subprocess.run([sys.executable, "-m", "venv", str(staging)], check=True)
        pip = [str(staging / "bin" / "python"), "-m", "pip", "install", *flags, "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(requirements)], check=True)
        subprocess.run([*pip, _self_requirement()], check=True)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise LifecycleError(f"building the scoring environment from {requirements} failed ({exc}); "
                             "check that the requirements can be installed, or use env_manager='local'") from exc  # fmt: skip
    (staging / READY).write_text(str(requirements), encoding="utf-8")
    # Scripts in bin/ keep the staging path in their shebang; scoring runs
    # ``bin/python -m ...``, which works wherever the folder is.
    try:
        staging.rename(target)
    except OSError:  # another process finished first: use its environment
        shutil.rmtree(staging, ignore_errors=True)
    return python
