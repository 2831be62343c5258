"""Property test of the scoring server against its own OpenAPI document: no input gives a 5xx.

Requests are generated from ``/openapi.json`` (the payload forms and the
signature's columns) and mutated around it (arbitrary JSON, wrong types,
random bytes and content types), plus the hostile shapes that once gave a
5xx, an empty 400 or a reset (issue #12, defect 5): column names that are
not strings, JSON nested tens of thousands of levels deep, empty and all-null
input, control characters in the content type, and bodies over the limit,
declared or chunked. Every answer must be a 2xx matching the Predictions
schema, or a 4xx with the JSON error schema and a message.
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
LIMIT = 100_000  # --max-request-size of the server under test


@pytest.fixture(scope="module")
def api(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict]]:  # noqa: F811
    proc, url = start_server(model_dir, "--max-request-size", str(LIMIT), home=tmp_path_factory.mktemp("home"))
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


header_text = st.text(st.characters(max_codepoint=255, exclude_characters="\r\n"), max_size=12)  # what http.client sends


HOSTILE_SHAPES = ["column names", "nesting", "empty", "nulls", "content type", "oversized"]


@st.composite
def hostile(draw: st.DrawFn, doc: dict, shape: str) -> tuple[bytes, str, bool]:
    """A body, content type and whether to send it chunked, in one of the shapes that once broke the server."""
    columns = doc["components"]["schemas"]["Request"]["oneOf"][0]["properties"]["dataframe_split"]["properties"]["columns"].get("example", ["x"])
    content_type, chunked = "application/json", False
    if shape == "column names":
        cols = draw(st.lists(st.one_of(any_json, st.sampled_from(columns)), min_size=1, max_size=5))
        rows = draw(st.lists(st.lists(cell, min_size=len(cols), max_size=len(cols)), max_size=3))
        raw = json.dumps({"dataframe_split": {"columns": cols, "data": rows}}).encode()
    elif shape == "nesting":
        opening, closing = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ("[1,", "]")]))
        depth = draw(st.one_of(st.integers(1, 3000), st.integers(1, (LIMIT - 100) // (len(opening) + len(closing)))))
        before, after = draw(st.sampled_from([("", ""), ('{"instances": ', "}"), ('{"inputs": {"x": ', "}}"),
                                              ('{"dataframe_records": [{"x": ', "}]}"), ('{"instances": [[1]], "params": ', "}")]))  # fmt: skip
        raw = (before + opening * depth + closing * depth + after).encode()
    elif shape == "empty":
        key = draw(st.sampled_from(["dataframe_split", "dataframe_records", "instances", "inputs", "input_data"]))
        value = draw(st.sampled_from([[], {}, {"columns": columns, "data": []}, dict.fromkeys(columns, [])]))
        raw = json.dumps({key: value}).encode()
    elif shape == "nulls":
        row = st.lists(st.one_of(st.none(), numbers), min_size=len(columns), max_size=len(columns))
        rows = draw(st.lists(row, min_size=1, max_size=4))
        raw = json.dumps({"dataframe_split": {"columns": columns, "data": rows}}).encode()
    elif shape == "content type":
        raw = json.dumps({"dataframe_split": {"columns": columns, "data": [[1.0] * len(columns)]}}).encode()
        content_type = draw(st.sampled_from(["application/json", "text/csv", "application/json; charset=utf-8"]))
        content_type += draw(header_text.map(lambda t: "; " + t) | header_text.map(lambda t: "; charset=" + t))
    else:
        raw = b"[" * draw(st.integers(LIMIT + 1, 30 * LIMIT))
        chunked = draw(st.booleans())
    return raw, content_type, chunked


def _check(url: str, doc: dict, body: bytes, content_type: str, chunked: bool = False) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    sent: object = iter([body[i:i + 65536] for i in range(0, len(body), 65536)]) if chunked else body
    response = SESSION.post(url + "/invocations", data=sent, headers=headers, timeout=30)
    assert response.status_code < 500, response.text
    schemas = doc["components"]["schemas"]
    answer = response.json()
    if response.status_code == 200:
        Draft202012Validator(schemas["Predictions"]).validate(answer)
    else:
        assert str(response.status_code) in doc["paths"]["/invocations"]["post"]["responses"]
        Draft202012Validator(schemas["Error"]).validate(answer)
        assert answer["message"].strip(), answer


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(data=st.data())
def test_no_request_gets_a_5xx(api: tuple[str, dict], data: st.DataObject) -> None:
    url, doc = api
    _check(url, doc, *data.draw(payloads(doc)))


@pytest.mark.parametrize("shape", HOSTILE_SHAPES)
@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_no_hostile_request_gets_a_5xx(api: tuple[str, dict], shape: str, data: st.DataObject) -> None:
    url, doc = api
    _check(url, doc, *data.draw(hostile(doc, shape)))
