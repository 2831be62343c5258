"""What differs between this store and a tracking server, without changing either (the sidebar's Sync panel).

``local_only`` is what a push would create there, ``changed`` what it would
update, delete or restore (a dry-run push, read from the sync map); ``remote_only`` is what the
server holds that this store does not: experiments and registered models by
name, and runs of the experiments already synced that no push or pull
brought here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..entities import ViewType
from ..store import Store
from .push import Pusher
from .rest import RestClient


def compare(store: Store, uri: str, experiments: Sequence[str] | None = None) -> dict[str, Any]:
    """``{"remote", "local_only", "remote_only", "changed", "conflicts", "errors"}``; each entry ``{"kind", "label"}``.

    Contacts the server (read-only) for what it holds; ``RemoteError`` when it cannot be reached.
    """
    rest = RestClient(uri)
    report = Pusher(store, rest, experiments, None, dry_run=True, progress=False).run()
    local_only = [{"kind": k, "label": label} for what, k, label in report.items if what == "created"]
    changed = [{"kind": k, "label": label if what == "updated" else f"{label} ({what} here)"}
               for what, k, label in report.items if what in ("updated", "deleted", "restored")]  # fmt: skip
    remote_only: list[dict[str, str]] = []
    local_names = {e.name for e in store.tracking.search_experiments(ViewType.ALL)}
    for experiment in rest.pages("GET", "experiments/search", {"max_results": 1000}, "experiments"):
        if experiment["name"] not in local_names and (not experiments or experiment["name"] in experiments):
            remote_only.append({"kind": "experiment", "label": experiment["name"]})
    runs = {remote_id for remote_id, _ in store.sync.mapped(rest.uri, "run").values()}
    for local_id, (remote_id, _) in store.sync.mapped(rest.uri, "experiment").items():
        if experiments and store.tracking.get_experiment(local_id).name not in experiments:
            continue
        for run in rest.pages("POST", "runs/search", {"experiment_ids": [remote_id], "max_results": 1000}, "runs"):
            if run["info"]["run_id"] not in runs:
                remote_only.append({"kind": "run", "label": f"{run['info'].get('run_name') or ''} ({run['info']['run_id']})"})
    if not experiments:
        # A model deleted here and not yet there is in "changed" (deleted here), not "remote only".
        local_models = set(store.registry.model_names()) | set(store.sync.mapped(rest.uri, "registered_model"))
        for model in rest.pages("GET", "registered-models/search", {"max_results": 1000}, "registered_models"):
            if model["name"] not in local_models:
                remote_only.append({"kind": "registered_model", "label": model["name"]})
    return {"remote": rest.uri, "local_only": local_only, "remote_only": remote_only, "changed": changed,
            "conflicts": report.conflicts, "errors": report.errors}  # fmt: skip
