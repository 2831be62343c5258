"""``%lifecycle open``: a JupyterLab main-area view (runs grid, comparison, model page, artifact) from a magic.

The magic displays one output of the mime type below; the lab extension
renders it as a button and, while the output is fresh, runs the matching
``jupyter-lifecycle:*`` command. Outside JupyterLab the plain-text form says
what would have opened.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from IPython.core.error import UsageError

from ...registry.fluent import registry_client
from ...tracking import fluent
from .base import LifecycleMagics, subcommand
from .core import resolve_run_id

OPEN_MIME = "application/vnd.jupyter-lifecycle.open+json"


class LabView:
    """A view for the lab extension to open: ``command`` with ``args``, and a label for people."""

    def __init__(self, command: str, args: dict[str, Any], label: str) -> None:
        self.command, self.args, self.label = command, args, label

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """The extension's mime type (with the creation time, so a reopened notebook does not reopen it) and text."""
        payload = {"command": self.command, "args": self.args, "label": self.label, "created": int(time.time() * 1000)}
        return {OPEN_MIME: payload, "text/plain": f"{self.label} (opens in JupyterLab with the jupyter-lifecycle extension)"}


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("view", choices=("runs", "compare", "model", "artifact"), help="what to open")
    parser.add_argument("targets", nargs="*", metavar="TARGET",
                        help="runs: experiment names or ids (default: the current experiment); compare: run ids or "
                             "prefixes; model: NAME [VERSION]; artifact: RUN PATH")  # fmt: skip


@subcommand("open", "Open a JupyterLab main-area view: the runs grid, a comparison, a model page or an artifact.",
            _arguments)  # fmt: skip
def _open(magics: LifecycleMagics, args: argparse.Namespace) -> LabView:
    client = fluent.client()
    targets: list[str] = args.targets
    if args.view == "runs":
        ids = [_experiment_id(client, t) for t in targets] or [fluent._current_experiment_id(client)]
        names = ", ".join(client.get_experiment(i).name for i in ids)
        return LabView("jupyter-lifecycle:open-runs", {"experimentIds": ids}, f"Runs of {names}")
    if args.view == "compare":
        if len(targets) < 2:
            raise UsageError("give at least two runs to compare: %lifecycle open compare RUN RUN ...")
        run_ids = [resolve_run_id(t) for t in targets]
        return LabView("jupyter-lifecycle:compare", {"runIds": run_ids}, f"Comparison of {len(run_ids)} runs")
    if args.view == "model":
        if not 1 <= len(targets) <= 2:
            raise UsageError("give the model and optionally a version: %lifecycle open model NAME [VERSION]")
        registry = registry_client()
        model = registry.get_registered_model(targets[0])  # NotFound names it
        if len(targets) == 1:
            return LabView("jupyter-lifecycle:open-model", {"name": model.name}, f"Model {model.name}")
        version = registry.get_model_version(model.name, targets[1])
        return LabView("jupyter-lifecycle:open-model", {"name": model.name, "version": version.version},
                       f"Model {model.name} version {version.version}")  # fmt: skip
    if len(targets) != 2:
        raise UsageError("give the run and the artifact's path: %lifecycle open artifact RUN PATH")
    run_id = resolve_run_id(targets[0])
    client.download_artifacts(run_id, targets[1])  # NotFound when the run has no such artifact
    return LabView("jupyter-lifecycle:open-artifact", {"runId": run_id, "path": targets[1]}, f"Artifact {targets[1]}")


def _experiment_id(client: Any, text: str) -> str:
    """An experiment id from its name or id."""
    found = client.get_experiment_by_name(text)
    if found is not None:
        return str(found.experiment_id)
    return str(client.get_experiment(text).experiment_id)  # NotFound names it
