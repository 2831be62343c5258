"""``jupyter-lifecycle`` (also ``jupyter lifecycle``): the store from the shell.

Each command is a function registered with ``@command``; ``main`` builds
the argparse parser from the registry, so a new command is one function.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .errors import InvalidInput, LifecycleError

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
    except sqlite3.DatabaseError as exc:  # a damaged page met mid-query: still one line that names the file
        from .config import db_path, resolve_home

        print(f"error: the store database {db_path(resolve_home())} failed: {exc}; "
              "run `jupyter-lifecycle doctor`", file=sys.stderr)  # fmt: skip
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
    for table, count in store.counts().items():
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


def _models_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="show this registered model's versions instead of all models")
    parser.add_argument("--filter", help="MLflow filter string, e.g. \"name LIKE 'fraud%%'\" or \"tags.team = 'risk'\"")


@command("models", "List registered models, or the versions of one model.", _models_arguments)
def _models(args: argparse.Namespace) -> None:
    from .registry.fluent import registry_client, search_model_versions, search_registered_models

    if args.name:
        registry_client().get_registered_model(args.name)  # a clear error for an unknown name
        condition = "name = '{}'".format(args.name.replace("'", "''"))
        frame = search_model_versions(f"{condition} and {args.filter}" if args.filter else condition)
        frame = frame[["version", "current_stage", "aliases", "status", "run_id", "creation_timestamp"]]
    else:
        frame = search_registered_models(args.filter)
        frame = frame[["name", "latest_version", "aliases", "stages", "description", "last_updated_timestamp"]]
    _print_table(frame)


def _register_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="a run id (its model), or any model URI or folder (runs:/..., models:/..., a path)")
    parser.add_argument("name", help="registered model name (created if new)")
    parser.add_argument("--path", help="the model's artifact path in the run (needed only if the run has several)")
    parser.add_argument("--alias", action="append", help="alias to point at the new version (repeatable)")


@command("register", "Register a model (a run's, or any model URI) as the next version of NAME.", _register_arguments)
def _register(args: argparse.Namespace) -> None:
    import re

    from .registry.client import run_model_uri
    from .registry.fluent import registry_client

    client = registry_client()
    uri = args.source
    if re.fullmatch(r"[0-9a-f]{32}", uri):  # a run id
        uri = run_model_uri(client.store, uri, args.path)
    client.ensure_registered_model(args.name)
    version = client.create_model_version(args.name, uri)
    for alias in args.alias or []:
        client.set_registered_model_alias(args.name, alias, version.version)
    print(f"registered {args.name!r} version {version.version}: models:/{args.name}/{version.version}")


def _promote_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="registered model name")
    parser.add_argument("version", help="version number, or 'latest'")
    parser.add_argument("--alias", action="append", help="alias to point at the version, e.g. champion (repeatable)")
    parser.add_argument("--stage", help="None, Staging, Production or Archived (any case)")
    parser.add_argument("--archive-existing", action="store_true",
                        help="archive the other versions in --stage (Staging or Production only)")  # fmt: skip


@command("promote", "Point aliases at a model version and/or move it to a stage.", _promote_arguments)
def _promote(args: argparse.Namespace) -> int:
    from .registry.fluent import registry_client

    if not args.alias and not args.stage:
        print("error: promote needs --alias ALIAS and/or --stage STAGE", file=sys.stderr)
        return 2
    version = registry_client().promote(args.name, args.version, args.alias or [], args.stage, args.archive_existing)
    aliases = ", ".join(f"@{a}" for a in version.aliases) or "no aliases"
    print(f"{args.name!r} version {version.version}: stage {version.current_stage}, {aliases}")
    return 0


# ---- store care (jupyter_lifecycle/store/backup.py, store/doctor.py) ----------


@command("backup", "Copy the store (database, artifacts, registry) into a new folder, safely while kernels write.",
         lambda p: p.add_argument("dest", metavar="DEST", help="a new (or empty) folder"))  # fmt: skip
def _backup(args: argparse.Namespace) -> None:
    from .config import resolve_home
    from .store.backup import backup

    home = resolve_home()
    print(f"backed up {home} to {args.dest}: {backup(home, args.dest)}; integrity ok")


def _restore_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SRC", help="a folder written by `jupyter-lifecycle backup`")
    parser.add_argument("--force", action="store_true", help="replace a store that holds data (it is moved aside, not deleted)")


@command("restore", "Make the store a copy of a backup; refuses to replace a non-empty store without --force.",
         _restore_arguments)  # fmt: skip
def _restore(args: argparse.Namespace) -> None:
    from .config import resolve_home
    from .store.backup import restore

    home = resolve_home()
    copied, aside = restore(args.source, home, force=args.force)
    if aside is not None:
        print(f"moved the previous contents of {home} to {aside}")
    print(f"restored {args.source} into {home}: {copied}")


@command("doctor", "Check the store (integrity, orphaned folders, changed model files, dead runs); --fix repairs.",
         lambda p: p.add_argument("--fix", action="store_true", help="apply the safe fixes (never deletes data)"))  # fmt: skip
def _doctor(args: argparse.Namespace) -> int:
    from .config import resolve_home
    from .store.doctor import diagnose, repair

    home = resolve_home()
    problems = diagnose(home)
    for problem in problems:
        print(f"problem: {problem}")
    fixable = [p for p in problems if p.fix is not None]
    if args.fix:
        for done in repair(fixable):
            print(f"fixed: {done}")
    if not problems:
        print(f"no problems found in {home}")
        return 0
    left = len(problems) - (len(fixable) if args.fix else 0)
    hint = f"; `jupyter-lifecycle doctor --fix` fixes {len(fixable)} of them" if fixable and not args.fix else ""
    count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
    print(f"{count} found in {home}, {left} left{hint}")
    return 1 if left else 0


# ---- scoring (jupyter_lifecycle/serving, jupyter_lifecycle/scoring) ----------


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_uri", metavar="MODEL_URI", help="runs:/<run_id>/model, models:/<name>@<alias>, a path...")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("-p", "--port", type=int, default=5000, help="port (default 5000; 0 picks a free one)")
    parser.add_argument("-w", "--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--max-request-size", type=int, default=None, metavar="BYTES",
                        help="largest request body accepted (default $JUPYTER_LIFECYCLE_SERVE_MAX_REQUEST_BYTES or 100 MiB)")  # fmt: skip


@command("serve", "Serve a model over REST with MLflow's scoring protocol (/invocations, /ping, ...).", _serve_arguments)
def _serve(args: argparse.Namespace) -> None:
    from .serving import serve

    serve(args.model_uri, host=args.host, port=args.port, workers=args.workers, max_request_bytes=args.max_request_size)


def _scoring_notebook_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_uri", metavar="MODEL_URI")
    parser.add_argument("-o", "--notebook", default=None, help="notebook to write (default score_<model>.ipynb)")
    parser.add_argument("--input", default="input.csv", help="default input table of the notebook")
    parser.add_argument("--output", default="scored.parquet", help="default output (.csv, .parquet, .json, .jsonl)")
    parser.add_argument("--engine", choices=["pandas", "dask"], default="pandas")
    parser.add_argument("--env-manager", choices=["local", "virtualenv"], default="local")
    parser.add_argument("--batch-size", type=int, default=10_000)


@command("scoring-notebook", "Generate a notebook that scores a table with a model.", _scoring_notebook_arguments)
def _scoring_notebook(args: argparse.Namespace) -> None:
    from .scoring import generate_scoring_notebook

    path = generate_scoring_notebook(args.model_uri, input_path=args.input, output_path=args.output,
                                     notebook_path=args.notebook, engine=args.engine,
                                     env_manager=args.env_manager, batch_size=args.batch_size)  # fmt: skip
    print(path)


def _score_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_uri", metavar="MODEL_URI")
    parser.add_argument("input", metavar="INPUT", help="table to score (.csv, .parquet, .json, .jsonl)")
    parser.add_argument("output", metavar="OUTPUT", help="where to write it with predictions (format by extension)")
    parser.add_argument("--engine", choices=["pandas", "dask"], default="pandas")
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--scheduler", default=None, help="dask.distributed scheduler address (default: a local cluster)")


@command("score", "Score a table with a model and write it with predictions.", _score_arguments)
def _score(args: argparse.Namespace) -> None:
    from .scoring import score

    path = score(args.model_uri, args.input, args.output, engine=args.engine, batch_size=args.batch_size,
                 scheduler=args.scheduler, progress=sys.stderr.isatty())  # fmt: skip
    print(path)

def _sync_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["push", "pull"], help="push this store to the server, or pull experiments from it")
    parser.add_argument("uri", metavar="URI", help="the MLflow tracking server, e.g. http://mlflow.internal:5000")
    parser.add_argument("-e", "--experiment", action="append", metavar="NAME",
                        help="an experiment to sync (repeatable; push: default all, pull: required)")
    parser.add_argument("--since", metavar="DATE", help="push only runs started or ended at or after DATE (ISO, UTC)")
    parser.add_argument("--dry-run", action="store_true", help="push: count what would be sent, send nothing")


@command("sync", "Push this store to an MLflow tracking server, or pull experiments from one.", _sync_arguments)
def _sync(args: argparse.Namespace) -> int:
    from . import sync

    if args.action == "pull" and (args.since or args.dry_run):
        raise InvalidInput("--since and --dry-run apply to `sync push` only")
    if args.action == "push":
        report = sync.push(args.uri, experiments=args.experiment, since=args.since, dry_run=args.dry_run,
                           progress=sys.stderr.isatty())  # fmt: skip
    else:
        report = sync.pull(args.uri, experiments=args.experiment or [], progress=sys.stderr.isatty())
    print(report)
    return 0 if report.ok else 1


def _import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="PATH_OR_URI", help="an MLflow mlruns/ folder, an mlflow.db file (or "
                        "sqlite:///mlflow.db), or a tracking server's http(s):// URI")  # fmt: skip
    parser.add_argument("-e", "--experiment", action="append", metavar="NAME",
                        help="an experiment to import (repeatable; default all; needed for a server)")


@command("import", "Import MLflow runs (mlruns/ folder, mlflow.db, or a server) into this store.", _import_arguments)
def _import(args: argparse.Namespace) -> int:
    from .sync import import_mlflow

    report = import_mlflow(args.source, experiments=args.experiment, progress=sys.stderr.isatty())
    print(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
