"""What the REST API returns: plain JSON-ready dicts built from the Python API.

The handlers only parse requests and call these, so every panel action is
one function call here and one HTTP call there; nothing in the lab extension
decides anything. Times are epoch milliseconds; NaN and infinite metric
values become ``null``, since JSON has no spelling for them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..client import Client
from ..entities import ModelVersion, RegisteredModel, Run
from ..errors import Conflict, InvalidInput, NotFound, shown

MAX_RUNS = 1000
MAX_CHART_KEYS = 6


def quoted(value: str) -> str:
    """``value`` as a filter-string literal (quotes doubled, as the filter grammar reads them)."""
    return "'" + value.replace("'", "''") + "'"


def _number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def run_summary(run: Run) -> dict[str, Any]:
    """A run as the runs list shows it."""
    info = run.info
    return {
        "run_id": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "status": info.status,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "params": run.data.params,
        "metrics": {k: _number(v) for k, v in run.data.metrics.items()},
        "tags": run.data.tags,
    }


def info(client: Client) -> dict[str, Any]:
    """Where the store is, its schema version and row counts."""
    store = client.store
    return {
        "home": str(store.home),
        "db": str(store.db_path),
        "schema_version": store.db.schema_version(),
        "counts": store.counts(),
    }


def experiments(client: Client) -> dict[str, Any]:
    """Active experiments, most recently updated first, with their run counts."""
    found = client.search_experiments(order_by=["last_update_time DESC"])
    counts = client.store.tracking.active_run_counts()
    return {
        "experiments": [
            {
                "experiment_id": e.experiment_id,
                "name": e.name,
                "lifecycle_stage": e.lifecycle_stage,
                "creation_time": e.creation_time,
                "last_update_time": e.last_update_time,
                "run_count": counts.get(e.experiment_id, 0),
            }
            for e in found
        ]
    }


def runs(
    client: Client,
    experiment_id: str,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
    max_results: int = MAX_RUNS,
) -> dict[str, Any]:
    """An experiment's runs matching an MLflow filter string, with the metric and param keys they use."""
    client.get_experiment(experiment_id)  # NotFound names the id
    found = client.search_runs(
        [experiment_id], filter_string or "", max_results=min(max_results, MAX_RUNS), order_by=order_by or None
    )
    return {
        "runs": [run_summary(r) for r in found],
        "metric_keys": sorted({k for r in found for k in r.data.metrics}),
        "param_keys": sorted({k for r in found for k in r.data.params}),
    }


def run_detail(client: Client, run_id: str) -> dict[str, Any]:
    """One run with its artifacts, notebook revisions, logged models and registered versions."""
    run = client.get_run(run_id)
    store = client.store
    detail = run_summary(run) | {
        "artifact_uri": run.info.artifact_uri,
        "notebook_path": run.info.notebook_path,
        "parent_run_id": run.info.parent_run_id,
        "user_id": run.info.user_id,
    }
    revisions = store.capture.run_revisions(run_id)
    models = store.models.search(filter_string=f"source_run_id = {quoted(run_id)}")
    versions = client.search_model_versions(f"run_id = {quoted(run_id)}")
    return {
        "run": detail,
        "artifacts": [{"path": f.path, "is_dir": f.is_dir, "file_size": f.file_size}
                      for f in client.list_artifacts(run_id)],  # fmt: skip
        "revisions": [{"revision_id": revisions[m], "moment": m} for m in ("start", "end") if m in revisions],
        "models": [{"artifact_path": m.artifact_path, "model_uri": f"runs:/{run_id}/{m.artifact_path}",
                    "model_id": m.model_id, "flavors": list(m.flavors)}
                   for m in models],  # fmt: skip
        "registered_versions": [{"name": v.name, "version": v.version} for v in versions],
    }


