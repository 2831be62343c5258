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
