"""``jupyter-lifecycle`` (also ``jupyter lifecycle``): the store from the shell.

Each command is a function registered with ``@command``; ``main`` builds
the argparse parser from the registry, so a new command is one function.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .errors import LifecycleError

Handler = Callable[[argparse.Namespace], int | None]
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Handler]] = {}


def command(name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None) -> Callable[[Handler], Handler]:
    """Register a subcommand: ``@command("info", "what the store holds")``."""

    def register(handler: Handler) -> Handler:
        COMMANDS[name] = (help, arguments, handler)
        return handler

    return register


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser with every registered command."""
    parser = argparse.ArgumentParser(
        prog="jupyter-lifecycle",
        description="Inspect and use a jupyter-lifecycle store (experiments, runs, models).",
    )
    parser.add_argument("--store", help="store home folder (default: $JUPYTER_LIFECYCLE_HOME, "
                        "the nearest .jupyter_lifecycle/, or ~/.jupyter_lifecycle)")  # fmt: skip
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, arguments, _) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``jupyter-lifecycle``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.store:
        from .config import set_store

        set_store(args.store)
    try:
        return COMMANDS[args.command][2](args) or 0
    except LifecycleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _print_table(frame: Any) -> None:
    import pandas as pd

    with pd.option_context("display.max_columns", 50, "display.width", 200, "display.max_colwidth", 40):
        print(frame.to_string(index=False) if len(frame) else "(none)")


@command("info", "Where the store is, its schema version, and what it holds.")
def _info(args: argparse.Namespace) -> None:
    from .store import open_store

    store = open_store()
    print(f"store:          {store.home}")
    print(f"database:       {store.db_path}")
    print(f"schema version: {store.db.schema_version()}")
    for table, count in store.tracking.counts().items():
        print(f"{table + ':':<15} {count}")


def _runs_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("filter", nargs="?", default="", help="MLflow filter string, e.g. \"metrics.acc > 0.9\"")
    parser.add_argument("-e", "--experiment", action="append", help="experiment name (repeatable; default: all)")
    parser.add_argument("-o", "--order-by", action="append", help="e.g. \"metrics.acc DESC\" (repeatable)")
    parser.add_argument("-n", "--max-results", type=int, default=50, help="at most this many runs (default 50)")
    parser.add_argument("--columns", help="comma-separated columns to show (default: a summary)")


@command("runs", "List or search runs with MLflow's filter grammar.", _runs_arguments)
def _runs(args: argparse.Namespace) -> None:
    from . import search_runs

    frame = search_runs(
        filter_string=args.filter,
        experiment_names=args.experiment,
        search_all_experiments=not args.experiment,
        order_by=args.order_by,
        max_results=args.max_results,
    )
    assert not isinstance(frame, list)
    if args.columns:
        columns = [c.strip() for c in args.columns.split(",")]
    else:
        columns = ["run_id", "tags.mlflow.runName", "status", "start_time"]
        columns += [c for c in frame.columns if c.startswith(("metrics.", "params."))][:8]
    _print_table(frame[[c for c in columns if c in frame.columns]])


@command("experiments", "List experiments with their run counts.")
def _experiments(args: argparse.Namespace) -> None:
    import pandas as pd

    from .store import open_store

    store = open_store()
    rows = store.db.query(
        "SELECT e.name, e.experiment_id, count(r.run_id), e.lifecycle_stage FROM experiments e"
        " LEFT JOIN runs r ON r.experiment_id = e.experiment_id AND r.lifecycle_stage = 'active'"
        " GROUP BY e.experiment_id ORDER BY e.creation_time"
    )
    _print_table(pd.DataFrame(rows, columns=["name", "experiment_id", "runs", "stage"]))


if __name__ == "__main__":
    sys.exit(main())
