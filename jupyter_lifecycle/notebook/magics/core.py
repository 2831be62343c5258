"""``%lifecycle`` subcommands for runs and capture: status, experiment, autolog, record, runs, show, revisions, diff, end."""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.error import UsageError

from ...autologging import autolog
from ...autologging import sklearn as sklearn_autolog
from ...capture import revisions
from ...capture.recorder import get_recorder
from ...tracking import fluent
from ..display import column_digits, fmt_duration, fmt_time, fmt_value, runs_html
from .base import LifecycleMagics, Lines, subcommand


def _recorder(magics: LifecycleMagics) -> Any:
    return get_recorder(magics.shell)


@subcommand("status", "Store, experiment, active run, notebook, recording and autolog state.")
def _status(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    c = fluent.client()
    experiment = c.get_experiment(fluent._current_experiment_id(c))
    active = fluent.active_run()
    rec = _recorder(magics)
    lines = [
        f"store:      {c.store.home}",
        f"experiment: {experiment.name} ({experiment.experiment_id})",
        f"active run: {f'{active.info.run_name} ({active.info.run_id})' if active else 'none'}",
    ]
    if rec is None:
        lines.append("recording:  off (the extension is not loaded: %load_ext jupyter_lifecycle)")
    else:
        state = "on" if rec.enabled else "off (`%lifecycle record on` resumes)"
        lines.append(f"recording:  {state}; {rec.recorded} cell(s) recorded this session")
        if rec.failures:
            lines.append(f"            {rec.failures} cell(s) could not be recorded; last error: {rec.last_error}")
        lines.append(f"notebook:   {rec.notebook_path or 'unknown'} (from {rec.path_source})")
    lines.append(f"autolog:    scikit-learn {'on' if sklearn_autolog.is_enabled() else 'off'}")
    return Lines(lines)


def _experiment_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="experiment name (created if new)")


