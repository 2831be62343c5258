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
import math
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from .. import entities

__all__ = ["Html", "attach", "column_digits", "fmt_value", "html_table", "register_repr", "run_label_html"]

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


def fmt_value(value: Any, digits: int = 6) -> str:
    """Numbers to ``digits`` significant digits (NaN as ``NaN``); everything else as text."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return f"{value:.{digits}g}"
    return "" if value is None else str(value)


def column_digits(values: Iterable[Any], least: int = 4, most: int = 10) -> int:
    """The fewest significant digits (at least ``least``) that keep this column's distinct numbers distinct.

    0.9512 and 0.9518 need 4 digits, 0.95123 and 0.95127 need 5: a table
    shows as few digits as tell its values apart, not always 6 or 16.
    """
    numbers = {v for v in values if isinstance(v, float) and math.isfinite(v)}
    for digits in range(least, most):
        if len({f"{v:.{digits}g}" for v in numbers}) == len(numbers):
            return digits
    return most


class Html(str):
    """Text that is already HTML: ``html_table`` puts it in a cell as it is."""


_TH = _CELL + ";white-space:nowrap"  # a header never wraps mid-word ("accurac y")


def html_table(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    highlight_rows: Iterable[int] = (),
    caption: str | None = None,
    highlight_cells: Iterable[tuple[int, int]] = (),
) -> str:
    """An HTML table (cells escaped, numbers rounded per column); ``highlight_*`` cells are wrapped in ``<mark>``.

    ``highlight_rows`` marks every cell but the first of those rows (0-based);
    ``highlight_cells`` marks single ``(row, column)`` cells. Numbers in a
    column get the digits that tell them apart (``column_digits``).
    """
    marked = set(highlight_rows)
    cells_marked = set(highlight_cells)
    rows = [list(row) for row in rows]
    digits = [column_digits(column) for column in zip(*rows, strict=False)] if rows else []
    head = "".join(f'<th style="{_TH}">{_e(h)}</th>' for h in header)
    body = []
    for i, row in enumerate(rows):
        cells = []
        for j, cell in enumerate(row):
            text = cell if isinstance(cell, Html) else _e(fmt_value(cell, digits[j] if j < len(digits) else 6))
            if (i in marked and j > 0) or (i, j) in cells_marked:
                text = f"<mark>{text}</mark>"
            align = ";text-align:right" if isinstance(cell, (int, float)) and not isinstance(cell, bool) else ""
            cells.append(f'<td style="{_CELL}{align}">{text}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    cap = f'<caption style="text-align:left;font-weight:bold">{_e(caption)}</caption>' if caption else ""
    return (f'<table class="jl-table" style="{_CSS}">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")  # fmt: skip


def run_label_html(name: str, status: str | None) -> Html:
    """A run's name for a table, with a red FAILED/KILLED mark when it did not finish well."""
    if status in ("FAILED", "KILLED"):
        return Html(f'{_e(name)} <b style="color:#c00" title="run {status.lower()}">✗ {status}</b>')
    return Html(_e(name))


class HtmlFrame:
    """A DataFrame shown as a table for people (``_repr_html_``) that keeps the data in ``.frame``."""

    def __init__(self, frame: Any, html_text: str) -> None:
        self.frame = frame
        self.html = html_text

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return str(self.frame.to_string(index=False)) if len(self.frame) else "(no rows)"


def _cell(value: Any) -> Any:
    """A DataFrame value for ``html_table``: times as text, lists and dicts spelled out, NaT/NA as empty."""
    if isinstance(value, dict):  # empty entries left out; nested ones spelled out the same way
        return ", ".join(f"{k}: {_cell(v)}" for k, v in value.items() if v not in (None, "", {}, []))
    if isinstance(value, (list, tuple)):
        return ", ".join(str(_cell(v)) for v in value)
    if hasattr(value, "strftime"):
        return "" if str(value) == "NaT" else value.strftime("%Y-%m-%d %H:%M:%S")
    try:
        if value is None or (not isinstance(value, float) and value != value):
            return ""
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()  # numpy scalars as Python numbers: rounded like the rest
    return value


def frame_html(frame: Any, caption: str | None = None, names: dict[str, str] | None = None) -> str:
    """A DataFrame as ``html_table``: readable cells (no dict reprs), headers renamed by ``names``."""
    names = names or {}
    header = [names.get(c, c) for c in frame.columns]
    rows = [[_cell(v) for v in row] for row in frame.itertuples(index=False)]
    return html_table(header, rows, caption=caption)


def runs_html(frame: Any, max_metrics: int = 8, max_params: int = 8) -> HtmlFrame:
    """A ``search_runs`` DataFrame as a table for people: names first, metrics and params, a short id last.

    Params that differ between the rows come first; failed and killed runs are marked.
    """
    metrics = [c for c in frame.columns if c.startswith("metrics.")][:max_metrics]
    params = [c for c in frame.columns if c.startswith("params.")]
    params = sorted(params, key=lambda c: frame[c].nunique(dropna=False) <= 1)[:max_params]
    header = ["run", "status", "started (UTC)", "duration", *[c.split(".", 1)[1] for c in metrics + params], "id"]
    rows = []
    for _, row in frame.iterrows():
        name = row.get("tags.mlflow.runName") or row["run_id"][:8]
        start, end = row.get("start_time"), row.get("end_time")
        ms = [None if v is None or str(v) == "NaT" else int(v.timestamp() * 1000) for v in (start, end)]
        rows.append([run_label_html(str(name), row["status"]), row["status"], fmt_time(ms[0]),
                     fmt_duration(ms[0], ms[1]), *[_cell(row[c]) for c in metrics + params],
                     Html(f"<code>{_e(row['run_id'][:8])}</code>")])  # fmt: skip
    caption = f"{len(frame)} run{'s' if len(frame) != 1 else ''}"
    shown = frame[[c for c in ["tags.mlflow.runName", "status", "start_time", *metrics, *params, "run_id"]
                   if c in frame.columns]].rename(columns={"tags.mlflow.runName": "run_name"})  # fmt: skip
    return HtmlFrame(shown, html_table(header, rows, caption=caption))


def dataframe_html(frame: Any) -> str | None:
    """HTML for a DataFrame in a notebook: frames this package marked (the activity log) as tables for people.

    Any other DataFrame gets pandas' own HTML. Registered for DataFrames by
    ``%load_ext jupyter_lifecycle``.
    """
    kind = frame.attrs.get("jupyter_lifecycle.table") if hasattr(frame, "attrs") else None
    if kind != "activity":
        return frame._repr_html_()  # type: ignore[no-any-return]
    names = {"timestamp": "time (UTC)", "activity_type": "activity", "user_id": "user",
             "from_stage": "from", "to_stage": "to"}  # fmt: skip
    return frame_html(frame, caption=f"activity ({len(frame)} entries)", names=names)


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
