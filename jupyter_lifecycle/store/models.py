"""Logged models (MLflow 3's ``LoggedModel``): one row per model, with its own tags, params and metrics.

A model logged in a run keeps its files in the run's artifact folder (so
``runs:/<run_id>/<name>`` works); one logged without a run keeps them in
``artifacts/models/<model_id>/`` under the store home. Either way
``models:/<model_id>`` finds them through ``artifact_location``.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..entities import LOGGED_MODEL_STATUSES, LoggedModel, Metric
from ..errors import InvalidInput, NotFound
from .database import Database
from .search import check_max_results, parse_filter, parse_order_by, where_clauses
from .tracking import now_ms

MODELS_DIRNAME = "models"
"""Folder (inside the artifact folder) of the models logged without a run."""

_COLUMNS = ("model_id, name, experiment_id, run_id, status, creation_time, last_updated_time, artifact_location,"
            " model_type, status_message, flavors, loader_module, signature, size_bytes, artifact_path")  # fmt: skip

# filter/order_by attribute -> (column, numeric); MLflow's names and this table's both work.
_ATTRIBUTES = {
    "model_id": ("m.model_id", False), "name": ("m.name", False), "artifact_path": ("m.artifact_path", False),
    "run_id": ("m.run_id", False), "source_run_id": ("m.run_id", False),
    "experiment_id": ("m.experiment_id", False), "status": ("m.status", False),
    "model_type": ("m.model_type", False),
    "loader_module": ("m.loader_module", False), "flavors": ("m.flavors", False),
    "creation_time": ("m.creation_time", True), "creation_timestamp": ("m.creation_time", True),
    "last_updated_timestamp": ("m.last_updated_time", True),
    "size_bytes": ("m.size_bytes", True), "model_size_bytes": ("m.size_bytes", True),
}  # fmt: skip

_KEYED = {
    # IN, not EXISTS: SQLite finds the matching points by the (key, value) index once, instead of probing per model.
    "metric": "m.model_id IN (SELECT model_id FROM logged_model_metrics WHERE key = ? AND {}%s)",
    "param": "EXISTS (SELECT 1 FROM logged_model_params WHERE model_id = m.model_id AND key = ? AND {})",
    "tag": "EXISTS (SELECT 1 FROM logged_model_tags WHERE model_id = m.model_id AND key = ? AND {})",
}


def _literal(text: str) -> str:
    """A SQL string literal (quotes doubled), for the dataset test inside a filter template."""
    return "'" + str(text).replace("'", "''") + "'"


def _dataset_sql(datasets: Sequence[dict[str, Any]] | None) -> str:
    """`` AND (dataset_name = ... [AND dataset_digest = ...] OR ...)`` for MLflow's ``datasets=`` argument."""
    if not datasets:
        return ""
    tests = []
    for item in datasets:
        if not isinstance(item, dict) or not item.get("dataset_name"):
            raise InvalidInput(f"each entry of datasets= needs a 'dataset_name' (and may have 'dataset_digest'); got {item!r}")
        test = f"dataset_name = {_literal(item['dataset_name'])}"
        if item.get("dataset_digest"):
            test += f" AND dataset_digest = {_literal(item['dataset_digest'])}"
        tests.append(f"({test})")
    return f" AND ({' OR '.join(tests)})"


