"""``Client``: MlflowClient's tracking and model registry methods on one object."""

from __future__ import annotations

from .registry.client import RegistryClient
from .tracking import client as tracking


class Client(tracking.Client, RegistryClient):
    """Explicit-id access to one store: runs, artifacts and the model registry (``Client()`` uses the default store)."""


MlflowClient = Client
