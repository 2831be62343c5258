"""SQL for GenAI evaluation datasets and their records (migration m0014_assessments).

A record is inputs, optional outputs, expectations, tags and a source; the
same inputs merged again update the record (expectations and tags merged,
outputs replaced when given), as MLflow's ``upsert_dataset_records`` does.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from ..errors import AlreadyExists, NotFound
from .database import Database
from .tracking import new_id, now_ms

__all__ = ["EvalDatasetStore"]

_COLUMNS = "dataset_id, name, experiment_ids_json, tags_json, digest, created_time, last_update_time, created_by"


def _dataset(row: Sequence[Any]) -> dict[str, Any]:
    return {
        "dataset_id": row[0], "name": row[1], "experiment_ids": json.loads(row[2]), "tags": json.loads(row[3]),
        "digest": row[4], "created_time": row[5], "last_update_time": row[6], "created_by": row[7],
    }  # fmt: skip


def _digest(name: str, when: int) -> str:
    return hashlib.sha256(f"{name}:{when}".encode()).hexdigest()[:8]


class EvalDatasetStore:
    """The ``evaluation_datasets`` and ``evaluation_dataset_records`` tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self, name: str, experiment_ids: Sequence[str], tags: dict[str, str], created_by: str | None
    ) -> dict[str, Any]:
        """A new, empty dataset; ``AlreadyExists`` when the name is taken."""
        when = now_ms()
        dataset_id = "d-" + new_id()
        try:
            with self.db.write() as conn:
                conn.execute(
                    f"INSERT INTO evaluation_datasets ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (dataset_id, name, json.dumps(list(experiment_ids)), json.dumps(tags), _digest(name, when),
                     when, when, created_by),
                )  # fmt: skip
        except sqlite3.IntegrityError as exc:
            raise AlreadyExists(
                f"an evaluation dataset named {name!r} exists: get_dataset(name={name!r}) opens it"
            ) from exc
        return self.get(dataset_id=dataset_id)

    def get(self, name: str | None = None, dataset_id: str | None = None) -> dict[str, Any]:
        """A dataset's fields, by id or by name; ``NotFound`` when there is none."""
        column, value = ("dataset_id", dataset_id) if dataset_id is not None else ("name", name)
        rows = self.db.query(f"SELECT {_COLUMNS} FROM evaluation_datasets WHERE {column} = ?", (value,))
        if not rows:
            raise NotFound(f"no evaluation dataset with {column} {value!r}: search_datasets() lists them")
        return _dataset(rows[0])

    def search(self) -> list[dict[str, Any]]:
        """Every dataset, the last updated first."""
        rows = self.db.query(f"SELECT {_COLUMNS} FROM evaluation_datasets ORDER BY last_update_time DESC, name")
        return [_dataset(row) for row in rows]

    def delete(self, dataset_id: str) -> None:
        """Delete a dataset and its records; ``NotFound`` when there is none."""
        with self.db.write() as conn:
            conn.execute("DELETE FROM evaluation_dataset_records WHERE dataset_id = ?", (dataset_id,))
            if not conn.execute("DELETE FROM evaluation_datasets WHERE dataset_id = ?", (dataset_id,)).rowcount:
                raise NotFound(f"no evaluation dataset with dataset_id {dataset_id!r}: search_datasets() lists them")

    def set_tags(self, dataset_id: str, tags: dict[str, str]) -> None:
        """Add or replace tags on a dataset."""
        with self.db.write() as conn:
            found = conn.execute("SELECT tags_json FROM evaluation_datasets WHERE dataset_id = ?", (dataset_id,)).fetchone()
            if found is None:
                raise NotFound(f"no evaluation dataset with dataset_id {dataset_id!r}: search_datasets() lists them")
            conn.execute(
                "UPDATE evaluation_datasets SET tags_json = ?, last_update_time = ? WHERE dataset_id = ?",
                (json.dumps({**json.loads(found[0]), **tags}), now_ms(), dataset_id),
            )

    def merge_records(self, dataset_id: str, records: Sequence[dict[str, Any]]) -> dict[str, int]:
        """Insert or update records (keyed by their inputs) in one transaction; the counts of each."""
        inserted = updated = 0
        when = now_ms()
        with self.db.write() as conn:
            name = conn.execute("SELECT name FROM evaluation_datasets WHERE dataset_id = ?", (dataset_id,)).fetchone()
            if name is None:
                raise NotFound(f"no evaluation dataset with dataset_id {dataset_id!r}: it may have been deleted")
            for record in records:
                inputs = json.dumps(record.get("inputs") or {}, sort_keys=True)
                input_hash = hashlib.sha256(inputs.encode()).hexdigest()
                old = conn.execute(
                    "SELECT record_id, outputs_json, expectations_json, tags_json FROM evaluation_dataset_records"
                    " WHERE dataset_id = ? AND input_hash = ?",
                    (dataset_id, input_hash),
                ).fetchone()
                outputs = json.dumps(record["outputs"]) if record.get("outputs") is not None else None
                expectations = record.get("expectations") or {}
                tags = record.get("tags") or {}
                if old is None:
                    conn.execute(
                        "INSERT INTO evaluation_dataset_records (dataset_id, record_id, input_hash, inputs_json,"
                        " outputs_json, expectations_json, tags_json, source_json, created_time, last_update_time)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (dataset_id, "dr-" + new_id(), input_hash, inputs, outputs, json.dumps(expectations),
                         json.dumps(tags), json.dumps(record.get("source")), when, when),
                    )  # fmt: skip
                    inserted += 1
                else:
                    conn.execute(
                        "UPDATE evaluation_dataset_records SET outputs_json = ?, expectations_json = ?, tags_json = ?,"
                        " last_update_time = ? WHERE dataset_id = ? AND record_id = ?",
                        (outputs if outputs is not None else old[1],
                         json.dumps({**json.loads(old[2]), **expectations}), json.dumps({**json.loads(old[3]), **tags}),
                         when, dataset_id, old[0]),
                    )  # fmt: skip
                    updated += 1
            conn.execute(
                "UPDATE evaluation_datasets SET last_update_time = ?, digest = ? WHERE dataset_id = ?",
                (when, _digest(name[0], when), dataset_id),
            )
        return {"inserted": inserted, "updated": updated}

    def records(self, dataset_id: str) -> list[dict[str, Any]]:
        """A dataset's records in the order they were first added."""
        rows = self.db.query(
            "SELECT record_id, inputs_json, outputs_json, expectations_json, tags_json, source_json, created_time,"
            " last_update_time FROM evaluation_dataset_records WHERE dataset_id = ? ORDER BY rowid",
            (dataset_id,),
        )
        return [
            {"dataset_record_id": r[0], "inputs": json.loads(r[1]),
             "outputs": None if r[2] is None else json.loads(r[2]), "expectations": json.loads(r[3]),
             "tags": json.loads(r[4]), "source": None if r[5] is None else json.loads(r[5]),
             "created_time": r[6], "last_update_time": r[7]}
            for r in rows
        ]  # fmt: skip
