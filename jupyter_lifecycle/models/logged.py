"""Logging a model into a run, and searching logged models across runs."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..tracking.artifacts import clean_artifact_path, sha256_file
from .model import MLMODEL, Model, ModelInfo, model_files

if TYPE_CHECKING:
    import pandas as pd


def new_model_id() -> str:
    """A logged-model id in MLflow 3's form: ``m-`` and a hex UUID."""
    return f"m-{uuid.uuid4().hex}"


def log_model_folder(
    artifact_path: str | None,
    save: Callable[[Path, Model], Model],
    run_id: str | None = None,
    name: str | None = None,
) -> ModelInfo:
    """Save a model into a run's artifacts with ``save(folder, model)``; record its files and a logged-model row.

    Without ``run_id`` the active run is used, and one is started if there is
    none (as MLflow does).
    """
    from ..errors import InvalidInput
    from ..tracking import fluent

    path = clean_artifact_path(artifact_path or name)
    if not path:
        raise InvalidInput("log_model needs a name for the model's folder in the run, such as 'model'")
    if run_id is None:
        active = fluent.active_run() or fluent.start_run()
        client, run_id = active.client, active.info.run_id
    else:
        client = fluent.client()
    store = client.store
    folder = store.tracking.artifact_dir(run_id) / path
    model_id = new_model_id()
    model = save(folder, Model(artifact_path=path, run_id=run_id, model_id=model_id))
    files = [*model_files(folder), MLMODEL]
    with store.db.write():
        for rel in files:
            file = folder / rel
            digest = model.file_hashes.get(rel) or sha256_file(file)
            store.tracking.record_artifact(run_id, f"{path}/{rel}", file.stat().st_size, digest)
        py = model.flavors.get("python_function", {})
        store.models.record(
            model_id, run_id, path, list(model.flavors), py.get("loader_module"),
            model.signature.to_dict() if model.signature is not None else None, str(model.model_uuid),
            int(model.model_size_bytes or 0), sha256_file(folder / MLMODEL), name=name or path.rsplit("/", 1)[-1],
        )  # fmt: skip
    return model.get_model_info(f"runs:/{run_id}/{path}")


def search_logged_models(
    experiment_ids: list[str] | None = None,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
    max_results: int | None = None,
    output_format: str = "pandas",
) -> pd.DataFrame | list[Any]:
    """Logged models as a DataFrame (one row per ``log_model``), with their run's metrics.

    ``filter_string`` uses MLflow's grammar over the model's attributes
    (``name``, ``source_run_id``, ``flavors``, ``creation_timestamp``,
    ``model_size_bytes``...) and its run's ``metrics.``, ``params.`` and
    ``tags.``; ``order_by`` takes attributes and ``metrics.<key>``.
    ``experiment_ids=None`` searches every experiment. ``output_format="list"``
    returns ``LoggedModel`` entities.
    """
    import pandas as pd

    from ..tracking import fluent

    store = fluent.client().store
    found = store.models.search(experiment_ids, filter_string, order_by, max_results)
    if output_format == "list":
        return found
    metrics = store.models.run_metrics(sorted({m.run_id for m in found if m.run_id}))
    frame = pd.DataFrame(
        {
            "model_id": [m.model_id for m in found],
            "name": [m.name for m in found],
            "experiment_id": [m.experiment_id for m in found],
            "source_run_id": [m.run_id for m in found],
            "artifact_path": [m.artifact_path for m in found],
            "model_uri": [m.model_uri for m in found],
            "flavors": [",".join(m.flavors) for m in found],
            "loader_module": [m.loader_module for m in found],
            "inputs": [(m.signature or {}).get("inputs") for m in found],
            "model_size_bytes": [m.size_bytes for m in found],
            "status": [m.status for m in found],
            "creation_timestamp": pd.to_datetime([m.creation_time for m in found], unit="ms", utc=True),
        }
    )
    keys = sorted({k for values in metrics.values() for k in values})
    for key in keys:
        frame[f"metrics.{key}"] = [metrics.get(m.run_id or "", {}).get(key, float("nan")) for m in found]
    return frame
