"""Frozen dataclasses the store returns, shaped like MLflow's entities.

``run.info.run_id``, ``run.data.metrics["loss"]`` and friends read exactly as
they do in MLflow, so code written against MLflow keeps working.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from enum import IntEnum
from typing import Any


class _Fields:
    """``dict(entity)`` gives its fields, as MLflow's entities allow (``dict(registered_model)``)."""

    __slots__ = ()  # lets a subclass with slots (``Metric``) do without a __dict__

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        for item in fields(self):  # type: ignore[arg-type]
            yield item.name, getattr(self, item.name)


class ViewType(IntEnum):
    """Which runs or experiments a search returns, by lifecycle stage (MLflow's values)."""

    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3


RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")


@dataclass(frozen=True)
class Experiment(_Fields):
    """A named group of runs."""

    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int
    last_update_time: int
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunInfo(_Fields):
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
class RunData(_Fields):
    """What was logged into a run: params, latest metric values and tags."""

    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Dataset(_Fields):
    """A dataset record, as MLflow's ``mlflow.entities.Dataset``: every field a string.

    ``digest`` is a short hash of the content (equal data, equal digest);
    ``source`` is JSON saying where the data came from (``{"uri": "data.csv"}``),
    ``schema`` and ``profile`` are JSON too (``{"mlflow_colspec": [...]}``,
    ``{"num_rows": 3, "num_elements": 12}``) or ``None``.
    """

    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None

    def to_dictionary(self) -> dict[str, Any]:
        """The six fields as a dict (MLflow's name for this)."""
        return dict(self.__dict__)

    def __repr__(self) -> str:
        return f"<Dataset: name={self.name!r} digest={self.digest!r} source_type={self.source_type!r}>"


@dataclass(frozen=True)
class InputTag(_Fields):
    """A tag on one dataset input of a run (``mlflow.data.context`` holds the context)."""

    key: str
    value: str


DATASET_CONTEXT_TAG = "mlflow.data.context"
"""The input tag holding the context a dataset was used in ("training", "eval"...), MLflow's key."""


