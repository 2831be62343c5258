"""IPython magics: ``%lifecycle``, ``%%track``, ``%log_params``, ``%log_metric``.

Registered by ``%load_ext jupyter_lifecycle``. Every magic parses its
arguments with argparse, so ``--help`` works on each.

Extension point: ``%lifecycle`` subcommands live in the ``SUBCOMMANDS``
registry. Another module adds one with the ``subcommand`` decorator::

    from jupyter_lifecycle.magics import subcommand

    def _arguments(parser):                      # an argparse.ArgumentParser
        parser.add_argument("name")

    @subcommand("register", "Register a run's model in the registry.", _arguments)
    def _register(magics, args):                 # the LifecycleMagics instance, the parsed args
        ...
        return something_to_display              # or None

The handler's return value, if not ``None``, is displayed (rich reprs
included). Raise ``LifecycleError`` (or IPython's ``UsageError``) for a
clear one-line error. The module defining a subcommand must be imported
before the magic is used: add its name to ``_SUBCOMMAND_MODULES`` below
(imported on first use of ``%lifecycle``). Every subcommand must be
documented in README.md (a test checks it) and listed in its "Magics" section.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.display import display

from . import revisions
from .errors import LifecycleError
from .tracking import fluent

Handler = Callable[["LifecycleMagics", argparse.Namespace], Any]


@dataclass(frozen=True)
class Subcommand:
    """A ``%lifecycle`` subcommand: its name, help, argparse arguments and handler."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    handler: Handler


SUBCOMMANDS: dict[str, Subcommand] = {}
"""``%lifecycle`` subcommands by name, in registration order."""

# Modules of other features that register subcommands; imported on first use
# so a missing optional feature never breaks ``%lifecycle``.
_SUBCOMMAND_MODULES: list[str] = ["jupyter_lifecycle.registry_magics", "jupyter_lifecycle.ui_magics",
                                     "jupyter_lifecycle.scoring_magics"]


def subcommand(
    name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None
) -> Callable[[Handler], Handler]:
    """Register a ``%lifecycle NAME`` subcommand (see the module docstring)."""

    def register(handler: Handler) -> Handler:
        SUBCOMMANDS[name] = Subcommand(name, help, arguments, handler)
        return handler

    return register


def _load_subcommand_modules() -> None:
    for module in _SUBCOMMAND_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:
            pass


class _Help(Exception):
    """argparse finished early (``--help``): its text is already printed."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as IPython ``UsageError`` instead of exiting the kernel."""

    def exit(self, status: int = 0, message: str | None = None) -> Any:  # type: ignore[override]
        if message:
            print(message, file=sys.stderr)
        raise _Help()

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}\n{self.format_usage().strip()}")

    def print_help(self, file: Any = None) -> None:
        print(self.format_help())


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"cannot parse {line!r}: {exc}") from None


