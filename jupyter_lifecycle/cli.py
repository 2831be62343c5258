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


# ---- deployment jobs (jupyter_lifecycle/registry/deployment.py) ----------------


def _deploy_job_arguments(parser: argparse.ArgumentParser) -> None:
    from .registry.deployment import ACTIONS

    parser.add_argument("action", choices=ACTIONS, help="set: give NAME a job; show: its tasks; start VERSION: run it; "
                        "rerun VERSION: from the failed task; runs [VERSION]: the runs and their notebooks; delete")  # fmt: skip
    parser.add_argument("name", help="registered model name")
    parser.add_argument("version", nargs="?", help="model version (start, rerun, runs)")
    parser.add_argument("--task", action="append", metavar="NOTEBOOK",
                        help="set: a task notebook, in order (repeatable; default: generated evaluate/approve/deploy)")  # fmt: skip
    parser.add_argument("--dir", help="set: where the default notebooks are written")
    parser.add_argument("--param", action="append", metavar="K=V", help="set: a parameter for every task (repeatable)")
    parser.add_argument("--from-task", help="start: the task to start from (default: the first)")


@command("deploy-job", "Set, show, start, rerun or list a registered model's deployment job.", _deploy_job_arguments)
def _deploy_job(args: argparse.Namespace) -> int:
    from .entities import DeploymentJob, DeploymentJobRun
    from .registry.deployment import run_action
    from .registry.fluent import registry_client

    params = {}
    for item in args.param or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"error: --param {item!r} must look like key=value", file=sys.stderr)
            return 2
        params[key] = value
    out = run_action(registry_client(), args.action, args.name, args.version, args.task, args.dir, params,
                     args.from_task)  # fmt: skip
    if isinstance(out, DeploymentJob):
        print(f"{out.name!r} deployment job {out.job_id}: " + " -> ".join(f"{t.name} ({t.notebook})" for t in out.tasks))
        if out.parameters:
            print("parameters: " + ", ".join(f"{k}={v!r}" for k, v in out.parameters.items()))
    elif isinstance(out, DeploymentJobRun):
        print(f"started deployment job run {out.run_id} for {out.name!r} version {out.version} "
              f"(worker pid {out.worker_pid}); follow it with: jupyter-lifecycle deploy-job runs {out.name} {out.version}")  # fmt: skip
    elif out is None:
        print(f"{args.name!r} has no deployment job any more")
    else:
        _print_table(out)
    return 0


def _approve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="registered model name")
    parser.add_argument("version", help="model version")
    parser.add_argument("--stage", help="the requested stage (needed only when several requests are pending)")
    parser.add_argument("--comment", help="why")


def _decide(args: argparse.Namespace, approve: bool) -> None:
    from .registry.deployment import decide
    from .registry.fluent import registry_client

    request = decide(registry_client(), args.name, args.version, approve, args.stage, args.comment)
    print(f"{request.status.lower()} the request to move {args.name!r} version {request.version} to {request.to_stage}")


@command("approve", "Approve a model version's pending transition request (a waiting deployment job goes on).",
         _approve_arguments)  # fmt: skip
def _approve(args: argparse.Namespace) -> None:
    _decide(args, True)


@command("reject", "Reject a model version's pending transition request (a waiting deployment job stops).",
         _approve_arguments)  # fmt: skip
def _reject(args: argparse.Namespace) -> None:
    _decide(args, False)


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
    parser.add_argument("--env-manager", choices=["local", "virtualenv"], default="local",
                        help="virtualenv: serve from an isolated environment built from the model's requirements.txt")
    parser.add_argument("--log-requests", action="store_true",
                        help="append every request and prediction to the store's inference table")
    parser.add_argument("--endpoint-id", default=None, help=argparse.SUPPRESS)  # set by serve() for its child


@command("serve", "Serve a model over REST with MLflow's scoring protocol (/invocations, /ping, ...).", _serve_arguments)
def _serve(args: argparse.Namespace) -> None:
    if args.env_manager == "virtualenv":
        import os

        from .config import HOME_ENV, db_path, resolve_home
        from .scoring.environment import ensure_environment

        python = str(ensure_environment(args.model_uri, quiet=False))
        # The same command, run inside the environment (where it serves locally).
        argv = [python, "-m", "jupyter_lifecycle.cli", "serve", args.model_uri, "--host", args.host,
                "--port", str(args.port), "--workers", str(args.workers)]  # fmt: skip
        if args.max_request_size is not None:
            argv += ["--max-request-size", str(args.max_request_size)]
        if args.log_requests:
            argv.append("--log-requests")
        if args.endpoint_id:
            argv += ["--endpoint-id", args.endpoint_id]
        os.environ[HOME_ENV] = str(db_path(resolve_home()))
        sys.stdout.flush()
        os.execv(python, argv)
    from .serving import run_endpoint

    run_endpoint(args.model_uri, host=args.host, port=args.port, workers=args.workers,
                 max_request_bytes=args.max_request_size, log_requests=args.log_requests,
                 endpoint_id=args.endpoint_id)  # fmt: skip


def _endpoints_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=["list", "stop"], default="list",
                        help="list (default) or stop endpoints")
    parser.add_argument("endpoint_ids", nargs="*", metavar="ENDPOINT_ID", help="endpoints to stop (ep-...)")
    parser.add_argument("--all", action="store_true", help="list: stopped endpoints too; stop: every running one")


@command("endpoints", "List model endpoints (running, dead, with --all stopped ones) or stop them.", _endpoints_arguments)
def _endpoints(args: argparse.Namespace) -> int:
    from .serving import endpoints, stop_endpoint

    if args.action == "list":
        if args.endpoint_ids:
            print("error: `endpoints list` takes no ids (did you mean `endpoints stop ID`?)", file=sys.stderr)
            return 2
        _print_table(endpoints(all=args.all))
        return 0
    ids = list(args.endpoint_ids)
    if args.all:
        ids += [e for e, status in endpoints()[["endpoint_id", "status"]].itertuples(index=False)
                if status != "STOPPED"]  # fmt: skip
    if not ids:
        print("error: name the endpoints to stop (ep-...), or pass --all", file=sys.stderr)
        return 2
    for endpoint_id in dict.fromkeys(ids):
        row = stop_endpoint(endpoint_id)
        print(f"{row.endpoint_id}: {row.status}")
    return 0


def _build_docker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_uri", metavar="MODEL_URI", help="runs:/<run_id>/model, models:/<name>@<alias>, a path...")
    parser.add_argument("-n", "--name", required=True, metavar="IMAGE", help="image name (and tag), e.g. fraud:3")
    parser.add_argument("-d", "--directory", default=None, help="where to write the build context (default docker-IMAGE)")
    parser.add_argument("--no-build", action="store_true", help="only write the context, even where docker works")
    parser.add_argument("--force", action="store_true", help="replace the context folder if it exists")


@command("build-docker", "Write a Docker build context serving a model (and build it when docker works).",
         _build_docker_arguments)  # fmt: skip
def _build_docker(args: argparse.Namespace) -> None:
    from .serving.docker import PORT, build_docker

    context = build_docker(args.model_uri, args.name, args.directory, build=not args.no_build, force=args.force)
    print(f"build context for {args.model_uri}: {context.path}")
    if context.built:
        print(f"built image {context.image}; serve it with: {context.run_command}")
    else:
        why = "" if args.no_build else " (docker is not on the PATH or its daemon does not answer)"
        print(f"not built{why}; build it with:\n  {context.build_command}\nthen serve it on port {PORT} with:\n"
              f"  {context.run_command}")


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
