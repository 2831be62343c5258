"""Frozen dataclasses the store returns, shaped like MLflow's entities.

``run.info.run_id``, ``run.data.metrics["loss"]`` and friends read exactly as
they do in MLflow, so code written against MLflow keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class ViewType(IntEnum):
    """Which runs or experiments a search returns, by lifecycle stage (MLflow's values)."""

    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3


RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")


@dataclass(frozen=True)
class Experiment:
    """A named group of runs."""

    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int
    last_update_time: int
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunInfo:
    """A run's attributes: identity, status and times (epoch milliseconds, UTC)."""

    run_id: str
    experiment_id: str
    run_name: str | None
    status: str
    start_time: int
    end_time: int | None
    user_id: str | None
    artifact_uri: str
    lifecycle_stage: str
    parent_run_id: str | None = None
    notebook_path: str | None = None

    @property
    def run_uuid(self) -> str:
        """MLflow's older name for ``run_id``."""
        return self.run_id


@dataclass(frozen=True)
class RunData:
    """What was logged into a run: params, latest metric values and tags."""

    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    """A run: ``info`` and ``data``, as in MLflow."""

    info: RunInfo
    data: RunData

    def to_dictionary(self) -> dict[str, Any]:
        """The run as plain dicts (MLflow's name for this)."""
        return {"info": dict(self.info.__dict__), "data": dict(self.data.__dict__)}


@dataclass(frozen=True)
class Metric:
    """One metric point."""

    key: str
    value: float
    timestamp: int
    step: int
    run_id: str | None = None
    model_id: str | None = None
    """The logged model the point belongs to (MLflow 3), if any."""
    dataset_name: str | None = None
    """The dataset the metric was computed on (MLflow 3), with ``dataset_digest``."""
    dataset_digest: str | None = None


@dataclass(frozen=True)
class Param:
    """A param, for ``Client.log_batch``."""

    key: str
    value: str


@dataclass(frozen=True)
class RunTag:
    """A tag, for ``Client.log_batch``."""

    key: str
    value: str


@dataclass(frozen=True)
class FileInfo:
    """An entry of a run's artifact folder."""

    path: str
    is_dir: bool
    file_size: int | None


# ---- logged models (MLflow 3's LoggedModel) -----------------------------------

LOGGED_MODEL_STATUSES = ("PENDING", "READY", "FAILED")


@dataclass(frozen=True)
class LoggedModel:
    """A model logged by ``log_model`` (or ``initialize_logged_model``): MLflow 3's ``LoggedModel``.

    The first fields carry MLflow's names and meaning; the rest describe the
    model folder (flavors, signature, size), which MLflow keeps only in ``MLmodel``.
    """

    model_id: str
    name: str
    experiment_id: str
    source_run_id: str | None
    status: str
    creation_timestamp: int
    last_updated_timestamp: int
    artifact_location: str
    """The absolute folder holding the model's files."""
    model_type: str | None = None
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)
    flavors: tuple[str, ...] = ()
    loader_module: str | None = None
    signature: dict[str, Any] | None = None
    model_size_bytes: int = 0
    artifact_path: str = ""
    """The model's folder inside its run's artifacts (``runs:/<source_run_id>/<artifact_path>``); empty without a run."""

    @property
    def model_uri(self) -> str:
        """``models:/<model_id>``, which loads wherever a model URI is accepted."""
        return f"models:/{self.model_id}"

    @property
    def run_id(self) -> str | None:
        """The run the model was logged from (``source_run_id``)."""
        return self.source_run_id

    def to_dictionary(self) -> dict[str, Any]:
        """The model as plain values (MLflow's name for this)."""
        return dict(self.__dict__)


# ---- model registry (MLflow's registry entities, plus managed MLflow's requests and activity) ----

STAGES = ("None", "Staging", "Production", "Archived")
"""Model version stages, in MLflow's canonical spelling."""

ACTIVE_STAGES = ("Staging", "Production")
"""The stages ``archive_existing_versions`` applies to (MLflow's ``DEFAULT_STAGES_FOR_GET_LATEST_VERSIONS``)."""


@dataclass(frozen=True)
class ModelVersion:
    """One version of a registered model; its files live in the registry's storage.

    ``version`` is an ``int``, as MLflow 3's local (SQLite and file) stores
    return it; MLflow's REST client returns a string. Every method accepting a
    version takes either.
    """

    name: str
    version: int
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None
    user_id: str | None
    current_stage: str
    source: str
    run_id: str | None
    status: str
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    run_link: str | None = None
    aliases: list[str] = field(default_factory=list)
    storage_location: str = ""
    """The local folder holding the registry's copy of the model's files."""
    model_id: str | None = None
    """The logged model (``m-...``) this version was registered from, as in MLflow 3."""
    params: list[Param] | None = None
    """The logged model's params (MLflow 3's ``ModelParam`` list: ``key``, ``value``)."""
    metrics: list[Metric] | None = None
    """The logged model's metrics."""


@dataclass(frozen=True)
class RegisteredModel:
    """A named model with its versions; ``aliases`` maps alias to version as MLflow 3 does."""

    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None
    latest_versions: list[ModelVersion] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TransitionRequest:
    """A request to move a model version to a stage (managed MLflow's transition request).

    ``status`` is PENDING until someone approves, rejects or cancels it;
    ``user_id`` is the requester and ``resolved_by`` who acted on it.
    """

    request_id: str
    name: str
    version: int
    to_stage: str
    status: str
    user_id: str | None
    comment: str | None
    creation_timestamp: int
    last_updated_timestamp: int
    resolved_by: str | None = None
    resolution_comment: str | None = None


@dataclass(frozen=True)
class RegistryActivity:
    """One entry of the registry's activity log: who changed what, when."""

    activity_id: int
    activity_type: str
    name: str
    version: int | None
    user_id: str | None
    timestamp: int
    from_stage: str | None = None
    to_stage: str | None = None
    comment: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