def _pairs(items: list[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{what} {item!r} must look like key=value")
        out[key] = value
    return out


def _build_parser() -> _Parser:
    _load_subcommand_modules()
    parser = _Parser(prog="%lifecycle", description="jupyter-lifecycle: runs, revisions and capture from a notebook.")
    subparsers = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", parser_class=_Parser)
    for sub in SUBCOMMANDS.values():
        sub.arguments(subparsers.add_parser(sub.name, help=sub.help, description=sub.help))
    return parser


@magics_class
class LifecycleMagics(Magics):
    """The jupyter-lifecycle magics."""

    @line_magic
    def lifecycle(self, line: str) -> None:
        """``%lifecycle SUBCOMMAND ...``: status, experiment, autolog, runs, show, revisions, diff, end... (``--help``)."""
        parser = _build_parser()
        try:
            args = parser.parse_args(_split(line) or ["status"])
        except _Help:
            return
        try:
            result = SUBCOMMANDS[args.subcommand].handler(self, args)
        except LifecycleError as exc:
            raise UsageError(str(exc)) from None
        if isinstance(result, _Lines):
            print(result)
        elif result is not None:
            display(result)

    @cell_magic
    def track(self, line: str, cell: str) -> Any:
        """``%%track [--name N] [--experiment E] [--param k=v ...] [--tag k=v ...] [--log VAR ...] [--nested]``.

        Runs the cell as a run: FINISHED when it completes, FAILED when it
        raises (the error shows as usual), and never left active.
        """
        __tracebackhide__ = True  # noqa: F841  (IPython hides this frame in tracebacks)
        parser = _Parser(prog="%%track", description="Run this cell as a tracked run.")
        parser.add_argument("--name", help="run name (default: a random readable name)")
        parser.add_argument("--experiment", help="experiment for this run (created if new; default: the current one)")
        parser.add_argument("--param", nargs="+", action="extend", metavar="K=V", help="params to log before the cell")
        parser.add_argument("--tag", nargs="+", action="extend", metavar="K=V", help="tags to set on the run")
        parser.add_argument("--log", nargs="+", action="extend", metavar="VAR",
                            help="variables to log after the cell: scalars as params, DataFrames and dicts as artifacts")  # fmt: skip
        parser.add_argument("--nested", action="store_true", help="start the run as a child of the active run")
        try:
            args = parser.parse_args(_split(line))
        except _Help:
            return None
        params, tags = _pairs(args.param, "--param"), _pairs(args.tag, "--tag")
        current = fluent.active_run()
        if current is not None and not args.nested:
            raise UsageError(
                f"run {current.info.run_name!r} ({current.info.run_id}) is active: end it with `%lifecycle end`, "
                "or use `%%track --nested` to make this run its child"
            )
        try:
            experiment_id = None
            if args.experiment:
                experiment_id = fluent.client().get_or_create_experiment(args.experiment).experiment_id
            run = fluent.start_run(run_name=args.name, experiment_id=experiment_id, nested=args.nested, tags=tags)
        except LifecycleError as exc:
            raise UsageError(str(exc)) from None
        with run:
            if params:
                fluent.log_params(params, run_id=run.info.run_id)
            try:
                value = self._execute(cell)
            except BaseException:
                print(f"%%track: run {run.info.run_name!r} ({run.info.run_id}) ended as FAILED", file=sys.stderr)
                raise
            self._log_variables(run, args.log or [])
        return value

    def _execute(self, cell: str) -> Any:
        """Run cell code in the user namespace; return the value of a final expression, as a cell would."""
        __tracebackhide__ = True  # noqa: F841
        shell = self.shell
        assert shell is not None
        source = shell.transform_cell(cell)
        tree = shell.compile.ast_parse(source)
        assert isinstance(tree, ast.Module)
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body[-1].value)
            tree.body.pop()
        # A cached filename lets tracebacks show the cell's lines.
        filename = shell.compile.cache(source, shell.execution_count, raw_code=cell)
        exec(shell.compile(tree, filename, "exec"), shell.user_ns)  # type: ignore[arg-type]
        if last is not None:
            return eval(shell.compile(last, filename, "eval"), shell.user_ns)  # type: ignore[arg-type]
        return None

    def _log_variables(self, run: Any, names: list[str]) -> None:
        import numbers

        client, run_id = run.client, run.info.run_id
        ns = self.shell.user_ns if self.shell is not None else {}
        for name in names:
            if name not in ns:
                print(f"%%track --log: no variable {name!r} after the cell; nothing logged for it", file=sys.stderr)
                continue
            value = ns[name]
            kind = type(value).__name__
            if value is None or isinstance(value, (str, bool, numbers.Number)) or getattr(value, "ndim", None) == 0:
                client.log_param(run_id, name, value)
            elif kind == "DataFrame":
                client.log_table(run_id, value, f"{name}.json")
            elif kind == "Series":
                client.log_table(run_id, value.to_frame(), f"{name}.json")
            elif isinstance(value, dict):
                try:
                    client.log_dict(run_id, value, f"{name}.json")
                except (TypeError, ValueError):
                    client.log_text(run_id, repr(value), f"{name}.txt")
            else:
                client.log_text(run_id, repr(value), f"{name}.txt")

    @line_magic
    def log_params(self, line: str) -> None:
        """``%log_params a b c`` logs those variables as params; ``%log_params lr=0.1`` logs an expression."""
        parser = _Parser(prog="%log_params", description="Log notebook variables as params of the active run.")
        parser.add_argument("items", nargs="+", metavar="VAR|KEY=EXPR", help="variable names, or key=expression")
        try:
            args = parser.parse_args(line.split())  # not shlex: keep quotes for the expressions
        except _Help:
            return
        params = {key: value for key, value in self._values(args.items, literal_fallback=True)}
        try:
            fluent.log_params(params)
        except LifecycleError as exc:
            raise UsageError(str(exc)) from None

    @line_magic
    def log_metric(self, line: str) -> None:
        """``%log_metric acc=0.93 [loss=loss_var ...] [--step N]`` logs metrics to the active run."""
        parser = _Parser(prog="%log_metric", description="Log metrics to the active run.")
        parser.add_argument("items", nargs="+", metavar="NAME=EXPR|VAR", help="name=value (an expression) or a variable")
        parser.add_argument("--step", type=int, default=None, help="the step of these points")
        try:
            args = parser.parse_args(line.split())
        except _Help:
            return
        try:
            fluent.log_metrics(dict(self._values(args.items)), step=args.step)
        except LifecycleError as exc:
            raise UsageError(str(exc)) from None

    def _values(self, items: list[str], literal_fallback: bool = False) -> list[tuple[str, Any]]:
        """``(key, value)`` pairs from ``VAR`` (a variable) or ``KEY=EXPR`` items.

        With ``literal_fallback`` (params are text anyway) an expression that
        does not evaluate is taken as text, so ``mode=fast`` logs ``"fast"``.
        """
        ns = self.shell.user_ns if self.shell is not None else {}
        out = []
        for item in items:
            key, sep, expr = item.partition("=")
            if sep:
                try:
                    out.append((key, eval(expr, ns)))
                except Exception as exc:
                    if literal_fallback:
                        out.append((key, expr))
                        continue
                    raise UsageError(f"cannot evaluate {expr!r} for {key!r}: {type(exc).__name__}: {exc}") from None
            elif item in ns:
                out.append((item, ns[item]))
            else:
                raise UsageError(f"no variable named {item!r} in the notebook; use {item}=VALUE to give a value")
        return out


# ---- %lifecycle subcommands ------------------------------------------------------


class _Lines:
    """Plain text that displays without quotes."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def __repr__(self) -> str:
        return "\n".join(self.lines)


def _recorder(magics: LifecycleMagics) -> Any:
    from .capture import get_recorder

    return get_recorder(magics.shell)


@subcommand("status", "Store, experiment, active run, notebook, recording and autolog state.")
def _status(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    from .autologging import sklearn as sklearn_autolog

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
    return _Lines(lines)


def _experiment_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="experiment name (created if new)")


@subcommand("experiment", "Make an experiment current (created if new).", _experiment_arguments)
def _experiment(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    experiment = fluent.set_experiment(args.name)
    return _Lines([f"experiment: {experiment.name} ({experiment.experiment_id})"])


def _on_off(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("state", choices=["on", "off"])


@subcommand("autolog", "Switch scikit-learn autologging on or off.", _on_off)
def _autolog(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    from .autologging import autolog

    autolog(disable=args.state == "off")
    return _Lines([f"autolog: scikit-learn {args.state}"])


@subcommand("record", "Switch cell recording on or off for this kernel.", _on_off)
def _record(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    rec = _recorder(magics)
    if rec is None:
        raise UsageError("cell recording needs the extension: %load_ext jupyter_lifecycle")
    rec.enabled = args.state == "on"
    rec.defer_checkpoints(rec.enabled)
    return _Lines([f"recording: {args.state}"])


def _runs_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("filter", nargs="*", help="MLflow filter string, e.g. metrics.acc > 0.9 (quotes optional)")
    parser.add_argument("-e", "--experiment", action="append", help="experiment name (repeatable; default: current)")
    parser.add_argument("-a", "--all", action="store_true", help="search every experiment")
    parser.add_argument("-o", "--order-by", action="append", help='e.g. "metrics.acc DESC" (repeatable)')
    parser.add_argument("-n", "--max-results", type=int, default=20, help="at most this many runs (default 20)")


@subcommand("runs", "Show runs as a table, optionally filtered with MLflow's grammar.", _runs_arguments)
def _runs(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    frame: Any = fluent.search_runs(
        filter_string=" ".join(args.filter),
        experiment_names=args.experiment,
        search_all_experiments=args.all,
        order_by=args.order_by,
        max_results=args.max_results,
    )
    columns = ["run_id", "tags.mlflow.runName", "status", "start_time"]
    columns += [c for c in frame.columns if c.startswith("metrics.")][:8]
    columns += [c for c in frame.columns if c.startswith("params.")][:8]
    table = frame[[c for c in columns if c in frame.columns]]
    return table.rename(columns={"tags.mlflow.runName": "run_name"})


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_id", nargs="?", help="run id or a unique prefix (default: the active or last run)")


def resolve_run_id(text: str | None) -> str:
    """A full run id from an id, a unique prefix, or ``None`` (the active or last run)."""
    if not text:
        last = fluent.active_run() or fluent._last
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
    """A run's summary for notebooks: params, metrics, tags, revisions and the cells it executed."""

    def __init__(self, run_id: str) -> None:
        c = fluent.client()
        self.run = c.get_run(run_id)
        self.cells = c.store.capture.cell_executions(run_id=run_id)
        self.revisions = c.store.capture.run_revisions(run_id)

    def _sections(self) -> list[tuple[str, dict[str, Any]]]:
        info, data = self.run.info, self.run.data
        start = info.start_time
        took = f"{(info.end_time - start) / 1000:.1f} s" if info.end_time else "running"
        tags = {k: v for k, v in data.tags.items() if not k.startswith("mlflow.") or k == "mlflow.source.name"}
        overview = {
            "run id": info.run_id, "name": info.run_name, "status": info.status, "duration": took,
            "experiment": info.experiment_id, "notebook": info.notebook_path or "unknown",
            "revision at start": self.revisions.get("start", "none")[:12],
            "revision at end": self.revisions.get("end", "none")[:12],
        }  # fmt: skip
        return [("Run", overview), ("Params", data.params), ("Metrics", data.metrics), ("Tags", tags)]

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
                f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
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


@subcommand("show", "Show a run: params, metrics, tags, revisions and the cells it executed.", _run_arguments)
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
        return _Lines(["no active run"])
    fluent.end_run(args.status)
    return _Lines([f"ended run {active.info.run_name!r} ({active.info.run_id}) as {args.status}"])
