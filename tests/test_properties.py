"""Property tests: any input gives a result or a ``LifecycleError``, never another exception.

Filters, ``order_by`` and ``max_results`` for every ``search_*``; names, keys
and artifact paths; metric, param and tag values; model URIs. Inputs mix
MLflow's grammar with hostile text (NUL, newlines, lone surrogates, 300-byte
names, '..', quotes, backticks) and numbers out of every range, against a
real store in a temporary folder. ``LIFECYCLE_STRESS_SCALE=full`` multiplies the
number of examples (see ``tests/scale.py``).
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Iterator
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jupyter_lifecycle as lc
from jupyter_lifecycle import config
from jupyter_lifecycle.errors import LifecycleError
from jupyter_lifecycle.models.uri import parse_runs_uri, resolve_model_uri
from jupyter_lifecycle.registry.uri import parse_models_uri
from jupyter_lifecycle.store.search import COMPARATORS, KINDS, parse_filter, parse_order_by
from tests.scale import examples


def tried(count: int) -> settings:
    """Hypothesis settings for ``count`` examples (times the stress scale), no deadline: the store does real I/O."""
    return settings(max_examples=examples(count), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip

# ---- strategies --------------------------------------------------------------

pieces = st.sampled_from(["\x00", "\n", "\r", "\t", "\ud800", "\udc80", "\udfff", "/", "\\", "..", ".", "'", "''", '"',
                          "`", "%", "_", "*", "?", "[", " ", "é", "😀", "\u2028", "\x7f", "a" * 300, ":", "@"])  # fmt: skip
hostile = st.lists(st.one_of(st.characters(), pieces), max_size=10).map("".join)
text = st.one_of(st.text(max_size=20), hostile)
numbers = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["99999999999999999999", "9223372036854775807", "-9223372036854775809", "1e400", "-1e-400",
                     "1" * 5000, ".5", "+3", "1e", "0x10", "nan", "inf"]),
    st.floats().map(repr),
)  # fmt: skip


def quoted(value: str) -> str:
    """A string literal of the filter grammar."""
    return "'" + value.replace("'", "''") + "'"


@st.composite
def conditions(draw: st.DrawFn) -> str:
    """One comparison, usually well formed, sometimes broken in one place."""
    prefix = draw(st.sampled_from([*KINDS, "", "bogus"]))
    key = draw(st.one_of(st.sampled_from(["acc", "loss", "name", "version_number", "run_name", "status", "start_time",
                                          "creation_timestamp", "current_stage"]),
                         text.map(lambda k: f"`{k}`"), text))  # fmt: skip
    field = f"{prefix}.{key}" if prefix else key
    comparator = draw(st.one_of(st.sampled_from(COMPARATORS), st.sampled_from(["==", "<>", "><", "", "=>", "is"])))
    value = draw(st.one_of(numbers, text.map(quoted), st.lists(st.one_of(numbers, text.map(quoted)), max_size=4).map(
        lambda items: "(" + ", ".join(items) + ")"), text))  # fmt: skip
    return f"{field} {comparator} {value}"


filter_strings = st.one_of(
    st.lists(conditions(), min_size=1, max_size=4).map(" and ".join),
    st.lists(conditions(), min_size=1, max_size=3).map(" OR ".join),
    st.integers(95, 150).map(lambda n: " and ".join(["metrics.acc > 0"] * n)),
    text,
    st.none(),
)
order_bys = st.one_of(
    st.none(),
    st.lists(st.one_of(st.builds(lambda c, d: f"{c} {d}".strip(), conditions().map(lambda c: c.split(" ")[0]),
                                 st.sampled_from(["", "ASC", "DESC", "desc", "up"])), text), max_size=3),  # fmt: skip
    text,
    st.integers(),
)
limits = st.one_of(st.none(), st.integers(-5, 200), st.integers(-(2**80), 2**80), st.just(10**5000),
                   st.sampled_from(["10", 1.5, True, np.int64(3), b"1", float("nan")]))  # fmt: skip
values = st.one_of(
    st.floats(), st.integers(-(2**80), 2**80), st.just(10**400), st.just(Decimal("NaN")), st.just(Decimal("sNaN")),
    st.just(Fraction(10**400, 3)), st.just(np.float32(1.5)), st.just(np.array([2.0])), st.just(np.array([1, 2])),
    st.just(complex(1, 1)), text, st.none(), st.booleans(), st.lists(st.integers(), max_size=3),
)  # fmt: skip


def outcome(call: Callable[[], Any]) -> tuple[bool, Any]:
    """``(True, result)``, or ``(False, error)`` for a ``LifecycleError``: anything else fails the test."""
    try:
        return True, call()
    except LifecycleError as exc:
        str(exc)  # the message itself must be printable
        exc.to_dict()
        return False, exc


# ---- a real store shared by the module -----------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A store with an experiment, a run with params, metrics, tags and a model, registered as ``m`` version 1."""
    from sklearn.linear_model import LinearRegression

    home = tmp_path_factory.mktemp("properties") / "store"
    config.set_store(home)
    client = lc.Client()
    experiment_id = client.create_experiment("props")
    run = client.create_run(experiment_id)
    run_id = run.info.run_id
    client.log_param(run_id, "p", "1")
    client.log_metric(run_id, "acc", 0.5)
    client.set_tag(run_id, "t", "x")
    with lc.start_run(run_id=run_id):
        info = lc.sklearn.log_model(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]), "model")
    lc.register_model(info.model_uri, "m")
    yield {"client": client, "experiment_id": experiment_id, "run_id": run_id, "home": home}
    config.set_store(None)


