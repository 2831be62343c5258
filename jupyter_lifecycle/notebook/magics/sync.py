"""``%lifecycle sync push|pull URI``: sync with an MLflow tracking server from a notebook."""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.error import UsageError

from .base import LifecycleMagics, subcommand


def _sync_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["push", "pull"], help="push this store, or pull experiments")
    parser.add_argument("uri", metavar="URI", help="the MLflow tracking server, e.g. http://mlflow.internal:5000")
    parser.add_argument("-e", "--experiment", nargs="+", action="extend", metavar="NAME",
                        help="experiments to sync (push: default all; pull: required)")
    parser.add_argument("--since", metavar="DATE", help="push only runs started or ended at or after DATE")
    parser.add_argument("--dry-run", action="store_true", help="push: count what would be sent, send nothing")


@subcommand("sync", "Push this store to an MLflow tracking server, or pull experiments from it.", _sync_arguments)
def _sync(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    from ... import sync

    if args.action == "pull":
        if args.since or args.dry_run:
            raise UsageError("--since and --dry-run apply to %lifecycle sync push only")
        return sync.pull(args.uri, experiments=args.experiment or [])
    return sync.push(args.uri, experiments=args.experiment, since=args.since, dry_run=args.dry_run)
