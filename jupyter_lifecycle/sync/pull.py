"""Bring MLflow runs into the local store: from a tracking server (``pull``), an ``mlruns/`` folder or an ``mlflow.db`` (``import_mlflow``).

Each source gives experiments, runs, registered models and versions shaped
like MLflow's REST JSON, metric histories and artifact files; one importer
writes them into the store and records them in the sync map (the source's
URI is the map's "remote"), so pulling or importing again brings only what
is new and never duplicates.
A run pushed from this store is not pulled back over itself.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from ..errors import InvalidInput, LifecycleError, NotFound
from ..store import Store, open_store
from ..store.sync import read_mlflow_db
from ..store.tracking import new_run_id
from .models import pull_registered_models
from .push import LOCAL_RUN_TAG, _digest
from .report import SyncReport
from .rest import RestClient

_STATUS_NUMBERS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}  # mlruns meta.yaml


def _value(raw: Any) -> float:
    if isinstance(raw, str):
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(raw, math.nan)
    return float(raw)


class ServerSource:
    """A tracking server, through its REST API."""

    def __init__(self, uri: str) -> None:
        self.rest = RestClient(uri)
        self.uri = self.rest.uri

    def experiments(self, names: Sequence[str] | None) -> list[dict[str, Any]]:
        if not names:
            raise InvalidInput("pull needs --experiment NAME (one or more): which of the server's experiments to bring")
        out = []
        for name in names:
            out.append(self.rest.call("GET", "experiments/get-by-name", {"experiment_name": name})["experiment"])
        return out

    def runs(self, experiment_id: str) -> list[dict[str, Any]]:
        body = {"experiment_ids": [experiment_id], "max_results": 1000, "run_view_type": "ALL"}
        return list(self.rest.pages("POST", "runs/search", body, "runs"))

    def history(self, run: dict[str, Any]) -> list[tuple[str, float, int, int]]:
        points = []
        for metric in run["data"].get("metrics", []):
            query = {"run_id": run["info"]["run_id"], "metric_key": metric["key"], "max_results": 25000}
            points += [(m["key"], _value(m.get("value", 0.0)), int(m.get("timestamp", 0)), int(m.get("step", 0)))
                       for m in self.rest.pages("GET", "metrics/get-history", query, "metrics")]  # fmt: skip
        return points

    def files(self, run: dict[str, Any]) -> list[tuple[str, int]]:
        return [(f["path"], f["file_size"]) for f in self.rest.list_artifacts(run["info"]["artifact_uri"])]

    def fetch(self, run: dict[str, Any], path: str, target: Path) -> None:
        self.rest.download(run["info"]["artifact_uri"], path, target)

    def registered_models(self) -> list[dict[str, Any]]:
        return list(self.rest.pages("GET", "registered-models/search", {"max_results": 1000}, "registered_models"))

    def model_versions(self, name: str) -> list[dict[str, Any]]:
        return list(self.rest.model_versions(name))

    def version_location(self, version: dict[str, Any], model_id: str) -> str:
        if model_id:
            return str(self.rest.call("GET", f"logged-models/{model_id}")["model"]["info"]["artifact_uri"])
        return str(version["source"])

    def version_files(self, location: str) -> list[str]:
        return [f["path"] for f in self.rest.list_artifacts(location)]

    def fetch_version_file(self, location: str, path: str, target: Path) -> None:
        self.rest.download(location, path, target)


def _local_folder(uri: str | None, base: Path) -> Path | None:
    """A local artifact folder from an artifact URI (``file:``, absolute or relative path); ``None`` otherwise."""
    if not uri:
        return None
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme == "file":
        return Path(urllib.parse.unquote(parsed.path))
    if parsed.scheme in ("", ) or (len(parsed.scheme) == 1 and uri[1:2] == ":"):  # a path (or a Windows drive)
        path = Path(uri)
        return path if path.is_absolute() else base / path
    return None


class _FolderFiles:
    """Artifacts kept in local folders (an ``mlruns/`` folder, or next to an ``mlflow.db``)."""

    base: Path

    def files(self, run: dict[str, Any]) -> list[tuple[str, int]]:
        folder = _local_folder(run["info"].get("artifact_uri"), self.base)
        if folder is None:
            raise InvalidInput(f"run {run['info']['run_id']}: its artifacts are at {run['info'].get('artifact_uri')}, "
                               "not in a local folder: pull them from the server instead")  # fmt: skip
        if not folder.is_dir():
            return []
        return [(p.relative_to(folder).as_posix(), p.stat().st_size) for p in sorted(folder.rglob("*")) if p.is_file()]

    def fetch(self, run: dict[str, Any], path: str, target: Path) -> None:
        folder = _local_folder(run["info"].get("artifact_uri"), self.base)
        assert folder is not None
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / path, target)

    def logged_model_location(self, model_id: str) -> str | None:
        return None

    def version_location(self, version: dict[str, Any], model_id: str) -> str:
        """The local folder of a version's files: its storage location, else its logged model's."""
        location = version.get("storage_location") or (self.logged_model_location(model_id) if model_id else None)
        folder = _local_folder(location, self.base)
        if folder is None:
            raise InvalidInput(f"version {version['version']} of {version['name']!r}: its files are at "
                               f"{location or version['source']}, not in a local folder")  # fmt: skip
        return str(folder)

    def version_files(self, location: str) -> list[str]:
        folder = Path(location)
        return [p.relative_to(folder).as_posix() for p in sorted(folder.rglob("*")) if p.is_file()]

    def fetch_version_file(self, location: str, path: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(location) / path, target)


class DbSource(_FolderFiles):
    """An ``mlflow.db`` file written by MLflow's SQL tracking store."""

    def __init__(self, path: Path) -> None:
        self.base = path.parent
        self.uri = path.resolve().as_uri()
        self.data = read_mlflow_db(path)

    def experiments(self, names: Sequence[str] | None) -> list[dict[str, Any]]:
        return _pick(self.data["experiments"], names, self.uri)

    def runs(self, experiment_id: str) -> list[dict[str, Any]]:
        return [r for r in self.data["runs"] if r["info"]["experiment_id"] == experiment_id]

    def history(self, run: dict[str, Any]) -> list[tuple[str, float, int, int]]:
        return list(self.data["metrics"].get(run["info"]["run_id"], []))

    def registered_models(self) -> list[dict[str, Any]]:
        return list(self.data["registered_models"])

    def model_versions(self, name: str) -> list[dict[str, Any]]:
        return [v for v in self.data["model_versions"] if v["name"] == name]

    def logged_model_location(self, model_id: str) -> str | None:
        return self.data["logged_models"].get(model_id)


