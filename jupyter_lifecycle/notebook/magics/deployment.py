"""``%lifecycle deploy-job`` and ``%lifecycle approve``: deployment jobs from a notebook.

IPython-facing glue over ``Client.set_deployment_job`` and friends
(``jupyter_lifecycle/registry/deployment.py``).
"""

from __future__ import annotations

import argparse
from typing import Any

from ...registry.deployment import ACTIONS, decide, run_action
from ...registry.fluent import registry_client
from .base import LifecycleMagics, Lines, pairs, subcommand


def _deploy_job_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=ACTIONS, help="set: give NAME a job; show: its tasks; start VERSION: run it; "
                        "rerun VERSION: from the failed task; runs [VERSION]: the runs and their notebooks; delete")  # fmt: skip
    parser.add_argument("name", metavar="NAME", help="registered model name")
    parser.add_argument("version", metavar="VERSION", nargs="?", help="model version (start, rerun, runs)")
    parser.add_argument("--task", nargs="+", action="extend", metavar="NOTEBOOK",
                        help="set: the task notebooks in order (default: generated evaluate/approve/deploy)")  # fmt: skip
    parser.add_argument("--dir", help="set: where the default notebooks are written")
    parser.add_argument("--param", nargs="+", action="extend", metavar="K=V", help="set: parameters for every task")
    parser.add_argument("--from-task", help="start: the task to start from (default: the first)")


@subcommand("deploy-job", "Set, show, start, rerun or list a registered model's deployment job.", _deploy_job_arguments)
def _deploy_job(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    out = run_action(registry_client(), args.action, args.name, args.version, args.task, args.dir,
                     pairs(args.param, "param"), args.from_task)  # fmt: skip
    return Lines([f"{args.name!r} has no deployment job any more"]) if out is None else out


def _approve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="registered model name")
    parser.add_argument("version", metavar="VERSION", help="model version")
    parser.add_argument("--stage", help="the requested stage (needed only when several requests are pending)")
    parser.add_argument("--comment", help="why")
    parser.add_argument("--reject", action="store_true", help="reject instead (a waiting deployment job stops)")


@subcommand("approve", "Approve (or --reject) a version's pending transition request.", _approve_arguments)
def _approve(magics: LifecycleMagics, args: argparse.Namespace) -> Any:
    return decide(registry_client(), args.name, args.version, not args.reject, args.stage, args.comment)
