"""Filtered search through the (key, value) indexes of m0010 returns exactly what the full scan returns (issue #14)."""

from __future__ import annotations

import random

import pandas as pd
import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle.entities import Metric, Param, RunTag
from jupyter_lifecycle.store import tracking as tracking_store

FILTERS = [
    "metrics.m0 < 0.1",
    "metrics.m0 < 0.1 and params.p1 = 'v3'",
    "metrics.m1 >= 0.95 and metrics.m0 > 0.5",
    "params.p0 IN ('v1', 'v2') and tags.team = 'b'",
    "params.p2 LIKE 'v1%' and attributes.status = 'FINISHED'",
    "tags.team = 'a' and metrics.m0 != 0.5",
    "metrics.m2 = 0.25",
    "params.p1 = 'v3' and params.p1 = 'v4'",
    "metrics.missing > 0",
    "tags.team ILIKE 'A' and params.p0 = 'v0'",
]


@pytest.fixture
def searched(client: lc.Client) -> str:
    """250 runs with random params, metrics (some NaN, some equal) and tags, plus one deleted run."""
    rng = random.Random(7)
    experiment_id = client.create_experiment("scale")
    for i in range(250):
        run_id = client.create_run(experiment_id).info.run_id
        metrics = [Metric(f"m{k}", rng.random(), 0, 0) for k in range(2)]
        metrics.append(Metric("m2", rng.choice([0.25, 0.5, float("nan")]), 0, 0))
        client.log_batch(run_id, params=[Param(f"p{k}", f"v{rng.randint(0, 4)}") for k in range(3)],
                         metrics=metrics, tags=[RunTag("team", rng.choice("ab"))])  # fmt: skip
        if i % 3:
            client.set_terminated(run_id)
    client.delete_run(run_id)
    return experiment_id


@pytest.mark.parametrize("filter_string", FILTERS)
def test_index_driven_search_equals_full_scan(
    client: lc.Client, searched: str, monkeypatch: pytest.MonkeyPatch, filter_string: str
) -> None:
    tracking = client.store.tracking
    monkeypatch.setattr(tracking_store, "INDEX_DRIVE_SHARE", 10**9)  # never from the index
    scanned = [row[0] for row in tracking.search_run_rows([searched], filter_string, order_by=["metrics.m1 DESC"])]
    monkeypatch.setattr(tracking_store, "INDEX_DRIVE_SHARE", 1)  # from the index whenever it answers
    with tracking.db.read() as conn:
        driver, _, _ = tracking._index_driver(conn, [searched], tracking_store.parse_filter(filter_string))
    assert driver or "ILIKE" in filter_string or "missing" in filter_string
    indexed = [row[0] for row in tracking.search_run_rows([searched], filter_string, order_by=["metrics.m1 DESC"])]
    assert indexed == scanned
    assert indexed == [r.info.run_id for r in client.search_runs([searched], filter_string, max_results=10_000,
                                                                 order_by=["metrics.m1 DESC"])]  # fmt: skip


