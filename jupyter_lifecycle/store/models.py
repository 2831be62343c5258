"""Logged models: one row per ``log_model``, searchable across runs (MLflow 3's logged models)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, NotFound
from .database import Database
from .search import check_max_results, parse_filter, parse_order_by, where_clauses
from .tracking import now_ms, run_keyed

_COLUMNS = "model_id, experiment_id, run_id, artifact_path, name, flavors, loader_module, signature, model_uuid, " \
           "size_bytes, mlmodel_sha256, status, creation_time"  # fmt: skip

# filter/order_by attribute -> (column, numeric); MLflow's names and this table's both work.
_ATTRIBUTES = {
    "model_id": ("m.model_id", False), "name": ("m.name", False), "artifact_path": ("m.artifact_path", False),
    "run_id": ("m.run_id", False), "source_run_id": ("m.run_id", False),
    "experiment_id": ("m.experiment_id", False), "status": ("m.status", False),
    "loader_module": ("m.loader_module", False), "flavors": ("m.flavors", False),
    "creation_time": ("m.creation_time", True), "creation_timestamp": ("m.creation_time", True),
    "size_bytes": ("m.size_bytes", True), "model_size_bytes": ("m.size_bytes", True),
}  # fmt: skip


@dataclass(frozen=True)
class LoggedModel:
    """One logged model: where it is, what it is, how big."""

    model_id: str
    experiment_id: str | None
    run_id: str | None
    artifact_path: str
    name: str
    flavors: tuple[str, ...]
    loader_module: str | None
    signature: dict[str, Any] | None
    model_uuid: str
    size_bytes: int
    mlmodel_sha256: str
    status: str
    creation_time: int

    @property
    def model_uri(self) -> str:
        """``runs:/<run_id>/<artifact_path>``."""
        return f"runs:/{self.run_id}/{self.artifact_path}"


def _row(row: Any) -> LoggedModel:
    values = list(row)
    values[5] = tuple(json.loads(values[5]))
    values[7] = json.loads(values[7]) if values[7] else None
    return LoggedModel(*values)


class LoggedModelStore:
    """The ``logged_models`` table."""

    def __init__(self, db: Database, home: Path) -> None:
        self.db = db
        self.home = home

    def record(
        self,
        model_id: str,
        run_id: str,
        artifact_path: str,
        flavors: list[str],
        loader_module: str | None,
        signature: dict[str, Any] | None,
        model_uuid: str,
        size_bytes: int,
        mlmodel_sha256: str,
        name: str | None = None,
    ) -> LoggedModel:
        """Insert the row for a model just written into a run's artifacts."""
        with self.db.write() as conn:
            found = conn.execute("SELECT experiment_id FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if found is None:
                raise NotFound(f"no run with id {run_id!r}")
            values = (model_id, found[0], run_id, artifact_path, name or artifact_path.rsplit("/", 1)[-1],
                      json.dumps(flavors), loader_module, json.dumps(signature) if signature else None, model_uuid,
                      size_bytes, mlmodel_sha256, "READY", now_ms())  # fmt: skip
            conn.execute(f"INSERT INTO logged_models ({_COLUMNS}) VALUES ({', '.join('?' * 13)})", values)
        return _row(values)

    def get(self, model_id: str) -> LoggedModel:
        """The logged model with this id."""
        rows = self.db.query(f"SELECT {_COLUMNS} FROM logged_models WHERE model_id = ?", [model_id])
        if not rows:
            raise NotFound(f"no logged model with id {model_id!r}; search_logged_models() lists them")
        return _row(rows[0])

    def folder(self, model_id: str) -> Path:
        """The folder holding a logged model's files."""
        model = self.get(model_id)
        rows = self.db.query("SELECT artifact_location FROM runs WHERE run_id = ?", [model.run_id])
        return self.home / rows[0][0] / model.artifact_path

    def search(
        self,
        experiment_ids: list[str] | None = None,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        max_results: int | None = None,
    ) -> list[LoggedModel]:
        """Logged models matching MLflow's filter grammar.

        Attributes (``name``, ``source_run_id``, ``flavors``, ``creation_timestamp``...)
        filter the model; ``metrics.<key>``, ``params.<key>`` and ``tags.<key>``
        filter by the run the model was logged from.
        """
        clauses: list[str] = []
        params: list[Any] = []
        if experiment_ids:
            clauses.append(f"m.experiment_id IN ({', '.join('?' * len(experiment_ids))})")
            params += list(experiment_ids)
        filtered, values = where_clauses(parse_filter(filter_string), _ATTRIBUTES, run_keyed("m.run_id"), "logged models")
        clauses += filtered
        params += values
        order = []
        for clause in parse_order_by(order_by):
            direction = "ASC" if clause.ascending else "DESC"
            if clause.kind == "attribute" and clause.key in _ATTRIBUTES:
                order.append(f"{_ATTRIBUTES[clause.key][0]} {direction}")
            elif clause.kind == "metric":
                order.append(f"(SELECT value FROM latest_metrics WHERE run_id = m.run_id AND key = ?) IS NULL, "
                             f"(SELECT value FROM latest_metrics WHERE run_id = m.run_id AND key = ?) {direction}")  # fmt: skip
                params += [clause.key, clause.key]
            else:
                raise InvalidInput(f"cannot order logged models by {clause.key!r}; use an attribute such as "
                                   "creation_timestamp, or metrics.<key>")  # fmt: skip
        order.append("m.creation_time DESC")
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        max_results = check_max_results(max_results)
        limit = f" LIMIT {max_results}" if max_results else ""
        cols = ", ".join(f"m.{c.strip()}" for c in _COLUMNS.split(","))
        rows = self.db.query(f"SELECT {cols} FROM logged_models m{where} ORDER BY {', '.join(order)}{limit}", params)
        return [_row(r) for r in rows]

    def run_metrics(self, run_ids: list[str]) -> dict[str, dict[str, float]]:
        """Latest metrics of each run, for the logged-models table."""
        if not run_ids:
            return {}
        marks = ", ".join("?" * len(run_ids))
        out: dict[str, dict[str, float]] = {}
        for run_id, key, value in self.db.query(
            f"SELECT run_id, key, value FROM latest_metrics WHERE run_id IN ({marks})", run_ids
        ):
            out.setdefault(run_id, {})[key] = float("nan") if value is None else value
        return out
