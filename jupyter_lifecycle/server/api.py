"""What the REST API returns: plain JSON-ready dicts built from the Python API.

The handlers only parse requests and call these, so every panel action is
one function call here and one HTTP call there; nothing in the lab extension
decides anything. Times are epoch milliseconds; NaN and infinite metric
values become ``null``, since JSON has no spelling for them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..client import Client
from ..entities import ModelVersion, RegisteredModel, Run
from ..errors import Conflict, InvalidInput, LifecycleError, NotFound, shown

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


def _columns(columns: str | None) -> dict[str, set[str]] | None:
    """``params.C,metrics.*`` as ``{"params": {"C"}, "metrics": {"*"}, "tags": set()}`` (``None``: every column).

    ``*`` stands for every key of its kind.
    """
    if columns is None:
        return None
    wanted: dict[str, set[str]] = {"params": set(), "metrics": set(), "tags": set()}
    for column in filter(None, (c.strip() for c in columns.split(","))):
        kind, dot, key = column.partition(".")
        if kind not in wanted or not dot or not key:
            raise InvalidInput(f"column {column!r} must be params.<key>, metrics.<key> or tags.<key> "
                               "(columns=params.C,metrics.acc)")  # fmt: skip
        wanted[kind].add(key)
    return wanted


def runs(
    client: Client,
    experiment_ids: str | list[str],
    filter_string: str | None = None,
    order_by: list[str] | None = None,
    max_results: int = MAX_RUNS,
    page_token: str | None = None,
    columns: str | None = None,
) -> dict[str, Any]:
    """A page of runs of one or more experiments matching an MLflow filter string.

    ``columns`` (``params.C,metrics.acc,tags.team``; ``metrics.*`` for every
    metric) keeps only those params, metrics and tags in each run, so a grid
    page stays small; the key lists
    are those of the page's runs whatever the columns. ``next_page_token``
    fetches the next page (``None`` after the last).
    """
    ids = [experiment_ids] if isinstance(experiment_ids, str) else list(experiment_ids)
    if not ids:
        raise InvalidInput("give the experiment: runs?experiment_id=<id> (see GET experiments)")
    for experiment_id in ids:
        client.get_experiment(experiment_id)  # NotFound names the id
    if max_results < 1 or max_results > MAX_RUNS:
        raise InvalidInput(f"max_results must be between 1 and {MAX_RUNS}, got {max_results}")
    wanted = _columns(columns)
    found = client.search_runs(ids, filter_string or "", max_results=max_results, order_by=order_by or None,
                               page_token=page_token or None)  # fmt: skip
    summaries = [run_summary(r) for r in found]
    if wanted is not None:
        for summary in summaries:
            for kind, keys in wanted.items():
                if "*" not in keys:
                    summary[kind] = {k: v for k, v in summary[kind].items() if k in keys}
    return {
        "runs": summaries,
        "metric_keys": sorted({k for r in found for k in r.data.metrics}),
        "param_keys": sorted({k for r in found for k in r.data.params}),
        "tag_keys": sorted({k for r in found for k in r.data.tags if not k.startswith("mlflow.")}),
        "next_page_token": found.token,
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

    Several metrics are stacked one panel per row in ``spec``. ``panels`` holds
    one spec per metric whose width follows its container (vega-lite's
    ``width: "container"`` works only for a single or layered view, not a
    concatenation): the sidebar draws those, as wide as it is.
    """
    from ..notebook.charts import metric_history

    run = client.get_run(run_id)
    wanted = keys or sorted(run.data.metrics)[:MAX_CHART_KEYS]
    missing = [k for k in wanted if k not in run.data.metrics]
    if missing:
        raise NotFound(f"run {run_id} has no metric {missing[0]!r}; it has {', '.join(sorted(run.data.metrics)) or 'none'}")
    if not wanted:
        return {"spec": None, "panels": []}
    chart = metric_history([run], wanted if len(wanted) > 1 else wanted[0], client=client, width=320, height=180)
    spec = chart.to_dict()
    if "columns" in spec:  # one metric panel per row: the sidebar is narrow
        spec["columns"] = 1
    panels = []
    for key in wanted:
        panel = metric_history([run], key, client=client, height=160).to_dict()
        panel.update(width="container", autosize={"type": "fit-x", "contains": "padding"})
        _drop_legends(panel)  # one run: a legend would only name it, and take a third of the sidebar's width
        panels.append(panel)
    return {"spec": spec, "panels": panels}


