"""SQL for experiments, runs, params, metrics, tags and artifact records."""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..entities import Experiment, Metric, Run, RunData, RunInfo, ViewType
from ..errors import AlreadyExists, InvalidInput, NotFound, StoreError
from .database import Database
from .liveness import HOST, Heartbeat, stale_reason
from .search import (
    STRING_COMPARATORS,
    Condition,
    OrderBy,
    check_comparator,
    check_max_results,
    parse_filter,
    parse_order_by,
    value_sql,
    where_clauses,
)

if TYPE_CHECKING:
    import numpy as np

T = TypeVar("T")

# Points per query when reading histories as arrays (``metric_arrays``): the
# text of one chunk is ~3 MB. A read's peak memory is the arrays (24 bytes a
# point) plus about three chunks of text; 1 << 18 points a chunk added ~40 MB
# to a 1M-point read (issue #14) for no measurable speed.
HISTORY_CHUNK = 1 << 16
# Runs per piece of ``search_run_csv``: ~3 MB of text, so the text alive at once stays small.
FRAME_CHUNK = 5_000
_POINTS_PER_INSERT = 50
_INSERT_POINTS = "INSERT INTO metrics VALUES " + ", ".join(["(?, ?, ?, ?, ?)"] * _POINTS_PER_INSERT)
_IN_BATCH = 10_000  # run ids per IN (...): SQLite binds at most 32,766 values
# A point's value as text numpy reads back as the same double: SQLite's own
# conversion keeps 15 digits; NaN is stored as NULL.
_VALUE_TEXT = "CASE WHEN value IS NULL THEN 'nan' ELSE printf('%!.17g', value) END"


def _marks(items: Sequence[Any]) -> str:
    return ", ".join("?" for _ in items)


def _batches(items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _chunk_series(series: list[tuple[str, str, int]]) -> Iterator[list[tuple[str, str, int]]]:
    """Consecutive series grouped to about ``HISTORY_CHUNK`` points a query; a longer one alone."""
    group: list[tuple[str, str, int]] = []
    points = 0
    for item in series:
        if item[2] > HISTORY_CHUNK:
            if group:
                yield group
                group, points = [], 0
            yield [item]
            continue
        if group and (points + item[2] > HISTORY_CHUNK or len(group) >= _IN_BATCH):
            yield group
            group, points = [], 0
        group.append(item)
        points += item[2]
    if group:
        yield group


def _sort_series(series: list[tuple[str, str, int]], steps: np.ndarray, stamps: np.ndarray,
                 values: np.ndarray) -> None:  # fmt: skip
    """Put each series in (step, timestamp) order in place; rows come by (step, rowid), so only
    equal steps logged with falling timestamps move, and a stable sort keeps logging order for ties."""
    import numpy as np

    if len(steps) < 2:
        return
    later = np.ones(len(steps) - 1, dtype=bool)  # False where a new series starts
    np.put(later, np.cumsum([n for _, _, n in series])[:-1] - 1, False)
    same = steps[1:] == steps[:-1]
    if not np.any(later & ((steps[1:] < steps[:-1]) | (same & (stamps[1:] < stamps[:-1])))):
        return
    codes = np.repeat(np.arange(len(series)), [n for _, _, n in series])
    order = np.lexsort((stamps, steps, codes))
    steps[:] = steps[order]
    stamps[:] = stamps[order]
    values[:] = values[order]

DEFAULT_EXPERIMENT = "Default"

# Run attributes a filter or order_by may name: attribute -> (column, numeric).
RUN_ATTRIBUTES = {
    "run_id": ("r.run_id", False),
    "run_name": ("r.run_name", False),
    "status": ("r.status", False),
    "user_id": ("r.user_id", False),
    "experiment_id": ("r.experiment_id", False),
    "notebook_path": ("r.notebook_path", False),
    "start_time": ("r.start_time", True),
    "end_time": ("r.end_time", True),
}

_RUN_COLUMNS = (
    "r.run_id, r.experiment_id, r.run_name, r.status, r.start_time, r.end_time, r.user_id,"
    " r.artifact_location, r.lifecycle_stage, r.parent_run_id, r.notebook_path"
)
# Each run's params, latest metrics and tags as JSON objects, kept on its runs
# row (migration m0005): reading them is one row per run instead of ~35.
_RUN_DATA = "r.params_json, r.metrics_json, r.tags_json"
# A metric value as digits (JSON and CSV) that read back as the same double. SQLite's
# own JSON keeps 15 digits, which changes most values (0.1234567890123456 ->
# 0.123456789012346); 17 always suffice in the range metrics live in (beyond
# 1e200 SQLite's printf may be one unit in the last place off). Outside
# 1e-200..1e200 SQLite's own text-to-real conversion is too coarse to tell
# whether 15 digits suffice (2.1187378592143898e-300 passed the test), so
# 17 are written there. NaN is NULL.
_METRIC_DIGITS = (
    "CASE WHEN abs(value) BETWEEN 1e-200 AND 1e200 AND CAST(printf('%!.15g', value) AS REAL) = value"
    " THEN printf('%!.15g', value) ELSE printf('%!.17g', value) END"
)
_INFINITY = "abs(value) > 1.7976931348623157e308"
_TEXT_CSV = "',\"' || replace(value, '\"', '\"\"') || '\"'"
# Rewrite a run's JSON object, its CSV values and their keys (m0019) from its key/value
# rows, inside the write that changed them, so they can never disagree with them. One
# query makes all three, so the CSV values and the keys list the same keys in the same
# order. In JSON, infinities become the strings "Infinity"/"-Infinity" (SQLite would
# write the invalid token Inf); in CSV a metric is ",digits", NaN ",", infinities ",inf".
_REFRESH = {
    "params": "UPDATE runs SET (params_json, params_csv, params_keys) = (SELECT json_group_object(key, value),"
    f" coalesce(group_concat({_TEXT_CSV}, ''), ''), json_group_array(key) FROM params WHERE run_id = ?1)"
    " WHERE run_id = ?1",
    "tags": "UPDATE runs SET (tags_json, tags_csv, tags_keys) = (SELECT json_group_object(key, value),"
    f" coalesce(group_concat({_TEXT_CSV}, ''), ''), json_group_array(key) FROM tags WHERE run_id = ?1)"
    " WHERE run_id = ?1",
    "latest_metrics": "UPDATE runs SET (metrics_json, metrics_csv, metrics_keys) = (SELECT json_group_object(key,"
    f" CASE WHEN value IS NULL THEN NULL WHEN {_INFINITY} THEN CASE WHEN value > 0 THEN 'Infinity' ELSE '-Infinity'"
    " END ELSE json(digits) END), coalesce(group_concat(',' || CASE WHEN value IS NULL THEN ''"
    f" WHEN {_INFINITY} THEN CASE WHEN value > 0 THEN 'inf' ELSE '-inf' END ELSE digits END, ''), ''),"
    f" json_group_array(key) FROM (SELECT key, value, {_METRIC_DIGITS} AS digits FROM latest_metrics"
    " WHERE run_id = ?1)) WHERE run_id = ?1",
}

_KEYED_TABLES = {"metric": "latest_metrics", "param": "params", "tag": "tags"}
# Comparators the (key, value) indexes answer with a range scan (LIKE is a GLOB with a prefix).
_INDEXED_COMPARATORS = ("=", "<", "<=", ">", ">=", "IN", "LIKE")
# A filter condition drives the search from the index when it names at most
# 1/INDEX_DRIVE_SHARE of the runs searched: fetching a run by id costs about
# as much as scanning 5 to 10 runs in order.
INDEX_DRIVE_SHARE = 8
# A run folder as create_run names it (artifacts/<experiment>/<run>).
_PLAIN_LOCATION = re.compile(r"artifacts/[0-9A-Za-z_-]+/[0-9A-Za-z_-]+")
# After the ORDER BY terms, so equal values keep one order: newest first, then by id.
_TIE_BREAKERS = ("r.start_time DESC", "r.run_id")


def _tag_summaries(tags: dict[str, str]) -> tuple[str, str, str]:
    """A new run's ``tags_json``, ``tags_csv`` and ``tags_keys``, as ``_REFRESH["tags"]`` writes them.

    Written with the run's insert: a refresh after it was a second write of
    the row, ~10% of creating a run. Keys sort as SQLite's index does (by
    code point, which is UTF-8's byte order).
    """
    keys = sorted(tags)
    return (
        json.dumps({key: tags[key] for key in keys}, ensure_ascii=False, separators=(",", ":")),
        "".join(',"' + tags[key].replace('"', '""') + '"' for key in keys),
        json.dumps(keys, ensure_ascii=False, separators=(",", ":")),
    )


def run_keyed(run_id_column: str) -> dict[str, str]:
    """Filter subqueries over a run's metrics, params and tags (see ``where_clauses``)."""
    return {
        kind: f"EXISTS (SELECT 1 FROM {table} WHERE run_id = {run_id_column} AND key = ? AND {{}})"
        for kind, table in (("metric", "latest_metrics"), ("param", "params"), ("tag", "tags"))
    }


# MLflow's dataset filters: runs that used a dataset with this name, digest or context (tables of m0006).
_DATASET_FIELDS = {"name": "d.name", "digest": "d.digest", "context": "c.value"}


def _dataset_condition(cond: Condition) -> tuple[str, list[Any]]:
    """SQL for ``datasets.name = 'train'`` (or ``digest``, ``context``): the run used such a dataset."""
    if cond.key not in _DATASET_FIELDS:
        raise InvalidInput(f"invalid filter string: datasets.{cond.key} is not a dataset field; "
                           "use datasets.name, datasets.digest or datasets.context")  # fmt: skip
    check_comparator(cond, STRING_COMPARATORS, "dataset")
    sql, values = value_sql(_DATASET_FIELDS[cond.key], cond, numeric=False)
    return (
        "EXISTS (SELECT 1 FROM run_inputs i JOIN datasets d ON d.dataset_uuid = i.dataset_uuid"
        " LEFT JOIN input_tags c ON c.input_id = i.input_id AND c.key = 'mlflow.data.context'"
        f" WHERE i.run_id = r.run_id AND {sql})",
        values,
    )


def now_ms() -> int:
    """Epoch milliseconds, UTC."""
    return int(time.time() * 1000)


def new_id() -> str:
    """A new hex UUID (random, version 4, as MLflow's)."""
    return uuid.uuid4().hex


# 1/16 ms: two runs of one process never share a tick (the next one is taken),
# and two processes share one only when they create runs within 62.5 µs.
_TICK_NS = 62_500
_last_tick = 0
_tick_lock = threading.Lock()


def _new_tick_lock() -> None:
    global _tick_lock
    _tick_lock = threading.Lock()  # a fork while another thread held it would leave the child's held for good


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_new_tick_lock)


