"""SQL for syncing with an MLflow tracking server: the local-id -> remote-id map (m0015_sync) and the bulk reads and writes a sync needs."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .database import Database
from .tracking import _REFRESH, now_ms

KINDS = ("experiment", "run", "logged_model", "registered_model", "model_version", "trace")


class SyncStore:
    """Which local object is which object of a remote server, and what was last synced of it."""

    def __init__(self, db: Database, home: Path) -> None:
        self.db = db
        self.home = home

    # ---- the map ------------------------------------------------------------

    def get(self, remote: str, kind: str, local_id: str) -> tuple[str, dict[str, Any]] | None:
        """``(remote_id, state)`` of a local object already synced with ``remote``, else ``None``."""
        rows = self.db.query(
            "SELECT remote_id, state FROM sync_objects WHERE remote = ? AND kind = ? AND local_id = ?",
            [remote, kind, local_id],
        )
        return (rows[0][0], json.loads(rows[0][1])) if rows else None

    def mapped(self, remote: str, kind: str) -> dict[str, tuple[str, dict[str, Any]]]:
        """Every object of one kind synced with ``remote``: local id -> ``(remote_id, state)``."""
        rows = self.db.query("SELECT local_id, remote_id, state FROM sync_objects WHERE remote = ? AND kind = ?",
                             [remote, kind])  # fmt: skip
        return {r[0]: (r[1], json.loads(r[2])) for r in rows}

    def local_id(self, remote: str, kind: str, remote_id: str) -> str | None:
        """The local object mapped to a remote one, or ``None``."""
        rows = self.db.query(
            "SELECT local_id FROM sync_objects WHERE remote = ? AND kind = ? AND remote_id = ?", [remote, kind, remote_id]
        )
        return rows[0][0] if rows else None

    def put(self, remote: str, kind: str, local_id: str, remote_id: str, state: dict[str, Any]) -> None:
        """Record (or update) a mapping and what was synced of the object."""
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO sync_objects VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (remote, kind, local_id)"
                " DO UPDATE SET remote_id = excluded.remote_id, state = excluded.state, synced_time = excluded.synced_time",
                (remote, kind, local_id, remote_id, json.dumps(state, sort_keys=True), now_ms()),
            )

    def forget(self, remote: str, kind: str, local_ids: Sequence[str]) -> None:
        """Drop mappings: their objects are gone on both sides (a local deletion pushed)."""
        with self.db.write() as conn:
            conn.executemany("DELETE FROM sync_objects WHERE remote = ? AND kind = ? AND local_id = ?",
                             [(remote, kind, local_id) for local_id in local_ids])  # fmt: skip

    def remotes(self) -> list[tuple[str, int, int]]:
        """``(remote, objects, last synced time)`` of every remote this store was synced with."""
        return [tuple(r) for r in self.db.query(  # type: ignore[misc]
            "SELECT remote, count(*), max(synced_time) FROM sync_objects GROUP BY remote ORDER BY remote")]

    # ---- reads for a push ----------------------------------------------------

    def run_marks(self, run_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """Per run, ``(highest metrics rowid, point count)``: what a push compares to know what is new."""
        out: dict[str, tuple[int, int]] = {}
        for i in range(0, len(run_ids), 500):
            chunk = list(run_ids[i : i + 500])
            marks = ", ".join("?" for _ in chunk)
            for run_id, top, count in self.db.query(
                f"SELECT run_id, max(rowid), count(*) FROM metrics WHERE run_id IN ({marks}) GROUP BY run_id", chunk
            ):
                out[run_id] = (int(top), int(count))
        return out

    def metric_points(self, run_id: str, after_rowid: int, up_to_rowid: int, limit: int) -> list[tuple[int, str, float, int, int]]:
        """Up to ``limit`` of a run's points with ``after < rowid <= up_to``, in order: ``(rowid, key, value, timestamp, step)``, NaN for NULL.

        One query per call, so no read transaction stays open between
        batches (a write from the same thread could not upgrade it).
        """
        rows = self.db.query(
            "SELECT rowid, key, value, timestamp, step FROM metrics WHERE run_id = ? AND rowid > ? AND rowid <= ?"
            " ORDER BY rowid LIMIT ?",
            (run_id, after_rowid, up_to_rowid, limit),
        )
        return [(r[0], r[1], math.nan if r[2] is None else r[2], r[3], r[4]) for r in rows]

    def count_points(self, run_id: str, after_rowid: int, up_to_rowid: int) -> int:
        """How many of a run's points have ``after < rowid <= up_to``."""
        return int(self.db.query("SELECT count(*) FROM metrics WHERE run_id = ? AND rowid > ? AND rowid <= ?",
                                 (run_id, after_rowid, up_to_rowid))[0][0])  # fmt: skip

    def trace_ids(self, experiment_ids: Sequence[str], since: int | None) -> list[str]:
        """Finished traces of these experiments (requested at or after ``since`` epoch ms, if given), oldest first."""
        if not experiment_ids:
            return []
        rows = self.db.query(
            "SELECT trace_id FROM traces WHERE experiment_id IN (SELECT value FROM json_each(?))"
            " AND state != 'IN_PROGRESS' AND request_time >= ? ORDER BY request_time, trace_id",
            (json.dumps(list(experiment_ids)), since or 0),
        )
        return [r[0] for r in rows]

    # ---- writes for a pull ---------------------------------------------------

    def insert_run(
        self,
        run_id: str,
        experiment_id: str,
        info: dict[str, Any],
        params: dict[str, str],
        tags: dict[str, str],
        points: Sequence[tuple[str, float, int, int]],
    ) -> None:
        """Write a run brought from elsewhere, as it is there (status, times, parent), with its params, tags and points.

        ``info`` holds ``run_name``, ``status``, ``start_time``, ``end_time``,
        ``user_id``, ``parent_run_id`` (local id or ``None``) and ``lifecycle_stage``.
        """
        location = f"artifacts/{experiment_id}/{run_id}"
        latest: dict[str, tuple[str, float, int, int]] = {}
        for point in points:
            best = latest.get(point[0])
            if best is None or (point[3], point[2]) >= (best[3], best[2]):
                latest[point[0]] = point
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO runs (run_id, experiment_id, run_name, status, start_time, end_time, user_id,"
                " parent_run_id, artifact_location, lifecycle_stage, heartbeat_time)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, experiment_id, info.get("run_name"), info["status"], info["start_time"], info.get("end_time"),
                 info.get("user_id"), info.get("parent_run_id"), location, info.get("lifecycle_stage", "active"),
                 now_ms()),
            )  # fmt: skip
            conn.executemany("INSERT INTO params VALUES (?, ?, ?)", [(run_id, k, v) for k, v in params.items()])
            conn.executemany("INSERT INTO tags VALUES (?, ?, ?)", [(run_id, k, v) for k, v in tags.items()])
            nan = [(run_id, k, None if math.isnan(v) else v, t, s) for k, v, t, s in points]
            conn.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?)", nan)
            conn.executemany(
                "INSERT INTO latest_metrics VALUES (?, ?, ?, ?, ?)",
                [(run_id, k, None if math.isnan(v) else v, t, s) for k, v, t, s in latest.values()],
            )
            for refresh in _REFRESH.values():
                conn.execute(refresh, (run_id,))

    def add_run_data(
        self, run_id: str, info: dict[str, Any], tags: dict[str, str], points: Sequence[tuple[str, float, int, int]]
    ) -> None:
        """Bring a pulled run up to date: new status/end time/name/lifecycle stage, changed tags, new points."""
        stage = info.get("lifecycle_stage", "active")
        with self.db.write() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, end_time = ?, run_name = ?, lifecycle_stage = ?,"
                " deleted_time = CASE WHEN ? = 'deleted' THEN coalesce(deleted_time, ?) END WHERE run_id = ?",
                (info["status"], info.get("end_time"), info.get("run_name"), stage, stage, now_ms(), run_id),
            )
            conn.executemany(
                "INSERT INTO tags VALUES (?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
                [(run_id, k, v) for k, v in tags.items()],
            )
            conn.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?)",
                             [(run_id, k, None if math.isnan(v) else v, t, s) for k, v, t, s in points])  # fmt: skip
            conn.executemany(
                "INSERT INTO latest_metrics VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value,"
                " timestamp = excluded.timestamp, step = excluded.step"
                " WHERE (excluded.step, excluded.timestamp) >= (latest_metrics.step, latest_metrics.timestamp)",
                [(run_id, k, None if math.isnan(v) else v, t, s) for k, v, t, s in points],
            )
            for refresh in _REFRESH.values():
                conn.execute(refresh, (run_id,))


