"""Logged models (MLflow 3's ``LoggedModel``): ``log_model``'s record, and the fluent calls about it.

Every ``log_model`` creates a logged model ``m-<32 hex>`` with its own tags,
params and metrics; ``models:/<model_id>`` loads it anywhere a model URI is
accepted. Inside a run the files go to the run's artifacts (so
``runs:/<run_id>/<name>`` keeps working) and the model links to the run;
without a run no run is started, and the files go to
``artifacts/models/<model_id>/`` in the store home.
"""

from __future__ import annotations

import contextvars
import os
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..entities import LoggedModel
from ..errors import AlreadyExists, InvalidInput
from ..tracking import fluent
from ..tracking.artifacts import clean_artifact_path, sha256_file
from .model import MLMODEL, Model, ModelInfo, model_files
from .uri import current_experiment_id

if TYPE_CHECKING:
    import pandas as pd

    from ..tracking.client import Client

ACTIVE_MODEL_ENV = "MLFLOW_ACTIVE_MODEL_ID"
"""MLflow's variable naming the active model when ``set_active_model`` was not called."""

_last_model_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("last_logged_model", default=None)
_active_model_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("active_model", default=None)


def _strings(values: dict[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (values or {}).items()}


def create_logged_model(
    client: Client,
    name: str | None = None,
    source_run_id: str | None = None,
    tags: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    model_type: str | None = None,
    experiment_id: str | None = None,
    *,
    artifact_path: str | None = None,
    step: int = 0,
) -> LoggedModel:
    """``Client.create_logged_model`` with the fluent defaults: the run's or current experiment, source tags."""
    if experiment_id is None:
        experiment_id = client.get_run(source_run_id).info.experiment_id if source_run_id \
            else fluent._current_experiment_id(client)  # fmt: skip
    model = client.create_logged_model(experiment_id, name, source_run_id, {**fluent._source_tags(), **_strings(tags)},
                                       params, model_type, artifact_path=artifact_path, step=step)  # fmt: skip
    _last_model_id.set(model.model_id)
    return model


def log_model_folder(
    artifact_path: str | None,
    save: Callable[[Path, Model], Model],
    run_id: str | None = None,
    name: str | None = None,
    *,
    params: dict[str, Any] | None = None,
    tags: dict[str, Any] | None = None,
    model_type: str | None = None,
    step: int = 0,
    model_id: str | None = None,
) -> ModelInfo:
    """Create a logged model and save its files with ``save(folder, model)`` (MLflow 3's ``Model.log``).

    ``run_id`` defaults to the active run; with none, no run is started.
    ``model_id`` names a model made by ``initialize_logged_model`` to fill
    instead of creating one. On failure the folder and the new record are
    removed; a model the caller initialized is marked FAILED instead.
    """
    if artifact_path and name and clean_artifact_path(artifact_path) != clean_artifact_path(name):
        raise InvalidInput(f"log_model got both name={name!r} and artifact_path={artifact_path!r}: give only name")
    path = clean_artifact_path(name or artifact_path)
    if not path and model_id is None:
        raise InvalidInput("log_model needs a name for the model, such as name='model'")
    client = fluent.client()
    if run_id is None:
        active = fluent.active_run()
        if active is not None:
            client, run_id = active.client, active.info.run_id
    store = client.store
    owned = model_id is None
    if model_id is None:
        if run_id is not None and _has_files(store.tracking.artifact_dir(run_id) / path):
            raise AlreadyExists(f"run {run_id} already has a model named {path!r} (runs:/{run_id}/{path}); "
                                "give this one another name")  # fmt: skip
        created = create_logged_model(client, path.rsplit("/", 1)[-1], run_id, tags, params, model_type,
                                      artifact_path=path, step=step)  # fmt: skip
    else:
        created = store.models.get(model_id)
        run_id = run_id or created.source_run_id
    folder = Path(created.artifact_location)
    if _has_files(folder):  # an initialized model already filled: never touch its files
        raise AlreadyExists(f"logged model {created.model_id} already has files in {folder}; "
                            "log a new model instead of passing its model_id")  # fmt: skip
    try:
        if not owned:
            store.models.set_tags(created.model_id, _strings(tags))
            store.models.log_params(created.model_id, _strings(params))
        model = save(folder, Model(artifact_path=str(folder), run_id=run_id, model_id=created.model_id,
                                   model_uuid=created.model_id))  # fmt: skip
        _record(client, created, folder, model, run_id, step)
    except BaseException as exc:
        shutil.rmtree(folder, ignore_errors=True)
        if owned:
            store.models.delete(created.model_id)
        else:
            store.models.finalize(created.model_id, "FAILED", f"{type(exc).__name__}: {exc}")
        raise
    if run_id is not None:
        fluent.note_model_output(run_id, step, created.model_id)
    _last_model_id.set(created.model_id)
    return replace(model.get_model_info(f"models:/{created.model_id}"), name=created.name)


def _has_files(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


def _record(client: Client, created: LoggedModel, folder: Path, model: Model, run_id: str | None, step: int) -> None:
    """In one transaction: the run's artifact records, the model's description, its run metrics, READY."""
    store = client.store
    py = model.flavors.get("python_function", {})
    if run_id is not None:
        client.flush()  # the run's buffered metrics at this step become the model's
    with store.db.write():
        if run_id is not None and created.artifact_path:
            for rel in [*model_files(folder), MLMODEL]:
                file = folder / rel
                digest = model.file_hashes.get(rel) or sha256_file(file)
                store.tracking.record_artifact(run_id, f"{created.artifact_path}/{rel}", file.stat().st_size, digest)
        store.models.record_files(
            created.model_id, list(model.flavors), py.get("loader_module"),
            model.signature.to_dict() if model.signature is not None else None, str(model.model_uuid),
            int(model.model_size_bytes or 0), sha256_file(folder / MLMODEL),
        )  # fmt: skip
        if run_id is not None:
            store.models.copy_run_metrics(created.model_id, run_id, step)
        store.models.finalize(created.model_id, "READY")


# ---- the fluent API (MLflow 3's names) -------------------------------------------


def initialize_logged_model(
    name: str | None = None,
    source_run_id: str | None = None,
    tags: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    model_type: str | None = None,
    experiment_id: str | None = None,
) -> LoggedModel:
    """Create a PENDING logged model to fill later (``log_model(model_id=...)``), then ``finalize_logged_model``.

    ``source_run_id`` defaults to the active run; its files go to
    ``artifacts/models/<model_id>/`` in the store home.
    """
    client = fluent.client()
    if source_run_id is None and (active := fluent.active_run()) is not None:
        source_run_id = active.info.run_id
    return create_logged_model(client, name, source_run_id, tags, params, model_type, experiment_id)


def finalize_logged_model(model_id: str, status: str) -> LoggedModel:
    """Set a logged model's status to ``"READY"`` or ``"FAILED"`` and return it."""
    return fluent.client().store.models.finalize(model_id, status)


def get_logged_model(model_id: str) -> LoggedModel:
    """The logged model ``m-...`` with its tags, params and metrics; ``NotFound`` names the closest ones."""
    c = fluent.client()
    return c.store.models.get(model_id, current_experiment_id(c.store.home))


def last_logged_model() -> LoggedModel | None:
    """The model most recently logged (or initialized) in this thread, or ``None``."""
    model_id = _last_model_id.get()
    return get_logged_model(model_id) if model_id else None


def set_logged_model_tags(model_id: str, tags: dict[str, Any]) -> None:
    """Set tags on a logged model (values become strings)."""
    from ..tracking.validation import validate_key

    fluent.client().store.models.set_tags(model_id, {validate_key(k, "tag"): str(v) for k, v in tags.items()})


def delete_logged_model_tag(model_id: str, key: str) -> None:
    """Remove one tag from a logged model."""
    fluent.client().store.models.delete_tag(model_id, key)


def log_model_params(params: dict[str, Any], model_id: str | None = None) -> None:
    """Log params to a logged model (default: the active model, see ``set_active_model``)."""
    from ..tracking.validation import validate_key

    model_id = model_id or get_active_model_id()
    if model_id is None:
        raise InvalidInput("log_model_params needs a model_id, or an active model (set_active_model)")
    fluent.client().store.models.log_params(model_id, {validate_key(k, "param"): str(v) for k, v in params.items()})


class ActiveModel:
    """What ``set_active_model`` returns: the ``LoggedModel``'s fields, and a ``with`` block restoring the previous one."""

    def __init__(self, model: LoggedModel, previous: str | None) -> None:
        self.logged_model = model
        self._previous = previous

    def __getattr__(self, name: str) -> Any:
        return getattr(self.logged_model, name)

    def __enter__(self) -> ActiveModel:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        _active_model_id.set(self._previous)

    def __repr__(self) -> str:
        return f"<ActiveModel: model_id={self.logged_model.model_id} name={self.logged_model.name!r}>"


def set_active_model(*, name: str | None = None, model_id: str | None = None) -> ActiveModel:
    """Make a logged model active: by ``model_id``, or the newest named ``name`` in the current experiment (created if none)."""
    if (name is None) == (model_id is None):
        raise InvalidInput("set_active_model takes exactly one of name= or model_id=")
    c = fluent.client()
    experiment_id = fluent._current_experiment_id(c)
    if model_id is not None:
        model = c.store.models.get(model_id, experiment_id)
        if name is not None and model.name != name:
            raise InvalidInput(f"logged model {model_id} is named {model.name!r}, not {name!r}")
    else:
        found = c.store.models.search([experiment_id], f"name = '{str(name).replace(chr(39), chr(39) * 2)}'",
                                      max_results=1)  # fmt: skip
        if found:
            model = found[0]
        else:
            model = create_logged_model(c, name, tags={"mlflow.model.isExternal": "true"}, experiment_id=experiment_id)
            model = c.store.models.finalize(model.model_id, "READY")
    previous = _active_model_id.get()
    _active_model_id.set(model.model_id)
    return ActiveModel(model, previous)


def get_active_model_id() -> str | None:
    """The model ``set_active_model`` made active in this context, else ``$MLFLOW_ACTIVE_MODEL_ID``, else ``None``."""
    return _active_model_id.get() or os.environ.get(ACTIVE_MODEL_ENV) or None


def search_logged_models(
    experiment_ids: list[str] | None = None,
    filter_string: str | None = None,
    datasets: list[dict[str, str]] | None = None,
    max_results: int | None = None,
    order_by: list[dict[str, Any] | str] | None = None,
    output_format: str = "pandas",
) -> pd.DataFrame | list[LoggedModel]:
    """Logged models of ``experiment_ids`` (default: the current experiment), newest first.

    ``filter_string`` uses MLflow's grammar over the model's attributes
    (``name``, ``source_run_id``, ``model_type``, ``status``, ``flavors``,
    ``creation_timestamp``, ``model_size_bytes``...) and its own
    ``metrics.``, ``params.`` and ``tags.``; ``datasets=[{"dataset_name": ...,
    "dataset_digest": ...}]`` restricts metric filters to those datasets;
    ``order_by`` takes ``[{"field_name": "metrics.acc", "ascending": False}]``
    (or ``"metrics.acc DESC"``). ``output_format="list"`` returns
    ``LoggedModel`` entities; the DataFrame has MLflow's columns plus
    ``metrics.<key>`` (latest value) and ``flavors``.
    """
    c = fluent.client()
    if output_format not in ("pandas", "list"):
        raise InvalidInput(f"output_format must be 'pandas' or 'list', not {output_format!r}")
    found = c.store.models.search(experiment_ids or [fluent._current_experiment_id(c)], filter_string, order_by,
                                  max_results, datasets)  # fmt: skip
    if output_format == "list":
        return found
    return models_frame(found)


def models_frame(found: list[LoggedModel]) -> pd.DataFrame:
    """Logged models as a DataFrame: MLflow's columns, then ``flavors``, ``model_uri`` and ``metrics.<key>``."""
    import pandas as pd

    columns = ["artifact_location", "creation_timestamp", "experiment_id", "last_updated_timestamp", "metrics",
               "model_id", "model_type", "name", "params", "source_run_id", "status", "status_message", "tags"]  # fmt: skip
    frame = pd.DataFrame({col: [getattr(m, col) for m in found] for col in columns}, columns=columns)
    frame["flavors"] = [",".join(m.flavors) for m in found]
    frame["model_uri"] = [m.model_uri for m in found]
    latest: list[dict[str, float]] = [{} for _ in found]
    for row, model in zip(latest, found, strict=True):
        for metric in model.metrics:  # ordered by time: the last one wins
            row[metric.key] = metric.value
    for key in sorted({k for row in latest for k in row}):
        frame[f"metrics.{key}"] = [row.get(key, float("nan")) for row in latest]
    return frame