class MlrunsSource(_FolderFiles):
    """An ``mlruns/`` folder written by MLflow's file tracking store."""

    def __init__(self, path: Path) -> None:
        self.base = path
        self.uri = path.resolve().as_uri()

    @staticmethod
    def _keyed(folder: Path) -> list[dict[str, str]]:
        if not folder.is_dir():
            return []
        return [{"key": p.relative_to(folder).as_posix(), "value": p.read_text(encoding="utf-8")}
                for p in sorted(folder.rglob("*")) if p.is_file()]  # fmt: skip

    def experiments(self, names: Sequence[str] | None) -> list[dict[str, Any]]:
        found = []
        for meta in sorted(self.base.glob("*/meta.yaml")):
            data = yaml.safe_load(meta.read_text(encoding="utf-8")) or {}
            if "name" not in data or meta.parent.name in (".trash", "models"):
                continue
            data["experiment_id"] = str(data.get("experiment_id", meta.parent.name))
            data["tags"] = self._keyed(meta.parent / "tags")
            found.append(data)
        return _pick(found, names, self.uri)

    def runs(self, experiment_id: str) -> list[dict[str, Any]]:
        runs = []
        for meta in sorted((self.base / experiment_id).glob("*/meta.yaml")):
            info = yaml.safe_load(meta.read_text(encoding="utf-8")) or {}
            if "run_id" not in info and "run_uuid" not in info:
                continue  # a logged model's folder (MLflow 3), not a run
            info["run_id"] = info.get("run_id") or info["run_uuid"]
            status = info.get("status")
            info["status"] = _STATUS_NUMBERS.get(status, status) if isinstance(status, int) else str(status)
            info["experiment_id"] = experiment_id
            info["artifact_uri"] = info.get("artifact_uri") or str(meta.parent / "artifacts")
            runs.append({"info": info, "folder": meta.parent,
                         "data": {"params": self._keyed(meta.parent / "params"), "tags": self._keyed(meta.parent / "tags")}})  # fmt: skip
        return runs

    def registered_models(self) -> list[dict[str, Any]]:
        models = []
        for meta in sorted((self.base / "models").glob("*/meta.yaml")):
            data = yaml.safe_load(meta.read_text(encoding="utf-8")) or {}
            aliases = data.get("aliases") or {p["key"]: p["value"] for p in self._keyed(meta.parent / "aliases")}
            models.append({"name": data.get("name", meta.parent.name), "description": data.get("description") or "",
                           "tags": self._keyed(meta.parent / "tags"),
                           "aliases": [{"alias": k, "version": str(v).strip()} for k, v in aliases.items()]})  # fmt: skip
        return models

    def model_versions(self, name: str) -> list[dict[str, Any]]:
        versions = []
        for folder in (self.base / "models").iterdir() if (self.base / "models").is_dir() else []:
            if not (folder / "meta.yaml").is_file():
                continue
            model = yaml.safe_load((folder / "meta.yaml").read_text(encoding="utf-8")) or {}
            if model.get("name", folder.name) != name:
                continue
            for meta in sorted(folder.glob("version-*/meta.yaml")):
                data = yaml.safe_load(meta.read_text(encoding="utf-8")) or {}
                if data.get("current_stage") == "Deleted_Internal":  # the file store's deleted versions
                    continue
                data.update(name=name, version=str(data.get("version", meta.parent.name.split("-", 1)[1])),
                            tags=self._keyed(meta.parent / "tags"))  # fmt: skip
                versions.append(data)
        return versions

    def logged_model_location(self, model_id: str) -> str | None:
        for meta in self.base.glob(f"*/models/{model_id}/meta.yaml"):
            return str((yaml.safe_load(meta.read_text(encoding="utf-8")) or {}).get("artifact_location") or meta.parent / "artifacts")
        return None

    def history(self, run: dict[str, Any]) -> list[tuple[str, float, int, int]]:
        points = []
        folder = run["folder"] / "metrics"
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if path.is_file():
                key = path.relative_to(folder).as_posix()
                for line in path.read_text(encoding="utf-8").splitlines():
                    parts = line.split()
                    if len(parts) >= 2:
                        points.append((key, float(parts[1]), int(parts[0]), int(parts[2]) if len(parts) > 2 else 0))
        return points


