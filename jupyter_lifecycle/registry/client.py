"""``RegistryClient``: MlflowClient's model registry methods, plus managed MLflow's
transition requests, comments and activity log.

It is a mixin over anything with a ``store`` attribute; ``jupyter_lifecycle.Client``
combines it with the tracking client, and it also works on its own
(``RegistryClient(store_home)``).
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..entities import (
    STAGES,
    DeploymentJob,
    DeploymentJobRun,
    ModelVersion,
    RegisteredModel,
    RegistryActivity,
    TransitionRequest,
)
from ..errors import AlreadyExists, InvalidInput, InvalidState, NotFound
from ..models.model import mlmodel_model_id, mlmodel_run_id
from ..models.uri import logged_model_id, parse_runs_uri, resolve_model_uri
from ..store import Store
from ..store.registry import RegistryStore, canonical_stage, check_model_name, version_number
from ..store.search import check_max_results
from ..tracking.client import PagedList, _decode_token, _encode_token, store_for
from ..tracking.validation import tag_value, validate_key
from .uri import resolve_version

if TYPE_CHECKING:
    import pandas as pd

    from .provenance import Lineage

Version = int | str


class RegistryClient:
    """The registry half of ``jupyter_lifecycle.Client`` (MLflow's method names and signatures)."""

    store: Store

    def __init__(self, tracking_uri: str | os.PathLike[str] | Store | None = None) -> None:
        self.store = store_for(tracking_uri)

    @property
    def _registry(self) -> RegistryStore:
        return self.store.registry

    @staticmethod
    def _user(user: str | None = None) -> str:
        return user or getpass.getuser()

    # ---- registered models -------------------------------------------------

    def create_registered_model(
        self,
        name: str,
        tags: dict[str, Any] | None = None,
        description: str | None = None,
        deployment_job_id: str | None = None,
    ) -> RegisteredModel:
        """Create an empty registered model; ``AlreadyExists`` if the name is taken.

        ``deployment_job_id`` names an existing deployment job (another
        model's, see ``set_deployment_job``) whose tasks and parameters this
        model's job copies.
        """
        job = self.store.deployment.get_job_by_id(deployment_job_id) if deployment_job_id else None
        model = self._registry.create_registered_model(name, _tags(tags), description, self._user())
        if job is not None:
            self.store.deployment.set_job(name, job.tasks, job.parameters, self._user())
        return model

    def get_registered_model(self, name: str) -> RegisteredModel:
        """A registered model with its tags, aliases and latest version per stage."""
        return self._registry.get_registered_model(name)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        """Rename a model; its versions, aliases and history follow (``models:/`` URIs use the new name)."""
        self._registry.rename_registered_model(name, new_name, self._user())
        return self._registry.get_registered_model(new_name)

    def update_registered_model(
        self, name: str, description: str | None = None, deployment_job_id: str | None = None
    ) -> RegisteredModel:
        """Set a model's description; ``deployment_job_id`` copies that job's tasks (``""`` removes the job)."""
        if deployment_job_id == "":
            self.delete_deployment_job(name)
        elif deployment_job_id is not None:
            job = self.store.deployment.get_job_by_id(deployment_job_id)
            self.store.deployment.set_job(name, job.tasks, job.parameters, self._user())
        if description is None and deployment_job_id is not None:
            return self.get_registered_model(name)
        return self._registry.update_registered_model(name, description, self._user())

    def delete_registered_model(self, name: str) -> None:
        """Delete a model with all its versions and their files (the activity log keeps the history)."""
        self._registry.delete_registered_model(name, self._user())

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """Registered models matching a filter (``name LIKE 'fraud%'``, ``tags.team = 'risk'``); ``.token`` pages on."""
        max_results = check_max_results(max_results) or 0
        offset = _decode_token(page_token)
        found = self._registry.search_registered_models(filter_string, order_by, max_results + 1, offset)
        token = _encode_token(offset + max_results) if len(found) > max_results else None
        return PagedList(found[:max_results], token)

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        """Set a tag on a registered model."""
        validate_key(key, "tag")
        self._registry.set_registered_model_tag(name, key, tag_value(key, value), self._user())

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Remove a tag from a registered model."""
        self._registry.delete_registered_model_tag(name, key, self._user())

    # ---- versions ----------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        source: str | os.PathLike[str],
        run_id: str | None = None,
        tags: dict[str, Any] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        await_creation_for: int = 300,
        model_id: str | None = None,
    ) -> ModelVersion:
        """Copy the model at ``source`` (any model URI or folder) into the registry as the next version.

        ``run_id`` defaults to the run of a ``runs:/`` source, else the logged
        model's run, else the ``run_id`` in the model's ``MLmodel`` file.
        ``model_id`` (default: the one ``models:/<model_id>`` names, else the
        ``model_id`` in ``MLmodel``) links the version to its logged model.
        ``await_creation_for`` is accepted for MLflow compatibility:
        registration here is synchronous.
        """
        check_model_name(name)
        text = os.fspath(source)
        folder = resolve_model_uri(text)
        model_id = model_id or logged_model_id(text) or mlmodel_model_id(folder)
        if model_id is not None and not self.store.models.exists(model_id):
            model_id = None  # a folder copied from another store: its logged model is not here
        if run_id is None and model_id is not None:
            run_id = self.store.models.get(model_id).source_run_id
        if not (folder / "MLmodel").is_file():
            raise InvalidInput(
                f"{text!r} is not a model: {folder} has no MLmodel file. Register a folder written by "
                "log_model/save_model, e.g. the model_uri that log_model returns"
            )
        if run_id is None:
            run_id = parse_runs_uri(text)[0] if text.startswith("runs:") else mlmodel_run_id(folder)
        if ":" not in text or len(text.partition(":")[0]) == 1:
            text = str(folder)  # a local path: keep where it was, absolute
        version = self._registry.create_model_version(
            name, folder, text, run_id, _tags(tags), description, run_link, self._user(), model_id
        )
        job = self.store.deployment.get_job(name)
        if job is None:
            return version
        from .deployment import start_run

        start_run(self.store, job, version.version, 0, self._user())  # the model's job runs for each new version
        return self.get_model_version(name, version.version)

    def copy_model_version(self, src_model_uri: str, dst_name: str) -> ModelVersion:
        """Register the version a ``models:/`` URI names as a new version of ``dst_name`` (created if needed)."""
        source = resolve_version(src_model_uri, self.store)
        self.ensure_registered_model(dst_name)
        return self.create_model_version(dst_name, src_model_uri, source.run_id, description=source.description)

    def ensure_registered_model(self, name: str) -> RegisteredModel:
        """The registered model ``name``, created if missing (safe when processes race to create it)."""
        try:
            return self.create_registered_model(name)
        except AlreadyExists:
            return self.get_registered_model(name)

    def get_model_version(self, name: str, version: Version) -> ModelVersion:
        """One version of a registered model."""
        return self._registry.get_model_version(name, version_number(version))

    def update_model_version(self, name: str, version: Version, description: str | None = None) -> ModelVersion:
        """Set a version's description."""
        return self._registry.update_model_version(name, version_number(version), description, self._user())

    def delete_model_version(self, name: str, version: Version) -> None:
        """Delete a version, its files and the aliases pointing to it; the number is not reused."""
        self._registry.delete_model_version(name, version_number(version), self._user())

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        """The newest version in each of ``stages`` (default: every stage)."""
        return self._registry.get_latest_versions(name, stages)

    def get_model_version_download_uri(self, name: str, version: Version) -> str:
        """A ``file://`` URI of the registry's copy of a version."""
        return Path(self.get_model_version(name, version).storage_location).as_uri()

    def get_model_version_stages(self, name: str, version: Version) -> list[str]:
        """The stages a version can move to (MLflow returns all of them)."""
        return list(STAGES)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10_000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """Versions matching a filter (``name = 'x'``, ``run_id = '...'``, ``tags.k = 'v'``,
        ``version_number > 2``, ``current_stage = 'Production'``); ``.token`` pages on."""
        max_results = check_max_results(max_results) or 0
        offset = _decode_token(page_token)
        found = self._registry.search_model_versions(filter_string, order_by, max_results + 1, offset)
        token = _encode_token(offset + max_results) if len(found) > max_results else None
        return PagedList(found[:max_results], token)

    def _version_or_stage(self, name: str, version: Version | None, stage: str | None) -> int:
        if version is not None:
            return version_number(version)
        if stage is None:
            raise InvalidInput("pass version=... (or stage=... for the latest version in a stage)")
        found = self.get_latest_versions(name, [stage])
        if not found:
            raise NotFound(f"no version of {name!r} is in stage {canonical_stage(stage)}")
        return found[0].version

    def set_model_version_tag(
        self, name: str, version: Version | None = None, key: str | None = None, value: Any = None,
        stage: str | None = None,
    ) -> None:  # fmt: skip
        """Set a tag on a version (or on the latest version in ``stage``)."""
        number = self._version_or_stage(name, version, stage)
        validate_key(key, "tag")
        assert key is not None
        self._registry.set_model_version_tag(name, number, key, tag_value(key, value), self._user())

    def delete_model_version_tag(
        self, name: str, version: Version | None = None, key: str | None = None, stage: str | None = None
    ) -> None:
        """Remove a tag from a version (or from the latest version in ``stage``)."""
        number = self._version_or_stage(name, version, stage)
        self._registry.delete_model_version_tag(name, number, str(key), self._user())

    # ---- stages ------------------------------------------------------------

    def transition_model_version_stage(
        self, name: str, version: Version, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        """Move a version to None, Staging, Production or Archived (any case).

        With ``archive_existing_versions=True`` (Staging and Production only)
        the other versions in that stage become Archived, with the same timestamp.
        """
        return self._registry.transition_stage(
            name, version_number(version), stage, archive_existing_versions, self._user()
        )

    def promote(
        self,
        name: str,
        version: Version,
        aliases: list[str] | tuple[str, ...] = (),
        stage: str | None = None,
        archive_existing_versions: bool = False,
    ) -> ModelVersion:
        """Move a version (a number or ``"latest"``) to ``stage`` and point ``aliases`` at it.

        What ``%lifecycle promote`` and ``jupyter-lifecycle promote`` do.
        """
        if isinstance(version, str) and version.lower() == "latest":
            version = resolve_version(f"models:/{name}/latest", self.store).version
        number = version_number(version)
        if stage:
            self.transition_model_version_stage(name, number, stage, archive_existing_versions)
        for alias in aliases:
            self.set_registered_model_alias(name, alias, number)
        return self.get_model_version(name, number)

    # ---- aliases -----------------------------------------------------------

    def set_registered_model_alias(self, name: str, alias: str, version: Version) -> None:
        """Point ``alias`` (e.g. ``champion``) at a version, moving it if it pointed elsewhere."""
        self._registry.set_alias(name, alias, version_number(version), self._user())

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias."""
        self._registry.delete_alias(name, alias, self._user())

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version an alias points to."""
        return self._registry.get_version_by_alias(name, alias)

    # ---- transition requests, comments, activity (managed MLflow) ----------

    def create_transition_request(
        self, name: str, version: Version, stage: str, comment: str | None = None, *, user: str | None = None
    ) -> TransitionRequest:
        """Ask for a version to move to ``stage``; ``user`` defaults to the OS user."""
        return self._registry.create_request(name, version_number(version), stage, comment, self._user(user))

    def approve_transition_request(
        self,
        name: str,
        version: Version,
        stage: str,
        archive_existing_versions: bool = False,
        comment: str | None = None,
        *,
        user: str | None = None,
    ) -> TransitionRequest:
        """Approve the pending request and apply the transition (optionally archiving the others)."""
        return self._registry.resolve_request(
            name, version_number(version), stage, "APPROVED", comment, self._user(user), archive_existing_versions
        )

    def reject_transition_request(
        self, name: str, version: Version, stage: str, comment: str | None = None, *, user: str | None = None
    ) -> TransitionRequest:
        """Reject the pending request; the version keeps its stage."""
        return self._registry.resolve_request(
            name, version_number(version), stage, "REJECTED", comment, self._user(user)
        )

    def cancel_transition_request(
        self, name: str, version: Version, stage: str, comment: str | None = None, *, user: str | None = None
    ) -> TransitionRequest:
        """Withdraw the pending request (managed MLflow calls this ``delete_transition_request``)."""
        return self._registry.resolve_request(
            name, version_number(version), stage, "CANCELLED", comment, self._user(user)
        )

    def delete_transition_request(
        self, name: str, version: Version, stage: str, creator: str | None = None, comment: str | None = None
    ) -> TransitionRequest:
        """Managed MLflow's name for ``cancel_transition_request``."""
        return self.cancel_transition_request(name, version, stage, comment, user=creator)

    def list_transition_requests(
        self, name: str, version: Version | None = None, include_resolved: bool = False
    ) -> list[TransitionRequest]:
        """Pending requests of a model or version (all of them with ``include_resolved=True``)."""
        number = None if version is None else version_number(version)
        return self._registry.list_requests(name, number, pending_only=not include_resolved)

    def create_comment(self, name: str, version: Version, comment: str, *, user: str | None = None) -> None:
        """Comment on a version; the comment goes to the activity log."""
        self._registry.add_comment(name, version_number(version), comment, self._user(user))

    def list_activity(self, name: str, version: Version | None = None) -> list[RegistryActivity]:
        """Every registry change to a model (or one version), oldest first, as entities."""
        return self._registry.activity(name, None if version is None else version_number(version))

    def get_activity(self, name: str, version: Version | None = None) -> pd.DataFrame:
        """The activity log of a model (or one version) as a DataFrame, oldest first."""
        from .frames import activity_frame

        return activity_frame(self.list_activity(name, version))

    # ---- deployment jobs ---------------------------------------------------

    def set_deployment_job(
        self,
        name: str,
        tasks: list[Any] | None = None,
        *,
        parameters: dict[str, Any] | None = None,
        directory: str | os.PathLike[str] | None = None,
    ) -> DeploymentJob:
        """Give a registered model a deployment job: notebooks run in order for each new version.

        ``tasks`` are notebook paths (or ``(name, path)`` pairs, or
        ``{"name", "notebook"}`` dicts), each of which must exist now; left
        out, the default ``evaluate``, ``approve`` and ``deploy`` notebooks
        are written to ``directory`` (default ``./<name>_deployment_job``;
        existing files are kept). ``parameters`` are passed to every task
        with papermill, besides ``model_uri``, ``model_name`` and ``version``.
        """
        from .deployment import check_tasks, write_default_notebooks

        self.get_registered_model(name)  # a clear error before any file is written
        if tasks is None:
            tasks = list(write_default_notebooks(name, directory))
        elif directory is not None:
            raise InvalidInput("directory= is where the default notebooks go: give either tasks or directory")
        if parameters is not None and not isinstance(parameters, dict):
            raise InvalidInput(f"parameters must be a dict of papermill parameters, not {type(parameters).__name__}")
        return self.store.deployment.set_job(name, check_tasks(tasks), dict(parameters or {}), self._user())

    def get_deployment_job(self, name: str) -> DeploymentJob:
        """The deployment job of a registered model; ``NotFound`` when it has none."""
        self.get_registered_model(name)
        job = self.store.deployment.get_job(name)
        if job is None:
            raise NotFound(f"registered model {name!r} has no deployment job; set one with set_deployment_job({name!r})")
        return job

    def delete_deployment_job(self, name: str) -> None:
        """Remove a model's deployment job (its past runs stay); new versions then start nothing."""
        self.store.deployment.delete_job(name, self._user())

    def start_deployment_job(self, name: str, version: Version, from_task: str | int | None = None) -> DeploymentJobRun:
        """Run the model's deployment job for ``version`` in a background worker, from ``from_task`` (default: the first).

        Returns the PENDING run at once; ``Conflict`` when the version already
        has a run in progress (two never run at once).
        """
        from .deployment import start_run, task_index

        job = self.get_deployment_job(name)
        return start_run(self.store, job, version_number(version), task_index(job, from_task), self._user())

    def rerun_deployment_job(self, name: str, version: Version) -> DeploymentJobRun:
        """Run the job again for ``version`` from the task that failed in its latest run."""
        number = version_number(version)
        runs = self.store.deployment.runs(name, number)
        if not runs or runs[-1].status != "FAILED":
            state = runs[-1].status if runs else "never run"
            raise InvalidState(f"{name!r} version {number}'s latest deployment job run is {state}, not FAILED: "
                               "start_deployment_job runs it again from the start")  # fmt: skip
        failed = next((t for t in runs[-1].tasks if t.status == "FAILED"), None)
        return self.start_deployment_job(name, number, failed.name if failed else None)

    def get_deployment_job_runs(self, name: str, version: Version | None = None) -> list[DeploymentJobRun]:
        """The deployment job runs of a version (or of every version), oldest first, with each task's executed notebook."""
        return self.store.deployment.runs(name, None if version is None else version_number(version))

    def wait_for_deployment_job(
        self, name: str, version: Version, timeout: float | None = None, until: tuple[str, ...] = ("SUCCEEDED", "FAILED")
    ) -> DeploymentJobRun:
        """Wait until the latest run of ``version``'s job reaches a state in ``until``; ``InvalidState`` on timeout."""
        from .deployment import wait_for_run

        runs = self.get_deployment_job_runs(name, version)
        if not runs:
            raise NotFound(f"{name!r} version {version} has no deployment job run")
        return wait_for_run(self.store, runs[-1].run_id, timeout, until=until)

    def lineage(self, model_uri: str) -> Lineage:
        """Where a model came from: version -> run -> notebook revision -> executed cells."""
        from .provenance import build_lineage

        return build_lineage(self.store, model_uri)


def run_model_uri(store: Store, run_id: str, artifact_path: str | None = None) -> str:
    """The ``runs:/`` URI of a model logged in a run; ``artifact_path`` may be left out when the run has one model.

    The errors list the model folders (those holding an ``MLmodel`` file) the run has.
    """
    root = store.tracking.artifact_dir(run_id)  # NotFound names an unknown run
    found = sorted(p.parent.relative_to(root).as_posix() for p in root.rglob("MLmodel")) if root.is_dir() else []
    listed = ", ".join(repr(f) for f in found) or "none (log one with log_model inside the run)"
    if artifact_path:
        path = artifact_path.strip("/")
        if path not in found:
            raise NotFound(f"run {run_id} has no model at {path!r}; its models: {listed}")
        return f"runs:/{run_id}/{path}"
    if not found:
        raise NotFound(f"run {run_id} has no model; its models: {listed}")
    if len(found) > 1:
        raise InvalidInput(f"run {run_id} holds {len(found)} models: name one ({listed})")
    return f"runs:/{run_id}/{found[0]}"


def _tags(tags: dict[str, Any] | None) -> dict[str, str]:
    return {validate_key(k, "tag"): tag_value(k, v) for k, v in (tags or {}).items()}
