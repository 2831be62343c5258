"""``%lifecycle register``, ``%lifecycle models`` and ``%lifecycle promote``: the registry from a notebook.

IPython-facing glue over ``jupyter_lifecycle.Client``.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from IPython.core.error import UsageError

from ...registry.client import run_model_uri
from ...registry.fluent import registry_client
from .base import LifecycleMagics, pairs, subcommand


def _register_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_id", metavar="RUN_ID", help="the run that logged the model (or any model URI)")
    parser.add_argument("name", metavar="NAME", help="registered model name (created if new)")
    parser.add_argument("--path", help="the model's artifact path in the run (needed only if the run has several)")
    parser.add_argument("--tag", nargs="+", action="extend", metavar="K=V", help="tags for the new version")
    parser.add_argument("--alias", nargs="+", action="extend", metavar="ALIAS", help="aliases to point at it")


@subcommand("register", "Register a run's model as the next version of NAME.", _register_arguments)
def _register(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    client = registry_client()
    uri = args.run_id  # a model URI or folder works too, as with the CLI
    if re.fullmatch(r"[0-9a-f]{32}", uri):
        uri = run_model_uri(client.store, uri, args.path)
    client.ensure_registered_model(args.name)
    version = client.create_model_version(args.name, uri, tags=pairs(args.tag, "tag"))
    for alias in args.alias or []:
        client.set_registered_model_alias(args.name, alias, version.version)
    return client.get_model_version(args.name, version.version)


def _models_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", metavar="NAME", help="show this model's versions instead of all models")
    parser.add_argument("--filter", default=None, help="MLflow filter string, e.g. \"name LIKE 'fraud%%'\"")


@subcommand("models", "Registered models (or one model's versions) as a table.", _models_arguments)
def _models(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    from ...registry.fluent import search_model_versions, search_registered_models
    from ..display import HtmlFrame, frame_html

    if args.name:
        registry_client().get_registered_model(args.name)  # a clear error for an unknown name
        condition = "name = '{}'".format(args.name.replace("'", "''"))
        frame = search_model_versions(f"{condition} and {args.filter}" if args.filter else condition)
        frame = frame.sort_values("version", ascending=False)
        shown = frame[["version", "current_stage", "aliases", "status", "run_id", "creation_timestamp", "description"]]
        shown = shown.assign(run_id=shown["run_id"].str[:8])
        names = {"current_stage": "stage", "run_id": "source run", "creation_timestamp": "created (UTC)"}
        return HtmlFrame(frame, frame_html(shown, caption=f"{args.name}: {len(frame)} versions", names=names))
    frame = search_registered_models(args.filter)
    shown = frame[["name", "latest_version", "aliases", "stages", "description", "last_updated_timestamp"]]
    names = {"latest_version": "latest", "last_updated_timestamp": "updated (UTC)"}
    return HtmlFrame(frame, frame_html(shown, caption=f"{len(frame)} registered models", names=names))


def _promote_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="registered model name")
    parser.add_argument("version", metavar="VERSION", help="version number, or 'latest'")
    parser.add_argument("--alias", nargs="+", action="extend", metavar="ALIAS", help="aliases to point at it, e.g. champion")
    parser.add_argument("--stage", help="None, Staging, Production or Archived (any case)")
    parser.add_argument("--archive-existing", action="store_true",
                        help="archive the other versions in --stage (Staging or Production only)")  # fmt: skip


@subcommand("promote", "Point aliases at a version and/or move it to a stage.", _promote_arguments)
def _promote(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    if not args.alias and not args.stage:
        raise UsageError("%lifecycle promote needs --alias ALIAS and/or --stage STAGE")
    return registry_client().promote(args.name, args.version, args.alias or [], args.stage, args.archive_existing)
