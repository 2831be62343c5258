"""Property test of the server extension's REST API against its own OpenAPI document: no request gets a 5xx.

Every operation of ``lifecycle/api/openapi.json`` is called on a real
``jupyter server`` with the token, its path, query and body filled from the
document's schemas (known names and ids mixed with hostile text: NUL,
newlines, lone surrogates sent as raw bytes, huge numbers, wrong types,
deep or malformed JSON). Every answer must be a status the document lists,
with JSON that fits its schema: the result's for a 2xx, ``Error`` otherwise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from tests.jupyter_process import Jupyter
from tests.scale import examples
from tests.test_server_api import seeded, server  # noqa: F401  (module fixtures: one server for this module)

SESSION = requests.Session()
TRIED: dict[str, int] = {}

hostile_pieces = st.sampled_from(["\x00", "\n", "\r", "\t", "\ud800", "\udfff", "/", "..", "'", '"', "`", "%", "\\",
                                 "é", "😀", " ", "\u2028", ".ipynb"])  # fmt: skip
text = st.one_of(st.text(max_size=12), st.lists(st.one_of(st.characters(), hostile_pieces), max_size=12).map("".join),
                 st.text(max_size=400).map(lambda t: t * 3))  # fmt: skip
digits = st.one_of(st.integers(0, 5).map(str), st.integers(0, 2**70).map(str), st.text("0123456789", min_size=1, max_size=60))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**80), 2**80), st.floats(allow_nan=False), text)
any_json = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                        max_leaves=10)  # fmt: skip
filters = st.builds(
    lambda key, op, value: f"{key} {op} {value}",
    st.sampled_from(["metrics.acc", "params.C", "tags.team", "attributes.status", "run_name", "metrics.`a b`", "x.y", "and"]),
    st.sampled_from(["=", "!=", ">", "<=", "LIKE", "ILIKE", "IN", "NOT IN", "><", ""]),
    st.one_of(st.integers(-(2**80), 2**80).map(str), st.floats().map(str), text.map(lambda t: "'" + t.replace("'", "''") + "'"),
              st.just("('a', 'b')"), text),
)  # fmt: skip


def encode(value: str) -> str:
    """Percent-encode every byte, lone surrogates included (as the invalid UTF-8 a client could send).

    A bare ``.`` or ``..`` is a dot segment that HTTP clients resolve away
    (``models/..`` is ``/``): send it as ``%2E`` so the server sees the name.
    """
    quoted = quote_from_bytes(value.encode("utf-8", "surrogatepass"), safe="")
    return quoted.replace(".", "%2E") if value in (".", "..") else quoted


@st.composite
def string_for(draw: st.DrawFn, name: str, schema: dict[str, Any], known: dict[str, list[str]]) -> str:
    """A value for a string parameter: a known good one, or something the schema allows, or hostile text."""
    pattern = schema.get("pattern")
    choices = [st.sampled_from(known[name])] * 2 if known.get(name) else []  # mostly real names reach deeper
    if name == "filter":
        choices.append(filters)
    if pattern == "^[0-9a-fA-F]+$":
        choices.append(st.text("0123456789abcdef", min_size=1, max_size=40))
    elif pattern and "0-9" in pattern:
        choices.append(digits)
    else:
        choices.append(text)
    return draw(st.one_of(*choices))


@st.composite
def body_for(draw: st.DrawFn, schema: dict[str, Any], known: dict[str, list[str]]) -> bytes:
    """A JSON body shaped by ``schema`` (right types, wrong types, extra keys), or arbitrary bytes."""
    roll = draw(st.integers(0, 19))
    if roll == 0:
        return draw(st.binary(max_size=40))
    if roll == 1:
        return json.dumps(draw(any_json)).encode()
    if roll == 2:
        return b"[" * draw(st.integers(1, 50_000))
    body: dict[str, Any] = {}
    for key, prop in schema.get("properties", {}).items():
        if key not in schema.get("required", []) and draw(st.booleans()):
            continue
        if "enum" in prop:
            good = st.sampled_from(prop["enum"]).map(lambda s: s.upper() if len(s) % 2 else s)
        elif prop.get("type") == "boolean":
            good = st.booleans()
        elif "oneOf" in prop:  # a version: a number or digits
            good = st.one_of(st.integers(-3, 2**70), digits, st.sampled_from(known.get(key, ["1"])))
        else:
            good = st.one_of(st.sampled_from(known.get(key, ["x"])), text)
        body[key] = draw(st.one_of(good, good, good, any_json))
    if draw(st.integers(0, 5)) == 0:
        body[draw(st.text(max_size=5))] = draw(any_json)
    return json.dumps(body).encode()


@pytest.fixture(scope="module")
def api(server: Jupyter, seeded: dict[str, str]) -> Iterator[tuple[Jupyter, dict[str, Any], dict[str, list[str]]]]:  # noqa: F811
    document = SESSION.get(server.url + "lifecycle/api/openapi.json", headers=auth(server), timeout=30).json()
    known = {
        "run_id": [seeded["small"], seeded["large"], "0" * 32],
        "experiment_id": [seeded["experiment_id"], "0"],
        "name": ["iris", "nope"],
        "alias": ["champion", "challenger", "latest"],
        "version": ["1", "2"],
        "keys": ["loss", "acc,loss", "nope"],
        "model_uri": ["models:/iris@champion", "models:/iris/1", f"runs:/{seeded['large']}/model", "models:/nope/1"],
        "path": ["fuzz.ipynb", "sub/fuzz.ipynb", "../out.ipynb", "model/MLmodel", "model", "../../etc/passwd"],
        "stage": ["Staging", "Production", "Archived", "None"],
        "notebook_path": [str(server.root / "saved.ipynb")],
        "endpoint_id": ["ep-000000000000", "ep-0"],
        "all": ["true", "false"],
        "action": ["request", "approve", "reject", "cancel"],
        "columns": ["params.C,metrics.acc", "", "tags.team", "C"],
    }
    yield server, document, known
    print("\nrequests by operation and status:", dict(sorted(TRIED.items())))


def auth(running: Jupyter) -> dict[str, str]:
    """The token header."""
    return {"Authorization": f"token {running.token}"}


@settings(max_examples=examples(150), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(data=st.data())
def test_no_request_gets_a_5xx(api: tuple[Jupyter, dict[str, Any], dict[str, list[str]]], data: st.DataObject) -> None:
    running, document, known = api
    operations = [(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()]
    path, method, operation = data.draw(st.sampled_from(operations))
    url, query = path, []
    for param in operation.get("parameters", []):
        schema = param["schema"]
        if param["in"] == "path":
            value = data.draw(string_for(param["name"], schema, known))
            if not value or ("pattern" in schema and not re.search(schema["pattern"], value)):
                value = known[param["name"]][0]  # the route itself needs the pattern: anything else is a plain 404
            url = url.replace("{" + param["name"] + "}", encode(value))
        elif param["required"] or data.draw(st.booleans()):
            count = data.draw(st.integers(1, 3)) if schema.get("type") == "array" else 1
            item = schema.get("items", schema)
            for _ in range(count):
                query.append(f"{param['name']}={encode(data.draw(string_for(param['name'], item, known)))}")
    body = None
    if "requestBody" in operation:
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        body = data.draw(body_for(schema, known))
    full = running.url + "lifecycle/api" + url + ("?" + "&".join(query) if query else "")
    response = SESSION.request(method.upper(), full, data=body, headers=auth(running), timeout=60)
    tally = f"{operation['operationId']} {response.status_code}"
    TRIED[tally] = TRIED.get(tally, 0) + 1
    assert response.status_code < 500, f"{method.upper()} {full} {body!r:.300}: {response.text[:2000]}"
    listed = operation["responses"]
    assert str(response.status_code) in listed, f"{method.upper()} {full}: {response.status_code} {response.text[:500]}"
    answer = response.json()
    schema = listed[str(response.status_code)]["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    Draft202012Validator(schema).validate(answer)
