"""SQL for GenAI traces: write finished traces in batches, read, search, tag, delete.

Rows go in and out as plain tuples and dicts; ``jupyter_lifecycle.tracing``
builds its ``Trace`` entities from them (the store sits below it). Filters
use MLflow's grammar (``store/search.py``) with every value bound as a
parameter.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, NotFound
from .database import Database
from .search import Condition, check_comparator, parse_filter, parse_order_by, value_sql, where_clauses

__all__ = ["SpanRow", "TraceRow", "TraceStore"]

# filter/order_by attribute -> (column, numeric); MLflow's names and their aliases
ATTRIBUTES: dict[str, tuple[str, bool]] = {
    "trace_id": ("t.trace_id", False), "request_id": ("t.trace_id", False),
    "status": ("t.state", False), "state": ("t.state", False),
    "name": ("t.name", False), "run_id": ("t.run_id", False), "client_request_id": ("t.client_request_id", False),
    "timestamp_ms": ("t.request_time", True), "timestamp": ("t.request_time", True),
    "request_time": ("t.request_time", True),
    "execution_time_ms": ("t.execution_duration", True), "execution_time": ("t.execution_duration", True),
    "execution_duration": ("t.execution_duration", True),
    "request_preview": ("t.request_preview", False), "response_preview": ("t.response_preview", False),
}  # fmt: skip
KEYED = {
    "tag": "t.trace_id IN (SELECT trace_id FROM trace_tags WHERE key = ? AND {})",
    # metadata is rarely filtered on and holds large values (the trace's inputs): read from the trace's JSON
    "metadata": "EXISTS (SELECT 1 FROM json_each(t.metadata_json) WHERE key = ? AND {})",
}
SPAN_COLUMNS = {"name": "name", "type": "span_type", "span_type": "span_type", "status": "status"}

_SPANS = "t.spans_json"  # the JSON array of the trace's spans, in start order (m0016_trace_speed)
_ASSESSMENTS = (
    "(SELECT '[' || group_concat(content, ',') || ']' FROM"
    " (SELECT content FROM assessments a WHERE a.trace_id = t.trace_id ORDER BY create_time, rowid))"
)
_INFO_COLUMNS = (
    "t.trace_id, t.experiment_id, t.request_time, t.execution_duration, t.state, t.request_preview, "
    "t.response_preview, t.client_request_id, t.tags_json, t.metadata_json"
)


@dataclass(frozen=True)
class TraceRow:
    """One finished trace as the store keeps it."""

    trace_id: str
    experiment_id: str
    name: str | None
    client_request_id: str | None
    request_time: int
    execution_duration: int | None
    state: str
    request_preview: str | None
    response_preview: str | None
    run_id: str | None
    model_id: str | None
    tags: dict[str, str]
    metadata: dict[str, str]


SpanRow = tuple[str, str, str | None, str, str | None, str, int, int | None, str]
"""trace_id, span_id, parent_span_id, name, span_type, status, start ns, end ns, content (JSON): the content
goes into the trace's ``spans_json``, the rest into ``spans`` (for filters)."""


