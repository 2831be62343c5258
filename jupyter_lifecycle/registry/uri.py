"""``models:/`` URIs: ``models:/<name>/<version>``, ``models:/<name>@<alias>``,
``models:/<name>/<stage>`` and ``models:/<name>/latest``, as MLflow parses them.

``resolve_version`` finds the ``ModelVersion`` a URI names; the ``models``
scheme resolver registered with ``models.uri.register_scheme`` turns that into
the version's folder in the registry, so ``pyfunc.load_model``, scoring and
every other place that takes a model URI accept registry URIs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..entities import STAGES, ModelVersion
from ..errors import InvalidInput, InvalidState, NotFound
from ..models.uri import bad_uri, register_scheme
from ..store import Store, open_store
from ..store.registry import canonical_stage, version_number
from .integrity import verify_version

SCHEME = "models"


@dataclass(frozen=True)
class ModelsUri:
    """A parsed ``models:/`` URI: exactly one of ``version``, ``stage``, ``alias`` or ``latest``."""

    name: str
    version: int | None = None
    stage: str | None = None
    alias: str | None = None
    latest: bool = False


def parse_models_uri(uri: str) -> ModelsUri:
    """Split a ``models:/`` URI; ``InvalidInput`` lists the accepted forms."""
    if not uri.startswith(f"{SCHEME}:"):
        raise bad_uri(uri, f"it does not start with {SCHEME}:/")
    path = uri[len(SCHEME) + 1:].lstrip("/")
    parts = path.split("/")
    if not path or len(parts) > 2 or not parts[0].strip():
        raise bad_uri(uri, "a models:/ URI is models:/<name>/<version|stage|latest> or models:/<name>@<alias>")
    if len(parts) == 2:
        name, suffix = parts
        if not suffix.strip():
            raise bad_uri(uri, "it names no version, stage or 'latest' after the model name")
        if suffix.isascii() and suffix.isdigit():
            return ModelsUri(name, version=version_number(suffix))
        if suffix.lower() == "latest":
            return ModelsUri(name, latest=True)
        return ModelsUri(name, stage=suffix)
    if "@" in path:
        name, _, alias = path.rpartition("@")
        if not name or not alias:
            raise bad_uri(uri, "an alias URI is models:/<name>@<alias>")
        return ModelsUri(name, alias=alias)
    raise bad_uri(uri, f"add a version, stage, 'latest' or an alias: models:/{path}/1 or models:/{path}@champion")


def resolve_version(uri: str, store: Store | None = None) -> ModelVersion:
    """The ``ModelVersion`` a ``models:/`` URI names (in ``store``, default: the current store)."""
    parsed = parse_models_uri(uri)
    registry = (store or open_store()).registry
    if parsed.version is not None:
        return registry.get_model_version(parsed.name, parsed.version)
    if parsed.alias is not None:
        return registry.get_version_by_alias(parsed.name, parsed.alias)
    stage = None
    if not parsed.latest:
        try:
            stage = canonical_stage(parsed.stage)
        except InvalidInput:
            raise bad_uri(uri, f"{parsed.stage!r} is not a version number, 'latest' or a stage "
                               f"({', '.join(STAGES)})") from None  # fmt: skip
    found = registry.get_latest_versions(parsed.name, [stage] if stage else None)
    if not found:
        if stage is None:
            raise NotFound(f"registered model {parsed.name!r} has no versions yet: register one with "
                           f"register_model(model_uri, {parsed.name!r})")  # fmt: skip
        versions = registry.get_latest_versions(parsed.name, None)
        listed = ", ".join(f"{v.current_stage}: version {v.version}" for v in versions) or "no versions yet"
        raise NotFound(f"no version of {parsed.name!r} is in stage {stage} (from {uri!r}); "
                       f"the latest per stage: {listed}")  # fmt: skip
    return max(found, key=lambda v: v.version)


def resolve_models_uri(uri: str) -> Path:
    """The registry folder holding the files of the version a ``models:/`` URI names.

    Its files are checked against the sha256 the store recorded when the
    version was registered (``integrity.verify_version``) before it is returned,
    so no caller loads a changed model.
    """
    store = open_store()
    version = resolve_version(uri, store)
    if version.status != "READY":
        raise InvalidState(f"{version.name!r} version {version.version} is {version.status}, not READY: "
                           f"{version.status_message or 'its files are not in place'}")  # fmt: skip
    folder = Path(version.storage_location)
    if not folder.is_dir():
        raise NotFound(f"the files of {version.name!r} version {version.version} are missing from {folder}")
    return verify_version(version, store.registry)


register_scheme(SCHEME, resolve_models_uri)