def read_mlflow_db(path: Path) -> dict[str, Any]:
    """An ``mlflow.db`` written by MLflow's SQL tracking store, read as plain data (MLflow is not needed).

    Returns ``{"experiments": [...], "runs": [...], "metrics": {run_id: [(key, value, timestamp, step)]},
    "registered_models": [...], "model_versions": [...], "logged_models": {model_id: artifact_location}}``
    with experiments, runs, models and versions shaped like MLflow's REST JSON.
    """
    import sqlite3

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"experiments", "runs", "metrics", "params", "tags"} <= tables:
            from ..errors import InvalidInput

            raise InvalidInput(f"{path} is not a database written by MLflow's tracking store (no runs/metrics tables)")
        exp_tags: dict[str, list[dict[str, str]]] = {}
        for key, value, eid in conn.execute("SELECT key, value, experiment_id FROM experiment_tags"):
            exp_tags.setdefault(str(eid), []).append({"key": key, "value": value})
        experiments = [
            {"experiment_id": str(r[0]), "name": r[1], "artifact_location": r[2], "lifecycle_stage": r[3],
             "creation_time": r[4], "last_update_time": r[5], "tags": exp_tags.get(str(r[0]), [])}
            for r in conn.execute("SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time,"
                                  " last_update_time FROM experiments")
        ]  # fmt: skip
        keyed: dict[str, dict[str, list[dict[str, str]]]] = {}
        for table in ("params", "tags"):
            for key, value, run in conn.execute(f"SELECT key, value, run_uuid FROM {table}"):
                keyed.setdefault(run, {"params": [], "tags": []})[table].append({"key": key, "value": value})
        metrics: dict[str, list[tuple[str, float, int, int]]] = {}
        for key, value, ts, run, step, is_nan in conn.execute(
            "SELECT key, value, timestamp, run_uuid, step, is_nan FROM metrics ORDER BY run_uuid, key, step, timestamp"
        ):
            metrics.setdefault(run, []).append((key, math.nan if is_nan else float(value), int(ts), int(step)))
        runs = []
        for r in conn.execute("SELECT run_uuid, name, user_id, status, start_time, end_time, lifecycle_stage,"
                              " artifact_uri, experiment_id FROM runs"):  # fmt: skip
            data = keyed.get(r[0], {"params": [], "tags": []})
            runs.append({"info": {"run_id": r[0], "run_name": r[1], "user_id": r[2], "status": r[3],
                                  "start_time": r[4], "end_time": r[5], "lifecycle_stage": r[6],
                                  "artifact_uri": r[7], "experiment_id": str(r[8])},
                         "data": {"params": data["params"], "tags": data["tags"]}})  # fmt: skip
        return {"experiments": experiments, "runs": runs, "metrics": metrics, **_mlflow_db_registry(conn, tables)}
    finally:
        conn.close()