class TraceStore:
    """Traces of one store file."""

    def __init__(self, db: Database, home: Path) -> None:
        self.db = db
        self.home = home

    def write(self, batch: Sequence[tuple[TraceRow, Sequence[SpanRow]]]) -> None:
        """Insert finished traces and their spans in one transaction (a trace written again is replaced)."""
        if not batch:
            return
        batch = list({row.trace_id: (row, spans) for row, spans in batch}.values())  # a trace put twice: the last
        with self.db.write() as conn:
            # Only a trace written before (a span ended after its root) has rows to replace; looking them up
            # once costs less than three DELETEs per trace.
            ids = json.dumps([row.trace_id for row, _ in batch])
            again = conn.execute(
                "SELECT trace_id FROM traces WHERE trace_id IN (SELECT value FROM json_each(?))", (ids,)
            ).fetchall()
            if again:
                for table in ("spans", "trace_tags"):
                    conn.executemany(f"DELETE FROM {table} WHERE trace_id = ?", again)
            conn.executemany(
                "INSERT OR REPLACE INTO traces (trace_id, experiment_id, name, client_request_id, request_time,"
                " execution_duration, state, request_preview, response_preview, run_id, model_id, tags_json,"
                " metadata_json, spans_json, info_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (r.trace_id, r.experiment_id, r.name, r.client_request_id, r.request_time, r.execution_duration,
                     r.state, r.request_preview, r.response_preview, r.run_id, r.model_id, tags, metadata,
                     _spans_json(spans), _info_json(r, tags, metadata))
                    for r, spans in batch
                    for tags, metadata in ((json.dumps(r.tags), json.dumps(r.metadata)),)
                ],
            )  # fmt: skip
            conn.executemany(
                "INSERT INTO trace_tags (trace_id, key, value) VALUES (?, ?, ?)",
                [(r.trace_id, k, v) for r, _ in batch for k, v in r.tags.items()],
            )
            conn.executemany(
                "INSERT OR REPLACE INTO spans (trace_id, span_id, parent_span_id, name, span_type, status,"
                " start_time_ns, end_time_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [span[:8] for _, spans in batch for span in spans],
            )

    def get(self, trace_id: str) -> tuple[dict[str, Any], str]:
        """``(info, spans as a JSON array text)`` of one trace; ``NotFound`` when there is none."""
        with self.db.read() as conn:
            row = conn.execute(
                f"SELECT {_INFO_COLUMNS}, t.spans_json FROM traces t WHERE t.trace_id = ?", (trace_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"trace {trace_id!r} not found: check the id (lc.search_traces() lists traces)")
            spans = row[-1]
            assessments = [json.loads(r[0]) for r in conn.execute(
                "SELECT content FROM assessments WHERE trace_id = ? ORDER BY create_time, rowid", (trace_id,))]  # fmt: skip
        return {**_info(row), "assessments": assessments}, spans

    def _query(
        self,
        experiment_ids: Sequence[str] | None,
        filter_string: str | None,
        max_results: int | None,
        order_by: Sequence[str] | None,
        run_id: str | None,
        model_id: str | None,
    ) -> tuple[str, list[object]]:
        """``WHERE ... ORDER BY ... LIMIT ...`` over ``traces t`` and its bound values."""
        conditions = parse_filter(filter_string)
        clauses, params = where_clauses([c for c in conditions if c.kind != "span"], ATTRIBUTES, KEYED, "traces")
        for cond in conditions:
            if cond.kind == "span":
                clauses.append(_span_clause(cond, params))
        for column, values in (("t.experiment_id", experiment_ids), ("t.run_id", [run_id] if run_id else None),
                               ("t.model_id", [model_id] if model_id else None)):  # fmt: skip
            if values:
                clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
                params += list(values)
        order = []
        for clause in parse_order_by(list(order_by or [])):
            if clause.kind != "attribute" or clause.key not in ATTRIBUTES:
                raise InvalidInput(
                    f"invalid order_by: traces can be ordered by {', '.join(ATTRIBUTES)}, not {clause.kind} {clause.key!r}"
                )
            order.append(f"{ATTRIBUTES[clause.key][0]} {'ASC' if clause.ascending else 'DESC'}")
        order += ["t.request_time DESC", "t.rowid DESC"]  # ties: the last written first
        sql = (" WHERE " + " AND ".join(clauses) if clauses else "") + " ORDER BY " + ", ".join(order)
        if max_results is not None:
            if max_results < 1:
                raise InvalidInput(f"max_results must be a positive integer, got {max_results!r}")
            sql += " LIMIT ?"
            params.append(int(max_results))
        return sql, params

    def search(
        self,
        experiment_ids: Sequence[str] | None,
        filter_string: str | None,
        max_results: int | None,
        order_by: Sequence[str] | None,
        run_id: str | None = None,
        model_id: str | None = None,
        include_spans: bool = True,
    ) -> list[tuple[dict[str, Any], str | None]]:
        """``(info, spans JSON array text or None)`` of the traces that match, newest first by default."""
        where, params = self._query(experiment_ids, filter_string, max_results, order_by, run_id, model_id)
        spans = f", {_SPANS}" if include_spans else ", NULL"
        with self.db.read() as conn:
            assessments = _ASSESSMENTS if _any_assessments(conn) else "NULL"
            rows = conn.execute(f"SELECT {_INFO_COLUMNS}, {assessments}{spans} FROM traces t{where}", params).fetchall()
        return [({**_info(row), "assessments": json.loads(row[-2] or "[]")}, row[-1]) for row in rows]

    def search_frame(
        self,
        experiment_ids: Sequence[str] | None,
        filter_string: str | None,
        max_results: int | None,
        order_by: Sequence[str] | None,
        run_id: str | None = None,
        model_id: str | None = None,
        include_spans: bool = True,
    ) -> tuple[list[tuple[Any, ...]], list[Any], list[str]]:
        """What ``search_traces`` puts in a DataFrame, read in one pass.

        Returns rows of ``(trace_id, trace JSON text, client_request_id, state,
        request_time, execution_duration)``; per row the decoded ``[request,
        response, metadata, tags, assessments]``; and per row its spans as JSON array text,
        left for the caller to decode when (and if) they are read. The trace's
        JSON is joined as text from the info JSON the writer kept and the spans,
        never parsed and written again, and the small parts of all rows are
        decoded by one ``json.loads``.
        """
        where, params = self._query(experiment_ids, filter_string, max_results, order_by, run_id, model_id)
        sql = f"""
            SELECT t.trace_id, t.info_json, t.client_request_id, t.state, t.request_time, t.execution_duration,
                t.metadata_json, t.tags_json, t.rowid
            FROM traces t{where}
        """
        with self.db.read() as conn:
            rows = conn.execute(sql, params).fetchall()
            if not rows:
                return [], [], []
            # The spans in a second query, unordered: in the first, SQLite's sorter would copy all their text
            found_spans = dict(conn.execute(
                "SELECT rowid, spans_json FROM traces WHERE rowid IN (SELECT value FROM json_each(?))",
                ("[" + ",".join([str(r[8]) for r in rows]) + "]",),
            ).fetchall()) if include_spans else {}  # fmt: skip
            # and the assessments of those that have some (none at all is the common case: no query)
            found_assessments = dict(conn.execute(
                "SELECT trace_id, '[' || group_concat(content, ',') || ']' FROM (SELECT trace_id, content"
                " FROM assessments WHERE trace_id IN (SELECT value FROM json_each(?)) ORDER BY create_time, rowid)"
                " GROUP BY trace_id",
                (json.dumps([r[0] for r in rows]),),
            ).fetchall()) if _any_assessments(conn) else {}  # fmt: skip
        span_texts = [found_spans.get(r[8]) or "[]" for r in rows]
        decoded = json.loads("[" + ",".join(f"{r[6]},{r[7]}" for r in rows) + "]")
        metadata, tags = decoded[0::2], decoded[1::2]
        request = _decode_all([m.get("mlflow.traceInputs") for m in metadata])
        response = _decode_all([m.get("mlflow.traceOutputs") for m in metadata])
        assessment_texts = [found_assessments.get(r[0]) for r in rows]
        payload = [
            [*p, json.loads(a) if a else []]
            for p, a in zip(zip(request, response, metadata, tags, strict=True), assessment_texts, strict=True)
        ]
        # The trace's JSON joined here, not in SQL: SQLite would copy every span's text twice
        found = [(r[0], f'{{"info": {_with_assessments(r[1], a)}, "data": {{"spans": {spans}}}}}', r[2], r[3], r[4],
                  r[5]) for r, spans, a in zip(rows, span_texts, assessment_texts, strict=True)]  # fmt: skip
        return found, payload, span_texts

    def set_tag(self, trace_id: str, key: str, value: str) -> None:
        """Set one tag on a stored trace."""
        with self.db.write() as conn:
            self._require(conn, trace_id)
            conn.execute(
                "INSERT OR REPLACE INTO trace_tags (trace_id, key, value) VALUES (?, ?, ?)", (trace_id, key, value)
            )
            conn.execute(
                # a merge patch, not json_set: a JSON path cannot name every key (json_set ignores 'a."b')
                "UPDATE traces SET tags_json = json_patch(tags_json, json_object(?1, ?2)),"
                " info_json = json_patch(info_json, json_object('tags', json_object(?1, ?2))) WHERE trace_id = ?3",
                (key, value, trace_id),
            )

    def delete_tag(self, trace_id: str, key: str) -> None:
        """Remove one tag; ``NotFound`` when the trace has no such tag."""
        with self.db.write() as conn:
            self._require(conn, trace_id)
            if conn.execute("DELETE FROM trace_tags WHERE trace_id = ? AND key = ?", (trace_id, key)).rowcount == 0:
                raise NotFound(f"trace {trace_id!r} has no tag {key!r}")
            conn.execute(
                "UPDATE traces SET tags_json = json_patch(tags_json, json_object(?1, json('null'))),"
                " info_json = json_patch(info_json, json_object('tags', json_object(?1, json('null'))))"
                " WHERE trace_id = ?2",
                (key, trace_id),
            )

    def delete(
        self,
        experiment_id: str,
        max_timestamp_millis: int | None = None,
        max_traces: int | None = None,
        trace_ids: Iterable[str] | None = None,
    ) -> int:
        """Delete traces of an experiment (older than a time, the oldest N, or by id); return how many."""
        sql = "SELECT trace_id FROM traces WHERE experiment_id = ?"
        params: list[object] = [experiment_id]
        if trace_ids is not None:
            ids = list(trace_ids)
            sql += f" AND trace_id IN ({', '.join('?' for _ in ids)})"
            params += ids
        if max_timestamp_millis is not None:
            sql += " AND request_time <= ?"
            params.append(max_timestamp_millis)
        sql += " ORDER BY request_time"
        if max_traces is not None:
            sql += " LIMIT ?"
            params.append(max_traces)
        with self.db.write() as conn:
            doomed = [(row[0],) for row in conn.execute(sql, params).fetchall()]
            for table in ("spans", "trace_tags", "assessments", "traces"):
                conn.executemany(f"DELETE FROM {table} WHERE trace_id = ?", doomed)
        return len(doomed)

    def count(self) -> int:
        """How many traces the store holds."""
        return int(self.db.query("SELECT count(*) FROM traces")[0][0])

    @staticmethod
    def _require(conn: Any, trace_id: str) -> None:
        if conn.execute("SELECT 1 FROM traces WHERE trace_id = ?", (trace_id,)).fetchone() is None:
            raise NotFound(f"trace {trace_id!r} not found: check the id (lc.search_traces() lists traces)")


def _spans_json(spans: Sequence[SpanRow]) -> str:
    """A trace's spans as the JSON array ``traces.spans_json`` keeps: their JSON texts in start order."""
    ordered = spans if len(spans) < 2 else sorted(spans, key=lambda span: (span[6], span[1]))
    return "[" + ",".join([span[8] for span in ordered]) + "]"


def _info_json(row: TraceRow, tags: str, metadata: str) -> str:
    """The trace's info as MLflow's JSON (``TraceInfo.to_dict()``, assessments aside; fields that are None
    left out, as protobuf does), from its row and its tags' and metadata's JSON texts. The writer's hot path:
    strings are quoted by the C encoder, not ``json.dumps``."""
    seconds, ms = divmod(row.request_time, 1000)
    optional = "".join([
        f', "{key}": {encode_basestring_ascii(value)}'
        for key, value in (("request_preview", row.request_preview), ("response_preview", row.response_preview),
                           ("client_request_id", row.client_request_id))
        if value is not None
    ])  # fmt: skip
    if row.execution_duration is not None:
        optional += f', "execution_duration_ms": {int(row.execution_duration)}'
    return (
        f'{{"trace_id": {encode_basestring_ascii(row.trace_id)}, "trace_location": {{"type": "MLFLOW_EXPERIMENT", '
        f'"mlflow_experiment": {{"experiment_id": {encode_basestring_ascii(row.experiment_id)}}}}}, '
        f'"request_time": "{time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))}.{ms:03d}Z", '
        f'"state": {encode_basestring_ascii(row.state)}, "trace_metadata": {metadata}, "tags": {tags}{optional}}}'
    )


def _decode_all(texts: list[str | None]) -> list[Any]:
    """Each text as the JSON it holds (one ``json.loads`` for all); text that is not JSON stays text."""
    try:
        return json.loads("[" + ",".join("null" if t is None else t for t in texts) + "]")  # type: ignore[no-any-return]
    except ValueError:  # a preview cut at 1,000 characters is not JSON: decode one by one
        out = []
        for text in texts:
            try:
                out.append(None if text is None else json.loads(text))
            except ValueError:
                out.append(text)
        return out


def _span_clause(cond: Condition, params: list[object]) -> str:
    column = SPAN_COLUMNS.get(cond.key)
    if column is None:
        raise InvalidInput(
            f"invalid filter string: unknown span field {cond.key!r}: spans can be filtered by span.name or span.type"
        )
    check_comparator(cond, ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"), "span field")
    sql, values = value_sql(column, cond, numeric=False)
    params += values
    return f"t.trace_id IN (SELECT trace_id FROM spans WHERE {sql})"


def _with_assessments(info: str, assessments: str | None) -> str:
    """A trace info's JSON text with ``"assessments"`` added; left out when there are none, as MLflow does."""
    return f'{info[:-1]}, "assessments": {assessments}}}' if assessments else info


def _any_assessments(conn: Any) -> bool:
    return conn.execute("SELECT EXISTS (SELECT 1 FROM assessments)").fetchone()[0] == 1


def _info(row: Sequence[Any]) -> dict[str, Any]:
    return {
        "trace_id": row[0], "experiment_id": row[1], "request_time": row[2], "execution_duration": row[3],
        "state": row[4], "request_preview": row[5], "response_preview": row[6], "client_request_id": row[7],
        "tags": json.loads(row[8]), "trace_metadata": json.loads(row[9]),
    }  # fmt: skip
