"""SQL for assessments (feedback and expectations) on traces (migration m0014_assessments).

Assessments go in and out as MLflow's JSON dictionaries; ``tracing.assessments``
builds the entities (the store sits below it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..errors import NotFound
from .database import Database

__all__ = ["AssessmentStore"]


class AssessmentStore:
    """The ``assessments`` table of one store file."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def write(self, assessments: Sequence[dict[str, Any]]) -> None:
        """Insert (or replace, by id) assessments in one transaction; ``NotFound`` names a trace that is missing."""
        if not assessments:
            return
        with self.db.write() as conn:
            missing = self.missing_traces([a["trace_id"] for a in assessments])
            if missing:
                raise NotFound(
                    f"trace {missing[0]!r} not found: check the id (lc.search_traces() lists traces); "
                    "an assessment can only be logged on a trace that has ended"
                )
            conn.executemany(
                "INSERT OR REPLACE INTO assessments (assessment_id, trace_id, name, kind, create_time, content)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (a["assessment_id"], a["trace_id"], a["assessment_name"],
                     "expectation" if "expectation" in a else "feedback", a["_create_time_ms"],
                     json.dumps({k: v for k, v in a.items() if not k.startswith("_")}))
                    for a in assessments
                ],
            )  # fmt: skip

    def missing_traces(self, trace_ids: Sequence[str]) -> list[str]:
        """Those of ``trace_ids`` that the store does not hold, in order."""
        ids = list(dict.fromkeys(trace_ids))
        known = {
            row[0]
            for row in self.db.query(
                "SELECT trace_id FROM traces WHERE trace_id IN (SELECT value FROM json_each(?))", (json.dumps(ids),)
            )
        }
        return [t for t in ids if t not in known]

    def get(self, trace_id: str, assessment_id: str) -> dict[str, Any]:
        """One assessment's JSON dictionary; ``NotFound`` when the trace has no such assessment."""
        rows = self.db.query(
            "SELECT content FROM assessments WHERE trace_id = ? AND assessment_id = ?", (trace_id, assessment_id)
        )
        if not rows:
            raise NotFound(
                f"trace {trace_id!r} has no assessment {assessment_id!r}: "
                "lc.get_trace(trace_id).info.assessments lists them"
            )
        return json.loads(rows[0][0])  # type: ignore[no-any-return]

    def for_traces(self, trace_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """The assessments of these traces, oldest first, by trace id."""
        out: dict[str, list[dict[str, Any]]] = {}
        ids = list(dict.fromkeys(trace_ids))
        for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
            chunk = ids[start : start + 500]
            rows = self.db.query(
                f"SELECT trace_id, content FROM assessments WHERE trace_id IN ({', '.join('?' for _ in chunk)})"
                " ORDER BY create_time, rowid",
                chunk,
            )
            for trace_id, content in rows:
                out.setdefault(trace_id, []).append(json.loads(content))
        return out

    def delete(self, trace_id: str, assessment_id: str) -> None:
        """Remove one assessment; ``NotFound`` when the trace has no such assessment."""
        with self.db.write() as conn:
            gone = conn.execute(
                "DELETE FROM assessments WHERE trace_id = ? AND assessment_id = ?", (trace_id, assessment_id)
            ).rowcount
        if not gone:
            raise NotFound(
                f"trace {trace_id!r} has no assessment {assessment_id!r}: "
                "lc.get_trace(trace_id).info.assessments lists them"
            )