def _mlflow_db_registry(conn: Any, tables: set[str]) -> dict[str, Any]:
    """The model registry of an ``mlflow.db`` (empty when it has none), and where its logged models keep their files."""
    out: dict[str, Any] = {"registered_models": [], "model_versions": [], "logged_models": {}}
    if "logged_models" in tables:
        out["logged_models"] = dict(conn.execute("SELECT model_id, artifact_location FROM logged_models").fetchall())
    if not {"registered_models", "model_versions"} <= tables:
        return out
    keyed: dict[Any, list[dict[str, str]]] = {}
    for key, value, name in conn.execute("SELECT key, value, name FROM registered_model_tags"):
        keyed.setdefault(name, []).append({"key": key, "value": value})
    for key, value, name, version in conn.execute("SELECT key, value, name, version FROM model_version_tags"):
        keyed.setdefault((name, str(version)), []).append({"key": key, "value": value})
    aliases: dict[str, list[dict[str, str]]] = {}
    for alias, version, name in conn.execute("SELECT alias, version, name FROM registered_model_aliases"):
        aliases.setdefault(name, []).append({"alias": alias, "version": str(version)})
    out["registered_models"] = [
        {"name": name, "description": description or "", "tags": keyed.get(name, []), "aliases": aliases.get(name, [])}
        for name, description in conn.execute("SELECT name, description FROM registered_models ORDER BY name")
    ]
    out["model_versions"] = [
        {"name": r[0], "version": str(r[1]), "source": r[2], "run_id": r[3], "current_stage": r[4] or "None",
         "description": r[5] or "", "user_id": r[6], "storage_location": r[7], "tags": keyed.get((r[0], str(r[1])), [])}
        for r in conn.execute("SELECT name, version, source, run_id, current_stage, description, user_id, storage_location"
                              " FROM model_versions WHERE coalesce(current_stage, '') != 'Deleted_Internal' ORDER BY name, version")
    ]  # fmt: skip
    return out
