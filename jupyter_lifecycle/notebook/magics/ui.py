"""``%lifecycle compare`` and ``%lifecycle browse``: the inline UI from a magic.

IPython-facing glue over ``comparison.compare`` and ``widgets.browse``.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from .base import LifecycleMagics, subcommand
from .core import resolve_run_id

_HEX = re.compile(r"[0-9a-fA-F]{4,32}")


def _compare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN",
                        help="run ids or unique prefixes; or a filter, the rest of the line as typed: params.model = 'rf'")
    parser.add_argument("-m", "--metric", action="append", help="metric to chart (repeatable; default: all, up to 6)")
    parser.add_argument("-x", choices=("step", "time", "relative"), default="step", help="x axis (default step)")
    parser.add_argument("--smoothing", type=float, default=0.0, help="exponential smoothing in [0, 1)")
    parser.add_argument("--log", action="store_true", help="log-scale y axis")  # fmt: skip


@subcommand("compare", "Compare runs: params that differ, last/min/max metrics and metric histories.", _compare_arguments,
            rest="runs")  # fmt: skip
def _compare(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    from ..comparison import compare

    # Hex words are run ids (or prefixes); anything else is one filter string.
    text = " ".join(args.runs)
    if all(_HEX.fullmatch(word) for word in text.split()):
        runs: Any = [resolve_run_id(word) for word in text.split()]
    else:
        runs = text
    return compare(runs, metrics=args.metric, x=args.x, smoothing=args.smoothing, log_scale=args.log)


def _browse_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("filter", nargs="*", help="MLflow filter string to start with")
    parser.add_argument("-e", "--experiment", help="experiment name to start with (default: all)")


@subcommand("browse", "Open the run browser widget (filter, sort, select to compare, register).", _browse_arguments,
            rest="filter")  # fmt: skip
def _browse(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    from ..widgets import browse

    return browse(args.experiment, " ".join(args.filter))