def new_run_id() -> str:
    """A new run id: 32 hex digits, the first 8 a clock, the other 24 random.

    Run ids are the first column of the run's rows in ``params``, ``tags``,
    ``latest_metrics`` and the history's index. Random ids (MLflow's) put a
    new run's rows on ~12 random pages of a big store, which each commit
    writes and each checkpoint copies back: creating runs into a 100,000-run
    store ran at ~600 runs/s, and at ~1,100 with these (issue #14). The first
    8 digits count 1/16 ms and wrap every 3.1 days, so runs made one after
    another sit side by side, yet still differ in those 8 digits, the short
    id shown in labels and typed as a prefix (``%lifecycle show``). UUID
    version 7 would order the same way, but its first 8 digits change only
    every 65 s.
    """
    global _last_tick
    with _tick_lock:
        tick = max(time.time_ns() // _TICK_NS, _last_tick + 1)
        _last_tick = tick
    return f"{tick & 0xFFFFFFFF:08x}{secrets.token_hex(12)}"


def _stage_sql(view: ViewType, column: str) -> str:
    if view == ViewType.ACTIVE_ONLY:
        return f"{column} = 'active'"
    if view == ViewType.DELETED_ONLY:
        return f"{column} = 'deleted'"
    return "1"


def _metrics_from_json(text: str | None) -> dict[str, float]:
    # NaN is stored as NULL (JSON null); infinities as the strings "Infinity"/"-Infinity".
    return {k: (math.nan if v is None else float(v)) for k, v in json.loads(text or "{}").items()}


class TrackingStore:
    """Queries over the tracking tables of one store."""

    def __init__(self, db: Database, home: Path) -> None:
        self.db = db
        self.home = home
        self.heartbeat = Heartbeat(db)
        self._home_uri: str | None = None

    # ---- experiments -------------------------------------------------------

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str:
        """Create an experiment and return its id; ``AlreadyExists`` if the name is taken."""
        if not name or not isinstance(name, str):
            raise InvalidInput(f"experiment name must be a non-empty string, got {name!r}")
        experiment_id = new_id()
        location = artifact_location or f"artifacts/{experiment_id}"
        now = now_ms()
        try:
            with self.db.write() as conn:
                conn.execute(
                    "INSERT INTO experiments VALUES (?, ?, ?, 'active', ?, ?)",
                    (experiment_id, name, location, now, now),
                )
                conn.executemany(
                    "INSERT INTO experiment_tags VALUES (?, ?, ?)",
                    [(experiment_id, k, str(v)) for k, v in (tags or {}).items()],
                )
        except sqlite3.IntegrityError:
            existing = self.get_experiment_by_name(name)
            stage = f" (it is {existing.lifecycle_stage})" if existing else ""
            raise AlreadyExists(
                f"experiment {name!r} already exists{stage}: use set_experiment({name!r}) to use it"
            ) from None
        return experiment_id

    def _experiments(self, where: str, params: Sequence[Any]) -> list[Experiment]:
        rows = self.db.query(
            "SELECT e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage,"
            " e.creation_time, e.last_update_time,"
            " (SELECT json_group_object(key, value) FROM experiment_tags t"
            "  WHERE t.experiment_id = e.experiment_id)"
            f" FROM experiments e WHERE {where}",
            params,
        )
        return [
            Experiment(r[0], r[1], self.artifact_uri(r[2]), r[3], r[4], r[5], json.loads(r[6] or "{}"))
            for r in rows
        ]

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id; ``NotFound`` otherwise."""
        found = self._experiments("e.experiment_id = ?", [experiment_id])
        if not found:
            raise NotFound(f"no experiment with id {experiment_id!r}")
        return found[0]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment with this name, or ``None``."""
        found = self._experiments("e.name = ?", [name])
        return found[0] if found else None

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        max_results: int | None = None,
    ) -> list[Experiment]:
        """Experiments matching ``name LIKE 'x%'``, ``tags.k = 'v'`` style filters."""
        clauses, params = [_stage_sql(view_type, "e.lifecycle_stage")], []
        columns = {"name": ("e.name", False), "experiment_id": ("e.experiment_id", False),
                   "creation_time": ("e.creation_time", True),
                   "last_update_time": ("e.last_update_time", True)}  # fmt: skip
        where, values = where_clauses(
            parse_filter(filter_string), columns,
            {"tag": "e.experiment_id IN (SELECT experiment_id FROM experiment_tags WHERE key = ? AND {})"},
            "experiments",
        )  # fmt: skip
        clauses += where
        params += values
        order = []
        for clause in parse_order_by(order_by):
            if clause.kind != "attribute" or clause.key not in columns:
                raise InvalidInput(f"cannot order experiments by {clause.key!r}; use one of {', '.join(columns)}")
            order.append(f"{columns[clause.key][0]} {'ASC' if clause.ascending else 'DESC'}")
        order.append("e.creation_time DESC")
        max_results = check_max_results(max_results)
        limit = f" LIMIT {max_results}" if max_results else ""
        return self._experiments(" AND ".join(clauses) + " ORDER BY " + ", ".join(order) + limit, params)

    def set_experiment_stage(self, experiment_id: str, stage: str) -> None:
        """Mark an experiment ``active`` or ``deleted``."""
        self.get_experiment(experiment_id)
        with self.db.write() as conn:
            conn.execute(
                "UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? WHERE experiment_id = ?",
                (stage, now_ms(), experiment_id),
            )

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename an experiment; ``AlreadyExists`` if the new name is taken."""
        self.get_experiment(experiment_id)
        try:
            with self.db.write() as conn:
                conn.execute(
                    "UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?",
                    (new_name, now_ms(), experiment_id),
                )
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"experiment {new_name!r} already exists") from None

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        """Set one experiment tag."""
        self.get_experiment(experiment_id)
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO experiment_tags VALUES (?, ?, ?)"
                " ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
                (experiment_id, key, value),
            )

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove one experiment tag; ``NotFound`` if the experiment has no such tag."""
        self.get_experiment(experiment_id)
        with self.db.write() as conn:
            deleted = conn.execute("DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?", (experiment_id, key))
            if deleted.rowcount == 0:
                raise NotFound(f"experiment {experiment_id} has no tag {key!r}")

    # ---- runs --------------------------------------------------------------

    @property
    def home_uri(self) -> str:
        """The store folder's ``file:`` URI, without a trailing slash (made once)."""
        if self._home_uri is None:
            uri = self.home.as_uri()
            self._home_uri = uri[:-1] if uri.endswith("/") else uri
        return self._home_uri

    def artifact_uri(self, location: str) -> str:
        """The ``file:`` URI of an artifact folder given relative to the store (``Path.as_uri``'s quoting)."""
        # A run's usual folder needs no quoting: joined to the home's URI it
        # is what Path.as_uri gives, ~40x cheaper, which a page of runs pays
        # per run (issue #14).
        if _PLAIN_LOCATION.fullmatch(location):
            return f"{self.home_uri}/{location}"
        return (self.home / location).as_uri()

    def artifact_dir(self, run_id: str) -> Path:
        """The folder holding a run's artifacts."""
        rows = self.db.query("SELECT artifact_location FROM runs WHERE run_id = ?", [run_id])
        if not rows:
            raise NotFound(f"no run with id {run_id!r}")
        return self.home / rows[0][0]

    def create_run(
        self,
        experiment_id: str,
        run_name: str | None,
        user_id: str | None,
        tags: dict[str, str],
        start_time: int | None = None,
        parent_run_id: str | None = None,
        notebook_path: str | None = None,
    ) -> Run:
        """Insert a RUNNING run with its tags and return it."""
        run_id = new_run_id()
        location = f"artifacts/{experiment_id}/{run_id}"
        start = start_time if start_time is not None else now_ms()
        with self.db.write() as conn:
            # Inserted only into an active experiment: the check is part of the
            # insert, not a query of its own before it.
            inserted = conn.execute(
                "INSERT INTO runs (run_id, experiment_id, run_name, status, start_time, user_id, parent_run_id,"
                " notebook_path, artifact_location, tags_json, tags_csv, tags_keys, owner_host, owner_pid,"
                " heartbeat_time) SELECT ?, experiment_id, ?, 'RUNNING', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
                " FROM experiments WHERE experiment_id = ? AND lifecycle_stage = 'active'",
                (run_id, run_name, start, user_id, parent_run_id, notebook_path, location, *_tag_summaries(tags),
                 HOST, os.getpid(), now_ms(), experiment_id),
            )
            if inserted.rowcount == 0:
                experiment = self.get_experiment(experiment_id)  # NotFound for an unknown id
                raise InvalidInput(
                    f"experiment {experiment.name!r} is deleted: restore it with "
                    f"restore_experiment({experiment_id!r}) or pick another"
                )
            conn.executemany(
                "INSERT INTO tags VALUES (?, ?, ?)", [(run_id, k, v) for k, v in tags.items()]
            )
        self.heartbeat.own(run_id)
        return Run(
            RunInfo(run_id, experiment_id, run_name, "RUNNING", start, None, user_id,
                    self.artifact_uri(location), "active", parent_run_id, notebook_path),
            RunData(params={}, metrics={}, tags=dict(tags)),
        )  # fmt: skip

    def update_run(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
        notebook_path: str | None = None,
    ) -> None:
        """Change a run's status, end time, name or notebook path."""
        sets, params = [], []
        for column, value in (("status", status), ("end_time", end_time),
                              ("run_name", run_name), ("notebook_path", notebook_path)):  # fmt: skip
            if value is not None:
                sets.append(f"{column} = ?")
                params.append(value)
        if not sets:
            return
        with self.db.write() as conn:
            updated = conn.execute(f"UPDATE runs SET {', '.join(sets)} WHERE run_id = ?", [*params, run_id])
            if updated.rowcount == 0:
                raise NotFound(f"no run with id {run_id!r}")
            if status is not None and status != "RUNNING":
                self.heartbeat.release(run_id)
            if run_name is not None:
                conn.execute(
                    "INSERT INTO tags VALUES (?, 'mlflow.runName', ?)"
                    " ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
                    (run_id, run_name),
                )
                conn.execute(_REFRESH["tags"], (run_id,))

    def resume_run(self, run_id: str) -> None:
        """Set a run back to RUNNING with no end time, owned by this process."""
        with self.db.write() as conn:
            conn.execute(
                "UPDATE runs SET status = 'RUNNING', end_time = NULL, owner_host = ?, owner_pid = ?,"
                " heartbeat_time = ? WHERE run_id = ?",
                (HOST, os.getpid(), now_ms(), run_id),
            )
        self.heartbeat.own(run_id)

    def stale_runs(self, run_id: str | None = None) -> list[tuple[str, str]]:
        """``(run_id, reason)`` of each RUNNING run (or just ``run_id``) whose process is gone."""
        sql = "SELECT run_id, owner_host, owner_pid, heartbeat_time, start_time FROM runs WHERE status = 'RUNNING'"
        rows = self.db.query(sql + " AND run_id = ?", [run_id]) if run_id else self.db.query(sql)
        now = now_ms()
        found = [(row[0], stale_reason(row[1], row[2], row[3], row[4], now)) for row in rows]
        return [(run, reason) for run, reason in found if reason]

    def mark_killed(self, run_ids: Sequence[str]) -> list[str]:
        """Mark these RUNNING runs KILLED, ended at their last heartbeat; return the ones changed."""
        killed = []
        with self.db.write() as conn:
            for run_id in run_ids:
                updated = conn.execute(
                    "UPDATE runs SET status = 'KILLED', end_time = coalesce(heartbeat_time, start_time)"
                    " WHERE run_id = ? AND status = 'RUNNING'",
                    (run_id,),
                )
                if updated.rowcount:
                    killed.append(run_id)
        return killed

    def reap_stale_runs(self, run_id: str | None = None) -> list[str]:
        """Mark KILLED every RUNNING run (or just ``run_id``) whose process is gone; return their ids.

        Reads call this first, so a crashed kernel's run never shows as
        RUNNING. Finding RUNNING runs reads a partial index, and the write
        happens only when one is stale.
        """
        if not self.stale_runs(run_id):
            return []
        try:
            with self.db.write():  # check again under the lock: the run may have been resumed meanwhile
                return self.mark_killed([run for run, _ in self.stale_runs(run_id)])
        except StoreError:
            return []  # a read-only store can still be read; `doctor` reports the run

    def set_run_stage(self, run_id: str, stage: str) -> None:
        """Soft-delete (``deleted``) or restore (``active``) a run."""
        with self.db.write() as conn:
            updated = conn.execute(
                "UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE run_id = ?",
                (stage, now_ms() if stage == "deleted" else None, run_id),
            )
            if updated.rowcount == 0:
                raise NotFound(f"no run with id {run_id!r}")

    def run_stage(self, run_id: str) -> str:
        """A run's lifecycle stage; ``NotFound`` for an unknown id."""
        rows = self.db.query("SELECT lifecycle_stage FROM runs WHERE run_id = ?", [run_id])
        if not rows:
            raise NotFound(f"no run with id {run_id!r}")
        return str(rows[0][0])

    def _run_from_row(self, row: Sequence[Any]) -> Run:
        info = RunInfo(row[0], row[1], row[2], row[3], row[4], row[5], row[6],
                       self.artifact_uri(row[7]), row[8], row[9], row[10])  # fmt: skip
        data = RunData(
            params=json.loads(row[11] or "{}"),
            metrics=_metrics_from_json(row[12]),
            tags=json.loads(row[13] or "{}"),
        )
        return Run(info, data)

    def get_run(self, run_id: str) -> Run:
        """The run with this id (KILLED if it was RUNNING and its process is gone); ``NotFound`` otherwise."""
        sql = f"SELECT {_RUN_COLUMNS}, {_RUN_DATA} FROM runs r WHERE r.run_id = ?"
        rows = self.db.query(sql, [run_id])
        if not rows:
            raise NotFound(f"no run with id {run_id!r}")
        if rows[0][3] == "RUNNING" and self.reap_stale_runs(run_id):
            rows = self.db.query(sql, [run_id])
        return self._run_from_row(rows[0])

    # ---- params, tags, metrics --------------------------------------------

    def log_params(self, run_id: str, params: Iterable[tuple[str, str]]) -> None:
        """Insert params; re-logging a key with another value is ``InvalidInput`` (MLflow's rule)."""
        items = list(params)
        with self.db.write() as conn:
            inserted = conn.executemany(
                "INSERT INTO params VALUES (?, ?, ?) ON CONFLICT (run_id, key) DO NOTHING",
                [(run_id, k, v) for k, v in items],
            ).rowcount
            conn.execute(_REFRESH["params"], (run_id,))
            if inserted == len(items):  # every key was new: nothing to compare
                return
            wanted = dict(items)
            marks = ", ".join("?" for _ in wanted)
            for key, old in conn.execute(
                f"SELECT key, value FROM params WHERE run_id = ? AND key IN ({marks})", [run_id, *wanted]
            ):
                if old != wanted[key]:
                    raise InvalidInput(
                        f"param {key!r} was already logged with value {old!r} for run {run_id}; "
                        f"a param cannot change (got {wanted[key]!r}): log the new value under "
                        "another key, or start a new run"
                    )

    def set_tags(self, run_id: str, tags: Iterable[tuple[str, str]]) -> None:
        """Insert or overwrite tags."""
        with self.db.write() as conn:
            conn.executemany(
                "INSERT INTO tags VALUES (?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
                [(run_id, k, v) for k, v in tags],
            )
            conn.execute(_REFRESH["tags"], (run_id,))

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag; ``NotFound`` if the run has no such tag."""
        with self.db.write() as conn:
            if conn.execute("DELETE FROM tags WHERE run_id = ? AND key = ?", (run_id, key)).rowcount == 0:
                raise NotFound(f"run {run_id} has no tag {key!r}")
            conn.execute(_REFRESH["tags"], (run_id,))

    def log_metrics(self, points: Sequence[tuple[str, str, float, int, int]]) -> None:
        """Insert ``(run_id, key, value, timestamp, step)`` points and update latest values, in one transaction."""
        latest: dict[tuple[str, str], tuple[str, str, float, int, int]] = {}
        for point in points:  # a flush's 20,000 points pass here: unpacked, not sliced (0.3 -> 0.2 µs a point)
            run_id, key, _, timestamp, step = point
            best = latest.get((run_id, key))
            if best is None or step > best[4] or (step == best[4] and timestamp >= best[3]):
                latest[run_id, key] = point
        with self.db.write() as conn:
            # 50 points per INSERT: executemany's cost per row (a reset and five binds through
            # Python) was half of a flush; one statement of many rows writes ~2x as fast.
            whole = len(points) - len(points) % _POINTS_PER_INSERT
            values = list(chain.from_iterable(points[:whole]))
            per_insert = 5 * _POINTS_PER_INSERT
            for first in range(0, len(values), per_insert):
                conn.execute(_INSERT_POINTS, values[first : first + per_insert])
            conn.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?)", points[whole:])
            conn.executemany(
                "INSERT INTO latest_metrics VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value,"
                " timestamp = excluded.timestamp, step = excluded.step"
                " WHERE (excluded.step, excluded.timestamp) >= (latest_metrics.step, latest_metrics.timestamp)",
                list(latest.values()),
            )
            run_ids = {run_id for run_id, _ in latest}
            conn.executemany(_REFRESH["latest_metrics"], [(run_id,) for run_id in run_ids])
            # A flush is a sign of life: the heartbeat rides along at one small UPDATE per run.
            now = now_ms()
            conn.executemany(
                "UPDATE runs SET heartbeat_time = ? WHERE run_id = ? AND status = 'RUNNING'",
                [(now, run_id) for run_id in run_ids],
            )

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric, by step then time."""
        rows = self.db.query(
            "SELECT key, value, timestamp, step FROM metrics WHERE run_id = ? AND key = ?"
            " ORDER BY step, timestamp, rowid",
            [run_id, key],
        )
        return [Metric(k, math.nan if v is None else v, t, s, run_id) for k, v, t, s in rows]

    def metric_histories(self, run_ids: Sequence[str], keys: Sequence[str] | None = None) -> list[tuple[Any, ...]]:
        """Rows ``(run_id, key, value, timestamp, step)`` for several runs, for charts."""
        marks = ", ".join("?" for _ in run_ids)
        sql = f"SELECT run_id, key, value, timestamp, step FROM metrics WHERE run_id IN ({marks})"
        params: list[Any] = list(run_ids)
        if keys:
            sql += f" AND key IN ({', '.join('?' for _ in keys)})"
            params += list(keys)
        return self.db.query(sql + " ORDER BY run_id, key, step, timestamp", params)

    def metric_series(
        self, run_ids: Sequence[str], keys: Sequence[str], timestamps: bool = True
    ) -> list[tuple[Any, ...]]:
        """One row ``(run_id, key, count, steps, timestamps, values)`` per history, for charts.

        The three columns are comma-separated text (NaN as ``nan``) that
        ``numpy.fromstring(text, sep=",")`` parses in C: for 1M points this is
        about twice as fast as one Python tuple per point. ``timestamps=False``
        leaves that column empty (a third less work). Order inside a row is
        not guaranteed; sort by step.
        """
        marks = ", ".join("?" for _ in run_ids)
        times = "group_concat(timestamp)" if timestamps else "''"
        return self.db.query(
            f"SELECT run_id, key, count(*), group_concat(step), {times},"
            " group_concat(ifnull(value, 'nan')) FROM metrics"
            f" WHERE run_id IN ({marks}) AND key IN ({', '.join('?' for _ in keys)}) GROUP BY run_id, key",
            [*run_ids, *keys],
        )

    def metric_summaries(self, run_ids: Sequence[str]) -> list[tuple[Any, ...]]:
        """Rows ``(run_id, key, last, min, max, count, last_step)`` per logged metric (NaN ignored in min/max)."""
        marks = ", ".join("?" for _ in run_ids)
        # Aggregate first, join after: joining every point to latest_metrics costs 3x more.
        return self.db.query(
            "SELECT a.run_id, a.key, l.value, a.lo, a.hi, a.n, l.step FROM"
            " (SELECT run_id, key, min(value) AS lo, max(value) AS hi, count(*) AS n FROM metrics"
            f"  WHERE run_id IN ({marks}) GROUP BY run_id, key) a"
            " JOIN latest_metrics l ON l.run_id = a.run_id AND l.key = a.key",
            list(run_ids),
        )

    def metric_arrays(
        self, run_ids: Sequence[str], keys: Sequence[str] | None = None
    ) -> tuple[list[tuple[str, str, int]], np.ndarray, np.ndarray, np.ndarray]:
        """Metric histories of several runs as numpy columns, with no Python object per point.

        Returns ``(series, steps, timestamps, values)``: ``series`` lists
        ``(run_id, key, count)`` in the order of ``run_ids`` then key, and the
        three arrays (int64, int64, float64; NaN for NaN) hold every series'
        points one after the other, each series by step, then timestamp, then
        logging order (``get_metric_history``'s order). ``keys=None`` means
        every key. SQLite hands each chunk of up to ``HISTORY_CHUNK`` points
        over as comma-separated text that numpy parses in C (values with 17
        digits, so they read back as the same doubles), copied into arrays
        allocated once: memory stays at 24 bytes a point plus one chunk.
        """
        import numpy as np

        wanted = list(dict.fromkeys(run_ids))
        key_list = list(dict.fromkeys(keys)) if keys is not None else None
        with self.db.read() as conn:  # one snapshot: counts and points agree
            counts: dict[tuple[str, str], int] = {}
            for batch in _batches(wanted, _IN_BATCH):
                sql = (f"SELECT run_id, key, count(*) FROM metrics WHERE run_id IN ({_marks(batch)})"
                       + (f" AND key IN ({_marks(key_list)})" if key_list is not None else "")
                       + " GROUP BY run_id, key")  # fmt: skip
                for run_id, key, count in conn.execute(sql, [*batch, *(key_list or [])]):
                    counts[(run_id, key)] = count
            position = {run_id: i for i, run_id in enumerate(wanted)}
            series = sorted(((r, k, n) for (r, k), n in counts.items()), key=lambda s: (position[s[0]], s[1]))
            total = sum(n for _, _, n in series)
            steps = np.empty(total, dtype=np.int64)
            stamps = np.empty(total, dtype=np.int64)
            values = np.empty(total, dtype=np.float64)
            start = 0
            for group in _chunk_series(series):
                if len(group) == 1 and group[0][2] > HISTORY_CHUNK:
                    chunks = self._history_chunks(conn, group[0][0], group[0][1])
                else:
                    chunks = self._series_chunks(conn, group, key_list)
                for step_text, stamp_text, value_text in chunks:
                    part = np.fromstring(step_text, dtype=np.int64, sep=",")
                    end = start + len(part)
                    steps[start:end] = part
                    stamps[start:end] = np.fromstring(stamp_text, dtype=np.int64, sep=",")
                    values[start:end] = np.fromstring(value_text, dtype=np.float64, sep=",")
                    start = end
        if start != total:  # cannot happen inside one read snapshot; refuse rather than return garbage
            raise StoreError(f"metric histories changed while being read ({start} of {total} points): read again")
        _sort_series(series, steps, stamps, values)
        return series, steps, stamps, values

    @staticmethod
    def _series_chunks(
        conn: sqlite3.Connection, group: list[tuple[str, str, int]], keys: list[str] | None
    ) -> Iterator[tuple[str, str, str]]:
        """The text columns of whole series, several per query, in ``group``'s order."""
        runs = list(dict.fromkeys(run_id for run_id, _, _ in group))
        group_keys = keys if keys is not None else sorted({key for _, key, _ in group})
        rows = {
            (row[0], row[1]): row[2:]
            for row in conn.execute(
                f"SELECT run_id, key, group_concat(step), group_concat(timestamp), group_concat({_VALUE_TEXT})"
                f" FROM (SELECT run_id, key, step, timestamp, value FROM metrics WHERE run_id IN ({_marks(runs)})"
                f" AND key IN ({_marks(group_keys)}) ORDER BY run_id, key, step, rowid) GROUP BY run_id, key",
                [*runs, *group_keys],
            )
        }
        for run_id, key, _ in group:
            yield rows[(run_id, key)]

    @staticmethod
    def _history_chunks(conn: sqlite3.Connection, run_id: str, key: str) -> Iterator[tuple[str, str, str]]:
        """One long history as text columns, ``HISTORY_CHUNK`` points per query.

        Chunks follow the index (run_id, key, step) with rowid as tie-break,
        resuming after the last chunk's (step, rowid): each query is a range
        scan, never an OFFSET from the start.
        """
        after = (-(2**63), -(2**63))
        select = (f"SELECT group_concat(step), group_concat(timestamp), group_concat({_VALUE_TEXT}) FROM"
                  " (SELECT step, timestamp, value FROM metrics WHERE run_id = ? AND key = ?"
                  " AND (step, rowid) > (?, ?) {} ORDER BY step, rowid)")  # fmt: skip
        while True:
            bound = conn.execute(
                "SELECT step, rowid FROM metrics WHERE run_id = ? AND key = ? AND (step, rowid) > (?, ?)"
                " ORDER BY step, rowid LIMIT 1 OFFSET ?",
                (run_id, key, *after, HISTORY_CHUNK - 1),
            ).fetchone()
            if bound is None:
                row = conn.execute(select.format(""), (run_id, key, *after)).fetchone()
                if row[0] is not None:
                    yield row
                return
            yield conn.execute(select.format("AND (step, rowid) <= (?, ?)"), (run_id, key, *after, *bound)).fetchone()
            after = tuple(bound)

    def record_artifact(self, run_id: str, path: str, size: int, sha256: str) -> None:
        """Remember a logged file's size and hash."""
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO artifacts VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id, path) DO UPDATE"
                " SET size = excluded.size, sha256 = excluded.sha256, created_time = excluded.created_time",
                (run_id, path, size, sha256, now_ms()),
            )

    def artifact_records(self, run_id: str) -> list[tuple[str, int, str]]:
        """``(path, size, sha256)`` of every file logged into a run."""
        return [tuple(r) for r in self.db.query(  # type: ignore[misc]
            "SELECT path, size, sha256 FROM artifacts WHERE run_id = ? ORDER BY path", [run_id])]

    # ---- search ------------------------------------------------------------

    def _run_where(self, conditions: list[Condition]) -> tuple[list[str], list[Any]]:
        clauses, params = where_clauses([c for c in conditions if c.kind != "dataset"], RUN_ATTRIBUTES,
                                        run_keyed("r.run_id"), "runs")  # fmt: skip
        for cond in conditions:
            if cond.kind == "dataset":
                clause, values = _dataset_condition(cond)
                clauses.append(clause)
                params += values
        return clauses, params

    def _order_terms(self, orders: list[OrderBy]) -> list[tuple[str, list[Any]]]:
        """One ``(ORDER BY term, its parameters)`` per clause, without the tie-breakers."""
        terms: list[tuple[str, list[Any]]] = []
        for order in orders:
            direction = "ASC" if order.ascending else "DESC"
            if order.kind == "dataset":
                raise InvalidInput(f"cannot order runs by datasets.{order.key}: a run may have several datasets")
            if order.kind == "attribute":
                if order.key not in RUN_ATTRIBUTES:
                    raise InvalidInput(f"cannot order runs by unknown attribute {order.key!r}")
                expr = RUN_ATTRIBUTES[order.key][0]
                terms.append((f"{expr} IS NULL, {expr} {direction}", []))
            elif order.kind not in _KEYED_TABLES:  # e.g. metadata.x, which only traces have
                raise InvalidInput(f"cannot order runs by {order.kind}.{order.key}: order by metrics., params., "
                                   "tags. or attributes.")  # fmt: skip
            else:
                expr = f"(SELECT value FROM {_KEYED_TABLES[order.kind]} WHERE run_id = r.run_id AND key = ?)"
                # Runs without the value sort last either way, as in MLflow.
                terms.append((f"{expr} IS NULL, {expr} {direction}", [order.key, order.key]))
        return terms

    def _run_order(self, orders: list[OrderBy]) -> tuple[list[str], list[Any]]:
        terms = self._order_terms(orders)
        return [t for t, _ in terms] + list(_TIE_BREAKERS), [p for _, values in terms for p in values]

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        order_by: list[str] | None = None,
        offset: int = 0,
    ) -> list[Run]:
        """Runs of these experiments that match the filter, ordered and paged."""
        return [self._run_from_row(row) for row in
                self.search_run_rows(experiment_ids, filter_string, view_type, max_results, order_by, offset)]  # fmt: skip

    def search_run_rows(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        order_by: list[str] | None = None,
        offset: int = 0,
    ) -> list[Any]:
        """Like ``search_runs`` but raw rows (params/metrics/tags as JSON).

        RUNNING runs whose process is gone are marked KILLED first.
        """
        self.reap_stale_runs()
        columns = f"{_RUN_COLUMNS}, {_RUN_DATA}"
        with self.db.read() as conn:
            rows = self._keyed_order_rows(conn, columns, experiment_ids, filter_string, view_type, max_results,
                                          order_by, offset)  # fmt: skip
            if rows is not None:
                return rows
            sql, params = self._search_sql(conn, columns, experiment_ids, filter_string,
                                           view_type, max_results, order_by, offset)  # fmt: skip
            return conn.execute(sql, params).fetchall()

    def _keyed_order_rows(
        self,
        conn: sqlite3.Connection,
        columns: str,
        experiment_ids: Sequence[str],
        filter_string: str | None,
        view_type: ViewType,
        max_results: int | None,
        order_by: list[str] | None,
        offset: int,
    ) -> list[Any] | None:
        """A page ordered first by a metric, param or tag, read in the order of its (key, value) index.

        Sorting every run of a 100,000-run experiment by a looked-up value
        takes hundreds of ms; walking the index of m0010 in value order and
        checking the filter on each run stops once the page is full (SQLite
        sorts only the runs tied on the value by the later terms). Runs
        without the value (or with NaN) come after, in the order of the other
        terms, as in the full sort. ``None`` when this does not apply (no
        page size, ordered by an attribute first) or when a selective filter
        names few enough runs that sorting them is cheaper.
        """
        orders = parse_order_by(order_by)
        limit = check_max_results(max_results)
        offset = check_max_results(offset, "offset") or 0
        if limit is None or not orders or orders[0].kind not in _KEYED_TABLES:
            return None
        conditions = parse_filter(filter_string)
        if any(c.kind == "attribute" and c.key == "run_id" and c.comparator in ("=", "IN") for c in conditions):
            return None  # a few runs named by id: sorting them beats any walk
        # Walking the index reads about (offset + limit) * runs / found runs to
        # fill the page, sorting the runs a condition names reads ``found``:
        # the walk wins unless found < sqrt((offset + limit) * runs). The
        # largest rowid stands for the runs (an upper bound, read at once).
        runs = conn.execute("SELECT max(rowid) FROM runs").fetchone()[0] or 0
        if self._names_few_runs(conn, conditions, math.isqrt((offset + limit) * runs) + 1):
            return None
        clauses, params = self._run_where(conditions)
        marks = ", ".join("?" for _ in experiment_ids)
        where = " AND ".join([f"r.experiment_id IN ({marks})", _stage_sql(view_type, "r.lifecycle_stage"), *clauses])
        where_params = [*experiment_ids, *params]
        first, rest = orders[0], self._order_terms(orders[1:])
        table = _KEYED_TABLES[first.kind]
        rest_sql = ", ".join([t for t, _ in rest] + list(_TIE_BREAKERS))
        rest_params = [p for _, values in rest for p in values]
        present = (f"FROM {table} o CROSS JOIN runs r ON r.run_id = o.run_id"
                   f" WHERE o.key = ? AND o.value IS NOT NULL AND {where}")  # fmt: skip
        direction = "ASC" if first.ascending else "DESC"
        rows = conn.execute(f"SELECT {columns} {present} ORDER BY o.value {direction}, {rest_sql} LIMIT ? OFFSET ?",
                            [first.key, *where_params, *rest_params, limit, offset]).fetchall()  # fmt: skip
        if len(rows) == limit:
            return rows
        valued = offset + len(rows) if rows else conn.execute(f"SELECT count(*) {present}",
                                                               [first.key, *where_params]).fetchone()[0]  # fmt: skip
        missing = f"NOT EXISTS (SELECT 1 FROM {table} WHERE run_id = r.run_id AND key = ? AND value IS NOT NULL)"
        rows += conn.execute(f"SELECT {columns} FROM runs r WHERE {where} AND {missing} ORDER BY {rest_sql}"
                             " LIMIT ? OFFSET ?", [*where_params, first.key, *rest_params, limit - len(rows),
                                                   max(0, offset - valued)]).fetchall()  # fmt: skip
        return rows

    def search_run_csv(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        order_by: list[str] | None = None,
        chunk: int | None = None,
    ) -> Iterator[list[tuple[bytes, bytes]]]:
        """The runs ``search_run_rows`` finds as CSV for a DataFrame, ``chunk`` runs a piece.

        Each run is ``(keys, line)`` as UTF-8 bytes, from what SQLite keeps on
        the run's row (migration m0019). The line is ``"run id","experiment
        id",status,start_time,end_time,artifact folder`` (end time empty while
        running; the folder quoted, and empty when it is ``artifacts/<experiment
        id>/<run id>`` of letters, digits, ``_`` and ``-``), then ``,value`` for
        each metric, param and tag (metrics as numbers, NaN empty, infinities
        ``inf``; params and tags quoted). ``keys`` is three JSON arrays, ``[metric
        keys][param keys][tag keys]``, in the same order. Python then holds two strings per run,
        never one object per value, and never all the text at once: reading
        100,000 runs stays under ~50 MB besides the result (issue #14). The
        generator reads one snapshot; consume it to the end.
        """
        self.reap_stale_runs()
        with self.db.read() as conn:
            # As BLOBs the text reaches Python as the UTF-8 bytes SQLite holds: decoding each to str and
            # encoding it back cost ~90 ms of CPU per 100,000 runs (issue #14).
            columns = ("CAST(r.metrics_keys || r.params_keys || r.tags_keys AS BLOB),"
                       " CAST(r.head_csv || r.metrics_csv || r.params_csv || r.tags_csv AS BLOB)")
            sql, params = self._search_sql(conn, columns, experiment_ids, filter_string, view_type,
                                           max_results, order_by, 0)  # fmt: skip
            # Each page is read once here: a 32 MiB cache would only hold pages not read again,
            # and its memory was ~10% of the peak for 100,000 runs.
            cache = conn.execute("PRAGMA cache_size").fetchone()[0]
            conn.execute("PRAGMA cache_size = -2048")
            try:
                cursor = conn.execute(sql, params)
                while rows := cursor.fetchmany(chunk or FRAME_CHUNK):
                    yield rows
            finally:
                conn.execute(f"PRAGMA cache_size = {int(cache)}")

    def _search_sql(
        self,
        conn: sqlite3.Connection,
        columns: str,
        experiment_ids: Sequence[str],
        filter_string: str | None,
        view_type: ViewType,
        max_results: int | None,
        order_by: list[str] | None,
        offset: int,
    ) -> tuple[str, list[Any]]:
        """The search query selecting ``columns``, and all its parameters."""
        conditions = parse_filter(filter_string)
        clauses, params = self._run_where(conditions)  # checks every condition before any query
        order, order_params = self._run_order(parse_order_by(order_by))
        limit = check_max_results(max_results)
        offset = check_max_results(offset, "offset") or 0
        if limit is None:
            limit = -1
        driver, driver_params, driven = self._index_driver(conn, experiment_ids, conditions)
        if driven:  # the runs the driver names meet these already: no lookup per run to check them again
            clauses, params = self._run_where([c for c in conditions if c not in driven])
        marks = ", ".join("?" for _ in experiment_ids)
        where = " AND ".join([f"r.experiment_id IN ({marks})", _stage_sql(view_type, "r.lifecycle_stage"), *clauses])
        # CROSS JOIN keeps SQLite from scanning the experiment's runs first, which it
        # prefers without statistics (issue #14).
        source = f"({driver}) c CROSS JOIN runs r ON r.run_id = c.run_id" if driver else "runs r"
        sql = f"SELECT {columns} FROM {source} WHERE {where} ORDER BY {', '.join(order)} LIMIT ? OFFSET ?"
        return sql, [*driver_params, *experiment_ids, *params, *order_params, limit, offset]

    @staticmethod
    def _index_driver(
        conn: sqlite3.Connection, experiment_ids: Sequence[str], conditions: list[Condition]
    ) -> tuple[str, list[Any], list[Condition]]:
        """A query for the run ids the (key, value) indexes of m0010 name, when that is few runs.

        Each metric, param or tag condition the index can answer (=, <, >,
        IN, LIKE) is counted there, up to a share of the runs searched; those
        under it are intersected and the search starts from them. A broad
        filter gives ``("", [], [])``: scanning the runs in order is then
        cheaper than fetching most of them one by one. Returns the query, its
        parameters and the conditions it answers (with the same SQL test as
        the filter's own, ``value_sql``): the rest of the filter applies to
        every run it names, so both ways return the same runs.
        """
        keyed = [c for c in conditions if c.kind in _KEYED_TABLES and c.comparator in _INDEXED_COMPARATORS]
        if not keyed:
            return "", [], []
        marks = ", ".join("?" for _ in experiment_ids)
        total = conn.execute(f"SELECT count(*) FROM runs WHERE experiment_id IN ({marks})", list(experiment_ids))
        most = total.fetchone()[0] // INDEX_DRIVE_SHARE
        parts: list[str] = []
        params: list[Any] = []
        driven: list[Condition] = []
        for cond in keyed:
            test, values = value_sql("value", cond, numeric=cond.kind == "metric")
            sub = f"SELECT run_id FROM {_KEYED_TABLES[cond.kind]} WHERE key = ? AND {test}"
            found = conn.execute(f"SELECT count(*) FROM ({sub} LIMIT ?)", [cond.key, *values, most + 1]).fetchone()[0]
            if found <= most:
                parts.append(sub)
                params += [cond.key, *values]
                driven.append(cond)
        return " INTERSECT ".join(parts), params, driven

    @staticmethod
    def _names_few_runs(conn: sqlite3.Connection, conditions: list[Condition], few: int) -> bool:
        """Whether a condition the (key, value) indexes answer names fewer than ``few`` runs (counted up to ``few``)."""
        for cond in conditions:
            if cond.kind in _KEYED_TABLES and cond.comparator in _INDEXED_COMPARATORS:
                test, values = value_sql("value", cond, numeric=cond.kind == "metric")
                sub = f"SELECT 1 FROM {_KEYED_TABLES[cond.kind]} WHERE key = ? AND {test} LIMIT ?"
                if conn.execute(f"SELECT count(*) FROM ({sub})", [cond.key, *values, few]).fetchone()[0] < few:
                    return True
        return False

    def active_run_counts(self) -> dict[str, int]:
        """How many active runs each experiment has (experiments without runs are absent)."""
        return dict(self.db.query(
            "SELECT experiment_id, count(*) FROM runs WHERE lifecycle_stage = 'active' GROUP BY experiment_id"
        ))  # fmt: skip

    def counts(self) -> dict[str, int]:
        """Row counts of the main tables, for ``info``."""
        tables = ("experiments", "runs", "params", "metrics", "tags", "artifacts")
        row = self.db.query("SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in tables))[0]
        return dict(zip(tables, row, strict=True))
