"""Each run's params, latest metrics and tags, kept as JSON on its runs row (migration m0005).

They are derived data, so the tests compare them with the key/value rows
they are derived from, after any mix of writes, and through a migration of a
store that predates them.
"""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jupyter_lifecycle as lc
from jupyter_lifecycle.store import Store, migrations
from jupyter_lifecycle.store import tracking as tracking_store

KEYS = st.sampled_from(["a", "b", "c.d", "é/x"])
VALUES = st.text(min_size=0, max_size=20)
METRIC_VALUES = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5))
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("param"), KEYS, VALUES),
        st.tuples(st.just("tag"), KEYS, VALUES),
        st.tuples(st.just("delete tag"), KEYS),
        st.tuples(st.just("metric"), KEYS, METRIC_VALUES, st.integers(0, 3)),
        st.tuples(st.just("rename"), st.text(alphabet="xyz", min_size=1, max_size=5)),
        st.tuples(st.just("status"), st.sampled_from(["FINISHED", "FAILED", "KILLED", "RUNNING"])),
    ),
    max_size=25,
)


def kv_rows(db: Path, run_id: str) -> dict[str, dict[str, object]]:
    """A run's params, latest metrics and tags read from the key/value tables."""
    conn = sqlite3.connect(db)
    out = {
        table: dict(conn.execute(f"SELECT key, value FROM {table} WHERE run_id = ?", [run_id]).fetchall())
        for table in ("params", "latest_metrics", "tags")
    }
    conn.close()
    return out


def same_metrics(got: dict[str, float], stored: dict[str, object]) -> bool:
    """Equal, exactly: SQLite stores NaN as NULL; beyond 1e200 its printf may be 1 ulp off."""
    return got.keys() == stored.keys() and all(same_value(v, stored[k]) for k, v in got.items())


def same_value(got: float, stored: object) -> bool:
    if stored is None:
        return math.isnan(got)
    assert isinstance(stored, float)
    if math.isfinite(stored) and abs(stored) > 1e200:
        return math.isclose(got, stored, rel_tol=4e-16)
    return got == stored


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_summaries_always_match_the_key_value_rows(client: lc.Client, operations: list[tuple]) -> None:
    run_id = client.create_run(None, tags={"t0": "start", "é/x": 'q"uote,\nline'}).info.run_id
    for op, *args in operations:
        try:
            if op == "param":
                client.log_param(run_id, args[0], args[1])
            elif op == "tag":
                client.set_tag(run_id, args[0], args[1])
            elif op == "delete tag":
                client.delete_tag(run_id, args[0])
            elif op == "metric":
                client.log_metric(run_id, args[0], args[1], step=args[2])
            elif op == "status":
                client.update_run(run_id, status=args[0])
            else:
                client.update_run(run_id, name=args[0])
        except (lc.InvalidInput, lc.NotFound):
            pass  # a param re-logged with another value, or deleting a missing tag: nothing changes
    run = client.get_run(run_id)
    stored = kv_rows(client.store.db_path, run_id)
    assert run.data.params == stored["params"]
    assert run.data.tags == stored["tags"]
    assert same_metrics(run.data.metrics, stored["latest_metrics"])
    experiment_id = run.info.experiment_id
    row = client.search_runs_frame([experiment_id]).set_index("run_id").loc[run_id]
    # The frame's own columns come from runs.head_csv, which SQLite rewrites with the row (m0019).
    assert (row["status"], row["artifact_uri"]) == (run.info.status, run.info.artifact_uri)
    assert row["start_time"].value // 10**6 == run.info.start_time
    assert (row["end_time"].value // 10**6 if row["end_time"] is not pd.NaT else None) == run.info.end_time
    for key, value in stored["params"].items():
        assert row[f"params.{key}"] == value
    for key, value in stored["tags"].items():
        assert row[f"tags.{key}"] == value
    frame_metrics = {key: row[f"metrics.{key}"] for key in stored["latest_metrics"]}
    assert same_metrics(frame_metrics, stored["latest_metrics"])
    # What create_run wrote with the insert (no refresh) is what a refresh writes.
    derived = "SELECT tags_json, tags_csv, tags_keys, params_csv, params_keys, metrics_csv, metrics_keys FROM runs WHERE run_id = ?"
    before = client.store.db.query(derived, [run_id])
    with client.store.db.write() as conn:
        for refresh in tracking_store._REFRESH.values():
            conn.execute(refresh, (run_id,))
    after = client.store.db.query(derived, [run_id])
    assert before[0][1:] == after[0][1:] and json.loads(before[0][0]) == json.loads(after[0][0])


def test_a_store_made_before_summaries_gets_them_on_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:4])
        old = Store(tmp_path / "s")
        assert old.db.schema_version() == 4
        experiment_id = old.tracking.create_experiment("old")
        conn = old.db.connection()
        conn.execute(
            "INSERT INTO runs (run_id, experiment_id, status, start_time, artifact_location)"
            " VALUES ('r1', ?, 'FINISHED', 1, 'artifacts/r1')",
            [experiment_id],
        )
        conn.executemany("INSERT INTO params VALUES ('r1', ?, ?)", [("lr", "0.1"), ("name", "é")])
        conn.executemany(
            "INSERT INTO latest_metrics VALUES ('r1', ?, ?, 1, 0)",
            [("loss", 0.5), ("up", math.inf), ("down", -math.inf), ("gone", None)],
        )
        conn.execute("INSERT INTO tags VALUES ('r1', 'team', 'a')")
        old.db.close()
    store = Store(tmp_path / "s")
    assert store.db.schema_version() == len(migrations.MIGRATIONS)
    run = store.tracking.get_run("r1")
    assert run.data.params == {"lr": "0.1", "name": "é"} and run.data.tags == {"team": "a"}
    metrics = run.data.metrics
    assert metrics["loss"] == 0.5 and metrics["up"] == math.inf and metrics["down"] == -math.inf
    assert math.isnan(metrics["gone"])
    frame = lc.Client(store).search_runs_frame([experiment_id])
    assert frame.loc[0, "metrics.up"] == math.inf and frame.loc[0, "params.name"] == "é"


