"""Rich HTML displays: runs, experiments, datasets, logged and registered models, versions as tables in a notebook.

Plain HTML strings, no IPython import: ``attach()`` gives the entity classes
a ``_repr_html_`` so that a ``Run`` (or ``Experiment``, ``ModelVersion``...)
left as the last expression of a cell shows as a table. Differences are
marked with ``<mark>``, which JupyterLab keeps even in untrusted output
(where it strips ``<style>``).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from .. import entities

__all__ = ["attach", "html_table", "register_repr"]

_CSS = "border-collapse:collapse;font-size:12px;margin:4px 0"
_CELL = "padding:2px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top"


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def fmt_time(ms: int | None) -> str:
    """Epoch milliseconds as ``YYYY-MM-DD HH:MM:SS`` UTC (empty for ``None``)."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def fmt_duration(start: int | None, end: int | None) -> str:
    """A run's duration as ``1h02m``, ``3m05s`` or ``4.2s``."""
    if start is None or end is None:
        return ""
    seconds = (end - start) / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def fmt_value(value: Any) -> str:
    """Numbers to 6 significant digits; everything else as text."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


def html_table(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    highlight_rows: Iterable[int] = (),
    caption: str | None = None,
) -> str:
    """An HTML table (cells escaped); cells of the ``highlight_rows`` (0-based) are wrapped in ``<mark>``."""
    marked = set(highlight_rows)
    head = "".join(f'<th style="{_CELL}">{_e(h)}</th>' for h in header)
    body = []
    for i, row in enumerate(rows):
        cells = []
        for j, cell in enumerate(row):
            text = _e(fmt_value(cell))
            if i in marked and j > 0:
                text = f"<mark>{text}</mark>"
            cells.append(f'<td style="{_CELL}">{text}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    cap = f'<caption style="text-align:left;font-weight:bold">{_e(caption)}</caption>' if caption else ""
    return (f'<table class="jl-table" style="{_CSS}">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")  # fmt: skip


def _pairs(title: str, items: dict[str, Any]) -> str:
    if not items:
        return ""
    return html_table([title, "value"], sorted(items.items()))


def _card(title: str, facts: dict[str, Any], *sections: str) -> str:
    rows = "".join(
        f'<tr><th style="{_CELL}">{_e(k)}</th><td style="{_CELL}">{_e(fmt_value(v))}</td></tr>'
        for k, v in facts.items()
        if v not in (None, "")
    )
    inner = "".join(f'<div style="display:inline-block;vertical-align:top;margin-right:16px">{s}</div>'
                    for s in sections if s)  # fmt: skip
    return (f'<div class="jl-card"><b>{_e(title)}</b><table style="{_CSS}">{rows}</table>{inner}</div>')


def run_html(run: entities.Run) -> str:
    """A run as a card: attributes, then its params, latest metrics and (non-system) tags."""
    info, data = run.info, run.data
    user_tags = {k: v for k, v in data.tags.items() if not k.startswith("mlflow.")}
    facts = {
        "run_id": info.run_id,
        "status": info.status,
        "experiment_id": info.experiment_id,
        "started": fmt_time(info.start_time) + " UTC",
        "duration": fmt_duration(info.start_time, info.end_time),
        "parent run": info.parent_run_id,
        "notebook": info.notebook_path,
        "artifacts": info.artifact_uri,
        "stage": None if info.lifecycle_stage == "active" else info.lifecycle_stage,
    }
    return _card(f"Run {info.run_name or info.run_id}", facts, _pairs("param", data.params),
                 _pairs("metric", data.metrics), _pairs("tag", user_tags), _datasets(run))  # fmt: skip


def _datasets(run: entities.Run) -> str:
    items = getattr(run, "inputs", entities.RunInputs()).dataset_inputs
    if not items:
        return ""
    rows = [[i.dataset.name, i.dataset.digest, i.context or "", _json(i.dataset.profile).get("num_rows", ""),
             i.dataset.source_type] for i in items]  # fmt: skip
    return html_table(["dataset", "digest", "context", "rows", "source"], rows)


def _json(text: str | None) -> dict[str, Any]:
    try:
        found = json.loads(text or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def dataset_html(dataset: entities.Dataset) -> str:
    """A dataset record as a card: digest, source, profile numbers and its columns (MLflow's schema)."""
    source = _json(dataset.source)
    where = source.get("uri") or source.get("url") or (source.get("tags") or {}).get("mlflow.source.name")
    facts: dict[str, Any] = {"digest": dataset.digest, "source": f"{dataset.source_type} {where or ''}".strip()}
    facts.update({k: v for k, v in _json(dataset.profile).items() if isinstance(v, int)})
    schema = _json(dataset.schema)
    columns = ""
    if "mlflow_colspec" in schema:
        rows = [[c.get("name", ""), c.get("type", "") if c.get("type") != "array" else f"array<{c.get('items', {}).get('type', '')}>",
                 "yes" if c.get("required", True) else "no"] for c in schema["mlflow_colspec"]]  # fmt: skip
        columns = html_table(["column", "type", "required"], rows)
    elif "mlflow_tensorspec" in schema:
        rows = []
        for part, spec in schema["mlflow_tensorspec"].items():
            for tensor in json.loads(spec) if spec else []:
                found = tensor.get("tensor-spec", {})
                rows.append([part, tensor.get("name", ""), found.get("dtype", ""), str(found.get("shape", ""))])
        columns = html_table(["part", "name", "dtype", "shape"], rows)
    return _card(f"Dataset {dataset.name}", facts, columns)


def experiment_html(experiment: entities.Experiment) -> str:
    """An experiment as a card: id, stage, times, artifact location and tags."""
    facts = {
        "experiment_id": experiment.experiment_id,
        "stage": experiment.lifecycle_stage,
        "created": fmt_time(experiment.creation_time) + " UTC",
        "updated": fmt_time(experiment.last_update_time) + " UTC",
        "artifacts": experiment.artifact_location,
    }
    return _card(f"Experiment {experiment.name}", facts, _pairs("tag", experiment.tags))


def model_version_html(version: Any) -> str:
    """A registered model version: stage, aliases, source run and where its files are."""
    facts = {
        "stage": version.current_stage,
        "aliases": ", ".join(f"@{a}" for a in getattr(version, "aliases", []) or []),
        "status": version.status,
        "run_id": version.run_id,
        "source": version.source,
        "created": fmt_time(version.creation_timestamp) + " UTC",
        "user": version.user_id,
        "description": version.description,
        "files": getattr(version, "storage_location", None),
    }
    job = getattr(version, "deployment_job_state", None)
    if job is not None:
        tasks = ", ".join(f"{task} {status}" for task, status in job.tasks.items())
        facts["deployment job"] = f"{job.run_state} (task {job.current_task_name}; {tasks})"
        facts["deployment error"] = job.error
    return _card(f"Model {version.name} version {version.version}", facts, _pairs("tag", version.tags))


def registered_model_html(model: Any) -> str:
    """A registered model: description, aliases and its latest versions in a table."""
    aliases = getattr(model, "aliases", {}) or {}
    by_version: dict[Any, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(str(version), []).append(f"@{alias}")
    facts = {
        "description": model.description,
        "created": fmt_time(model.creation_timestamp) + " UTC",
        "updated": fmt_time(model.last_updated_timestamp) + " UTC",
    }
    versions = html_table(
        ["version", "stage", "aliases", "run_id", "created"],
        [[v.version, v.current_stage, " ".join(by_version.get(str(v.version), [])), v.run_id,
          fmt_time(v.creation_timestamp)] for v in model.latest_versions],  # fmt: skip
        caption="latest versions",
    ) if model.latest_versions else ""
    return _card(f"Registered model {model.name}", facts, versions, _pairs("tag", model.tags))


def logged_model_html(model: Any) -> str:
    """A logged model (MLflow 3): status, run, flavors, then its params, tags and metrics (with their datasets)."""
    user_tags = {k: v for k, v in model.tags.items() if not k.startswith("mlflow.")}
    facts = {
        "model_id": model.model_id,
        "model_uri": model.model_uri,
        "status": model.status,
        "model_type": model.model_type,
        "experiment_id": model.experiment_id,
        "source run": model.source_run_id,
        "flavors": ", ".join(getattr(model, "flavors", ()) or ()),
        "created": fmt_time(model.creation_timestamp) + " UTC",
        "files": model.artifact_location,
    }
    metrics = html_table(
        ["metric", "value", "step", "dataset", "run_id"],
        [[m.key, m.value, m.step, f"{m.dataset_name} ({(m.dataset_digest or '')[:8]})" if m.dataset_name else "",
          m.run_id] for m in model.metrics],  # fmt: skip
    ) if model.metrics else ""
    return _card(f"Logged model {model.name}", facts, _pairs("param", model.params), metrics, _pairs("tag", user_tags))


def generic_html(obj: Any) -> str:
    """Any dataclass or mapping as a two-column table (for revision diffs, lineage...)."""
    if hasattr(obj, "__dataclass_fields__"):
        items = {k: getattr(obj, k) for k in obj.__dataclass_fields__}
    elif isinstance(obj, dict):
        items = dict(obj)
    else:
        return f"<pre>{_e(repr(obj))}</pre>"
    facts = {k: v if isinstance(v, (str, int, float, type(None))) else json.dumps(v, default=str)[:200]
             for k, v in items.items()}  # fmt: skip
    return _card(type(obj).__name__, facts)


_REPRS: dict[type, Callable[[Any], str]] = {}


def register_repr(cls: type, render: Callable[[Any], str]) -> None:
    """Give ``cls`` a ``_repr_html_`` rendered by ``render(obj) -> str`` (unless it has its own)."""
    _REPRS[cls] = render
    if "_repr_html_" not in cls.__dict__ or getattr(cls.__dict__["_repr_html_"], "_jl_attached", False):
        def _repr_html_(self: Any) -> str:
            render = next(_REPRS[k] for k in type(self).__mro__ if k in _REPRS)
            return render(self)

        _repr_html_._jl_attached = True  # type: ignore[attr-defined]
        cls._repr_html_ = _repr_html_  # type: ignore[attr-defined]


def attach() -> None:
    """Attach the HTML reprs to the entity classes that exist (called on import of the package)."""
    register_repr(entities.Run, run_html)
    register_repr(entities.Experiment, experiment_html)
    register_repr(entities.Dataset, dataset_html)
    for name, render in (("ModelVersion", model_version_html), ("RegisteredModel", registered_model_html),
                         ("LoggedModel", logged_model_html)):  # fmt: skip
        cls = getattr(entities, name, None)
        if cls is not None:
            register_repr(cls, render)


attach()