# ---- filters ---------------------------------------------------------------------


@tried(300)
@given(filter_string=filter_strings)
def test_the_filter_parser_returns_conditions_or_invalid_input(filter_string: str | None) -> None:
    ok, result = outcome(lambda: parse_filter(filter_string))
    if ok:
        assert isinstance(result, list) and len(result) <= 100
        assert filter_string is None or not any("\ud800" <= c <= "\udfff" for c in filter_string)


@tried(150)
@given(filter_string=filter_strings, order_by=order_bys, max_results=limits)
def test_every_search_takes_any_filter_order_and_limit(
    world: dict[str, Any], filter_string: Any, order_by: Any, max_results: Any
) -> None:
    client, experiment_id = world["client"], world["experiment_id"]
    store = client.store
    searches = {
        "search_runs": lambda: client.search_runs([experiment_id], filter_string, max_results=max_results, order_by=order_by),
        "search_runs_frame": lambda: client.search_runs_frame([experiment_id], filter_string, max_results=max_results,
                                                              order_by=order_by),
        "search_experiments": lambda: client.search_experiments(filter_string=filter_string, max_results=max_results,
                                                                order_by=order_by),
        "search_registered_models": lambda: client.search_registered_models(filter_string, max_results, order_by),
        "search_model_versions": lambda: client.search_model_versions(filter_string, max_results, order_by),
        "search_logged_models": lambda: store.models.search([experiment_id], filter_string, order_by, max_results),
        "list_revisions": lambda: store.capture.list_revisions(None, max_results),
    }  # fmt: skip
    for name, search in searches.items():
        ok, result = outcome(search)
        if ok and isinstance(max_results, int) and not isinstance(max_results, bool) and max_results > 0:
            assert len(result) <= max_results, name


@tried(300)
@given(order_by=order_bys)
def test_order_by_parses_or_raises_invalid_input(order_by: Any) -> None:
    outcome(lambda: parse_order_by(order_by))


# ---- names, keys, paths ----------------------------------------------------------


@tried(200)
@given(key=text, value=text)
def test_keys_are_stored_exactly_or_refused(world: dict[str, Any], key: str, value: str) -> None:
    client, run_id = world["client"], world["run_id"]
    ok, _ = outcome(lambda: client.set_tag(run_id, key, value))
    if ok:
        assert client.get_run(run_id).data.tags[key] == value
        assert key == key.strip("\n") and "\x00" not in key
    ok, _ = outcome(lambda: client.log_metric(run_id, key, 1.0, synchronous=True))
    if ok:
        assert client.get_metric_history(run_id, key)[-1].value == 1.0


@tried(200)
@given(path=st.one_of(text, st.lists(text, min_size=1, max_size=4).map("/".join)), kind=st.sampled_from(["text", "dict"]))
def test_artifact_paths_land_inside_the_run_or_are_refused(world: dict[str, Any], path: str, kind: str) -> None:
    client = world["client"]
    run_id = client.create_run(world["experiment_id"]).info.run_id  # a fresh folder: each example checks its own files
    root = client.artifact_dir(run_id).resolve()
    log = client.log_text if kind == "text" else client.log_dict
    ok, _ = outcome(lambda: log(run_id, "x" if kind == "text" else {"x": 1}, path))
    if ok:
        written = [p for p in root.rglob("*") if p.is_file()]
        assert written and all(p.resolve().is_relative_to(root) for p in written)
    assert [p.name for p in Path(world["home"]).parent.iterdir()] == ["store"]  # nothing was written beside the store


