"""SQL for syncing with an MLflow tracking server: the local-id -> remote-id map (m0010) and the bulk reads and writes a sync needs."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .database import Database
from .tracking import _REFRESH, now_ms

KINDS = ("experiment", "run", "logged_model", "registered_model", "model_version")


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
        """Bring a pulled run up to date: new status/end time/name, changed tags, new points."""
        with self.db.write() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, end_time = ?, run_name = ?, lifecycle_stage = ? WHERE run_id = ?",
                (info["status"], info.get("end_time"), info.get("run_name"), info.get("lifecycle_stage", "active"), run_id),
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
