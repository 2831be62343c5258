"""Pull or import registered models: the versions made from pulled runs, with aliases, stages, descriptions, tags.

The source (a tracking server, an ``mlflow.db``, an ``mlruns/`` folder; see
``pull.py``) gives models and versions shaped like MLflow's REST JSON
(``registered_models()``, ``model_versions(name)``) and a version's files
when they are not in its run's artifacts (``version_files``, ``fetch_version_file``).

A version's files come with it: when its source lies in its run's artifacts
(``runs:/...`` or the run's ``artifact_uri``) they were pulled with the run;
otherwise (MLflow 3's ``models:/m-...`` logged models) they are downloaded
into the local run's artifacts under ``models/<model_id>``. The local version
then points at the run's artifact (``runs:/<run>/<path>``), as a version
registered here would. Each model and version goes into the sync map
(``registered_model`` by name, ``model_version`` as ``name/version``), so a
second pull creates nothing and replays what moved (an alias, a stage, a
description, tags). A model pushed from this store is not pulled back over
itself; a local model of the same name that was never synced is a conflict.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..errors import LifecycleError, NotFound

Importer = Any  # pull.Importer, which imports this module: named here only to read the signatures


def pull_registered_models(importer: Importer, runs: dict[str, dict[str, Any]]) -> None:
    """Bring the registered models that have a version made from one of ``runs`` (remote run id -> run JSON)."""
    for model in importer.source.registered_models():
        name = model["name"]
        versions = [v for v in importer.source.model_versions(name) if v.get("run_id") in runs]
        if not versions:
            continue
        try:
            _pull_model(importer, model, sorted(versions, key=lambda v: int(v["version"])), runs)
        except (LifecycleError, OSError, KeyError, ValueError) as exc:
            importer.report.error(f"registered model {name!r}: {exc}")


def _pull_model(importer: Importer, model: dict[str, Any], versions: list[dict[str, Any]],
                runs: dict[str, dict[str, Any]]) -> None:  # fmt: skip
    store, remote, name = importer.store, importer.remote, model["name"]
    registry = store.registry
    tags = {t["key"]: t["value"] for t in model.get("tags", [])}
    description = model.get("description") or ""
    known = store.sync.get(remote, "registered_model", name)
    if known and not known[1].get("pulled"):
        importer.report.count("unchanged", "registered_model")  # pushed from here: this store is its origin
        return
    if known is None:
        try:
            registry.get_registered_model(name)
            importer.report.conflict(f"registered model {name!r} exists here and was never synced with {remote}: "
                                     "rename one of them to pull it")  # fmt: skip
            return
        except NotFound:
            registry.create_registered_model(name, tags, description or None, None)
            importer.report.count("created", "registered_model")
    else:
        local = registry.get_registered_model(name)
        changed = (local.description or "") != description or any(local.tags.get(k) != v for k, v in tags.items())
        if (local.description or "") != description:
            registry.update_registered_model(name, description, None)
        for key, value in tags.items():
            if local.tags.get(key) != value:
                registry.set_registered_model_tag(name, key, value, None)
        importer.report.count("updated" if changed else "unchanged", "registered_model")
    store.sync.put(remote, "registered_model", name, name, {"pulled": True})
    numbers: dict[str, int] = {}  # remote version -> local version
    for version in versions:
        numbers[str(version["version"])] = _pull_version(importer, name, version, runs[version["run_id"]])
    local_aliases = registry.get_registered_model(name).aliases
    for alias in model.get("aliases", []):
        target = numbers.get(str(alias["version"]))
        if target is not None and local_aliases.get(alias["alias"]) != target:
            registry.set_alias(name, alias["alias"], target, None)


def _pull_version(importer: Importer, name: str, version: dict[str, Any], run: dict[str, Any]) -> int:
    """The local number of a remote version, created (with its files) or brought up to date."""
    store, remote = importer.store, importer.remote
    registry = store.registry
    remote_key = f"{name}/{version['version']}"
    tags = {t["key"]: t["value"] for t in version.get("tags", [])}
    description = version.get("description") or ""
    stage = version.get("current_stage") or "None"
    local_key = store.sync.local_id(remote, "model_version", remote_key)
    if local_key is None:
        local_run = store.sync.local_id(remote, "run", run["info"]["run_id"])
        if local_run is None:
            raise NotFound(f"version {remote_key}: its run {run['info']['run_id']} was not pulled")
        relative = _version_files(importer, version, run, local_run)
        folder = store.tracking.artifact_dir(local_run) / relative
        created = registry.create_model_version(name, folder, f"runs:/{local_run}/{relative}", local_run, tags,
                                                description or None, None, version.get("user_id") or None)  # fmt: skip
        number = int(created.version)
        if stage != "None":
            registry.transition_stage(name, number, stage, False, None)
        store.sync.put(remote, "model_version", f"{name}/{number}", remote_key, {"pulled": True})
        importer.report.count("created", "model_version")
        return number
    number = int(local_key.rsplit("/", 1)[1])
    local = registry.get_model_version(name, number)
    changed = False
    if (local.description or "") != description:
        registry.update_model_version(name, number, description, None)
        changed = True
    for key, value in tags.items():
        if local.tags.get(key) != value:
            registry.set_model_version_tag(name, number, key, value, None)
            changed = True
    if local.current_stage != stage:
        registry.transition_stage(name, number, stage, False, None)
        changed = True
    importer.report.count("updated" if changed else "unchanged", "model_version")
    return number


def _version_files(importer: Importer, version: dict[str, Any], run: dict[str, Any], local_run: str) -> str:
    """Where the version's files are in the local run's artifacts, downloading them when the run did not hold them."""
    source, artifact_uri = version["source"], run["info"].get("artifact_uri") or ""
    if source.startswith("runs:/"):
        return source.split("/", 2)[2].strip("/") if source.count("/") >= 2 else ""
    if artifact_uri and source.startswith(artifact_uri.rstrip("/") + "/"):
        return source[len(artifact_uri.rstrip("/")) + 1:].strip("/")
    model_id = version.get("model_id") or (source[len("models:/"):] if source.startswith("models:/m-") else "")
    relative = f"models/{model_id}" if model_id else f"models/{hashlib.sha256(source.encode()).hexdigest()[:16]}"
    target = importer.store.tracking.artifact_dir(local_run) / relative
    location = importer.source.version_location(version, model_id)
    for item in importer.source.version_files(location):
        path = target / item
        importer.source.fetch_version_file(location, item, path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        importer.store.tracking.record_artifact(local_run, f"{relative}/{item}", path.stat().st_size, digest)
        importer.report.add(files=1)
    return relative
