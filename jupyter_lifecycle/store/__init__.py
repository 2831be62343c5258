"""The store: one SQLite file (``lifecycle.db``) and an artifact folder in a home folder.

``Store`` is the one object per location that everything else asks; it knows
SQL and files, nothing about IPython or HTTP.
"""

from __future__ import annotations

import threading
from pathlib import Path

from .. import config
from ..errors import StoreError
from .assessments import AssessmentStore
from .buffer import MetricBuffer
from .capture import CaptureStore
from .database import Database, check_home
from .datasets import DatasetStore
from .deployment import DeploymentStore
from .endpoints import EndpointStore
from .eval_datasets import EvalDatasetStore
from .models import LoggedModelStore
from .prompts import PromptStore
from .registry import RegistryStore
from .sync import SyncStore
from .trace_writer import TraceWriter
from .traces import TraceStore
from .tracking import TrackingStore

__all__ = ["Store", "forget_store", "open_store"]


class Store:
    """A store home: the database and the artifact folder beside it."""

    def __init__(self, home: str | Path) -> None:
        self.home = Path(home).expanduser().resolve()
        check_home(self.home)
        self.db = Database(config.db_path(self.home))
        try:
            (self.home / config.ARTIFACTS_DIRNAME).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the artifact folder in {self.home}: {exc.strerror}") from exc
        self.tracking = TrackingStore(self.db, self.home)
        self.metric_buffer = MetricBuffer(self.tracking)
        self.registry = RegistryStore(self.db, self.home)
        self.deployment = DeploymentStore(self.db, self.home, self.registry)
        self.capture = CaptureStore(self.db, self.home)
        self.models = LoggedModelStore(self.db, self.home)
        self.datasets = DatasetStore(self.db, self.home)
        self.traces = TraceStore(self.db, self.home)
        self.sync = SyncStore(self.db, self.home)
        self.trace_writer = TraceWriter(self.traces)
        self.endpoints = EndpointStore(self.db, self.home)
        self.assessments = AssessmentStore(self.db)
        self.eval_datasets = EvalDatasetStore(self.db)
        self.prompts = PromptStore(self.db, self.home)

    @property
    def db_path(self) -> Path:
        """Where ``lifecycle.db`` is."""
        return self.db.path

    def counts(self) -> dict[str, int]:
        """Row counts: the tracking and registry tables, cells run and notebook revisions kept."""
        capture = self.capture.counts()
        captured = {"cells": capture["cell_executions"], "revisions": capture["notebook_revisions"]}
        return {**self.tracking.counts(), **self.registry.counts(), **captured}

    def __repr__(self) -> str:
        return f"Store({str(self.home)!r})"


_stores: dict[Path, Store] = {}
_lock = threading.Lock()


def open_store(home: str | Path | None = None) -> Store:
    """The ``Store`` for ``home`` (default: ``config.resolve_home()``), opened once per process and database file."""
    path = Path(home).expanduser().resolve() if home is not None else config.resolve_home()
    key = config.db_path(path)
    with _lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = Store(path)
        return store


def forget_store(home: str | Path) -> None:
    """Drop this process's ``Store`` for ``home`` (its files were replaced, e.g. by ``restore``)."""
    path = Path(home).expanduser().resolve()
    with _lock:
        store = _stores.pop(config.db_path(path), None)
    if store is not None:
        store.db.close()
