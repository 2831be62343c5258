"""Two-way sync with an MLflow tracking server (``lc.sync.push``, ``lc.sync.pull``, ``lc.sync.import_mlflow``).

The server is a real MLflow tracking server reached through MLflow's REST
API (``rest.py``); what was synced is kept in the store's sync map, so
syncing again sends only the difference (see ``push.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..store import Store, open_store
from .pull import import_mlflow, pull
from .push import Pusher
from .report import SyncReport
from .rest import RestClient

__all__ = ["SyncReport", "import_mlflow", "pull", "push"]


def push(
    uri: str,
    experiments: Sequence[str] | str | None = None,
    since: Any = None,
    dry_run: bool = False,
    progress: bool = True,
    store: Store | None = None,
) -> SyncReport:
    """Push this store to the MLflow tracking server at ``uri`` and return what was done.

    Experiments (all active ones, or those named in ``experiments``), their
    runs (params, full metric histories, tags, status, times, parent runs),
    artifacts, notebook revisions as ``.ipynb`` artifacts, logged models and
    the model registry (versions, descriptions, tags, stages, aliases) and
    the finished traces with their spans and assessments.
    ``since`` (date, datetime, ISO string or epoch ms) keeps runs started or
    ended at or after it. ``dry_run`` only counts what would be sent, without
    contacting the server. Pushing again sends only what changed; an object
    changed on the server by someone else is a conflict in the report, never
    overwritten. Credentials: ``MLFLOW_TRACKING_TOKEN`` or
    ``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD``, never stored.
    """
    names = [experiments] if isinstance(experiments, str) else experiments
    return Pusher(store or open_store(), RestClient(uri), names, since, dry_run, progress).run()