def test_a_store_made_before_run_csv_gets_it_on_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as m:  # a store as m0018 left it, with line_json
        m.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[: migrations.MIGRATIONS.index(migrations.m0019_run_csv)])
        old = Store(tmp_path / "s")
        experiment_id = old.tracking.create_experiment("old")
        conn = old.db.connection()  # today's store methods write m0019's columns: plain SQL writes as m0018 did
        parent, child, gone, odd = "a1", "b2", "c3", 'odd "ïd'
        conn.executemany(
            "INSERT INTO runs (run_id, experiment_id, status, start_time, end_time, parent_run_id, artifact_location,"
            " lifecycle_stage) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(parent, experiment_id, "RUNNING", 3, None, None, f"artifacts/{experiment_id}/{parent}", "active"),
             (child, experiment_id, "FINISHED", 2, 5, parent, 'imported/ünï "q', "active"),
             (gone, experiment_id, "FINISHED", 1, 2, None, f"artifacts/{experiment_id}/{gone}", "deleted"),
             (odd, experiment_id, "FINISHED", 1, None, None, f"artifacts/{experiment_id}/{odd}", "active")],
        )  # fmt: skip
        conn.executemany("INSERT INTO params VALUES (?, ?, ?)", [
            (parent, "lr", "0.1"), (parent, "name", 'qu"ote'), (parent, "multi", "line\nnext, with comma")])  # fmt: skip
        conn.executemany("INSERT INTO tags VALUES (?, ?, ?)", [(parent, "team", "a"), (child, "mlflow.runName", "child")])
        conn.executemany("INSERT INTO latest_metrics VALUES (?, ?, ?, 1, 0)",
                         [(parent, "up", math.inf), (parent, "loss", 0.25), (child, "nan", None)])  # fmt: skip
        conn.execute(  # the JSON summaries, as the store wrote them then
            "UPDATE runs SET params_json = (SELECT json_group_object(key, value) FROM params WHERE run_id = runs.run_id),"
            " tags_json = (SELECT json_group_object(key, value) FROM tags WHERE run_id = runs.run_id),"
            " metrics_json = (SELECT json_group_object(key, CASE WHEN value IS NULL THEN NULL"
            " WHEN abs(value) > 1.7976931348623157e308 THEN CASE WHEN value > 0 THEN 'Infinity' ELSE '-Infinity' END"
            " ELSE json(printf('%!.17g', value)) END) FROM latest_metrics WHERE run_id = runs.run_id)"
        )
        rows = old.db.query("SELECT rowid, * FROM runs ORDER BY rowid")
        assert old.db.query("SELECT name FROM pragma_table_xinfo('runs')")[-1] == ("line_json",)
        old.db.close()
    store = Store(tmp_path / "s")
    assert store.db.schema_version() == len(migrations.MIGRATIONS)
    migrated = store.db.query("SELECT rowid, * FROM runs ORDER BY rowid")
    assert [row[: len(old_row) - 1] for row, old_row in zip(migrated, rows, strict=True)] == [row[:-1] for row in rows]
    columns = [name for (name,) in store.db.query("SELECT name FROM pragma_table_xinfo('runs')")]
    assert "line_json" not in columns and columns[-1] == "head_csv"
    # The migration wrote what the store's own refresh writes.
    conn = store.db.connection()
    for (run_id,) in store.db.query("SELECT run_id FROM runs"):
        for refresh in tracking_store._REFRESH.values():
            conn.execute(refresh, (run_id,))
    assert store.db.query("SELECT rowid, * FROM runs ORDER BY rowid") == migrated
    indexes = {name for (name,) in store.db.query("SELECT name FROM sqlite_schema WHERE tbl_name = 'runs' AND type = 'index'")}
    assert {"runs_by_experiment", "runs_by_parent", "runs_running"} <= indexes
    assert store.db.query("PRAGMA foreign_key_check") == [] and store.db.query("PRAGMA integrity_check") == [("ok",)]
    client = lc.Client(store)
    frame = client.search_runs_frame([experiment_id], run_view_type=lc.ViewType.ALL).set_index("run_id")
    assert sorted(frame.index) == sorted([gone, child, parent, odd])
    assert frame.loc[parent, "metrics.up"] == math.inf and frame.loc[parent, "params.name"] == 'qu"ote'
    assert frame.loc[parent, "params.multi"] == "line\nnext, with comma" and pd_isna(frame.loc[child, "metrics.nan"])
    assert (frame.loc[child, "status"], frame.loc[child, "end_time"].value // 10**6) == ("FINISHED", 5)
    assert pd_isna(frame.loc[odd, "end_time"]) and pd_isna(frame.loc[odd, "params.lr"])
    for run_id in (parent, child, odd):  # the usual folder (left out of the head), an imported one, a quoted one
        assert frame.loc[run_id, "artifact_uri"] == client.get_run(run_id).info.artifact_uri
    assert frame.loc[child, "artifact_uri"].endswith("/imported/%C3%BCn%C3%AF%20%22q")  # quoted, as Path.as_uri does
    store.tracking.update_run(parent, status="KILLED", end_time=9)  # the head follows the row after the migration too
    store.tracking.log_params(parent, [("new", "1")])
    row = client.search_runs_frame([experiment_id]).set_index("run_id").loc[parent]
    assert (row["status"], row["params.new"], row["params.lr"]) == ("KILLED", "1", "0.1")


def test_frame_of_runs_with_different_keys_and_huge_values(client: lc.Client) -> None:
    experiment_id = client.create_experiment("mixed")
    big = {f"p{i:03}": "x" * 6000 for i in range(300)}  # one CSV line of 1.8 MB, over Arrow's 1 MiB block
    first = client.create_run(experiment_id).info.run_id
    client.log_batch(first, params=[lc.Param(k, v) for k, v in big.items()])
    second = client.create_run(experiment_id).info.run_id
    client.log_metric(second, "only_nan", math.nan)
    client.log_param(second, "p000", "ünïcode ✓")
    third = client.create_run(experiment_id).info.run_id  # nothing logged
    frame = client.search_runs_frame([experiment_id]).set_index("run_id")
    assert frame.loc[first, "params.p299"] == "x" * 6000
    assert frame.loc[second, "params.p000"] == "ünïcode ✓"
    assert pd_isna(frame.loc[second, "params.p001"]) and pd_isna(frame.loc[third, "params.p000"])
    assert frame["metrics.only_nan"].dtype == "float64" and frame["metrics.only_nan"].isna().all()
    assert len(frame) == 3


def pd_isna(value: object) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def test_runs_row_holds_valid_json(client: lc.Client) -> None:
    run_id = client.create_run(None).info.run_id
    client.log_metric(run_id, "inf", math.inf)
    client.set_terminated(run_id)
    conn = sqlite3.connect(client.store.db_path)
    params, metrics, tags = conn.execute(
        "SELECT params_json, metrics_json, tags_json FROM runs WHERE run_id = ?", [run_id]
    ).fetchone()
    assert json.loads(params) == {} and json.loads(metrics) == {"inf": "Infinity"}
    assert json.loads(tags)["mlflow.user"]


def test_metric_values_read_back_exactly(client: lc.Client) -> None:
    # SQLite's JSON keeps 15 significant digits, which would turn these into other doubles.
    values = {"third": 1 / 3, "long": 0.1234567890123456, "big": 1000000000000001.0, "tiny": 5e-324}
    run_id = client.create_run(None).info.run_id
    client.log_batch(run_id, metrics=[lc.Metric(k, v, 0, 0) for k, v in values.items()])
    assert client.get_run(run_id).data.metrics == values
    row = client.search_runs_frame([client.get_run(run_id).info.experiment_id]).iloc[0]
    assert {k: row[f"metrics.{k}"] for k in values} == values
