"""Lineage: model version -> logged model -> run (and the datasets it read) -> notebook revision -> the cells that ran.

``build_lineage(store, uri)`` follows the links the store holds (the
version's ``run_id``, the run's notebook revisions and the cell executions
recorded during the run) and returns a ``Lineage`` that reads as data
(``to_dict``) and renders inline in Jupyter (``_repr_html_``).
"""

from __future__ import annotations

import dataclasses
import html
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..entities import DatasetInput, LoggedModel, ModelVersion, Run
from ..errors import NotFound
from ..models.model import mlmodel_model_id, mlmodel_run_id
from ..models.uri import logged_model_id, parse_runs_uri, resolve_model_uri
from ..store import Store
from .uri import resolve_version

MAX_CELLS_SHOWN = 50  # in the HTML view; ``cells`` always holds every one


@dataclass(frozen=True)
class Lineage:
    """Where a model came from. Missing links are ``None``/empty, and ``notes`` says why."""

    model_uri: str
    model_version: ModelVersion | None
    run: Run | None
    notebook_path: str | None = None
    revisions: dict[str, Any] = field(default_factory=dict)
    """``{"start": NotebookRevision, "end": NotebookRevision}``: the notebook as the run began and ended."""
    cells: list[Any] = field(default_factory=list)
    """The ``CellExecution`` records of the cells that ran during the run, in order."""
    notes: list[str] = field(default_factory=list)
    datasets: list[DatasetInput] = field(default_factory=list)
    """The datasets the run logged as inputs (``log_input``, autolog), each with its context tag."""
    logged_model: LoggedModel | None = None
    """The logged model (MLflow 3's ``m-...``) the version or URI points to, with its params and metrics."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (for the REST API and exports)."""
        mv, run = self.model_version, self.run
        return {
            "model_uri": self.model_uri,
            "model_version": None if mv is None else {
                "name": mv.name, "version": mv.version, "current_stage": mv.current_stage,
                "aliases": list(mv.aliases), "source": mv.source, "status": mv.status,
                "creation_timestamp": mv.creation_timestamp, "user_id": mv.user_id,
            },
            "run": None if run is None else {
                "run_id": run.info.run_id, "run_name": run.info.run_name, "experiment_id": run.info.experiment_id,
                "status": run.info.status, "start_time": run.info.start_time, "end_time": run.info.end_time,
                "user_id": run.info.user_id, "params": dict(run.data.params), "metrics": dict(run.data.metrics),
            },
            "logged_model": None if self.logged_model is None else {
                "model_id": self.logged_model.model_id, "name": self.logged_model.name,
                "status": self.logged_model.status, "source_run_id": self.logged_model.source_run_id,
                "creation_timestamp": self.logged_model.creation_timestamp, "params": dict(self.logged_model.params),
                "metrics": [dict(m) for m in self.logged_model.metrics], "tags": dict(self.logged_model.tags),
            },
            "notebook_path": self.notebook_path,
            "revisions": {moment: dict(rev.__dict__) for moment, rev in self.revisions.items()},
            "cells": [dict(cell.__dict__) for cell in self.cells],
            "notes": list(self.notes),
            "datasets": [d.to_dictionary() for d in self.datasets],
        }  # fmt: skip

    def __str__(self) -> str:
        lines = [f"Lineage of {self.model_uri}"]
        mv, run = self.model_version, self.run
        if mv is not None:
            aliases = f" @{', @'.join(mv.aliases)}" if mv.aliases else ""
            lines.append(f"  model version: {mv.name} v{mv.version} [{mv.current_stage}]{aliases} from {mv.source}")
        if self.logged_model is not None:
            lm = self.logged_model
            lines.append(f"  logged model:  {lm.name} ({lm.model_id}) {lm.status}")
        if run is not None:
            lines.append(f"  run:           {run.info.run_name} ({run.info.run_id}) {run.info.status}")
        for item in self.datasets:
            lines.append(f"  dataset:       {item.summary()}")
        if self.notebook_path:
            lines.append(f"  notebook:      {self.notebook_path}")
        for moment, rev in self.revisions.items():
            lines.append(f"  revision ({moment}): {rev.revision_id[:12]} ({rev.cell_count} cells)")
        if self.cells:
            lines.append(f"  cells run:     {len(self.cells)}")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Lineage {self.model_uri}: {'run ' + self.run.info.run_id if self.run else 'no run'}, {len(self.cells)} cells>"

    def _repr_html_(self) -> str:
        esc = html.escape
        mv, run = self.model_version, self.run
        parts = [f"<div class='jl-lineage'><h4 style='margin:4px 0'>Lineage of <code>{esc(self.model_uri)}</code></h4>"]
        rows: list[tuple[str, str]] = []
        if mv is not None:
            aliases = ", ".join(f"@{esc(a)}" for a in mv.aliases) or "none"
            rows += [
                ("Model version", f"<b>{esc(mv.name)}</b> version {mv.version}"),
                ("Stage / aliases", f"{esc(mv.current_stage)} / {aliases}"),
                ("Registered", f"{_when(mv.creation_timestamp)} by {esc(mv.user_id or '?')}"),
                ("Source", f"<code>{esc(mv.source)}</code>"),
            ]
        if self.logged_model is not None:
            lm = self.logged_model
            scores = ", ".join(
                f"{esc(m.key)}={m.value:.4g}" + (f" on {esc(m.dataset_name)}" if m.dataset_name else "")
                for m in lm.metrics[-10:]
            )  # fmt: skip
            rows += [
                ("Logged model", f"<b>{esc(lm.name)}</b> <code>{esc(lm.model_id)}</code> {esc(lm.status)}"),
                ("Model metrics", scores or "none"),
            ]
        if run is not None:
            metrics = ", ".join(f"{esc(k)}={v:.4g}" for k, v in sorted(run.data.metrics.items())[:10])
            params = ", ".join(f"{esc(k)}={esc(str(v))}" for k, v in sorted(run.data.params.items())[:10])
            rows += [
                ("Run", f"<b>{esc(run.info.run_name or '')}</b> <code>{esc(run.info.run_id)}</code> {esc(run.info.status)}"),
                ("Started", _when(run.info.start_time)),
                ("Params", params or "none"),
                ("Metrics", metrics or "none"),
            ]
        for item in self.datasets:
            rows.append(("Dataset", esc(item.summary())))
        if self.notebook_path:
            rows.append(("Notebook", f"<code>{esc(self.notebook_path)}</code>"))
        for moment, rev in self.revisions.items():
            rows.append((f"Revision at run {moment}", f"<code>{esc(rev.revision_id[:12])}</code> ({rev.cell_count} cells)"))
        parts.append("<table>" + "".join(
            f"<tr><th style='text-align:left;padding-right:12px'>{k}</th><td style='text-align:left'>{v}</td></tr>"
            for k, v in rows) + "</table>")  # fmt: skip
        if self.cells:
            parts.append(f"<details><summary>{len(self.cells)} cells ran during the run</summary>")
            for cell in self.cells[:MAX_CELLS_SHOWN]:
                mark = "" if cell.success else f" <span style='color:#b00'>{esc(cell.error_type or 'error')}</span>"
                parts.append(
                    f"<div style='margin:4px 0'><small>[{cell.execution_count or ' '}] {_when(cell.start_time)}{mark}"
                    f"</small><pre style='margin:0;padding:4px;background:var(--jp-layout-color2,#f5f5f5)'>"
                    f"{esc(cell.source)}</pre></div>"
                )
            if len(self.cells) > MAX_CELLS_SHOWN:
                parts.append(f"<small>... and {len(self.cells) - MAX_CELLS_SHOWN} more (see .cells)</small>")
            parts.append("</details>")
        parts += [f"<p style='margin:2px 0'><small>{esc(note)}</small></p>" for note in self.notes]
        return "".join(parts) + "</div>"


