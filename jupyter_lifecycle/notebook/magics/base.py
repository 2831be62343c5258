"""The ``%lifecycle`` framework and the magics class: ``%lifecycle``, ``%%track``, ``%log_params``, ``%log_metric``.

Registered by ``%load_ext jupyter_lifecycle``. Every magic parses its
arguments with argparse, so ``--help`` works on each.

Extension point: ``%lifecycle`` subcommands live in the ``SUBCOMMANDS``
registry. A module of this package (one per area: ``core``, ``registry``,
``scoring``, ``ui``) adds one with the ``subcommand`` decorator::

    from jupyter_lifecycle.notebook.magics import subcommand

    def _arguments(parser):                      # an argparse.ArgumentParser
        parser.add_argument("name")

    @subcommand("register", "Register a run's model in the registry.", _arguments)
    def _register(magics, args):                 # the LifecycleMagics instance, the parsed args
        ...
        return something_to_display              # or None

A subcommand that takes a filter passes ``rest="filter"`` (the name of its
``nargs="*"`` positional): its options are read from the start and the end
of the line, and everything between is handed over as typed, one string,
quotes and all, for the filter parser (``%lifecycle runs metrics.acc > 0.9
and params.model = 'rf' -n 5``). Shell-style splitting would strip the
quotes the filter grammar needs.

The handler's return value, if not ``None``, is displayed (rich reprs
included); a ``Lines`` value prints as plain text. Raise ``LifecycleError``
(or IPython's ``UsageError``) for a clear one-line error. A new area's module
is imported by this package's ``__init__`` (so ``%load_ext`` registers its
subcommands); every subcommand must be documented in README.md's "Magics"
section (a test checks it).
"""

from __future__ import annotations

import argparse
import ast
import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.display import display

from ...errors import LifecycleError
from ...tracking import fluent

Handler = Callable[["LifecycleMagics", argparse.Namespace], Any]


@dataclass(frozen=True)
class Subcommand:
    """A ``%lifecycle`` subcommand: its name, help, argparse arguments and handler."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    handler: Handler
    rest: str | None = None


SUBCOMMANDS: dict[str, Subcommand] = {}
"""``%lifecycle`` subcommands by name, in registration order."""


def subcommand(
    name: str,
    help: str,
    arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None,
    rest: str | None = None,
) -> Callable[[Handler], Handler]:
    """Register a ``%lifecycle NAME`` subcommand (see the module docstring; ``rest`` names a raw-text positional)."""

    def register(handler: Handler) -> Handler:
        SUBCOMMANDS[name] = Subcommand(name, help, arguments, handler, rest)
        return handler

    return register


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


# A word as a shell would see it: quoted parts and bare characters, glued (name='a b' is one word).
_WORD = re.compile(r"""(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s"']+|["'])+""")


def split_rest(text: str, parser: argparse.ArgumentParser) -> tuple[list[str], str]:
    """The options at the start and the end of ``text`` (unquoted, for argparse) and the text between, as typed.

    A word is an option when it is one of ``parser``'s option strings (or
    ``--opt=value``); an option that takes a value takes the next word. A
    text that is one quoted word (``"params.model = 'rf'"``, the old way of
    typing a filter) loses its outer quotes.
    """
    actions = parser._option_string_actions
    words = list(_WORD.finditer(text))

    def option_at(i: int) -> int:
        """How many words the option at ``i`` spans (0: not an option)."""
        name, eq, _ = words[i].group().partition("=")
        action = actions.get(name)
        if action is None or (eq and action.nargs == 0):
            return 0
        return 1 if eq or action.nargs == 0 else (2 if i + 1 < len(words) else 1)

    def options_to_end(i: int) -> bool:
        while i < len(words):
            width = option_at(i)
            if not width:
                return False
            i += width
        return True

    first = 0
    while first < len(words) and option_at(first):
        first += option_at(first)
    last = next((j for j in range(first, len(words)) if option_at(j) and options_to_end(j)), len(words))
    option_words = [w.group() for w in words[:first] + words[last:]]
    try:
        options = [(shlex.split(w) or [""])[0] for w in option_words]
    except ValueError as exc:
        raise UsageError(f"cannot parse {text!r}: {exc}") from None
    middle = text[words[first].start():words[last - 1].end()] if first < last else ""
    if len(middle) >= 2 and middle[0] == middle[-1] and middle[0] in "\"'" and len(words[first:last]) == 1:
        inner = middle[1:-1]
        if middle[0] not in inner:
            middle = inner
    return options, middle


def pairs(items: list[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{what} {item!r} must look like key=value")
        out[key] = value
    return out


def _build_parser() -> tuple[_Parser, dict[str, _Parser]]:
    parser = _Parser(prog="%lifecycle", description="jupyter-lifecycle: runs, revisions and capture from a notebook.")
    subparsers = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", parser_class=_Parser)
    by_name = {}
    for sub in SUBCOMMANDS.values():
        by_name[sub.name] = subparsers.add_parser(sub.name, help=sub.help, description=sub.help)
        sub.arguments(by_name[sub.name])
    return parser, by_name


def _argv(line: str, parsers: dict[str, _Parser]) -> list[str]:
    """The ``%lifecycle`` line as argparse arguments; a subcommand's filter stays one string, as typed."""
    name, _, rest = line.strip().partition(" ")
    sub = SUBCOMMANDS.get(name)
    if sub is None or sub.rest is None:
        return _split(line) or ["status"]
    options, text = split_rest(rest, parsers[name])
    return [name, *options] + (["--", text] if text else [])


@magics_class
class LifecycleMagics(Magics):
    """The jupyter-lifecycle magics."""

    @line_magic
    def lifecycle(self, line: str) -> None:
        """``%lifecycle SUBCOMMAND ...``: status, experiment, autolog, runs, show, revisions, diff, end... (``--help``)."""
        parser, parsers = _build_parser()
        try:
            args = parser.parse_args(_argv(line, parsers))
        except _Help:
            return
        try:
            result = SUBCOMMANDS[args.subcommand].handler(self, args)
        except LifecycleError as exc:
            raise UsageError(str(exc)) from None
        if isinstance(result, Lines):
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
        params, tags = pairs(args.param, "--param"), pairs(args.tag, "--tag")
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


class Lines:
    """Plain text that displays without quotes."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def __repr__(self) -> str:
        return "\n".join(self.lines)
