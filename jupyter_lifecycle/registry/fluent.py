"""The registry's fluent functions: ``lc.register_model``, ``lc.search_model_versions``,
``lc.search_registered_models`` and ``lc.lineage``, on the current store."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .. import config
from ..entities import ModelVersion
from ..store import open_store
from .client import RegistryClient
from .frames import models_frame, versions_frame

if TYPE_CHECKING:
    import pandas as pd

    from .provenance import Lineage


def registry_client() -> RegistryClient:
    """A ``RegistryClient`` on the current store (``set_store``/``$JUPYTER_LIFECYCLE_HOME``/defaults)."""
    return RegistryClient(open_store(config.resolve_home()))


def register_model(
    model_uri: str | os.PathLike[str],
    name: str,
    await_registration_for: int = 300,
    *,
    tags: dict[str, Any] | None = None,
) -> ModelVersion:
    """Register the model at ``model_uri`` as the next version of ``name`` (created if new).

    The model's files are copied into the registry, so the version never
    changes afterwards. ``await_registration_for`` is accepted for MLflow
    compatibility: registration here is synchronous.
    """
    client = registry_client()
    client.ensure_registered_model(name)
    return client.create_model_version(name, model_uri, tags=tags)


def search_model_versions(
    filter_string: str | None = None,
    max_results: int | None = None,
    order_by: list[str] | None = None,
) -> pd.DataFrame:
    """Model versions matching an MLflow filter string (``"name = 'fraud-detector'"``), as a DataFrame."""
    found = registry_client()._registry.search_model_versions(filter_string, order_by, max_results)
    return versions_frame(found)


def search_registered_models(
    filter_string: str | None = None,
    max_results: int | None = None,
    order_by: list[str] | None = None,
) -> pd.DataFrame:
    """Registered models matching an MLflow filter string (``"name LIKE 'fraud%'"``), as a DataFrame."""
    found = registry_client()._registry.search_registered_models(filter_string, order_by, max_results)
    return models_frame(found)


def lineage(model_uri: str) -> Lineage:
    """Where a model came from: version -> run -> notebook revision -> cells; renders inline in Jupyter."""
    return registry_client().lineage(model_uri)