class LoggedModelStore:
    """The ``logged_models`` table and its tags, params and metrics."""

    def __init__(self, db: Database, home: Path) -> None:
        self.db = db
        self.home = home

    # ---- writing ------------------------------------------------------------

    def create(
        self,
        model_id: str,
        experiment_id: str,
        name: str,
        location: str,
        run_id: str | None = None,
        model_type: str | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        step: int = 0,
        artifact_path: str = "",
    ) -> LoggedModel:
        """Insert a PENDING model whose files will go to ``location`` (relative to the store home)."""
        now = now_ms()
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO logged_models (model_id, experiment_id, run_id, artifact_path, name, flavors,"
                " model_uuid, size_bytes, mlmodel_sha256, status, creation_time, last_updated_time,"
                " artifact_location, model_type, step) VALUES (?, ?, ?, ?, ?, '[]', ?, 0, '', 'PENDING', ?, ?, ?, ?, ?)",
                (model_id, experiment_id, run_id, artifact_path, name, model_id, now, now, location, model_type, step),
            )
            conn.executemany("INSERT INTO logged_model_tags VALUES (?, ?, ?)",
                             [(model_id, k, v) for k, v in (tags or {}).items()])  # fmt: skip
            conn.executemany("INSERT INTO logged_model_params VALUES (?, ?, ?)",
                             [(model_id, k, v) for k, v in (params or {}).items()])  # fmt: skip
        return self.get(model_id)

    def record_files(
        self,
        model_id: str,
        flavors: list[str],
        loader_module: str | None,
        signature: dict[str, Any] | None,
        model_uuid: str,
        size_bytes: int,
        mlmodel_sha256: str,
    ) -> None:
        """Describe the folder just written for a model (flavors, signature, size, MLmodel hash)."""
        with self.db.write() as conn:
            conn.execute(
                "UPDATE logged_models SET flavors = ?, loader_module = ?, signature = ?, model_uuid = ?,"
                " size_bytes = ?, mlmodel_sha256 = ?, last_updated_time = ? WHERE model_id = ?",
                (json.dumps(flavors), loader_module, json.dumps(signature) if signature else None, model_uuid,
                 size_bytes, mlmodel_sha256, now_ms(), model_id),
            )  # fmt: skip

    def finalize(self, model_id: str, status: str, message: str | None = None) -> LoggedModel:
        """Set a model's final status, READY or FAILED."""
        status = str(getattr(status, "value", status)).upper()
        if status not in LOGGED_MODEL_STATUSES[1:]:
            raise InvalidInput(f"cannot finalize logged model {model_id} as {status!r}: use 'READY' or 'FAILED'")
        self._update(model_id, "status = ?, status_message = ?", [status, message])
        return self.get(model_id)

    def _update(self, model_id: str, assignments: str = "", values: Sequence[Any] = ()) -> None:
        """Set columns and ``last_updated_time`` (alone, without ``assignments``); ``NotFound`` for an unknown id."""
        sets = f"{assignments}, " if assignments else ""
        with self.db.write() as conn:
            cur = conn.execute(f"UPDATE logged_models SET {sets}last_updated_time = ? WHERE model_id = ?",
                               [*values, now_ms(), model_id])  # fmt: skip
            if cur.rowcount == 0:
                raise self.not_found(model_id)

    def delete(self, model_id: str) -> None:
        """Remove a model's rows (its files are the caller's: a failed ``log_model`` removes both)."""
        with self.db.write() as conn:
            for table in ("logged_model_tags", "logged_model_params", "logged_model_metrics", "logged_models"):
                conn.execute(f"DELETE FROM {table} WHERE model_id = ?", (model_id,))

    def set_tags(self, model_id: str, tags: dict[str, str]) -> None:
        """Set (or overwrite) tags on a model."""
        with self.db.write() as conn:
            self._update(model_id)
            conn.executemany("INSERT OR REPLACE INTO logged_model_tags VALUES (?, ?, ?)",
                             [(model_id, k, v) for k, v in tags.items()])  # fmt: skip

    def delete_tag(self, model_id: str, key: str) -> None:
        """Remove one tag; ``NotFound`` when the model has no such tag."""
        with self.db.write() as conn:
            self._update(model_id)
            if conn.execute("DELETE FROM logged_model_tags WHERE model_id = ? AND key = ?", (model_id, key)).rowcount == 0:
                raise NotFound(f"logged model {model_id} has no tag {key!r}")

    def log_params(self, model_id: str, params: dict[str, str]) -> None:
        """Add params to a model; a param, once set, keeps its value (as MLflow's run params)."""
        with self.db.write() as conn:
            self._update(model_id)
            for key, value in params.items():
                found = conn.execute("SELECT value FROM logged_model_params WHERE model_id = ? AND key = ?",
                                     (model_id, key)).fetchone()  # fmt: skip
                if found is not None and found[0] != value:
                    raise InvalidInput(f"logged model {model_id} already has param {key!r} = {found[0]!r}; "
                                       f"params cannot change (got {value!r})")  # fmt: skip
                conn.execute("INSERT OR IGNORE INTO logged_model_params VALUES (?, ?, ?)", (model_id, key, value))

    def log_metrics(self, model_id: str, metrics: Iterable[Metric]) -> None:
        """Attach metric points to a model (``dataset_name``/``dataset_digest`` say which data they measure)."""
        rows = [(model_id, m.key, None if math.isnan(m.value) else m.value, m.timestamp, m.step, m.run_id,
                 m.dataset_name, m.dataset_digest) for m in metrics]  # fmt: skip
        with self.db.write() as conn:
            self._update(model_id)
            conn.executemany("INSERT INTO logged_model_metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def copy_run_metrics(self, model_id: str, run_id: str, step: int) -> None:
        """Give a model the metrics its run logged at ``step`` (what MLflow 3's ``log_model`` does)."""
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO logged_model_metrics SELECT ?, key, value, timestamp, step, run_id, NULL, NULL"
                " FROM latest_metrics WHERE run_id = ? AND step = ?",
                (model_id, run_id, step),
            )

    # ---- reading ------------------------------------------------------------

    def not_found(self, model_id: str, experiment_id: str | None = None) -> NotFound:
        """A ``NotFound`` for ``model_id`` naming the closest logged models (of ``experiment_id`` when given)."""
        where, params = ("WHERE experiment_id = ?", [experiment_id]) if experiment_id else ("", [])
        rows = self.db.query(f"SELECT model_id, name FROM logged_models {where} ORDER BY creation_time DESC", params)
        names = {r[0]: r[1] for r in rows}
        close = difflib.get_close_matches(model_id, list(names), n=3, cutoff=0.5) or list(names)[:3]
        scope = f"experiment {experiment_id}" if experiment_id else "this store"
        if not close:
            return NotFound(f"no logged model with id {model_id!r}, and {scope} has none: log one with log_model")
        listed = ", ".join(f"{m} ({names[m]!r})" for m in close)
        return NotFound(f"no logged model with id {model_id!r}; the closest in {scope}: {listed}. "
                        "search_logged_models() lists them all")  # fmt: skip

    def get(self, model_id: str, experiment_id: str | None = None) -> LoggedModel:
        """The logged model with this id; ``NotFound`` names the closest ones."""
        found = self._models("m.model_id = ?", [model_id])
        if not found:
            raise self.not_found(model_id, experiment_id)
        return found[0]

    def exists(self, model_id: str) -> bool:
        """Whether a logged model with this id exists."""
        return bool(self.db.query("SELECT 1 FROM logged_models WHERE model_id = ?", [model_id]))

    def folder(self, model_id: str) -> Path:
        """The folder holding a logged model's files."""
        rows = self.db.query("SELECT artifact_location FROM logged_models WHERE model_id = ?", [model_id])
        if not rows:
            raise self.not_found(model_id)
        return self.home / rows[0][0]

    def mlmodel_sha256(self, model_id: str) -> str | None:
        """The sha256 of the model's ``MLmodel`` recorded when its files were written (``None`` before that)."""
        rows = self.db.query("SELECT mlmodel_sha256 FROM logged_models WHERE model_id = ?", [model_id])
        return rows[0][0] if rows else None

    def ids_for_run_step(self, run_id: str) -> dict[int, list[str]]:
        """``{step: [model ids]}`` of the models a run logged: its later metrics at those steps are theirs too."""
        out: dict[int, list[str]] = {}
        for model_id, step in self.db.query("SELECT model_id, step FROM logged_models WHERE run_id = ?", [run_id]):
            out.setdefault(step, []).append(model_id)
        return out

    def _models(
        self, where: str, params: Sequence[Any], order: str = "m.creation_time DESC", limit: str = "", joins: str = ""
    ) -> list[LoggedModel]:
        cols = ", ".join(f"m.{c.strip()}" for c in _COLUMNS.split(","))
        with self.db.read() as conn:
            rows = conn.execute(f"SELECT {cols} FROM logged_models m{joins} WHERE {where} ORDER BY {order}{limit}",
                                params).fetchall()  # fmt: skip
            ids = [r[0] for r in rows]
            tags: dict[str, dict[str, str]] = {}
            values: dict[str, dict[str, str]] = {}
            metrics: dict[str, list[Metric]] = {}
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                marks = ", ".join("?" * len(chunk))
                for model_id, key, value in conn.execute(
                        f"SELECT model_id, key, value FROM logged_model_tags WHERE model_id IN ({marks})", chunk):
                    tags.setdefault(model_id, {})[key] = value
                for model_id, key, value in conn.execute(
                        f"SELECT model_id, key, value FROM logged_model_params WHERE model_id IN ({marks})", chunk):
                    values.setdefault(model_id, {})[key] = value
                for r in conn.execute(
                        "SELECT model_id, key, value, timestamp, step, run_id, dataset_name, dataset_digest"
                        f" FROM logged_model_metrics WHERE model_id IN ({marks}) ORDER BY timestamp, step", chunk):
                    metrics.setdefault(r[0], []).append(Metric(
                        r[1], float("nan") if r[2] is None else r[2], r[3], r[4], run_id=r[5], model_id=r[0],
                        dataset_name=r[6], dataset_digest=r[7]))  # fmt: skip
        home = str(self.home)
        return [
            LoggedModel(
                model_id=r[0], name=r[1], experiment_id=r[2], source_run_id=r[3], status=r[4], creation_timestamp=r[5],
                last_updated_timestamp=r[6] or r[5],
                artifact_location=r[7] if (r[7] or "").startswith("/") else f"{home}/{r[7] or ''}".rstrip("/"),
                model_type=r[8], status_message=r[9], tags=tags.get(r[0], {}), params=values.get(r[0], {}),
                metrics=metrics.get(r[0], []), flavors=tuple(json.loads(r[10] or "[]")), loader_module=r[11],
                signature=json.loads(r[12]) if r[12] else None, model_size_bytes=r[13] or 0,
                artifact_path=r[14] or "",
            )  # fmt: skip
            for r in rows
        ]

    def search(
        self,
        experiment_ids: list[str] | None = None,
        filter_string: str | None = None,
        order_by: Sequence[str | dict[str, Any]] | None = None,
        max_results: int | None = None,
        datasets: Sequence[dict[str, Any]] | None = None,
    ) -> list[LoggedModel]:
        """Logged models matching MLflow's filter grammar, newest first unless ``order_by`` says otherwise.

        Attributes (``name``, ``source_run_id``, ``model_type``, ``status``,
        ``creation_timestamp``...) filter the model; ``metrics.<key>`` keeps a
        model with any point of that metric matching (on one of ``datasets``
        when given), and ``params.<key>``/``tags.<key>`` test the model's own.
        ``order_by`` takes ``"metrics.acc DESC"`` strings or MLflow 3's
        ``{"field_name": ..., "ascending": ..., "dataset_name": ...}`` dicts;
        a metric orders by its latest value, models without it last.
        """
        clauses: list[str] = []
        params: list[Any] = []
        dataset_test = _dataset_sql(datasets)
        keyed = {**_KEYED, "metric": _KEYED["metric"] % dataset_test}
        conditions = parse_filter(filter_string)
        if experiment_ids:
            # With a metric filter, '+' keeps SQLite from walking the experiment's index (every model of it):
            # the few models whose points match are found by the (key, value) index, then checked.
            unary = "+" if any(c.kind == "metric" for c in conditions) else ""
            clauses.append(f"{unary}m.experiment_id IN ({', '.join('?' * len(experiment_ids))})")
            params += list(experiment_ids)
        filtered, values = where_clauses(conditions, _ATTRIBUTES, keyed, "logged models")
        clauses += filtered
        params += values
        if dataset_test and not any(c.kind == "metric" for c in conditions):
            clauses.append(f"EXISTS (SELECT 1 FROM logged_model_metrics WHERE model_id = m.model_id{dataset_test})")
        joins, join_params, order = self._order(order_by)
        where = " AND ".join(clauses) if clauses else "1"
        max_results = check_max_results(max_results)
        limit = f" LIMIT {max_results}" if max_results else ""
        return self._models(where, [*join_params, *params], ", ".join(order), limit, joins)

    def _order(self, order_by: Sequence[str | dict[str, Any]] | None) -> tuple[str, list[Any], list[str]]:
        """``(joins, their params, ORDER BY terms)``: a metric joins each model's latest point of it once."""
        joins = ""
        order: list[str] = []
        params: list[Any] = []
        if isinstance(order_by, str) or not isinstance(order_by, (list, tuple, type(None))):
            raise InvalidInput(f"order_by must be a list such as ['metrics.acc DESC'] or "
                               f"[{{'field_name': 'metrics.acc', 'ascending': False}}], got {order_by!r}")  # fmt: skip
        for item in order_by or []:
            dataset = ""
            if isinstance(item, dict):
                if "field_name" not in item:
                    raise InvalidInput(f"an order_by entry needs a 'field_name' such as 'metrics.accuracy'; got {item!r}")
                text = f"{item['field_name']} {'ASC' if item.get('ascending', True) else 'DESC'}"
                if item.get("dataset_name"):
                    dataset = _dataset_sql([item])
            else:
                text = item
            for clause in parse_order_by([text]):
                direction = "ASC" if clause.ascending else "DESC"
                if clause.kind == "attribute" and clause.key in _ATTRIBUTES:
                    order.append(f"{_ATTRIBUTES[clause.key][0]} {direction}")
                elif clause.kind == "metric":
                    alias = f"o{len(order)}"
                    # max() picks each model's latest point (SQLite's bare columns come from that row); a
                    # grouped subquery is materialized once and joined by an automatic index, where a
                    # window function or a correlated subquery runs once per model (50x slower at 10,000).
                    joins += (f" LEFT JOIN (SELECT model_id, value, max(timestamp) FROM logged_model_metrics"
                              f" WHERE key = ?{dataset} GROUP BY model_id) {alias} ON {alias}.model_id = m.model_id")
                    order.append(f"{alias}.value IS NULL, {alias}.value {direction}")
                    params.append(clause.key)
                else:
                    raise InvalidInput(f"cannot order logged models by {clause.key!r}; use an attribute such as "
                                       "creation_timestamp, or metrics.<key>")  # fmt: skip
        order.append("m.creation_time DESC")
        return joins, params, order