def run_chart(client: Client, run_id: str, keys: list[str] | None = None) -> dict[str, Any]:
    """The metric-history chart of one run as a vega-lite spec with its data inline (``null`` without metrics).

    Several metrics are stacked one panel per row, for the sidebar's width.
    """
    from ..notebook.charts import metric_history

    run = client.get_run(run_id)
    wanted = keys or sorted(run.data.metrics)[:MAX_CHART_KEYS]
    missing = [k for k in wanted if k not in run.data.metrics]
    if missing:
        raise NotFound(f"run {run_id} has no metric {missing[0]!r}; it has {', '.join(sorted(run.data.metrics)) or 'none'}")
    if not wanted:
        return {"spec": None}
    chart = metric_history([run], wanted if len(wanted) > 1 else wanted[0], client=client, width=320, height=180)
    spec = chart.to_dict()
    if "columns" in spec:  # one metric panel per row: the sidebar is narrow
        spec["columns"] = 1
    return {"spec": spec}


def _model_summary(model: RegisteredModel, version_count: int) -> dict[str, Any]:
    return {
        "name": model.name,
        "description": model.description,
        "creation_timestamp": model.creation_timestamp,
        "last_updated_timestamp": model.last_updated_timestamp,
        "aliases": model.aliases,
        "latest_version": max((v.version for v in model.latest_versions), default=None),
        "version_count": version_count,
    }


def _version(version: ModelVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "current_stage": version.current_stage,
        "run_id": version.run_id,
        "source": version.source,
        "status": version.status,
        "creation_timestamp": version.creation_timestamp,
        "description": version.description,
        "aliases": version.aliases,
        "model_uri": f"models:/{version.name}/{version.version}",
        "deployment_job_state": dict(version.deployment_job_state) if version.deployment_job_state else None,
    }


def models(client: Client) -> dict[str, Any]:
    """Every registered model with its aliases, latest version and number of versions."""
    counts: dict[str, int] = {}
    for version in client.search_model_versions():
        counts[version.name] = counts.get(version.name, 0) + 1
    return {"models": [_model_summary(m, counts.get(m.name, 0))
                       for m in client.search_registered_models(max_results=MAX_RUNS)]}  # fmt: skip


def model_detail(client: Client, name: str) -> dict[str, Any]:
    """A registered model and its versions, newest first."""
    model = client.get_registered_model(name)
    versions = client.search_model_versions(f"name = {quoted(name)}", order_by=["version_number DESC"])
    return {"model": _model_summary(model, len(versions)), "versions": [_version(v) for v in versions]}


def set_alias(client: Client, name: str, alias: str, version: Any) -> dict[str, Any]:
    """Point ``alias`` at ``version``; the model detail after."""
    if version is None:
        raise InvalidInput('give the version the alias points to: {"version": 3}')
    client.set_registered_model_alias(name, alias, version)
    return model_detail(client, name)


def delete_alias(client: Client, name: str, alias: str) -> dict[str, Any]:
    """Remove ``alias``; the model detail after."""
    client.delete_registered_model_alias(name, alias)
    return model_detail(client, name)


def transition_stage(client: Client, name: str, version: str, stage: Any, archive_existing: bool) -> dict[str, Any]:
    """Move a version to a stage (optionally archiving the others there); the model detail after."""
    if not isinstance(stage, str):
        raise InvalidInput('give the stage: {"stage": "Production"} (Staging, Production, Archived or None)')
    if not isinstance(archive_existing, bool):
        # "no" or "false" read as true would archive a production version by mistake.
        raise InvalidInput(f"archive_existing_versions must be true or false (a JSON boolean), got {shown(archive_existing)}")
    client.transition_model_version_stage(name, version, stage, archive_existing_versions=archive_existing)
    return model_detail(client, name)


def _endpoint(row: Any, home: Path) -> dict[str, Any]:
    from ..serving import Endpoint

    handle = Endpoint(row, home)
    return {"endpoint_id": row.endpoint_id, "model_uri": row.model_uri, "model_name": row.model_name,
            "version": row.model_version, "url": handle.url if row.port else None, "port": row.port, "pid": row.pid,
            "status": row.status, "status_message": row.status_message, "start_time": row.start_time,
            "end_time": row.end_time, "requests_served": row.requests_served, "log_requests": row.log_requests}  # fmt: skip