@tried(200)
@given(name=text, alias=text)
def test_registered_model_names_and_aliases_are_valid_or_refused(world: dict[str, Any], name: str, alias: str) -> None:
    client = world["client"]
    ok, model = outcome(lambda: client.create_registered_model(name))
    if ok:
        assert model.name == name and name not in (".", "..") and len(name) <= 256
        assert not any(c in name for c in "\x00\n\r/:")
        assert client.get_registered_model(name).name == name
        client.delete_registered_model(name)
    ok, _ = outcome(lambda: client.set_registered_model_alias("m", alias, 1))
    if ok:
        assert client.get_model_version_by_alias("m", alias).version == 1 and "\n" not in alias
        client.delete_registered_model_alias("m", alias)
    outcome(lambda: client.create_experiment(name))


# ---- values -----------------------------------------------------------------------


@tried(200)
@given(value=values, step=st.one_of(st.none(), st.integers(-(2**70), 2**70), st.sampled_from(["3", "x", 1.5])),
       timestamp=st.one_of(st.none(), st.integers(-(2**70), 2**70), st.floats()))  # fmt: skip
def test_metric_values_are_stored_as_floats_or_refused(world: dict[str, Any], value: Any, step: Any, timestamp: Any) -> None:
    client = world["client"]
    run_id = client.create_run(world["experiment_id"]).info.run_id
    ok, _ = outcome(lambda: client.log_metric(run_id, "v", value, timestamp=timestamp, step=step, synchronous=True))
    if ok:
        [point] = client.get_metric_history(run_id, "v")
        stored = point.value
        expected = float(value.item() if hasattr(value, "item") else value)
        assert stored == expected or (math.isnan(stored) and math.isnan(expected))
    client.flush()  # a refused point never blocks the ones after it


@tried(200)
@given(value=values)
def test_param_and_tag_values_are_stored_as_text_or_refused(world: dict[str, Any], value: Any) -> None:
    client, run_id = world["client"], world["run_id"]
    ok, _ = outcome(lambda: client.set_tag(run_id, "value", value))
    if ok:
        assert client.get_run(run_id).data.tags["value"] == str(value)
    run = client.create_run(world["experiment_id"])
    ok, _ = outcome(lambda: client.log_param(run.info.run_id, "value", value))
    if ok:
        assert client.get_run(run.info.run_id).data.params["value"] == str(value)


# ---- model URIs ---------------------------------------------------------------------


uris = st.one_of(
    st.builds(lambda s, rest: f"{s}{rest}", st.sampled_from(["models:/", "models:", "models://", "runs:/", "runs:",
                                                                 "file://", "file:", "x:/", ""]),  # fmt: skip
              st.one_of(text, st.builds(lambda a, b: f"{a}/{b}", text, st.one_of(text, numbers)),
                        st.builds(lambda a, b: f"{a}@{b}", text, text), st.just("m/1"), st.just("m@champion"),
                        st.just("m/" + "1" * 40), st.just("m/²"), st.just("m/Production"), st.just("m/latest"),
                        st.just("~nobody-here/model"))),
)  # fmt: skip


@tried(300)
@given(uri=uris)
def test_model_uris_resolve_or_raise_lifecycle_errors(world: dict[str, Any], uri: str) -> None:
    if uri.startswith("models:"):
        outcome(lambda: parse_models_uri(uri))
    if uri.startswith("runs:"):
        outcome(lambda: parse_runs_uri(uri))
    ok, folder = outcome(lambda: resolve_model_uri(uri))
    if ok:
        assert Path(folder).exists()


def test_the_registered_model_uris_resolve(world: dict[str, Any]) -> None:
    """The URI strategies reach real models too (so the property test is not only about errors)."""
    for uri in ("models:/m/1", "models:/m/latest", f"runs:/{world['run_id']}/model"):
        assert (resolve_model_uri(uri) / "MLmodel").is_file()


tokens = st.one_of(text, st.builds(lambda value: base64.b64encode(json.dumps({"offset": value}).encode()).decode(),
                                   st.one_of(st.integers(-(2**80), 2**80), st.floats(allow_nan=False), text, st.none())))  # fmt: skip


@tried(200)
@given(token=tokens)
def test_page_tokens_page_on_or_are_refused(world: dict[str, Any], token: str) -> None:
    client = world["client"]
    for size, search in ((1000, lambda: client.search_runs([world["experiment_id"]], page_token=token)),
                         (100, lambda: client.search_registered_models(page_token=token)),
                         (10_000, lambda: client.search_model_versions(page_token=token))):  # fmt: skip
        ok, page = outcome(search)
        if ok:
            assert page.token is None or len(page) == size  # a next page only after a full one
