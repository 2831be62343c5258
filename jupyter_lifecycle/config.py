"""Configuration in one place: arguments, then environment variables, then defaults."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "JUPYTER_LIFECYCLE_HOME"
"""Environment variable naming the store home (a folder)."""

ENVS_ENV = "JUPYTER_LIFECYCLE_ENVS"
"""Environment variable naming a folder for the isolated scoring environments, shared by every store
(default: the store home's ``envs/``)."""

NOTEBOOK_ENV = "JUPYTER_LIFECYCLE_NOTEBOOK"
"""Environment variable naming the notebook a headless kernel runs (papermill, nbclient)."""

HOME_DIRNAME = ".jupyter_lifecycle"
DB_FILENAME = "lifecycle.db"
ARTIFACTS_DIRNAME = "artifacts"
REGISTRY_DIRNAME = "registry"

BUSY_TIMEOUT_MS = int(os.environ.get("JUPYTER_LIFECYCLE_BUSY_TIMEOUT_MS", "30000"))
"""How long a writer waits for another process's transaction before failing."""

FLUSH_POINTS = int(os.environ.get("JUPYTER_LIFECYCLE_FLUSH_POINTS", "20000"))
"""Buffered metric points that trigger a flush to SQLite (in the logging call)."""

FLUSH_SECONDS = float(os.environ.get("JUPYTER_LIFECYCLE_FLUSH_SECONDS", "1.0"))
"""Most seconds a buffered metric point waits before its commit starts (a background thread flushes it)."""

HEARTBEAT_SECONDS = float(os.environ.get("JUPYTER_LIFECYCLE_HEARTBEAT_SECONDS", "30"))
"""How often a process records that the runs it started are still alive."""

RUN_STALE_SECONDS = float(os.environ.get("JUPYTER_LIFECYCLE_RUN_STALE_SECONDS", "600"))
"""A RUNNING run from another host with no heartbeat for this long is marked KILLED."""

SERVE_MAX_REQUEST_BYTES = int(os.environ.get("JUPYTER_LIFECYCLE_SERVE_MAX_REQUEST_BYTES", str(100 * 2**20)))
"""Largest request body the scoring server reads (bigger ones get 413); 100 MiB by default."""

CHART_MAX_POINTS = int(os.environ.get("JUPYTER_LIFECYCLE_CHART_MAX_POINTS", "10000"))
"""Points a metric-history chart ships to the browser, shared between its lines."""

SYNC_WORKERS = max(1, int(os.environ.get("JUPYTER_LIFECYCLE_SYNC_WORKERS", "2")))
"""Runs a sync push sends at once (``lc.sync.push``): more help a server with several workers."""

CHART_SERIES_POINTS = 1000
"""Most points one line of a chart keeps (min and max of each bucket)."""

CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jupyter_lifecycle"
"""Per-user cache of facts that are slow to compute and cheap to check (module -> distribution map)."""

_explicit_home: Path | None = None
_db_names: dict[Path, str] = {}  # store home -> its database file, when a .db path named it
_generation = 0  # bumped whenever set_store/use_database change what resolve_home or db_path answer


def store_generation() -> int:
    """A number that changes whenever ``set_store`` or ``use_database`` is called (callers cache on it)."""
    return _generation


def use_database(db: str | os.PathLike[str]) -> Path:
    """Make the ``.db`` file ``db`` the database of the store in its folder (this process); return that folder.

    ``sqlite:///mlruns.db`` names a database file, as in MLflow: the store is
    its folder, with the artifacts beside it. Until then (and for folders no
    ``.db`` path named) a store's database is ``lifecycle.db``.
    """
    global _generation
    path = Path(db).expanduser().resolve()
    _db_names[path.parent] = path.name
    _generation += 1
    return path.parent


def db_path(home: Path) -> Path:
    """The database file of the store in ``home``: ``lifecycle.db`` unless a ``.db`` path named another."""
    return home / _db_names.get(home, DB_FILENAME)


def set_store(path: str | os.PathLike[str] | None) -> None:
    """Use the store in folder ``path`` (or the database file ``path.db``) for the rest of this process.

    ``None`` undoes it. This wins over ``JUPYTER_LIFECYCLE_HOME`` and the folders found on disk.
    """
    global _explicit_home, _generation
    _generation += 1
    if path is not None and Path(path).suffix == ".db":
        _explicit_home = use_database(path)
        return
    _explicit_home = None if path is None else Path(path).expanduser().resolve()


def resolve_home(start: Path | None = None) -> Path:
    """Find the store home: ``set_store``, then ``$JUPYTER_LIFECYCLE_HOME``,
    then the nearest ``.jupyter_lifecycle/`` walking up from ``start`` (the
    working directory), then ``~/.jupyter_lifecycle/``."""
    if _explicit_home is not None:
        return _explicit_home
    env = os.environ.get(HOME_ENV)
    if env:
        return use_database(env) if Path(env).suffix == ".db" else Path(env).expanduser().resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / HOME_DIRNAME
        if candidate.is_dir():
            return candidate
    return Path.home() / HOME_DIRNAME