def _pick(experiments: list[dict[str, Any]], names: Sequence[str] | None, where: str) -> list[dict[str, Any]]:
    if not names:
        return [e for e in experiments if e.get("lifecycle_stage", "active") == "active"]
    by_name = {e["name"]: e for e in experiments}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise NotFound(f"{where} has no experiment named {', '.join(map(repr, missing))}; "
                       f"it has {', '.join(sorted(map(repr, by_name)))}")  # fmt: skip
    return [by_name[n] for n in names]


class Importer:
    """Writes a source's experiments and runs into the store, through the sync map."""

    def __init__(self, store: Store, source: Any, direction: str, progress: bool) -> None:
        self.store = store
        self.source = source
        self.remote = source.uri
        self.report = SyncReport(self.remote, direction)
        self.progress = progress

    def run(self, names: Sequence[str] | None) -> SyncReport:
        started = time.perf_counter()
        bar: Any = None
        pulled: dict[str, dict[str, Any]] = {}  # remote run id -> run JSON, for the registry
        for experiment in self.source.experiments(names):
            local_experiment = self._experiment(experiment)
            if local_experiment is None:
                continue
            runs = sorted(self.source.runs(experiment["experiment_id"]), key=lambda r: r["info"].get("start_time") or 0)
            if self.progress and bar is None:
                from tqdm.auto import tqdm

                bar = tqdm(unit="run", desc=f"{self.report.direction} {self.remote}")
            if bar is not None:
                bar.total = (bar.total or 0) + len(runs)
            # every remote run's local id first, so a child names its parent's local id
            ids = {r["info"]["run_id"]: self._local_run_id(r) for r in runs}
            for run in runs:
                if run["info"].get("lifecycle_stage", "active") == "active":  # a deleted run's versions stay there
                    pulled[run["info"]["run_id"]] = run
                try:
                    self._run(run, local_experiment, ids)
                except (LifecycleError, OSError, KeyError, ValueError) as exc:
                    self.report.error(f"run {run['info']['run_id']}: {exc}")
                if bar is not None:
                    bar.update(1)
        if bar is not None:
            bar.close()
        pull_registered_models(self, pulled)
        self.report.seconds = time.perf_counter() - started
        return self.report

    def _experiment(self, experiment: dict[str, Any]) -> str | None:
        """The local experiment runs of ``experiment`` go into; ``None`` when it is deleted there (its runs stay put)."""
        remote_id = str(experiment["experiment_id"])
        local = self.store.sync.local_id(self.remote, "experiment", remote_id)
        tags = {t["key"]: t["value"] for t in experiment.get("tags", []) if not t["key"].startswith("mlflow.")}
        deleted = experiment.get("lifecycle_stage", "active") == "deleted"
        if local is None:
            if deleted:
                self.report.error(f"experiment {experiment['name']!r} is deleted at {self.remote}: restore it there to "
                                  "bring it here")  # fmt: skip
                return None
            existing = self.store.tracking.get_experiment_by_name(experiment["name"])
            if existing is not None:
                local = existing.experiment_id
                self.report.count("unchanged", "experiment")
                state: dict[str, Any] = {"tags": tags}
            else:
                local = self.store.tracking.create_experiment(experiment["name"], tags=tags)
                self.report.count("created", "experiment")
                state = {"tags": tags, "pulled": True}  # made by this pull: it follows the source's deletions
            self.store.sync.put(self.remote, "experiment", local, remote_id, state)
            return local
        state = self.store.sync.get(self.remote, "experiment", local)[1]  # type: ignore[index]
        here = self.store.tracking.get_experiment(local).lifecycle_stage
        if deleted and here == "active" and state.get("pulled"):
            self.store.tracking.set_experiment_stage(local, "deleted")
            self.store.sync.put(self.remote, "experiment", local, remote_id, {**state, "stage": "deleted"})
            self.report.count("deleted", "experiment")
            return None
        if deleted:
            if here == "active":
                self.report.conflict(f"experiment {experiment['name']!r} is deleted at {self.remote}, not here (it "
                                     "was not made by a pull): kept here, its runs were not pulled")  # fmt: skip
            else:
                self.report.count("unchanged", "experiment")
            return None
        if here == "deleted" and state.get("stage") == "deleted":  # deleted by an earlier pull, restored there since
            self.store.tracking.set_experiment_stage(local, "active")
            self.store.sync.put(self.remote, "experiment", local, remote_id, {**state, "stage": "active"})
            self.report.count("restored", "experiment")
        else:
            self.report.count("unchanged", "experiment")
        return local

    def _local_run_id(self, run: dict[str, Any]) -> str:
        remote_id = run["info"]["run_id"]
        mapped = self.store.sync.local_id(self.remote, "run", remote_id)
        if mapped:
            return mapped
        if self.store.db.query("SELECT 1 FROM runs WHERE run_id = ?", [remote_id]):
            return new_run_id()
        return str(remote_id)  # the same id on both sides when it is free: easy to compare

    def _run(self, run: dict[str, Any], experiment_id: str, ids: dict[str, str]) -> None:
        info, data = run["info"], run["data"]
        remote_id = info["run_id"]
        local_id = ids[remote_id]
        known = self.store.sync.get(self.remote, "run", local_id)
        stage = info.get("lifecycle_stage", "active")
        if known and "pulled" not in known[1]:  # pushed from here: this store is its origin
            if stage == "deleted" and known[1].get("stage") != "deleted" \
                    and self.store.tracking.run_stage(local_id) == "active":  # fmt: skip
                self.report.conflict(f"run {local_id} ({info.get('run_name')}), pushed from here, was deleted at "
                                     f"{self.remote} (remote id {remote_id}): kept here; delete it here or restore "
                                     "it there")  # fmt: skip
            else:
                self.report.count("unchanged", "run")
            return
        if known is None and stage == "deleted":
            return  # a run deleted there before it ever came here: nothing to bring
        tags = {t["key"]: t["value"] for t in data.get("tags", [])}
        params = {p["key"]: p["value"] for p in data.get("params", [])}
        parent_remote = tags.get("mlflow.parentRunId")
        parent = ids.get(parent_remote) if parent_remote else None
        if parent_remote and parent is None:
            parent = self.store.sync.local_id(self.remote, "run", parent_remote)
        if parent:
            tags["mlflow.parentRunId"] = parent
        else:
            tags.pop("mlflow.parentRunId", None)
        tags.pop(LOCAL_RUN_TAG, None)
        fields = {"run_name": info.get("run_name") or tags.get("mlflow.runName"), "status": info.get("status", "FINISHED"),
                  "start_time": int(info.get("start_time") or 0),
                  "end_time": int(info["end_time"]) if info.get("end_time") else None,
                  "user_id": info.get("user_id"), "parent_run_id": parent,
                  "lifecycle_stage": info.get("lifecycle_stage", "active")}  # fmt: skip
        fingerprint = _digest(fields, params, tags, sorted((m["key"], m.get("step"), m.get("timestamp"))
                                                        for m in data.get("metrics", [])))  # fmt: skip
        if known and known[1].get("fingerprint") == fingerprint:
            self.report.count("unchanged", "run")
            return
        points = self.source.history(run)
        if known:
            have = {(k, s, t, repr(v)) for _, k, v, t, s in self._local_points(local_id)}
            new = [p for p in points if (p[0], p[3], p[2], repr(p[1])) not in have]
            before = self.store.tracking.run_stage(local_id)
            self.store.sync.add_run_data(local_id, fields, tags, new)
            state = dict(known[1])
            self.report.count("updated" if before == stage else "deleted" if stage == "deleted" else "restored", "run")
        else:
            self.store.sync.insert_run(local_id, experiment_id, fields, params, tags, points)
            new = points
            state = {"pulled": True, "files": {}}
            self.report.count("created", "run")
        self.report.add(points=len(new))
        self.store.sync.put(self.remote, "run", local_id, remote_id, state)
        folder = self.store.tracking.artifact_dir(local_id)
        for path, size in self.source.files(run):
            if state["files"].get(path) == size:
                continue
            target = folder / path
            self.source.fetch(run, path, target)
            digest = hashlib.sha256(target.read_bytes()).hexdigest()
            self.store.tracking.record_artifact(local_id, path, target.stat().st_size, digest)
            state["files"][path] = size
            self.report.add(files=1)
        state["fingerprint"] = fingerprint
        self.store.sync.put(self.remote, "run", local_id, remote_id, state)

    def _local_points(self, run_id: str) -> list[tuple[int, str, float, int, int]]:
        return self.store.sync.metric_points(run_id, 0, 2**62, 2**62)


