"""``%lifecycle traces`` and ``%lifecycle prompts``: GenAI traces (of an experiment or a run) and prompts as tables."""

from __future__ import annotations

import argparse
from typing import Any

from ... import tracing
from ...errors import InvalidInput
from ...tracking import fluent
from .base import LifecycleMagics, subcommand


def _traces_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("filter", nargs="*", help="MLflow filter string, e.g. tags.env = 'dev' (quotes optional)")
    parser.add_argument("-r", "--run", help="only the traces made inside this run")
    parser.add_argument("-e", "--experiment", help="experiment name (default: current)")
    parser.add_argument("-n", "--max-results", type=int, default=20, help="at most this many traces (default 20)")


@subcommand("traces", "Show GenAI traces as a table, newest first, optionally filtered.", _traces_arguments,
            rest="filter")  # fmt: skip
def _traces(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    import pandas as pd

    experiment_ids = None
    if args.experiment:
        experiment = fluent.get_experiment_by_name(args.experiment)
        if experiment is None:
            raise InvalidInput(f"no experiment named {args.experiment!r}: `%lifecycle status` shows the current one")
        experiment_ids = [experiment.experiment_id]
    found = tracing.search_traces(
        experiment_ids=experiment_ids,
        filter_string=" ".join(args.filter) or None,
        max_results=args.max_results,
        run_id=args.run,
        return_type="list",
        include_spans=False,
    )
    rows = [
        (t.info.trace_id, t.info.tags.get("mlflow.traceName"), t.info.state.value,
         pd.Timestamp(t.info.request_time, unit="ms"), t.info.execution_duration, t.info.request_preview,
         t.info.response_preview, t.info.trace_metadata.get("mlflow.sourceRun"))
        for t in found  # type: ignore[union-attr]
    ]  # fmt: skip
    columns = ["trace_id", "name", "state", "request_time", "execution_duration_ms", "request", "response", "run_id"]
    return pd.DataFrame.from_records(rows, columns=columns)


def _prompts_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("filter", nargs="*", help="MLflow filter string, e.g. name LIKE 'qa%%' (quotes optional)")
    parser.add_argument("-n", "--max-results", type=int, default=100, help="at most this many prompts (default 100)")


@subcommand("prompts", "Show the registered prompts as a table: name, newest version, aliases, tags.",
            _prompts_arguments, rest="filter")  # fmt: skip
def _prompts(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    import pandas as pd

    from ... import genai

    found = genai.search_prompts(" ".join(args.filter) or None, max_results=args.max_results)
    rows = [
        (p.name, p.latest_version, ", ".join(f"{alias}={version}" for alias, version in sorted(p.aliases.items())),
         pd.Timestamp(p.last_updated_timestamp, unit="ms"), p.tags)
        for p in found
    ]  # fmt: skip
    columns = ["name", "latest_version", "aliases", "last_updated", "tags"]
    return pd.DataFrame.from_records(rows, columns=columns)
