"""The model registry: registered models, versions, aliases, stages, transition
requests, lineage and the activity log, with MLflow's names.

Importing this package registers the ``models:/`` URI scheme, so every place
that accepts a model URI resolves registry URIs.
"""

from .client import RegistryClient
from .fluent import lineage, register_model, search_model_versions, search_registered_models
from .provenance import Lineage
from .uri import ModelsUri, parse_models_uri, resolve_version

__all__ = [
    "Lineage", "ModelsUri", "RegistryClient", "lineage", "parse_models_uri", "register_model",
    "resolve_version", "search_model_versions", "search_registered_models",
]  # fmt: skip
