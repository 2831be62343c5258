"""Configuration in one place: arguments, then environment variables, then defaults."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "JUPYTER_LIFECYCLE_HOME"
"""Environment variable naming the store home (a folder)."""

NOTEBOOK_ENV = "JUPYTER_LIFECYCLE_NOTEBOOK"
"""Environment variable naming the notebook a headless kernel runs (papermill, nbclient)."""

HOME_DIRNAME = ".jupyter_lifecycle"
DB_FILENAME = "lifecycle.db"
ARTIFACTS_DIRNAME = "artifacts"

BUSY_TIMEOUT_MS = int(os.environ.get("JUPYTER_LIFECYCLE_BUSY_TIMEOUT_MS", "30000"))
"""How long a writer waits for another process's transaction before failing."""

FLUSH_POINTS = int(os.environ.get("JUPYTER_LIFECYCLE_FLUSH_POINTS", "20000"))
"""Buffered metric points that trigger a flush to SQLite."""

FLUSH_SECONDS = float(os.environ.get("JUPYTER_LIFECYCLE_FLUSH_SECONDS", "1.0"))
"""Age of the oldest buffered point that triggers a flush on the next log call."""

_explicit_home: Path | None = None


def set_store(path: str | os.PathLike[str] | None) -> None:
    """Use the store in folder ``path`` for the rest of this process (``None`` undoes it).

    This wins over ``JUPYTER_LIFECYCLE_HOME`` and the folders found on disk.
    """
    global _explicit_home
    _explicit_home = None if path is None else Path(path).expanduser().resolve()


def resolve_home(start: Path | None = None) -> Path:
    """Find the store home: ``set_store``, then ``$JUPYTER_LIFECYCLE_HOME``,
    then the nearest ``.jupyter_lifecycle/`` walking up from ``start`` (the
    working directory), then ``~/.jupyter_lifecycle/``."""
    if _explicit_home is not None:
        return _explicit_home
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / HOME_DIRNAME
        if candidate.is_dir():
            return candidate
    return Path.home() / HOME_DIRNAME