def test_selective_filter_starts_from_the_index(client: lc.Client, searched: str) -> None:
    tracking = client.store.tracking
    with tracking.db.read() as conn:
        selective, _, _ = tracking._index_driver(conn, [searched], tracking_store.parse_filter("metrics.m0 < 0.02"))
        broad, _, _ = tracking._index_driver(conn, [searched], tracking_store.parse_filter("metrics.m0 < 0.9"))
        plan = " ".join(row[3] for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT run_id FROM latest_metrics WHERE key = 'm0' AND value < 0.02"))  # fmt: skip
    assert "latest_metrics" in selective and broad == ""
    assert "latest_metrics_by_value" in plan
    paged = client.search_runs([searched], "metrics.m0 < 0.2", max_results=5)
    assert len(paged) == 5 and paged.token
    rest = client.search_runs([searched], "metrics.m0 < 0.2", max_results=1000, page_token=paged.token)
    everything = client.search_runs([searched], "metrics.m0 < 0.2", max_results=1000)
    assert [r.info.run_id for r in [*paged, *rest]] == [r.info.run_id for r in everything]


@pytest.mark.parametrize("chunk", [tracking_store.FRAME_CHUNK, 1, 2])
def test_runs_frame_from_csv_equals_frame_from_rows(
    client: lc.Client, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """Keys first seen in a later piece, NaN then numbers, infinities, an 'Infinity' param, unicode."""
    from jupyter_lifecycle.tracking.client import runs_frame

    monkeypatch.setattr(tracking_store, "FRAME_CHUNK", chunk)
    experiment_id = client.create_experiment("frames")
    values = [float("nan"), 3.0, float("inf"), -float("inf"), 0.1234567890123456, 1e300]
    for i, value in enumerate(values):
        run_id = client.create_run(experiment_id, run_name=f"run-{i}").info.run_id
        client.log_batch(run_id, metrics=[Metric("m", value, 0, 0)] + ([Metric(f"late{i}", 1.0, 0, 0)] if i > 2 else []),
                         params=[Param("p", "Infinity" if i % 2 else "naïve ✓")], tags=[RunTag(f"t{i % 3}", "x")])  # fmt: skip
        if i == 4:
            client.set_terminated(run_id)
    frame = client.search_runs_frame([experiment_id])
    expected = runs_frame(client.store.tracking.search_run_rows([experiment_id]), client.store.home)
    pd.testing.assert_frame_equal(frame, expected)
    by_name = frame.set_index("tags.mlflow.runName")
    assert by_name.loc["run-2", "metrics.m"] == float("inf") and by_name.loc["run-3", "metrics.m"] == -float("inf")
    assert pd.isna(by_name.loc["run-0", "metrics.m"]) and by_name.loc["run-4", "metrics.late4"] == 1.0
    assert set(frame["params.p"]) == {"Infinity", "naïve ✓"}
    assert frame["end_time"].notna().sum() == 1
    empty = client.search_runs_frame([experiment_id], "params.p = 'none'")
    assert empty.empty and list(empty.columns)[:6] == list(frame.columns)[:6]


ORDERS = [
    ["metrics.m2 DESC"],  # ties (0.25, 0.5), NaN and runs without m2
    ["metrics.m2 ASC", "params.p1 DESC"],
    ["metrics.m0"],
    ["params.p0 DESC", "metrics.m1 ASC"],
    ["tags.team", "attributes.start_time ASC"],
    ["metrics.missing DESC"],
]


def test_runs_named_by_id_are_sorted_not_walked(client: lc.Client, searched: str) -> None:
    tracking = client.store.tracking
    ids = [row[0] for row in tracking.search_run_rows([searched], max_results=5)]
    named = "attributes.run_id IN (" + ", ".join(f"'{i}'" for i in ids) + ")"
    with tracking.db.read() as conn:
        assert tracking._keyed_order_rows(conn, "r.run_id", [searched], named, lc.ViewType.ACTIVE_ONLY, 3,
                                          ["metrics.m0"], 0) is None  # fmt: skip
    found = client.search_runs([searched], named, max_results=3, order_by=["metrics.m0"])
    by_value = sorted(ids, key=lambda i: client.get_run(i).data.metrics["m0"])
    assert [r.info.run_id for r in found] == by_value[:3]


@pytest.mark.parametrize("order_by", ORDERS)
@pytest.mark.parametrize("filter_string", ["", "params.p1 = 'v3'", "tags.team = 'a' and metrics.m0 > 0.3",
                                           "metrics.m0 < 0.05"])  # fmt: skip
def test_pages_ordered_through_the_index_equal_the_full_sort(
    client: lc.Client, searched: str, order_by: list[str], filter_string: str
) -> None:
    """Every page of 7 runs read in index order, joined, is the full sort of the matching runs."""
    for i in range(5):  # runs without m2 (one without any metric), params or tags
        run_id = client.create_run(searched).info.run_id
        if i:
            client.log_batch(run_id, metrics=[Metric("m0", i / 10, 0, 0)])
    client.flush()
    tracking = client.store.tracking
    with tracking.db.read() as conn:
        sql, params = tracking._search_sql(conn, "r.run_id", [searched], filter_string, lc.ViewType.ACTIVE_ONLY,
                                           None, order_by, 0)  # fmt: skip
        expected = [row[0] for row in conn.execute(sql, params)]
        used = tracking._keyed_order_rows(conn, "r.run_id", [searched], filter_string, lc.ViewType.ACTIVE_ONLY, 7,
                                          order_by, 0)  # fmt: skip
    assert used is not None or filter_string == "metrics.m0 < 0.05"  # a selective filter sorts its few runs instead
    assert len(expected) > 7
    pages, token = [], None
    while True:
        page = client.search_runs([searched], filter_string, max_results=7, order_by=order_by, page_token=token)
        pages += [r.info.run_id for r in page]
        if not (token := page.token):
            break
    assert pages == expected
    for offset in (0, len(expected) - 3, len(expected) + 5):  # a page across the runs without the value; past the end
        rows = tracking.search_run_rows([searched], filter_string, max_results=7, order_by=order_by, offset=offset)
        assert [row[0] for row in rows] == expected[offset:offset + 7]
