"""MLflow's filter grammar: the parser, and search results from a real store."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jupyter_lifecycle as lc
from jupyter_lifecycle.store.search import Condition, parse_filter, parse_order_by


def test_parser_reads_mlflow_filters() -> None:
    assert parse_filter("metrics.acc > 0.9 and params.model = 'rf'") == [
        Condition("metric", "acc", ">", 0.9),
        Condition("param", "model", "=", "rf"),
    ]
    assert parse_filter('tags.`my key` LIKE "a%" AND attributes.status IN (\'FINISHED\', "FAILED")') == [
        Condition("tag", "my key", "LIKE", "a%"),
        Condition("attribute", "status", "IN", ("FINISHED", "FAILED")),
    ]
    assert parse_filter("tags.mlflow.runName != 'x' and run_id NOT IN ('a')") == [
        Condition("tag", "mlflow.runName", "!=", "x"),
        Condition("attribute", "run_id", "NOT IN", ("a",)),
    ]
    assert parse_filter("metric.loss<=-1e-3") == [Condition("metric", "loss", "<=", -1e-3)]
    assert parse_filter("params.s = 'it''s'") == [Condition("param", "s", "=", "it's")]
    assert parse_filter("  ") == []
    assert [(o.kind, o.key, o.ascending) for o in parse_order_by(["metrics.loss", "params.`a b` DESC"])] == [
        ("metric", "loss", True),
        ("param", "a b", False),
    ]


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("metrics.acc > and x", "expected a quoted string or a number, got 'and'", 14),
        ("metrics.acc 0.9", "expected a comparator", 12),
        ("metrics.a > 1 or metrics.b > 2", "OR is not supported", 14),
        ("foo.acc > 1", "unknown prefix 'foo'", 0),
        ("params.a = 'x' params.b = 'y'", "expected AND", 15),
        ("params.a IN ('x'", "expected ',' or ')'", 16),
        ("params.a = 'x' and", "expected a condition", 18),
        ("metrics.a > 1 ; DROP TABLE runs", "unexpected character ';'", 14),
    ],
)
def test_parse_errors_point_at_the_token(text: str, message: str, position: int) -> None:
    with pytest.raises(lc.InvalidInput) as info:
        parse_filter(text)
    assert message in str(info.value)
    assert f"at position {position}" in str(info.value)
    assert str(info.value).splitlines()[-1] == "  " + " " * position + "^"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="metrics.params'\"`()=<>!, andorIN0123456789_-%xyz ", max_size=60))
def test_parser_never_fails_with_anything_but_invalid_input(text: str) -> None:
    try:
        parse_filter(text)
    except lc.InvalidInput:
        pass


@pytest.fixture
def runs(home: Path) -> dict[str, str]:
    lc.set_experiment("search")
    ids = {}
    for name, depth, acc, team in [("a", 3, 0.7, "x"), ("b", 5, 0.95, "y"), ("c", 5, 0.85, "x"), ("d", 8, 0.99, "Y")]:
        with lc.start_run(run_name=name) as run:
            lc.log_params({"max_depth": depth, "model": "rf" if depth < 8 else "gbm"})
            lc.log_metric("acc", acc)
            lc.set_tag("team", team)
            ids[name] = run.info.run_id
    with lc.start_run(run_name="e") as run:  # no metric, no params: sorts last, matches nothing
        ids["e"] = run.info.run_id
    return ids


def names(frame) -> list[str]:  # type: ignore[no-untyped-def]
    return list(frame["tags.mlflow.runName"])


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("metrics.acc > 0.9", ["b", "d"]),
        ("metrics.acc >= 0.85 and params.max_depth = '5'", ["b", "c"]),
        ("params.max_depth != '5'", ["a", "d"]),
        ("params.model IN ('gbm')", ["d"]),
        ("params.model NOT IN ('gbm')", ["a", "b", "c"]),
        ("tags.team LIKE 'y'", ["b"]),
        ("tags.team ILIKE 'y'", ["b", "d"]),
        ("tags.mlflow.runName LIKE '_'", ["a", "b", "c", "d", "e"]),
        ("attributes.run_name = 'c'", ["c"]),
        ("attributes.status = 'FINISHED' and metrics.acc < 0.8", ["a"]),
        ("attributes.start_time > 0 and metrics.acc = 0.99", ["d"]),
        ("params.model = 'rf'; DROP TABLE runs", None),
    ],
)
def test_search_results(runs: dict[str, str], filter_string: str, expected: list[str] | None) -> None:
    if expected is None:
        with pytest.raises(lc.InvalidInput):
            lc.search_runs(filter_string=filter_string)
        return
    assert sorted(names(lc.search_runs(filter_string=filter_string))) == expected


def test_order_by_and_paging(runs: dict[str, str]) -> None:
    assert names(lc.search_runs(order_by=["metrics.acc DESC"])) == ["d", "b", "c", "a", "e"]
    assert names(lc.search_runs(order_by=["metrics.acc ASC"])) == ["a", "c", "b", "d", "e"]
    assert names(lc.search_runs(order_by=["params.max_depth DESC", "metrics.acc"])) == ["d", "c", "b", "a", "e"]
    assert names(lc.search_runs(max_results=2, order_by=["attributes.run_name"])) == ["a", "b"]
    client = lc.Client()
    experiment_id = lc.get_experiment_by_name("search").experiment_id
    seen, token = [], None
    while True:
        page = client.search_runs([experiment_id], order_by=["attributes.run_name DESC"], max_results=2, page_token=token)
        seen += [r.info.run_name for r in page]
        token = page.token
        if token is None:
            break
    assert seen == ["e", "d", "c", "b", "a"]


def test_search_type_errors_say_what_to_do(runs: dict[str, str]) -> None:
    with pytest.raises(lc.InvalidInput, match="expected a number"):
        lc.search_runs(filter_string="metrics.acc > 'high'")
    with pytest.raises(lc.InvalidInput, match="expected a quoted string"):
        lc.search_runs(filter_string="params.max_depth = 5")
    with pytest.raises(lc.InvalidInput, match="does not support 'LIKE'"):
        lc.search_runs(filter_string="metrics.acc LIKE '1%'")
    with pytest.raises(lc.InvalidInput, match="unknown attribute 'colour'"):
        lc.search_runs(filter_string="attributes.colour = 'red'")


def test_dataframe_columns_follow_mlflow(runs: dict[str, str]) -> None:
    frame = lc.search_runs(order_by=["attributes.run_name"])
    assert list(frame.columns[:6]) == ["run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"]
    assert {"metrics.acc", "params.max_depth", "params.model", "tags.team", "tags.mlflow.runName"} <= set(frame.columns)
    assert str(frame["start_time"].dtype).startswith("datetime64") and frame["metrics.acc"].dtype == "float64"
    assert frame.loc[frame.run_id == runs["e"], "metrics.acc"].isna().all()
    empty = lc.search_runs(filter_string="metrics.acc > 5")
    assert empty.empty and list(empty.columns) == list(frame.columns[:6])
    as_list = lc.search_runs(output_format="list", filter_string="metrics.acc > 0.9")
    assert sorted(r.info.run_name for r in as_list) == ["b", "d"]


def test_search_across_experiments(runs: dict[str, str]) -> None:
    lc.set_experiment("other")
    with lc.start_run(run_name="z"):
        lc.log_metric("acc", 1.0)
    assert names(lc.search_runs()) == ["z"]
    assert len(lc.search_runs(search_all_experiments=True)) == 6
    assert len(lc.search_runs(experiment_names=["search"])) == 5
    with pytest.raises(lc.NotFound, match="no experiment named 'nope'"):
        lc.search_runs(experiment_names=["nope"])