def _drop_legends(spec: dict[str, Any]) -> None:
    """Set ``legend: null`` on every colour encoding of a vega-lite spec and its layers."""
    colour = spec.get("encoding", {}).get("color")
    if isinstance(colour, dict):
        colour["legend"] = None
    for layer in spec.get("layer", []):
        _drop_legends(layer)


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
    """A registered model and its versions, newest first, each with its source run's metrics (``{}`` without one)."""
    model = client.get_registered_model(name)
    versions = client.search_model_versions(f"name = {quoted(name)}", order_by=["version_number DESC"])
    metrics: dict[str, dict[str, float | None]] = {}
    for run_id in {v.run_id for v in versions if v.run_id}:  # versions of one run share it
        try:
            metrics[run_id] = {k: _number(v) for k, v in client.get_run(run_id).data.metrics.items()}
        except NotFound:
            metrics[run_id] = {}  # the run was deleted for good; the version stays
    return {
        "model": _model_summary(model, len(versions)),
        "versions": [_version(v) | {"metrics": metrics.get(v.run_id or "", {})} for v in versions],
    }


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


def json_ready(value: Any) -> Any:
    """``value`` with NaN/infinity as ``None`` and dates/numpy scalars as text or numbers, for ``json.dumps``."""
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    item = getattr(value, "item", None)  # numpy scalars
    return json_ready(item()) if callable(item) else str(value)


def version_detail(client: Client, name: str, version: str, root: Path | None = None) -> dict[str, Any]:
    """One model version as its page shows it: signature, requirements, source-run metrics, lineage,
    transition requests (pending first), the activity log and its deployment job runs (newest first).

    With the server's ``root``, an executed task notebook inside it gets ``output_path``, relative to it, for opening.
    """
    import yaml

    from ..models.uri import resolve_model_uri

    found = client.get_model_version(name, version)
    detail = _version(found) | {"name": found.name, "user_id": found.user_id,
                                "last_updated_timestamp": found.last_updated_timestamp}  # fmt: skip
    signature: Any = None
    requirements: list[str] = []
    flavors: list[str] = []
    try:
        folder = resolve_model_uri(found.source)
    except LifecycleError:
        folder = None  # a version whose files are gone still shows its registry data
    if folder is not None and (folder / "MLmodel").is_file():
        mlmodel = yaml.safe_load((folder / "MLmodel").read_text()) or {}
        signature = mlmodel.get("signature")
        for key in ("inputs", "outputs", "params"):
            if signature and isinstance(signature.get(key), str):
                signature[key] = json.loads(signature[key])
        flavors = sorted(mlmodel.get("flavors") or {})
    if folder is not None and (folder / "requirements.txt").is_file():
        requirements = [line.strip() for line in (folder / "requirements.txt").read_text().splitlines()
                        if line.strip() and not line.startswith("#")]  # fmt: skip
    lineage = client.lineage(f"models:/{found.name}/{found.version}").to_dict()
    requests = client.list_transition_requests(found.name, found.version, include_resolved=True)
    requests.sort(key=lambda r: (r.status != "PENDING", -r.creation_timestamp))
    return json_ready({
        "version": detail,
        "signature": signature,
        "requirements": requirements,
        "flavors": flavors,
        "metrics": (lineage.get("run") or {}).get("metrics", {}),
        "lineage": {
            "run": lineage.get("run") and {k: lineage["run"][k] for k in ("run_id", "run_name", "experiment_id", "status")},
            "notebook_path": lineage.get("notebook_path"),
            "revisions": {moment: {"revision_id": rev.get("revision_id"), "cell_count": rev.get("cell_count")}
                          for moment, rev in lineage.get("revisions", {}).items()},
            "cell_count": len(lineage.get("cells", [])),
            "datasets": lineage.get("datasets", []),
            "notes": lineage.get("notes", []),
        },
        "transition_requests": [dict(r) for r in requests],
        "activity": [dict(a) for a in client.list_activity(found.name, found.version)],
        "deployment_job_runs": [_job_run(r, root) for r in reversed(client.get_deployment_job_runs(found.name, found.version))],
    })  # fmt: skip


def _job_run(run: Any, root: Path | None) -> dict[str, Any]:
    """A deployment job run, each task with its executed notebook (``output_path``: relative to ``root``, if inside)."""

    def below_root(path: str | None) -> str | None:
        if path is None or root is None:
            return None
        try:
            return Path(path).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            return None  # the store lives outside the server root: the page shows the path only

    return {"run_id": run.run_id, "job_id": run.job_id, "status": run.status, "current_task_name": run.current_task_name,
            "error": run.error, "creation_timestamp": run.creation_timestamp, "end_timestamp": run.end_timestamp,
            "tasks": [{"name": t.name, "notebook": t.notebook, "status": t.status, "output_notebook": t.output_notebook,
                       "output_path": below_root(t.output_notebook), "error": t.error, "start_timestamp": t.start_timestamp, "end_timestamp": t.end_timestamp}
                      for t in run.tasks]}  # fmt: skip