def _when(ms: int | None) -> str:
    if ms is None:
        return "?"
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def build_lineage(store: Store, model_uri: str) -> Lineage:
    """Follow ``model_uri`` (``models:/``, ``runs:/`` or a model folder) back to its run, notebook and cells."""
    notes: list[str] = []
    version: ModelVersion | None = None
    model_id = logged_model_id(model_uri)
    if model_id is not None:
        run_id = store.models.get(model_id).source_run_id
    elif model_uri.startswith("models:"):
        version = resolve_version(model_uri, store)
        run_id, model_id = version.run_id, version.model_id
    elif model_uri.startswith("runs:"):
        run_id = parse_runs_uri(model_uri)[0]
        model_id = mlmodel_model_id(Path(resolve_model_uri(model_uri)))
    else:
        folder = Path(resolve_model_uri(model_uri))
        run_id, model_id = mlmodel_run_id(folder), mlmodel_model_id(folder)
    logged = store.models.get(model_id) if model_id is not None and store.models.exists(model_id) else None
    if run_id is None:
        notes.append("this model names no run: it was not logged with log_model inside a run")
        return Lineage(model_uri, version, None, notes=notes, logged_model=logged)
    store.metric_buffer.flush()
    try:
        run = store.tracking.get_run(run_id)
    except NotFound:
        notes.append(f"run {run_id} is not in this store ({store.home})")
        return Lineage(model_uri, version, None, notes=notes, logged_model=logged)
    capture = getattr(store, "capture", None)
    revisions: dict[str, Any] = {}
    cells: list[Any] = []
    if capture is None:
        notes.append("notebook capture is not available in this version: no revisions or cells")
    else:
        for moment, revision_id in sorted(capture.run_revisions(run_id).items(), key=lambda kv: kv[0] != "start"):
            revisions[moment] = capture.get_revision_info(revision_id)
        cells = list(capture.cell_executions(run_id=run_id))
        if not revisions and not cells:
            notes.append("no notebook revision or cells were recorded for this run "
                         "(it ran outside a notebook, or without %load_ext jupyter_lifecycle)")  # fmt: skip
    inputs = store.datasets.run_inputs([run_id]).get(run_id)
    if inputs is not None:
        run = dataclasses.replace(run, inputs=inputs)
    return Lineage(model_uri, version, run, run.info.notebook_path, revisions, cells, notes,
                   datasets=run.inputs.dataset_inputs, logged_model=logged)