def endpoints(client: Client, include_stopped: bool = False) -> dict[str, Any]:
    """Model endpoints of the store, newest first: running and dead ones (stopped ones too with ``include_stopped``)."""
    rows = client.store.endpoints.list(include_ended=include_stopped)
    return {"endpoints": [_endpoint(row, client.store.home) for row in rows]}


def stop_endpoint(client: Client, endpoint_id: str) -> dict[str, Any]:
    """Stop an endpoint (its server process on this host); the endpoint after."""
    from ..serving import stop_endpoint as stop

    return {"endpoint": _endpoint(stop(endpoint_id, home=client.store.home), client.store.home)}


def revisions(client: Client, notebook_path: str | None = None, max_results: int = 200) -> dict[str, Any]:
    """Notebook revisions (of one notebook, or of all), newest first."""
    found = client.store.capture.list_revisions(notebook_path or None, max_results)
    return {
        "revisions": [
            {"revision_id": r.revision_id, "notebook_path": r.notebook_path, "created": r.recorded_time or r.created_time,
             "cell_count": r.cell_count, "reason": r.trigger}
            for r in found
        ]
    }  # fmt: skip


def scoring_notebook(root_dir: Path, model_uri: Any, path: Any = None) -> dict[str, Any]:
    """Write a scoring notebook under the server's root; its path relative to the root, for the lab to open."""
    from ..models.uri import resolve_model_uri
    from ..scoring.notebook import default_notebook_name, generate_scoring_notebook
    from ..tracking.artifacts import check_file_path

    if not isinstance(model_uri, str) or not model_uri:
        raise InvalidInput('give the model: {"model_uri": "models:/name@champion"}')
    root = root_dir.resolve()
    resolve_model_uri(model_uri)  # NotFound or InvalidInput before any file is claimed
    if path is None:
        # A 256-character model name would make a file name over the 255 bytes file systems allow.
        stem = Path(default_notebook_name(model_uri)).stem.encode()[:120].decode(errors="ignore")
        target = _claim_free_name(root / "scoring" / f"{stem}.ipynb")
    elif not isinstance(path, str) or not path.endswith(".ipynb"):
        raise InvalidInput(f"path must name an .ipynb file below the server root, got {shown(path)}")
    else:
        check_file_path(path, "path")
        target = (root / path).resolve()
        if not target.is_relative_to(root):
            raise InvalidInput(f"path {path!r} leaves the server root {root}")
        blocking = next((p for p in target.parents if p.is_relative_to(root) and p.exists() and not p.is_dir()), None)
        if blocking is not None:
            raise Conflict(f"path {path!r} needs the folder {blocking.relative_to(root).as_posix()!r}, which is a file")
        if not _claim(target):
            raise Conflict(f"{path!r} already exists below the server root: give another path, or none "
                           "to get a free name under scoring/")  # fmt: skip
    try:
        generate_scoring_notebook(model_uri, notebook_path=target)
    except BaseException:
        target.unlink(missing_ok=True)  # the empty file that claimed the name
        raise
    return {"path": target.relative_to(root).as_posix(), "model_uri": model_uri}


def _claim(target: Path) -> bool:
    """Create ``target`` empty unless something is there; ``False`` if it is.

    Exclusive creation, not a check then a write: two requests for one name
    cannot both get it, and an existing file is never overwritten.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        target.open("x").close()
    except (FileExistsError, IsADirectoryError):
        return False
    return True


def _claim_free_name(target: Path) -> Path:
    """``target``, or ``stem-2.ipynb``, ``stem-3.ipynb``... claimed: a click never overwrites a notebook."""
    candidate, number = target, 1
    while not _claim(candidate):
        number += 1
        candidate = target.with_name(f"{target.stem}-{number}{target.suffix}")
    return candidate