@subcommand("experiment", "Make an experiment current (created if new).", _experiment_arguments)
def _experiment(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    experiment = fluent.set_experiment(args.name)
    return Lines([f"experiment: {experiment.name} ({experiment.experiment_id})"])


def _on_off(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("state", choices=["on", "off"])


@subcommand("autolog", "Switch scikit-learn autologging on or off.", _on_off)
def _autolog(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    autolog(disable=args.state == "off")
    return Lines([f"autolog: scikit-learn {args.state}"])


@subcommand("record", "Switch cell recording on or off for this kernel.", _on_off)
def _record(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    rec = _recorder(magics)
    if rec is None:
        raise UsageError("cell recording needs the extension: %load_ext jupyter_lifecycle")
    rec.enabled = args.state == "on"
    rec.defer_checkpoints(rec.enabled)
    return Lines([f"recording: {args.state}"])


def _runs_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("filter", nargs="*",
                        help="MLflow filter string, the rest of the line as typed: metrics.acc > 0.9 and params.model = 'rf'")  # fmt: skip
    parser.add_argument("-e", "--experiment", action="append", help="experiment name (repeatable; default: current)")
    parser.add_argument("-a", "--all", action="store_true", help="search every experiment")
    parser.add_argument("-o", "--order-by", action="append", help='e.g. "metrics.acc DESC" (repeatable)')
    parser.add_argument("-n", "--max-results", type=int, default=20, help="at most this many runs (default 20)")


@subcommand("runs", "Show runs as a table, optionally filtered with MLflow's grammar.", _runs_arguments, rest="filter")
def _runs(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    frame: Any = fluent.search_runs(
        filter_string=" ".join(args.filter),
        experiment_names=args.experiment,
        search_all_experiments=args.all,
        order_by=args.order_by,
        max_results=args.max_results,
    )
    return runs_html(frame)


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_id", nargs="?", help="run id or a unique prefix (default: the active or last run)")


def resolve_run_id(text: str | None) -> str:
    """A full run id from an id, a unique prefix, or ``None`` (the active or last run)."""
    if not text:
        last = fluent.last_run()
        if last is None:
            raise UsageError("no run yet in this session: give a run id (`%lifecycle runs` lists them)")
        return str(last.info.run_id)
    rows = fluent.client().store.db.query(
        "SELECT run_id FROM runs WHERE run_id >= ? AND run_id < ? LIMIT 2", [text.lower(), text.lower() + "g"]
    )
    if len(rows) == 1:
        return str(rows[0][0])
    if len(rows) > 1:
        raise UsageError(f"run id prefix {text!r} is ambiguous: give more of the id")
    raise UsageError(f"no run with id {text!r}: `%lifecycle runs` lists them")


class RunView:
    """A run's summary for notebooks: params, metrics, tags, datasets, artifacts, revisions, the cells it ran and a chart."""

    def __init__(self, run_id: str) -> None:
        c = fluent.client()
        self.run = c.get_run(run_id)
        self.experiment = c.get_experiment(self.run.info.experiment_id)
        self.cells = c.store.capture.cell_executions(run_id=run_id)
        self.revisions = c.store.capture.run_revisions(run_id)
        self.artifacts = c.list_artifacts(run_id)
        # Metrics logged over several steps get a chart; single values are in the table.
        counts = {row[1]: int(row[5]) for row in c.store.tracking.metric_summaries([run_id])}
        self.history_keys = sorted(k for k, n in counts.items() if n > 1)[:4]

    def _sections(self) -> list[tuple[str, dict[str, Any]]]:
        info, data = self.run.info, self.run.data
        start = info.start_time
        took = fmt_duration(start, info.end_time) if info.end_time else "running"
        tags = {k: v for k, v in data.tags.items() if not k.startswith("mlflow.") or k == "mlflow.source.name"}
        overview = {
            "name": info.run_name, "status": info.status, "run id": info.run_id,
            "experiment": f"{self.experiment.name} ({info.experiment_id})",
            "started (UTC)": fmt_time(start), "duration": took, "notebook": info.notebook_path or "unknown",
            "revision at start": self.revisions.get("start", "none")[:12],
            "revision at end": self.revisions.get("end", "none")[:12],
        }  # fmt: skip
        datasets = {f"dataset {n}": item.summary() for n, item in enumerate(self.run.inputs.dataset_inputs, 1)}
        digits = column_digits(data.metrics.values())
        metrics = {k: fmt_value(v, digits) for k, v in sorted(data.metrics.items())}
        artifacts = {f.path + ("/" if f.is_dir else ""): "folder" if f.is_dir else _size(f.file_size)
                     for f in self.artifacts}  # fmt: skip
        return [("Run", overview), ("Params", dict(sorted(data.params.items()))), ("Metrics", metrics),
                ("Tags", tags), ("Datasets", datasets), ("Artifacts", artifacts)]  # fmt: skip

    def chart(self) -> Any:
        """The run's metric histories (metrics logged over several steps), or ``None``."""
        if not self.history_keys:
            return None
        from ..charts import metric_history

        return metric_history([self.run.info.run_id], self.history_keys, width=480, height=220)

    def __repr__(self) -> str:
        out = []
        for title, values in self._sections():
            if values:
                out.append(f"{title}:")
                out += [f"  {k}: {v}" for k, v in values.items()]
        out.append(f"Cells executed ({len(self.cells)}):")
        for cell in self.cells:
            first = (cell.source.strip().splitlines() or [""])[0][:80]
            mark = "" if cell.success else f"  <- {cell.error_type}"
            out.append(f"  [{cell.execution_count}] {first}{mark}")
        return "\n".join(out)

    def _repr_html_(self) -> str:
        import html

        parts = ['<div style="font-size:13px">']
        for title, values in self._sections():
            if not values:
                continue
            rows = "".join(
                f"<tr><th style='text-align:left;white-space:nowrap'>{html.escape(str(k))}</th>"
                f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
                for k, v in values.items()
            )
            parts.append(f"<details open><summary><b>{title}</b></summary><table>{rows}</table></details>")
        cells = "".join(
            f"<div style='margin:4px 0'><code>[{c.execution_count}]</code>"
            f"{'' if c.success else f' <span style=color:#cf222e>{html.escape(str(c.error_type))}</span>'}"
            f"<pre style='margin:0;padding:4px;background:var(--jp-layout-color2,#f5f5f5)'>"
            f"{html.escape(c.source)}</pre></div>"
            for c in self.cells
        )
        parts.append(f"<details><summary><b>Cells executed ({len(self.cells)})</b></summary>{cells}</details></div>")
        return "".join(parts)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display({"text/html": self._repr_html_(), "text/plain": repr(self)}, raw=True)
        chart = self.chart()
        if chart is not None:
            display(chart)


def _size(size: int | None) -> str:
    if size is None:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return ""


@subcommand("show", "Show a run: params, metrics, tags, datasets, revisions and the cells it executed.",
            _run_arguments)  # fmt: skip
def _show(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    return RunView(resolve_run_id(args.run_id))


def _revisions_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("notebook", nargs="?", help="notebook path (default: this notebook)")
    parser.add_argument("-a", "--all", action="store_true", help="every notebook's revisions")
    parser.add_argument("-n", "--max-results", type=int, default=20, help="at most this many (default 20)")


@subcommand("revisions", "List the stored revisions of a notebook (default: this one), newest first.",
            _revisions_arguments)  # fmt: skip
def _revisions(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    rec = _recorder(magics)
    notebook = None if args.all else (args.notebook or (rec.notebook_path if rec else None))
    frame = revisions.list_revisions(notebook, max_results=args.max_results)
    frame["revision_id"] = frame["revision_id"].str[:12]
    return frame


def _diff_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rev_a", help="the older revision (id or prefix)")
    parser.add_argument("rev_b", nargs="?", help="the newer revision (default: this notebook as saved now)")


@subcommand("diff", "Diff two notebook revisions cell by cell (source, outputs, execution counts).", _diff_arguments)
def _diff(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    rev_b = args.rev_b
    if rev_b is None:
        rec = _recorder(magics)
        path = rec.current_notebook() if rec else None
        if not path:
            raise UsageError("this notebook's path is unknown: give two revision ids")
        rev_b = revisions.record_revision(path, "manual")
    return revisions.diff_revisions(args.rev_a, rev_b)


def _end_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--status", default="FINISHED", type=str.upper,
                        choices=["FINISHED", "FAILED", "KILLED"], help="final status (default FINISHED)")  # fmt: skip


@subcommand("end", "End the active run.", _end_arguments)
def _end(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    active = fluent.active_run()
    if active is None:
        return Lines(["no active run"])
    fluent.end_run(args.status)
    return Lines([f"ended run {active.info.run_name!r} ({active.info.run_id}) as {args.status}"])
