"""SQL for datasets and run inputs (migration m0006): which data and models each run read."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ..entities import Dataset, DatasetInput, InputTag, LoggedModelInput, RunInputs
from ..errors import NotFound
from .database import Database
from .tracking import new_id, now_ms

_DATASET_COLUMNS = "d.name, d.digest, d.source_type, d.source, d.schema, d.profile"


class DatasetStore:
    """The ``datasets``, ``run_inputs`` and ``input_tags`` tables."""

    def __init__(self, db: Database, home: Path) -> None:
        self.db = db
        self.home = home

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput] = (), model_ids: Sequence[str] = ()) -> None:
        """Link datasets (with their input tags) and logged models to a run, in one transaction.

        As MLflow does: a dataset is stored once per experiment by name and
        digest, a run is linked to it once (a second link keeps the first tags),
        and within one call the first of two equal datasets wins.
        """
        with self.db.write() as conn:
            found = conn.execute("SELECT experiment_id FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if found is None:
                raise NotFound(f"no run with id {run_id!r}")
            experiment_id = found[0]
            seen: set[tuple[str, str]] = set()
            for item in datasets:
                d = item.dataset
                if (d.name, d.digest) in seen:
                    continue
                seen.add((d.name, d.digest))
                conn.execute(
                    "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, source_type, source, schema,"
                    " profile, creation_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (experiment_id, name, digest) DO NOTHING",
                    (new_id(), experiment_id, d.name, d.digest, d.source_type, d.source, d.schema, d.profile, now_ms()),
                )
                dataset_uuid = conn.execute(
                    "SELECT dataset_uuid FROM datasets WHERE experiment_id = ? AND name = ? AND digest = ?",
                    (experiment_id, d.name, d.digest),
                ).fetchone()[0]
                added = conn.execute(
                    "INSERT INTO run_inputs (run_id, dataset_uuid) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING input_id",
                    (run_id, dataset_uuid),
                ).fetchone()
                if added is not None:
                    conn.executemany(
                        "INSERT INTO input_tags VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET value = excluded.value",
                        [(added[0], t.key, t.value) for t in item.tags],
                    )
            conn.executemany(
                "INSERT INTO run_inputs (run_id, model_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [(run_id, model_id) for model_id in model_ids],
            )

    def run_inputs(self, run_ids: Sequence[str]) -> dict[str, RunInputs]:
        """Each run's inputs, in the order they were logged (runs without any are absent)."""
        if not run_ids:
            return {}
        ids = json.dumps(list(run_ids))
        with self.db.read() as conn:
            if conn.execute("SELECT NOT EXISTS (SELECT 1 FROM run_inputs)").fetchone()[0]:
                return {}  # the common case of a store without datasets costs one lookup
            rows = conn.execute(
                f"SELECT i.input_id, i.run_id, i.model_id, {_DATASET_COLUMNS} FROM run_inputs i"
                " LEFT JOIN datasets d ON d.dataset_uuid = i.dataset_uuid"
                " WHERE i.run_id IN (SELECT value FROM json_each(?)) ORDER BY i.input_id",
                (ids,),
            ).fetchall()
            tag_rows = conn.execute(
                "SELECT t.input_id, t.key, t.value FROM input_tags t JOIN run_inputs i ON i.input_id = t.input_id"
                " WHERE i.run_id IN (SELECT value FROM json_each(?)) ORDER BY t.input_id, t.key",
                (ids,),
            ).fetchall()
        tags: dict[int, list[InputTag]] = {}
        for input_id, key, value in tag_rows:
            tags.setdefault(input_id, []).append(InputTag(key, value))
        found: dict[str, tuple[list[DatasetInput], list[LoggedModelInput]]] = {}
        for input_id, run_id, model_id, *dataset in rows:
            datasets, models = found.setdefault(run_id, ([], []))
            if model_id is not None:
                models.append(LoggedModelInput(model_id))
            else:
                datasets.append(DatasetInput(Dataset(*dataset), tags.get(input_id, [])))
        return {run_id: RunInputs(datasets, models) for run_id, (datasets, models) in found.items()}
