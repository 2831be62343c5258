"""Property test of the scoring server against its own OpenAPI document: no input gives a 5xx.

Requests are generated from ``/openapi.json`` (the payload forms and the
signature's columns) and mutated around it (arbitrary JSON, wrong types,
random bytes and content types); every answer must be a 2xx matching the
Predictions schema, or a 4xx with the JSON error schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from tests.test_serving import model_dir, start_server, stop_server  # noqa: F401  (model_dir is a fixture)

SESSION = requests.Session()


@pytest.fixture(scope="module")
def api(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict]]:  # noqa: F811
    proc, url = start_server(model_dir, "--max-request-size", "100000", home=tmp_path_factory.mktemp("home"))
    doc = SESSION.get(url + "/openapi.json", timeout=10).json()
    yield url, doc
    assert stop_server(proc) == 0


scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
                    st.text(max_size=8))  # fmt: skip
any_json = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                        max_leaves=20)  # fmt: skip
numbers = st.one_of(st.floats(-1e6, 1e6), st.integers(-1000, 1000))
cell = st.one_of(numbers, numbers, scalars)


@st.composite
def payloads(draw: st.DrawFn, doc: dict) -> tuple[bytes, str]:
    """A request body and content type, mostly shaped like the document's Request schema."""
    columns = doc["components"]["schemas"]["Request"]["oneOf"][0]["properties"]["dataframe_split"]["properties"]["columns"].get("example", ["x"])
    cols = draw(st.one_of(st.just(columns), st.lists(st.sampled_from([*columns, "other"]), max_size=6)))
    rows = st.lists(st.lists(cell, min_size=len(cols), max_size=len(cols)), max_size=5)
    record = st.fixed_dictionaries({c: cell for c in cols})
    key = draw(st.sampled_from(["dataframe_split", "dataframe_records", "instances", "inputs", "input_data", "other"]))
    value = draw(st.one_of(
        st.fixed_dictionaries({"columns": st.just(cols), "data": rows}) if key in ("dataframe_split", "input_data") else st.nothing(),
        st.lists(record, max_size=5) if key in ("dataframe_records", "instances", "input_data") else st.nothing(),
        rows if key in ("instances", "inputs", "input_data") else st.nothing(),
        st.dictionaries(st.sampled_from(cols or ["x"]), st.lists(cell, max_size=4), max_size=4) if key == "inputs" else st.nothing(),
        any_json,
    ))  # fmt: skip
    body: object = {key: value}
    if draw(st.booleans()):
        body = {**body, "params": draw(any_json)}
    if draw(st.integers(0, 9)) == 0:
        body = draw(any_json)
    content_type = draw(st.sampled_from(["application/json"] * 6 + ["application/json; charset=utf-8", "text/csv",
                                         "application/vnd.apache.parquet", "text/plain", "application/json; q=1", ""]))  # fmt: skip
    raw = json.dumps(body).encode()
    if draw(st.integers(0, 14)) == 0:
        raw = draw(st.binary(max_size=64))
    return raw, content_type


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_no_request_gets_a_5xx(api: tuple[str, dict], data: st.DataObject) -> None:
    url, doc = api
    body, content_type = data.draw(payloads(doc))
    headers = {"Content-Type": content_type} if content_type else {}
    response = SESSION.post(url + "/invocations", data=body, headers=headers, timeout=30)
    assert response.status_code < 500, response.text
    schemas = doc["components"]["schemas"]
    answer = response.json()
    if response.status_code == 200:
        Draft202012Validator(schemas["Predictions"]).validate(answer)
    else:
        assert str(response.status_code) in doc["paths"]["/invocations"]["post"]["responses"]
        Draft202012Validator(schemas["Error"]).validate(answer)