def _json_object(text: str | None) -> dict[str, Any]:
    """A JSON object field of a record, ``{}`` when it is missing or not an object."""
    try:
        found = json.loads(text or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


@dataclass(frozen=True)
class DatasetInput(_Fields):
    """A dataset as one run used it: the dataset and the input's tags."""

    dataset: Dataset
    tags: list[InputTag] = field(default_factory=list)

    @property
    def context(self) -> str | None:
        """The ``mlflow.data.context`` tag ("training", "eval"...), or ``None``."""
        return next((t.value for t in self.tags if t.key == DATASET_CONTEXT_TAG), None)

    def summary(self) -> str:
        """One line for people: ``train@3f2a91c0 (training, 150 rows, from local data.csv)``."""
        d = self.dataset
        facts = [self.context] if self.context else []
        rows = _json_object(d.profile).get("num_rows")
        if rows is not None:
            facts.append(f"{rows} rows")
        source = _json_object(d.source)
        where = source.get("uri") or source.get("url") or (source.get("tags") or {}).get("mlflow.source.name") or ""
        facts.append(f"from {d.source_type} {where}".rstrip())
        return f"{d.name}@{d.digest} ({', '.join(facts)})"

    def to_dictionary(self) -> dict[str, Any]:
        """``{"dataset": {...}, "tags": {key: value}}``, as MLflow's."""
        return {"dataset": self.dataset.to_dictionary(), "tags": {t.key: t.value for t in self.tags}}


@dataclass(frozen=True)
class LoggedModelInput(_Fields):
    """A logged model a run used as input (MLflow 3's ``LoggedModelInput``)."""

    model_id: str


@dataclass(frozen=True)
class RunInputs(_Fields):
    """What a run read: its datasets and input models, as MLflow's ``run.inputs``."""

    dataset_inputs: list[DatasetInput] = field(default_factory=list)
    model_inputs: list[LoggedModelInput] = field(default_factory=list)

    def to_dictionary(self) -> dict[str, Any]:
        """The inputs as plain dicts (MLflow's shape)."""
        return {
            "model_inputs": [{"model_id": m.model_id} for m in self.model_inputs],
            "dataset_inputs": [d.to_dictionary() for d in self.dataset_inputs],
        }


@dataclass(frozen=True)
class Run(_Fields):
    """A run: ``info``, ``data`` and ``inputs`` (the datasets it used), as in MLflow."""

    info: RunInfo
    data: RunData
    inputs: RunInputs = field(default_factory=RunInputs)

    def to_dictionary(self) -> dict[str, Any]:
        """The run as plain dicts (MLflow's name for this)."""
        return {"info": dict(self.info.__dict__), "data": dict(self.data.__dict__), "inputs": self.inputs.to_dictionary()}


@dataclass(frozen=True, slots=True)
class Metric(_Fields):
    """One metric point. Slotted: a history can hold millions (issue #14), and each
    point is then ~120 bytes instead of ~260; ``dict(metric)`` gives its fields."""

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
class Param(_Fields):
    """A param, for ``Client.log_batch``."""

    key: str
    value: str


@dataclass(frozen=True)
class RunTag(_Fields):
    """A tag, for ``Client.log_batch``."""

    key: str
    value: str


@dataclass(frozen=True)
class FileInfo(_Fields):
    """An entry of a run's artifact folder."""

    path: str
    is_dir: bool
    file_size: int | None


# ---- logged models (MLflow 3's LoggedModel) -----------------------------------

LOGGED_MODEL_STATUSES = ("PENDING", "READY", "FAILED")


@dataclass(frozen=True)
class LoggedModel(_Fields):
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
class ModelVersion(_Fields):
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
    deployment_job_state: ModelVersionDeploymentJobState | None = None
    """The latest deployment job run of this version (MLflow 3's field); ``None`` before any."""


@dataclass(frozen=True)
class ModelVersionDeploymentJobState(_Fields):
    """Where a version's deployment job is (MLflow 3's ``ModelVersionDeploymentJobState``).

    ``job_state``: ``CONNECTED`` while the model has the job, else ``NOT_FOUND``;
    ``run_state``: ``PENDING``, ``RUNNING``, ``APPROVAL`` (waiting for an
    approval), ``SUCCEEDED`` or ``FAILED``. ``tasks`` maps each task to its
    status, ``error`` says why a failed run stopped.
    """

    job_id: str
    run_id: str
    job_state: str
    run_state: str
    current_task_name: str | None
    tasks: dict[str, str] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class DeploymentTask(_Fields):
    """One task of a deployment job: a notebook run with papermill."""

    name: str
    notebook: str


@dataclass(frozen=True)
class DeploymentJob(_Fields):
    """A registered model's deployment job: notebook tasks run in order for each new version."""

    job_id: str
    name: str
    tasks: list[DeploymentTask]
    parameters: dict[str, Any]
    creation_timestamp: int
    last_updated_timestamp: int


@dataclass(frozen=True)
class DeploymentTaskRun(_Fields):
    """One task of a deployment job run: its status and the executed notebook kept in the store."""

    index: int
    name: str
    notebook: str
    status: str
    output_notebook: str | None = None
    error: str | None = None
    start_timestamp: int | None = None
    end_timestamp: int | None = None


@dataclass(frozen=True)
class DeploymentJobRun(_Fields):
    """A run of a deployment job for one model version."""

    run_id: str
    job_id: str
    name: str
    version: int
    status: str
    current_task_name: str | None
    tasks: list[DeploymentTaskRun]
    parameters: dict[str, Any]
    error: str | None
    worker_pid: int | None
    creation_timestamp: int
    last_updated_timestamp: int
    end_timestamp: int | None = None
    user_id: str | None = None


@dataclass(frozen=True)
class RegisteredModel(_Fields):
    """A named model with its versions; ``aliases`` maps alias to version as MLflow 3 does."""

    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None
    latest_versions: list[ModelVersion] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TransitionRequest(_Fields):
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
class RegistryActivity(_Fields):
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