def pull(
    uri: str, experiments: Sequence[str] | str, progress: bool = True, store: Store | None = None
) -> SyncReport:
    """Bring experiments (by name) of the MLflow tracking server at ``uri`` into this store, with their runs.

    Runs keep their ids (when free here), names, status, times, parents,
    params, tags, full metric histories and artifacts, and the registered
    models with versions made from those runs (versions, aliases, stages,
    descriptions, tags; see ``models.py``). Pulling again brings only new
    runs and what changed, deletions and restores of pulled runs included;
    runs and models pushed from this store are left as they are here (one
    deleted there is reported as a conflict).
    """
    names = [experiments] if isinstance(experiments, str) else list(experiments)
    return Importer(store or open_store(), ServerSource(uri), "pull", progress).run(names)


def import_mlflow(
    path_or_uri: str | Path, experiments: Sequence[str] | None = None, progress: bool = True, store: Store | None = None
) -> SyncReport:
    """Import an MLflow ``mlruns/`` folder, an ``mlflow.db`` file (or ``sqlite:///...`` URI), or a server's experiments.

    All active experiments unless ``experiments`` names some (a server needs
    names), with their runs and the registered models that have a version
    made from one of them. Importing again brings only what is new or changed
    (deletions and restores included).
    """
    text = str(path_or_uri)
    if text.startswith(("http://", "https://")):
        return pull(text, experiments or [], progress, store)
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///"):]
    elif text.startswith("file://"):
        text = urllib.parse.unquote(urllib.parse.urlsplit(text).path)
    path = Path(text).expanduser()
    if path.is_dir():
        source: Any = MlrunsSource(path)
    elif path.is_file():
        source = DbSource(path)
    else:
        raise NotFound(f"{path} does not exist: give an mlruns/ folder, an mlflow.db file or a server's http(s):// URI")
    return Importer(store or open_store(), source, "import", progress).run(experiments)
