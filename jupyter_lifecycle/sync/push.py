"""Push the local store to an MLflow tracking server: experiments, runs, artifacts, notebooks, logged models, the registry.

Every object pushed is recorded in the store's sync map (``sync_objects``,
migration m0015_sync) with what was sent of it: the metrics rowid reached, tag
values, artifact sizes, aliases. A second push therefore sends only what
changed, and a push cut off half-way (server stopped, network gone) resumes
where it stopped: progress is saved after each batch, and MLflow ignores a
metric point it already holds (same key, value, timestamp and step). A run
created on the server but not yet recorded here is found again by its tag
``jupyter_lifecycle.run_id``. A remote object that someone else changed or
deleted since the last push is reported as a conflict and left alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from .. import config
from ..entities import Run, ViewType
from ..errors import InvalidInput, LifecycleError, NotFound
from ..store import Store, trace_writer
from .report import SyncReport
from .rest import MAX_ENTITIES_PER_BATCH, MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH, RestClient
from .traces import push_traces

LOCAL_RUN_TAG = "jupyter_lifecycle.run_id"  # on each pushed run: finds it again after an interrupted push
LOCAL_VERSION_TAG = "jupyter_lifecycle.model_version"  # "name/version" of the local version a remote one is
LOCAL_MODEL_TAG = "jupyter_lifecycle.model_id"


def since_ms(since: Any) -> int | None:
    """``since`` (a datetime, date, ISO string or epoch milliseconds) as epoch ms, UTC."""
    if since is None:
        return None
    if isinstance(since, bool):
        raise InvalidInput(f"since must be a date, a datetime, an ISO string or epoch ms, got {since!r}")
    if isinstance(since, int | float):
        return int(since)
    if isinstance(since, str):
        try:
            since = dt.datetime.fromisoformat(since)
        except ValueError:
            raise InvalidInput(f"since={since!r} is not an ISO date: use e.g. 2026-11-30 or 2026-11-30T12:00") from None
    if isinstance(since, dt.datetime):
        if since.tzinfo is None:
            since = since.replace(tzinfo=dt.timezone.utc)
        return int(since.timestamp() * 1000)
    if isinstance(since, dt.date):
        return int(dt.datetime(since.year, since.month, since.day, tzinfo=dt.timezone.utc).timestamp() * 1000)
    raise InvalidInput(f"since must be a date, a datetime, an ISO string or epoch ms, got {since!r}")


def _json_number(value: float) -> float | str:
    # Protobuf's JSON, which the server parses, spells these as strings.
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _files(folder: Path) -> dict[str, list[int]]:
    """Every file under ``folder``: relative path -> [size, mtime_ns]."""
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).as_posix(): [p.stat().st_size, p.stat().st_mtime_ns]
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


class Pusher:
    """One push: the store, the server, the report; ``run()`` does it."""

    def __init__(
        self,
        store: Store,
        client: RestClient,
        experiments: Sequence[str] | None,
        since: Any,
        dry_run: bool,
        progress: bool,
    ) -> None:
        self.store = store
        self.rest = client
        self.remote = client.uri
        self.since = since_ms(since)
        self.names = list(experiments) if experiments else None
        self.dry_run = dry_run
        self.progress = progress
        self.report = SyncReport(self.remote, "push", dry_run)
        self.experiment_ids: dict[str, str] = {}  # local -> remote
        self.adopted: dict[str, dict[str, str]] = {}  # remote experiment -> {local run id: remote run id} found by tag
        self.restored: set[str] = set()  # remote experiments restored by this push: MLflow restored all their runs
        self.created: set[str] = set()  # remote experiments created by this push
        self.remote_deleted: set[str] = set()  # remote runs deleted on the server, in the experiments pushed
        self.bar: Any = None

    # ---- driving -------------------------------------------------------------

    def run(self) -> SyncReport:
        """Push everything selected; never raises for one object's failure (see the report)."""
        started = time.perf_counter()
        self.store.metric_buffer.flush()  # points logged a moment ago are part of the push
        trace_writer.flush_all()  # so are traces just finished
        experiments = self._experiments()
        active = [e.experiment_id for e in experiments if e.lifecycle_stage == "active"]
        runs = self._runs(active)
        models = self._logged_models(set(active))
        if self.progress and not self.dry_run:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=len(experiments) + len(runs) + len(models), unit="obj", desc=f"push {self.remote}")
        try:
            for experiment in experiments:
                self._guard(f"experiment {experiment.name!r}", partial(self._push_experiment, experiment))
            self._push_runs(runs)
            for model in models:
                self._guard(f"logged model {model.model_id}", partial(self._push_logged_model, model))
            self._push_registry(runs)
            push_traces(self, active)
        finally:
            if self.bar is not None:
                self.bar.close()
        self.report.seconds = time.perf_counter() - started
        return self.report

    def _tick(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def _guard(self, what: str, work: Callable[[], None]) -> None:
        try:
            work()
        except (LifecycleError, OSError, KeyError, ValueError) as exc:  # one object failing never stops the others
            self.report.error(f"{what}: {exc if isinstance(exc, LifecycleError) else repr(exc)}")
        finally:
            self._tick()

    # ---- experiments -----------------------------------------------------------

    def _experiments(self) -> list[Any]:
        """The active experiments, and the deleted ones pushed before (their deletion is pushed)."""
        pushed = self.store.sync.mapped(self.remote, "experiment")
        chosen = [e for e in self.store.tracking.search_experiments(ViewType.ALL)
                  if e.lifecycle_stage == "active" or e.experiment_id in pushed]  # fmt: skip
        if self.names is None:
            return sorted(chosen, key=lambda e: e.creation_time)
        by_name = {e.name: e for e in chosen}
        missing = [n for n in self.names if n not in by_name]
        if missing:
            raise NotFound(f"no active experiment named {', '.join(map(repr, missing))} in this store; "
                           f"it has {', '.join(sorted(map(repr, by_name)))}")  # fmt: skip
        return [by_name[n] for n in self.names]

    def _push_experiment(self, experiment: Any) -> None:
        known = self.store.sync.get(self.remote, "experiment", experiment.experiment_id)
        previous = dict(known[1]) if known else {}  # keeps what a pull noted (it made the experiment here)
        if experiment.lifecycle_stage == "deleted":
            assert known is not None  # _experiments keeps deleted experiments only when pushed before
            self._delete_experiment(experiment, *known)
            return
        if self.dry_run and known and known[1].get("stage") == "deleted":
            self.report.count("restored", "experiment", label=experiment.name)
            self.experiment_ids[experiment.experiment_id] = known[0]
            return
        if self.dry_run:
            self.report.count("unchanged" if known else "created", "experiment", label=experiment.name)
            if known:
                self.experiment_ids[experiment.experiment_id] = known[0]
            return
        tags = dict(experiment.tags)
        if known:
            remote_id, state = known
            try:
                remote = self.rest.call("GET", "experiments/get", {"experiment_id": remote_id})["experiment"]
            except NotFound:
                self.report.conflict(f"experiment {experiment.name!r} was deleted on the server (id {remote_id}); "
                                     "its runs were not pushed")  # fmt: skip
                return
            if remote.get("lifecycle_stage") == "deleted" and state.get("stage") == "deleted":
                # deleted by an earlier push, restored here since: MLflow restores the runs it deleted with it
                self.rest.call("POST", "experiments/restore", {"experiment_id": remote_id})
                self.restored.add(remote_id)
                self.report.count("restored", "experiment")
                known = None  # counted
            elif remote.get("lifecycle_stage") == "deleted":
                self.report.conflict(f"experiment {experiment.name!r} is deleted on the server (id {remote_id}): "
                                     "restore it there to push its runs")  # fmt: skip
                return
            self.experiment_ids[experiment.experiment_id] = remote_id
            self.adopted.setdefault(remote_id, {})
        else:
            try:
                remote = self.rest.call("GET", "experiments/get-by-name", {"experiment_name": experiment.name})["experiment"]
                remote_id, state = remote["experiment_id"], {"tags": {}}
                if remote.get("lifecycle_stage") == "deleted":
                    self.report.conflict(f"experiment {experiment.name!r} is deleted on the server: restore it "
                                         "there (or rename it here) to push its runs")  # fmt: skip
                    return
                self.adopted.setdefault(remote_id, {})
            except NotFound:
                body = {"name": experiment.name, "tags": [{"key": k, "value": v} for k, v in tags.items()]}
                remote_id = self.rest.call("POST", "experiments/create", body)["experiment_id"]
                self.created.add(remote_id)
                state = {"tags": tags}
                self.report.count("created", "experiment")
            self.experiment_ids[experiment.experiment_id] = remote_id
        changed = {k: v for k, v in tags.items() if state["tags"].get(k) != v}
        for key, value in changed.items():
            self.rest.call("POST", "experiments/set-experiment-tag", {"experiment_id": remote_id, "key": key, "value": value})
        if known:
            self.report.count("updated" if changed else "unchanged", "experiment")
        self.store.sync.put(self.remote, "experiment", experiment.experiment_id, remote_id,
                           {**previous, "tags": tags, "stage": "active"})  # fmt: skip

    def _delete_experiment(self, experiment: Any, remote_id: str, state: dict[str, Any]) -> None:
        """Delete on the server an experiment pushed before and deleted here since, unless others' runs are in it."""
        if state.get("stage") == "deleted":
            self.report.count("unchanged", "experiment")
            return
        if self.dry_run:
            self.report.count("deleted", "experiment", label=experiment.name)
            return
        try:
            remote = self.rest.call("GET", "experiments/get", {"experiment_id": remote_id})["experiment"]
        except NotFound:
            remote = {"lifecycle_stage": "deleted"}  # gone there too (MLflow's gc)
        if remote.get("lifecycle_stage") != "deleted":
            ours = {remote_run for remote_run, st in self.store.sync.mapped(self.remote, "run").values() if not st.get("pulled")}
            others = [r["info"]["run_id"] for r in self._remote_runs(remote_id) if r["info"]["run_id"] not in ours]
            if others:
                self.report.conflict(f"experiment {experiment.name!r} was deleted here, but on the server it holds "
                                     f"{len(others)} run(s) not pushed from here (e.g. {others[0]}): not deleted there")  # fmt: skip
                return
            self.rest.call("POST", "experiments/delete", {"experiment_id": remote_id})
        self.store.sync.put(self.remote, "experiment", experiment.experiment_id, remote_id, {**state, "stage": "deleted"})
        self.report.count("deleted", "experiment")

    def _remote_runs(self, remote_experiment: str, view: str = "ACTIVE_ONLY") -> Iterable[dict[str, Any]]:
        """The server's runs of one experiment, page after page."""
        body = {"experiment_ids": [remote_experiment], "max_results": 1000, "run_view_type": view}
        return self.rest.pages("POST", "runs/search", body, "runs")

    # ---- runs ------------------------------------------------------------------

    def _runs(self, experiment_ids: list[str]) -> list[Run]:
        if not experiment_ids:
            return []
        pushed = self.store.sync.mapped(self.remote, "run")
        runs = [r for r in self.store.tracking.search_runs(experiment_ids, view_type=ViewType.ALL)
                if r.info.lifecycle_stage == "active" or r.info.run_id in pushed]  # a deletion goes if the run went
        if self.since is not None:
            since = self.since
            runs = [r for r in runs if max(r.info.start_time, r.info.end_time or 0) >= since or r.info.lifecycle_stage == "deleted"]
        return runs

    def _fingerprint(self, run: Run, mark: tuple[int, int], files: dict[str, list[int]], revisions: dict[str, str]) -> str:
        info = run.info
        return _digest(info.status, info.end_time, info.run_name, run.data.params, run.data.tags, mark, files, revisions)

    def _push_runs(self, runs: list[Run]) -> None:
        marks = self.store.sync.run_marks([r.info.run_id for r in runs])
        # Parents first: a child's mlflow.parentRunId names its parent's remote id.
        selected = {r.info.run_id for r in runs}
        depth: dict[str, int] = {}

        def level(run: Run) -> int:
            if run.info.run_id not in depth:
                parent = run.info.parent_run_id
                depth[run.info.run_id] = 0 if parent not in selected else 1 + level(by_id[parent])  # type: ignore[index]
            return depth[run.info.run_id]

        by_id = {r.info.run_id: r for r in runs}
        waves: dict[int, list[Run]] = {}
        for run in runs:
            waves.setdefault(level(run), []).append(run)
        if not self.dry_run:  # one search per experiment finds the runs someone deleted there
            for remote_experiment in set(self.experiment_ids.values()) - self.created:
                self.remote_deleted |= {r["info"]["run_id"] for r in self._remote_runs(remote_experiment, "DELETED_ONLY")}
        with ThreadPoolExecutor(max_workers=1 if self.dry_run else config.SYNC_WORKERS) as pool:
            for wave in sorted(waves):
                list(pool.map(lambda r: self._guard(f"run {r.info.run_id}", lambda: self._push_run(r, marks.get(r.info.run_id, (0, 0)))),
                              waves[wave]))  # fmt: skip

    def _find_adopted(self, remote_experiment: str, run_id: str) -> str | None:
        """The remote run created for ``run_id`` by an earlier push that stopped before recording it."""
        found = self.adopted.get(remote_experiment)
        if found is None:
            return None
        if not found.get("__loaded__"):
            body = {"experiment_ids": [remote_experiment], "max_results": 1000,
                    "filter": f"tags.`{LOCAL_RUN_TAG}` LIKE '%'", "run_view_type": "ALL"}  # fmt: skip
            for remote in self.rest.pages("POST", "runs/search", body, "runs"):
                tags = {t["key"]: t["value"] for t in remote.get("data", {}).get("tags", [])}
                found[tags[LOCAL_RUN_TAG]] = remote["info"]["run_id"]
            found["__loaded__"] = "1"
        return found.get(run_id)

    def _remote_tags(self, run: Run, parent: str | None) -> dict[str, str]:
        tags = dict(run.data.tags)
        tags[LOCAL_RUN_TAG] = run.info.run_id
        tags.pop("mlflow.parentRunId", None)  # a local id: replaced by the parent's remote id when it was pushed
        if parent:
            tags["mlflow.parentRunId"] = parent
        if run.info.notebook_path:  # MLflow's UI shows these as the run's source
            tags["mlflow.source.name"] = run.info.notebook_path
            tags["mlflow.source.type"] = "NOTEBOOK"
        return tags

    def _push_run(self, run: Run, mark: tuple[int, int]) -> None:
        info = run.info
        remote_experiment = self.experiment_ids.get(info.experiment_id)
        if remote_experiment is None and not self.dry_run:
            return  # its experiment was not pushed (conflict or error already reported)
        known = self.store.sync.get(self.remote, "run", info.run_id)
        if known and known[1].get("pulled"):  # the server is its origin: a pull keeps it up to date, not a push
            self.report.count("unchanged", "run")
            return
        if info.lifecycle_stage == "deleted":
            assert known is not None  # _runs keeps deleted runs only when pushed before
            self._delete_run(run, remote_experiment, *known)
            return
        restoring = bool(known and known[1].get("stage") == "deleted")
        if known and not restoring and known[0] in self.remote_deleted:
            self.report.conflict(f"run {info.run_id} ({info.run_name}) was deleted on the server (remote id {known[0]}), "
                                 "not by a push from here: restore it there, or delete it here")  # fmt: skip
            return
        folder = self.store.tracking.artifact_dir(info.run_id)
        files = _files(folder)
        revisions = self.store.capture.run_revisions(info.run_id)
        fingerprint = self._fingerprint(run, mark, files, revisions)
        if known and known[1].get("fingerprint") == fingerprint and not restoring:
            self.report.count("unchanged", "run")
            return
        state: dict[str, Any] = dict(known[1]) if known else {}
        pushed_rowid = int(state.get("rowid", 0))
        what = "restored" if restoring else "updated" if known else "created"
        if self.dry_run:
            self.report.count(what, "run", label=f"{info.run_name or ''} ({info.run_id})")
            self.report.add(points=mark[1] if not known else self.store.sync.count_points(info.run_id, pushed_rowid, mark[0]),
                            files=sum(1 for p, f in files.items() if state.get("files", {}).get(p) != f))  # fmt: skip
            return
        assert remote_experiment is not None
        parent = None
        if info.parent_run_id:
            parent_known = self.store.sync.get(self.remote, "run", info.parent_run_id)
            parent = parent_known[0] if parent_known else None
        tags = self._remote_tags(run, parent)
        if known:
            remote_id = known[0]
            if restoring and not self._restore_run(run, remote_id, state):
                return
            if not self._check_run(run, remote_id, state, tags):
                return
        else:
            remote_id = self._find_adopted(remote_experiment, info.run_id) or ""
            state = {"status": "RUNNING", "end_time": None, "rowid": 0, "params": [], "tags": {}, "files": {}}
            if not remote_id:
                # The tags travel with runs/create, as MLflow's client sends them: sent again in the first
                # log-batch, each made the server look it up and write it a second time (bench_sync.py).
                first = dict([(LOCAL_RUN_TAG, tags[LOCAL_RUN_TAG]), *sorted(tags.items())][:MAX_PARAMS_TAGS_PER_BATCH])
                body = {"experiment_id": remote_experiment, "user_id": info.user_id or "", "run_name": info.run_name or "",
                        "start_time": info.start_time, "tags": [{"key": k, "value": v} for k, v in first.items()]}  # fmt: skip
                created = self.rest.call("POST", "runs/create", body)["run"]["info"]
                remote_id = created["run_id"]
                state.update(tags=first, run_name=info.run_name)
                if created.get("artifact_uri"):
                    state["artifact_uri"] = created["artifact_uri"]
            self.store.sync.put(self.remote, "run", info.run_id, remote_id, state)
        # params (immutable) and tags (changed values), then metric points, in log_batch chunks
        params = [(k, v) for k, v in sorted(run.data.params.items()) if k not in set(state["params"])]
        new_tags = [(k, v) for k, v in sorted(tags.items()) if state["tags"].get(k) != v and k != "mlflow.runName"]
        gone = [k for k in state["tags"] if k not in tags]
        sent = 0
        while True:
            batch_params, params = params[:MAX_PARAMS_TAGS_PER_BATCH], params[MAX_PARAMS_TAGS_PER_BATCH:]
            batch_tags, new_tags = new_tags[:MAX_PARAMS_TAGS_PER_BATCH], new_tags[MAX_PARAMS_TAGS_PER_BATCH:]
            room = min(MAX_METRICS_PER_BATCH, MAX_ENTITIES_PER_BATCH - len(batch_params) - len(batch_tags))
            batch_points = self.store.sync.metric_points(info.run_id, int(state["rowid"]), mark[0], room)
            if not (batch_params or batch_tags or batch_points):
                break
            self.rest.call("POST", "runs/log-batch", {
                "run_id": remote_id,
                "params": [{"key": k, "value": v} for k, v in batch_params],
                "tags": [{"key": k, "value": v} for k, v in batch_tags],
                "metrics": [{"key": k, "value": _json_number(v), "timestamp": t, "step": s}
                            for _, k, v, t, s in batch_points],
            })  # fmt: skip
            state["params"] = sorted(set(state["params"]) | {k for k, _ in batch_params})
            state["tags"] = {**state["tags"], **dict(batch_tags)}
            if batch_points:
                state["rowid"] = batch_points[-1][0]
            self.store.sync.put(self.remote, "run", info.run_id, remote_id, state)  # resume from here
            sent += len(batch_points)
        self.report.add(points=sent)
        for key in gone:
            try:
                self.rest.call("POST", "runs/delete-tag", {"run_id": remote_id, "key": key})
            except NotFound:
                pass
            state["tags"].pop(key, None)
        self._push_files(run, remote_id, folder, files, revisions, state)
        self._push_inputs(run, remote_id, state)
        end = {"status": info.status, "end_time": info.end_time, "run_name": info.run_name}
        if (state.get("status"), state.get("end_time"), state.get("run_name")) != (info.status, info.end_time, info.run_name):
            body = {"run_id": remote_id, "status": info.status}
            if info.run_name and info.run_name != state.get("run_name"):  # a new name makes the server rewrite its tag
                body["run_name"] = info.run_name
            if info.end_time is not None:
                body["end_time"] = info.end_time
            self.rest.call("POST", "runs/update", body)
            state.update(end)
        state["fingerprint"] = fingerprint
        self.store.sync.put(self.remote, "run", info.run_id, remote_id, state)
        self.report.count(what, "run")

    def _delete_run(self, run: Run, remote_experiment: str | None, remote_id: str, state: dict[str, Any]) -> None:
        """Delete on the server a run pushed before and deleted here since (``runs/delete``), unless changed there."""
        label = f"{run.info.run_name or ''} ({run.info.run_id})"
        if state.get("stage") == "deleted" and remote_experiment not in self.restored:
            self.report.count("unchanged", "run")
            return
        if self.dry_run:
            self.report.count("deleted", "run", label=label)
            return
        # gone there too (MLflow's gc): as deleted
        remote = self._found("runs/get", {"run_id": remote_id}, "run") or {"info": {"lifecycle_stage": "deleted"}}
        if remote["info"].get("lifecycle_stage") != "deleted":
            changed = self._remote_changes(run, remote, state, state.get("tags", {}))
            if changed and state.get("stage") != "deleted":
                self.report.conflict(f"run {label} was deleted here, but changed on the server since the last push "
                                     f"({', '.join(changed[:5])}): not deleted there")  # fmt: skip
                return
            self.rest.call("POST", "runs/delete", {"run_id": remote_id})
        self.store.sync.put(self.remote, "run", run.info.run_id, remote_id, {**state, "stage": "deleted"})
        self.report.count("deleted", "run")

    def _restore_run(self, run: Run, remote_id: str, state: dict[str, Any]) -> bool:
        """Restore on the server a run this store's push deleted and that is active here again (``runs/restore``)."""
        remote = self._remote_run(run, remote_id, "was restored here, but it is gone from the server")
        if remote is None:
            return False
        if remote["info"].get("lifecycle_stage") == "deleted":
            self.rest.call("POST", "runs/restore", {"run_id": remote_id})
        state["stage"] = "active"
        self.store.sync.put(self.remote, "run", run.info.run_id, remote_id, state)
        return True

    def _remote_run(self, run: Run, remote_id: str, gone: str) -> dict[str, Any] | None:
        """The server's copy of a pushed run; ``None`` (a conflict, saying it ``gone``) when the server has none."""
        try:
            return self.rest.call("GET", "runs/get", {"run_id": remote_id})["run"]  # type: ignore[no-any-return]
        except NotFound:
            self.report.conflict(f"run {run.info.run_id} ({run.info.run_name}) {gone} (remote id {remote_id}, "
                                 "removed for good, e.g. by `mlflow gc`): not pushed again")  # fmt: skip
            return None

    def _check_run(self, run: Run, remote_id: str, state: dict[str, Any], wanted: dict[str, str]) -> bool:
        """Whether the remote run is as the last push left it (else a conflict is reported).

        A remote value that already equals the local one is no conflict: a
        push cut off after the request and before recording it left it so.
        """
        remote = self._remote_run(run, remote_id, "was deleted on the server")
        if remote is None:
            return False
        if remote["info"].get("lifecycle_stage") == "deleted":
            self.report.conflict(f"run {run.info.run_id} ({run.info.run_name}) is deleted on the server "
                                 f"(remote id {remote_id}): restore it there to push its changes")  # fmt: skip
            return False
        changed = self._remote_changes(run, remote, state, wanted)
        if changed:
            self.report.conflict(f"run {run.info.run_id} ({run.info.run_name}) was changed on the server since the "
                                 f"last push ({', '.join(changed[:5])}); its local changes were not pushed")  # fmt: skip
            return False
        return True

    @staticmethod
    def _remote_changes(run: Run, remote: dict[str, Any], state: dict[str, Any], wanted: dict[str, str]) -> list[str]:
        """What someone else changed in the remote run since the last push: its tags' keys, its status."""
        rtags = {t["key"]: t["value"] for t in remote.get("data", {}).get("tags", [])}
        changed = [k for k, v in state.get("tags", {}).items()
                   if k != "mlflow.runName" and rtags.get(k) not in (v, wanted.get(k))]  # fmt: skip
        status = remote["info"].get("status")
        if status not in (state.get("status"), run.info.status) and state.get("status") is not None:
            changed.append(f"status {state.get('status')} -> {status}")
        return changed

    def _push_files(self, run: Run, remote_id: str, folder: Path, files: dict[str, list[int]],
                    revisions: dict[str, str], state: dict[str, Any]) -> None:  # fmt: skip
        sent = state.setdefault("files", {})
        if not files and not revisions:
            return
        artifact_uri = state.get("artifact_uri")
        if artifact_uri is None:
            artifact_uri = self.rest.call("GET", "runs/get", {"run_id": remote_id})["run"]["info"]["artifact_uri"]
            state["artifact_uri"] = artifact_uri
        uploaded = 0
        for path, stamp in files.items():
            if sent.get(path) != stamp:
                self.rest.upload(artifact_uri, path, folder / path)
                sent[path] = stamp
                uploaded += 1
                self.store.sync.put(self.remote, "run", run.info.run_id, remote_id, state)
        if revisions and state.get("revisions") != revisions:
            uploaded += self._push_notebooks(run, artifact_uri, revisions)
            state["revisions"] = revisions
        self.report.add(files=uploaded)

    def _push_inputs(self, run: Run, remote_id: str, state: dict[str, Any]) -> None:
        """The datasets the run used (runs/log-inputs); a dataset input already there is linked once by MLflow."""
        inputs = self.store.datasets.run_inputs([run.info.run_id]).get(run.info.run_id)
        if inputs is None or not inputs.dataset_inputs:
            return
        sent = set(state.get("inputs", []))
        new = [i for i in inputs.dataset_inputs if f"{i.dataset.name}/{i.dataset.digest}" not in sent]
        if not new:
            return
        body = {"run_id": remote_id, "datasets": [{
            "tags": [{"key": t.key, "value": t.value} for t in i.tags],
            "dataset": {k: v for k, v in dict(i.dataset).items() if v is not None},
        } for i in new]}  # fmt: skip
        self.rest.call("POST", "runs/log-inputs", body)
        state["inputs"] = sorted(sent | {f"{i.dataset.name}/{i.dataset.digest}" for i in new})

    def _push_notebooks(self, run: Run, artifact_uri: str, revisions: dict[str, str]) -> int:
        """The run's notebook (at its end, and at its start if different) and the cells it executed, as .ipynb."""
        from ..capture.revisions import export_executed_notebook

        name = Path(run.info.notebook_path or run.data.tags.get("mlflow.source.name") or "notebook.ipynb").stem
        uploads = {}
        last = revisions.get("end") or revisions.get("start")
        if last:
            uploads[f"notebook/{name}.ipynb"] = self.store.capture.revision_content(last)
        if revisions.get("start") and revisions.get("start") != last:
            uploads[f"notebook/{name}.start.ipynb"] = self.store.capture.revision_content(revisions["start"])
        if self.store.capture.cell_executions(run_id=run.info.run_id, limit=1):
            import nbformat

            uploads["notebook/executed_cells.ipynb"] = nbformat.writes(
                export_executed_notebook(run.info.run_id, store=self.store)).encode()  # fmt: skip
        for path, content in uploads.items():
            self.rest.upload_bytes(artifact_uri, path, content)
        return len(uploads)

    # ---- logged models -----------------------------------------------------------

    def _logged_models(self, experiment_ids: set[str]) -> list[Any]:
        return [m for m in self.store.models.search(sorted(experiment_ids)) if m.experiment_id in experiment_ids] \
            if experiment_ids else []  # fmt: skip

    def _push_logged_model(self, model: Any) -> None:
        known = self.store.sync.get(self.remote, "logged_model", model.model_id)
        folder = self.store.models.folder(model.model_id)
        files = _files(folder)
        metrics = sum(1 for m in model.metrics if m.run_id)
        if known and known[1].get("files") == files and known[1].get("ready") and known[1].get("metrics", 0) == metrics:
            self.report.count("unchanged", "logged_model")
            return
        if self.dry_run:
            self.report.count("updated" if known else "created", "logged_model", label=f"{model.name} ({model.model_id})")
            return
        experiment = self.experiment_ids.get(model.experiment_id)
        if experiment is None:
            return
        if known:
            remote_id, state = known
        else:
            run = self.store.sync.get(self.remote, "run", model.source_run_id) if model.source_run_id else None
            body: dict[str, Any] = {
                "experiment_id": experiment, "name": model.name,
                "tags": [{"key": k, "value": v} for k, v in {**model.tags, LOCAL_MODEL_TAG: model.model_id}.items()],
                "params": [{"key": k, "value": v} for k, v in model.params.items()],
            }  # fmt: skip
            if model.model_type:
                body["model_type"] = model.model_type
            if run:
                body["source_run_id"] = run[0]
            created = self.rest.call("POST", "logged-models", body)["model"]["info"]
            remote_id = created["model_id"]
            state = {"artifact_location": created["artifact_uri"], "files": {}, "ready": False}
            self.store.sync.put(self.remote, "logged_model", model.model_id, remote_id, state)
        for path, stamp in files.items():
            if state["files"].get(path) != stamp:
                self.rest.upload(state["artifact_location"], path, folder / path)
                state["files"][path] = stamp
                self.report.add(files=1)
        if not state["ready"]:
            self.rest.call("PATCH", f"logged-models/{remote_id}", {"model_id": remote_id, "status": "LOGGED_MODEL_READY"})
            state["ready"] = True
        self._push_model_metrics(model, remote_id, state)
        self.store.sync.put(self.remote, "logged_model", model.model_id, remote_id, state)
        self.report.count("updated" if known else "created", "logged_model")

    def _push_model_metrics(self, model: Any, remote_id: str, state: dict[str, Any]) -> None:
        """A logged model's metrics, through its run's log-batch with ``model_id`` as MLflow 3 logs them.

        The run's history already holds the same points: MLflow keeps one of
        each identical point, so only the model's side gains them.
        """
        pending = [m for m in model.metrics if m.run_id][int(state.get("metrics", 0)):]
        for i in range(0, len(pending), MAX_METRICS_PER_BATCH):
            chunk = pending[i : i + MAX_METRICS_PER_BATCH]
            by_run: dict[str, list[dict[str, Any]]] = {}
            for m in chunk:
                run = self.store.sync.get(self.remote, "run", m.run_id)
                if run is None:
                    continue
                point = {"key": m.key, "value": _json_number(m.value), "timestamp": m.timestamp, "step": m.step,
                         "model_id": remote_id}  # fmt: skip
                if m.dataset_name:
                    point.update(dataset_name=m.dataset_name, dataset_digest=m.dataset_digest)
                by_run.setdefault(run[0], []).append(point)
            for run_id, metrics in by_run.items():
                self.rest.call("POST", "runs/log-batch", {"run_id": run_id, "metrics": metrics})
            state["metrics"] = int(state.get("metrics", 0)) + len(chunk)

    # ---- the registry ------------------------------------------------------------

    def _push_registry(self, runs: list[Run]) -> None:
        registry = self.store.registry
        scoped = self.names is not None or self.since is not None
        run_ids = {r.info.run_id for r in runs}
        for name in registry.model_names():
            versions = registry.search_model_versions(f"name = '{name.replace(chr(39), chr(39) * 2)}'", None, None)
            if scoped and not any(v.run_id in run_ids for v in versions):
                continue
            self._guard(f"registered model {name!r}", partial(self._push_model, name, versions))
        if self.names is None:  # a push of some experiments leaves the rest of the registry alone
            self._push_registry_deletions()

    def _push_registry_deletions(self) -> None:
        """Delete on the server the models and versions pushed from here and deleted here since."""
        registry = self.store.registry
        names = set(registry.model_names())
        versions = {f"{v.name}/{v.version}" for v in registry.search_model_versions(None, None, None)}
        for name, (_, state) in self.store.sync.mapped(self.remote, "registered_model").items():
            if name not in names and not state.get("pulled"):
                self._guard(f"registered model {name!r}", partial(self._delete_model, name, state))
        for key, (remote_version, state) in self.store.sync.mapped(self.remote, "model_version").items():
            name = key.rsplit("/", 1)[0]
            if name in names and key not in versions and not state.get("pulled"):
                self._guard(f"model version {key}", partial(self._delete_version, key, remote_version, state))

    def _found(self, endpoint: str, body: dict[str, Any], key: str) -> dict[str, Any] | None:
        """The server's object (``GET endpoint``), or ``None`` when it has none."""
        try:
            found: dict[str, Any] = self.rest.call("GET", endpoint, body)[key]
        except NotFound:
            return None
        return found

    def _delete_model(self, name: str, state: dict[str, Any]) -> None:
        """``registered-models/delete``, unless someone else changed the model there or added versions to it."""
        if self.dry_run:
            self.report.count("deleted", "registered_model", label=name)
            return
        remote = self._found("registered-models/get", {"name": name}, "registered_model")
        if remote is not None:  # else gone there too
            theirs = [v["version"] for v in self.rest.model_versions(name)
                      if LOCAL_VERSION_TAG not in {t["key"] for t in v.get("tags", [])}]  # fmt: skip
            changed = (remote.get("description") or "") != state.get("description", "") or \
                {t["key"]: t["value"] for t in remote.get("tags", [])} != state.get("tags", {})  # fmt: skip
            if theirs or changed:
                why = f"holds version(s) {', '.join(theirs)} not pushed from here" if theirs else \
                    "its description or tags were changed there since the last push"  # fmt: skip
                self.report.conflict(f"registered model {name!r} was deleted here, but on the server it {why}: "
                                     "not deleted there")  # fmt: skip
                return
            self.rest.call("DELETE", "registered-models/delete", {"name": name})
        versions = self.store.sync.mapped(self.remote, "model_version")  # "name/number", and a name may hold "/"
        self.store.sync.forget(self.remote, "model_version", [key for key in versions if key.rsplit("/", 1)[0] == name])
        self.store.sync.forget(self.remote, "registered_model", [name])
        self.report.count("deleted", "registered_model")

    def _delete_version(self, key: str, remote_version: str, state: dict[str, Any]) -> None:
        """``model-versions/delete``, unless its stage, description or tags were changed there since the last push."""
        name, number = key.rsplit("/", 1)
        if self.dry_run:
            self.report.count("deleted", "model_version", label=f"{name} v{number}")
            return
        remote = self._found("model-versions/get", {"name": name, "version": remote_version}, "model_version")
        if remote is not None:  # else gone there too
            tags = {t["key"]: t["value"] for t in remote.get("tags", []) if t["key"] != LOCAL_VERSION_TAG}
            if (remote.get("current_stage"), remote.get("description") or "", tags) != \
                    (state.get("stage"), state.get("description"), state.get("tags")):  # fmt: skip
                self.report.conflict(f"model version {key} (remote {remote_version}) was deleted here, but its stage, "
                                     "description or tags were changed on the server since the last push: not deleted there")  # fmt: skip
                return
            self.rest.call("DELETE", "model-versions/delete", {"name": name, "version": remote_version})
        self.store.sync.forget(self.remote, "model_version", [key])
        self.report.count("deleted", "model_version")

    def _push_model(self, name: str, versions: Iterable[Any]) -> None:
        model = self.store.registry.get_registered_model(name)
        known = self.store.sync.get(self.remote, "registered_model", name)
        versions = sorted(versions, key=lambda v: v.version)
        if self.dry_run:
            self.report.count("unchanged" if known else "created", "registered_model", label=name)
            mapped = self.store.sync.mapped(self.remote, "model_version")
            for v in versions:
                if f"{name}/{v.version}" not in mapped:
                    self.report.count("created", "model_version", label=f"{name} v{v.version}")
            return
        if known:
            state = known[1]
            try:
                remote = self.rest.call("GET", "registered-models/get", {"name": name})["registered_model"]
            except NotFound:
                self.report.conflict(f"registered model {name!r} was deleted on the server; not pushed again")
                return
        else:
            try:
                remote = self.rest.call("GET", "registered-models/get", {"name": name})["registered_model"]
            except NotFound:
                body = {"name": name, "tags": [{"key": k, "value": v} for k, v in model.tags.items()]}
                if model.description:
                    body["description"] = model.description
                remote = self.rest.call("POST", "registered-models/create", body)["registered_model"]
                remote.setdefault("description", model.description or "")
                self.report.count("created", "registered_model")
            state = {"description": remote.get("description") or "",
                     "tags": {t["key"]: t["value"] for t in remote.get("tags", [])}, "aliases": {}}  # fmt: skip
            self.store.sync.put(self.remote, "registered_model", name, name, state)
        changed = False
        remote_description = remote.get("description") or ""
        if (model.description or "") != state["description"]:
            if remote_description != state["description"]:
                self.report.conflict(f"registered model {name!r}: its description was changed on the server; "
                                     "the local one was not pushed")  # fmt: skip
            else:
                self.rest.call("PATCH", "registered-models/update", {"name": name, "description": model.description or ""})
                state["description"] = model.description or ""
                changed = True
        for key, value in model.tags.items():
            if state["tags"].get(key) != value:
                self.rest.call("POST", "registered-models/set-tag", {"name": name, "key": key, "value": value})
                state["tags"][key] = value
                changed = True
        numbers = self._push_versions(name, versions)
        # aliases: replay moves; one moved on the server by someone else is a conflict
        remote_aliases = {a["alias"]: a["version"] for a in remote.get("aliases", [])}
        for alias, version in model.aliases.items():
            target = numbers.get(version)
            if target is None or state["aliases"].get(alias) == target:
                continue
            if remote_aliases.get(alias) == target:  # already so (a push cut off before recording it)
                state["aliases"][alias] = target
                continue
            if alias in remote_aliases and remote_aliases[alias] != state["aliases"].get(alias):
                self.report.conflict(f"registered model {name!r}: alias {alias!r} points at version "
                                     f"{remote_aliases[alias]} on the server, set there by someone else; not moved")  # fmt: skip
                continue
            self.rest.call("POST", "registered-models/alias", {"name": name, "alias": alias, "version": target})
            state["aliases"][alias] = target
            changed = True
        for alias in [a for a in state["aliases"] if a not in model.aliases]:
            if remote_aliases.get(alias) == state["aliases"][alias]:
                self.rest.call("DELETE", "registered-models/alias", {"name": name, "alias": alias})
            del state["aliases"][alias]
            changed = True
        self.store.sync.put(self.remote, "registered_model", name, name, state)
        if known:
            self.report.count("updated" if changed else "unchanged", "registered_model")

    def _existing_versions(self, name: str) -> dict[str, str]:
        """Remote versions of ``name`` made by an earlier push: local "name/version" -> remote version."""
        found: dict[str, str] = {}
        for version in self.rest.model_versions(name):
            tags = {t["key"]: t["value"] for t in version.get("tags", [])}
            if LOCAL_VERSION_TAG in tags:
                found[tags[LOCAL_VERSION_TAG]] = version["version"]
        return found

    def _push_versions(self, name: str, versions: list[Any]) -> dict[int, str]:
        """Create missing versions, replay stage, description and tag changes; local number -> remote number."""
        mapped = self.store.sync.mapped(self.remote, "model_version")
        numbers: dict[int, str] = {}
        existing: dict[str, str] | None = None
        for version in versions:
            key = f"{name}/{version.version}"
            try:
                if key in mapped:
                    remote_version, state = mapped[key]
                else:
                    if existing is None:
                        existing = self._existing_versions(name)
                    if key in existing:
                        remote_version, state = existing[key], {"stage": None, "description": None, "tags": {}}
                    else:
                        remote_version, state = self._create_version(name, version), {"stage": "None",
                                                                                     "description": version.description or "",
                                                                                     "tags": dict(version.tags)}  # fmt: skip
                        self.report.count("created", "model_version")
                    self.store.sync.put(self.remote, "model_version", key, remote_version, state)
                numbers[version.version] = remote_version
                self._replay_version(name, version, remote_version, state, key)
            except LifecycleError as exc:
                self.report.error(f"model version {key}: {exc}")
        return numbers

    def _create_version(self, name: str, version: Any) -> str:
        body: dict[str, Any] = {"name": name,
                                "tags": [{"key": k, "value": v} for k, v in
                                         {**version.tags, LOCAL_VERSION_TAG: f"{name}/{version.version}"}.items()]}  # fmt: skip
        if version.description:
            body["description"] = version.description
        model = self.store.sync.get(self.remote, "logged_model", version.model_id) if version.model_id else None
        run = self.store.sync.get(self.remote, "run", version.run_id) if version.run_id else None
        if model:
            body["source"] = f"models:/{model[0]}"
            body["model_id"] = model[0]
        elif run and str(version.source).startswith(f"runs:/{version.run_id}/"):
            body["source"] = run[1]["artifact_uri"].rstrip("/") + "/" + str(version.source).split("/", 2)[2]
        else:
            raise InvalidInput(f"its model ({version.source}) is neither a pushed logged model nor a pushed run's "
                               "artifact: push its run's experiment too")  # fmt: skip
        if run:
            body["run_id"] = run[0]
        return str(self.rest.call("POST", "model-versions/create", body)["model_version"]["version"])

    def _replay_version(self, name: str, version: Any, remote_version: str, state: dict[str, Any], key: str) -> None:
        wanted = {"stage": version.current_stage, "description": version.description or "", "tags": dict(version.tags)}
        if state.get("stage") == wanted["stage"] and state.get("description") == wanted["description"] \
                and state.get("tags") == wanted["tags"]:  # fmt: skip
            return
        remote = self.rest.call("GET", "model-versions/get", {"name": name, "version": remote_version})["model_version"]
        if state.get("stage") not in (None, remote.get("current_stage")):
            self.report.conflict(f"model version {key} (remote {remote_version}): its stage was changed on the server "
                                 f"to {remote.get('current_stage')}; the local stage was not pushed")  # fmt: skip
        elif remote.get("current_stage") != wanted["stage"]:
            self.rest.call("POST", "model-versions/transition-stage", {"name": name, "version": remote_version,
                           "stage": wanted["stage"], "archive_existing_versions": False})  # fmt: skip
        if (remote.get("description") or "") != wanted["description"]:
            if state.get("description") not in (None, remote.get("description") or ""):
                self.report.conflict(f"model version {key}: its description was changed on the server; not overwritten")
            else:
                self.rest.call("PATCH", "model-versions/update", {"name": name, "version": remote_version,
                                                                  "description": wanted["description"]})  # fmt: skip
        for tag, value in wanted["tags"].items():
            if state.get("tags", {}).get(tag) != value:
                self.rest.call("POST", "model-versions/set-tag", {"name": name, "version": remote_version,
                                                                  "key": tag, "value": value})  # fmt: skip
        self.store.sync.put(self.remote, "model_version", key, remote_version, wanted)