def set_version_description(client: Client, name: str, version: str, description: Any) -> dict[str, Any]:
    """Replace a version's description; the version detail after."""
    if not isinstance(description, str):
        raise InvalidInput(f'give the description as text: {{"description": "..."}}, got {shown(description)}')
    client.update_model_version(name, version, description=description)
    return version_detail(client, name, version)


def transition_request(client: Client, name: str, version: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create (``request``), ``approve``, ``reject`` or ``cancel`` a transition request; the version detail after."""
    stage, comment = body.get("stage"), body.get("comment")
    if not isinstance(stage, str):
        raise InvalidInput('give the stage of the request: {"stage": "Production"} (Staging, Production or Archived)')
    if comment is not None and not isinstance(comment, str):
        raise InvalidInput(f"comment must be text, got {shown(comment)}")
    if action == "request":
        client.create_transition_request(name, version, stage, comment)
    elif action == "approve":
        archive = body.get("archive_existing_versions", False)
        if not isinstance(archive, bool):
            raise InvalidInput(f"archive_existing_versions must be true or false (a JSON boolean), got {shown(archive)}")
        client.approve_transition_request(name, version, stage, archive, comment)
    elif action == "reject":
        client.reject_transition_request(name, version, stage, comment)
    elif action == "cancel":
        client.cancel_transition_request(name, version, stage, comment)
    else:  # the route only lets these four through
        raise InvalidInput(f"unknown action {action!r}: request, approve, reject or cancel")
    return version_detail(client, name, version)


def artifacts(client: Client, run_id: str, path: str = "") -> dict[str, Any]:
    """The files and folders directly under ``path`` in a run's artifacts."""
    listed = client.list_artifacts(run_id, path or None)
    return {"path": path, "files": [{"path": f.path, "is_dir": f.is_dir, "file_size": f.file_size} for f in listed]}


MAX_COMPARED = 100
MAX_POINTS = 500


def compare(client: Client, run_ids: list[str]) -> dict[str, Any]:
    """Runs side by side for the comparison view: each run's summary, and every metric's history.

    A history longer than 500 points is thinned to 500 evenly spaced points
    (the last one kept), so 100 runs stay a light answer; ``min``/``max``
    come from the whole history. Points are ``[step, timestamp, value]``.
    """
    if not run_ids:
        raise InvalidInput("give the runs: compare?run_id=<id>&run_id=<id>")
    if len(run_ids) > MAX_COMPARED:
        raise InvalidInput(f"compare at most {MAX_COMPARED} runs at once, got {len(run_ids)}")
    runs = [client.get_run(run_id) for run_id in dict.fromkeys(run_ids)]  # NotFound names the id
    series: dict[str, dict[str, list[Any]]] = {}
    for run_id, key, value, timestamp, step in client.store.tracking.metric_histories([r.info.run_id for r in runs]):
        series.setdefault(key, {}).setdefault(run_id, []).append([step, timestamp, value])
    histories: dict[str, dict[str, Any]] = {}
    for key, by_run in sorted(series.items()):
        histories[key] = {}
        for run_id, points in by_run.items():
            finite = [p[2] for p in points if math.isfinite(p[2])]
            if len(points) > MAX_POINTS:
                stride = len(points) / MAX_POINTS
                points = [points[int(i * stride)] for i in range(MAX_POINTS - 1)] + [points[-1]]
            histories[key][run_id] = {
                "points": [[s, t, _number(v)] for s, t, v in points],
                "min": min(finite, default=None),
                "max": max(finite, default=None),
                "count": len(by_run[run_id]),
            }
    return {"runs": [run_summary(r) for r in runs], "histories": histories}


def _sync_uri(uri: Any) -> str:
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidInput(f"give the tracking server: uri=http://host:5000, got {shown(uri)}")
    return uri.strip()


def sync_status(client: Client, uri: Any) -> dict[str, Any]:
    """What is only here, only on the MLflow server at ``uri``, and changed since the last push (nothing is sent)."""
    from ..sync.status import compare

    return compare(client.store, _sync_uri(uri))


def sync_push(client: Client, uri: Any) -> dict[str, Any]:
    """Push the store to the MLflow server at ``uri``; the report."""
    from ..sync import push

    return {"report": push(_sync_uri(uri), progress=False, store=client.store).to_dict()}
