"""``%lifecycle score``: batch scoring from a notebook.

IPython-facing glue over ``jupyter_lifecycle.scoring.score``.
"""

from __future__ import annotations

import argparse
from typing import Any

from .base import LifecycleMagics, subcommand


def _score_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_uri", metavar="MODEL_URI", help="runs:/<run_id>/model, models:/<name>@<alias>, a path...")
    parser.add_argument("input", metavar="INPUT", help="table to score (.csv, .parquet, .json, .jsonl)")
    parser.add_argument("output", metavar="OUTPUT", nargs="?", help="write the scored table here (default: show it)")
    parser.add_argument("--engine", choices=["pandas", "dask"], default="pandas")
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--scheduler", default=None, help="dask.distributed scheduler address (default: a local cluster)")


@subcommand("score", "Score a table with a model: show it with predictions, or write it to OUTPUT.", _score_arguments)
def _score(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    from ...scoring import score

    result = score(args.model_uri, args.input, args.output, engine=args.engine, batch_size=args.batch_size,
                   scheduler=args.scheduler)  # fmt: skip
    if args.output is None:
        return result  # the scored DataFrame, displayed
    print(f"scored {args.input} with {args.model_uri} -> {result}")
    return None


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_uri", metavar="MODEL_URI", help="runs:/<run_id>/model, models:/<name>@<alias>, a path...")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--env-manager", choices=["local", "virtualenv"], default="local")
    parser.add_argument("--log-requests", action="store_true", help="keep every request in the inference table")
    parser.add_argument("--replace", action="store_true", help="first stop the running endpoints of the same model")


@subcommand("serve", "Start a model endpoint in the background (lc.serve); shows its handle.", _serve_arguments)
def _serve(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    from ...serving import serve

    return serve(args.model_uri, port=args.port, host=args.host, workers=args.workers, env_manager=args.env_manager,
                 log_requests=args.log_requests, replace=args.replace)  # fmt: skip


def _endpoints_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=["list", "stop"], default="list")
    parser.add_argument("endpoint_ids", nargs="*", metavar="ENDPOINT_ID", help="endpoints to stop (ep-...)")
    parser.add_argument("--all", action="store_true", help="list: stopped ones too; stop: every running one")


@subcommand("endpoints", "Model endpoints of the store as a table, or stop some (stop ID ... | stop --all).",
            _endpoints_arguments)  # fmt: skip
def _endpoints(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    from ...errors import InvalidInput
    from ...serving import endpoints, stop_endpoint

    if args.action == "list":
        if args.endpoint_ids:
            raise InvalidInput("`%lifecycle endpoints list` takes no ids: to stop, `%lifecycle endpoints stop ID`")
        return endpoints(all=args.all)
    ids = list(args.endpoint_ids)
    if args.all:
        ids += [e for e, status in endpoints()[["endpoint_id", "status"]].itertuples(index=False) if status != "STOPPED"]
    if not ids:
        raise InvalidInput("name the endpoints to stop (`%lifecycle endpoints stop ep-...`), or pass --all")
    for endpoint_id in dict.fromkeys(ids):
        row = stop_endpoint(endpoint_id)
        print(f"{row.endpoint_id}: {row.status}")
    return None
