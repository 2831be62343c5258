"""The scoring server over real HTTP: every MLflow payload form, errors, limits, workers, shutdown."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


def _iris() -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.linear_model import LogisticRegression

    from jupyter_lifecycle import sklearn as lc_sklearn

    X, y = _iris()
    path = tmp_path_factory.mktemp("serving") / "iris"
    lc_sklearn.save_model(LogisticRegression(max_iter=500).fit(X, y), path, input_example=X.head(3))
    return path


def start_server(model: Path | str, *extra: str, home: Path) -> tuple[subprocess.Popen[str], str]:
    """``jupyter-lifecycle serve`` on a free port; returns the process and its base URL."""
    env = {**os.environ, "JUPYTER_LIFECYCLE_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_lifecycle.cli", "serve", str(model), "--port", "0", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+", line)
    if not match:
        proc.kill()
        raise AssertionError(f"server did not start: {line}{proc.stdout.read()}")
    # Keep reading what it logs: a full pipe (a traceback per failed prediction) would block the server.
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return proc, match.group(0)


def stop_server(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.fixture(scope="module")
def server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, url = start_server(model_dir, "--max-request-size", "200000", home=tmp_path_factory.mktemp("home"))
    yield url
    assert stop_server(proc) == 0


def expected(rows: pd.DataFrame, model_dir: Path) -> list[int]:
    import jupyter_lifecycle.pyfunc as pyfunc

    return pyfunc.load_model(str(model_dir)).predict(rows).tolist()


def post(url: str, body: object, content_type: str = "application/json") -> requests.Response:
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return requests.post(f"{url}/invocations", data=data, headers={"Content-Type": content_type}, timeout=30)


def test_every_payload_form_gives_the_same_predictions(server: str, model_dir: Path) -> None:
    X, _ = _iris()
    rows = X.iloc[[0, 60, 120]]
    want = expected(rows, model_dir)
    assert len(set(want)) == 3  # one of each class, so a wrong row order would show
    split = {"columns": COLUMNS, "data": rows.to_numpy().tolist()}
    payloads = {
        "dataframe_split": {"dataframe_split": split},
        "dataframe_split with index": {"dataframe_split": {**split, "index": [5, 6, 7]}},
        "dataframe_records": {"dataframe_records": rows.to_dict(orient="records")},
        "instances rows": {"instances": rows.to_numpy().tolist()},
        "instances records": {"instances": rows.to_dict(orient="records")},
        "inputs columns": {"inputs": rows.to_dict(orient="list")},
        "inputs rows": {"inputs": rows.to_numpy().tolist()},
        "input_data split": {"input_data": split},
        "input_data wrapping a payload": {"input_data": {"dataframe_records": rows.to_dict(orient="records")}},
        "input_data rows": {"input_data": rows.to_numpy().tolist()},
        "params": {"dataframe_split": split, "params": {}},
        "columns in another order": {"dataframe_records": rows[COLUMNS[::-1]].to_dict(orient="records")},
        "integers for doubles": {"dataframe_split": {"columns": COLUMNS, "data": [[6, 3, 5, 2]]}},
    }
    for name, payload in payloads.items():
        response = post(server, payload)
        assert response.status_code == 200, (name, response.text)
        assert response.headers["Content-Type"] == "application/json"
        got = response.json()["predictions"]
        assert got == (want if "integers" not in name else expected(pd.DataFrame([[6, 3, 5, 2]], columns=COLUMNS), model_dir)), name
    csv = post(server, rows.to_csv(index=False), "text/csv")
    assert csv.status_code == 200 and csv.json() == {"predictions": want}
    assert post(server, rows.to_csv(index=False), "text/csv; charset=utf-8").json() == {"predictions": want}
    buffer = io.BytesIO()
    rows.to_parquet(buffer)
    parquet = post(server, buffer.getvalue(), "application/vnd.apache.parquet")
    assert parquet.status_code == 200 and parquet.json() == {"predictions": want}


def test_a_large_batch(server: str, model_dir: Path) -> None:
    X, _ = _iris()
    big = pd.concat([X] * 7, ignore_index=True)  # 1050 rows
    response = post(server, {"dataframe_split": {"columns": COLUMNS, "data": big.to_numpy().tolist()}})
    assert response.status_code == 200
    assert response.json()["predictions"] == expected(big, model_dir)


def error(response: requests.Response, status: int, code: str, *words: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error_code", "message"} and body["error_code"] == code, body
    for word in words:
        assert word in body["message"], (word, body["message"])
    return str(body["message"])


def test_errors_are_json_with_mlflow_codes(server: str) -> None:
    row = [5.1, 3.5, 1.4, 0.2]
    error(post(server, "{not json"), 400, "BAD_REQUEST", "not valid JSON")
    error(post(server, b"\xff\xfe"), 400, "BAD_REQUEST", "not valid JSON")
    error(post(server, [1, 2]), 400, "BAD_REQUEST", "exactly one of", "list")
    error(post(server, {"columns": COLUMNS, "data": [row]}), 400, "BAD_REQUEST", "exactly one of", "columns")
    both = {"dataframe_split": {"columns": COLUMNS, "data": [row]}, "instances": [row]}
    error(post(server, both), 400, "BAD_REQUEST", "exactly one of")
    error(post(server, {"dataframe_split": [row]}), 400, "BAD_REQUEST", "dataframe_split")
    error(post(server, {"dataframe_split": {"columns": COLUMNS, "rows": [row]}}), 400, "BAD_REQUEST", "'data'")
    error(post(server, {"dataframe_records": {"a": 1}}), 400, "BAD_REQUEST", "list of records")
    error(post(server, {"dataframe_split": {"columns": COLUMNS, "data": [row]}, "params": [1]}), 400, "BAD_REQUEST", "params")
    error(post(server, {"instances": [[1.0, 2.0]]}), 400, "BAD_REQUEST", "4 columns")
    error(post(server, "a,b\n1,2\n", "text/csv"), 400, "BAD_REQUEST", "petal")
    # NaN is not JSON but MLflow's parser takes it; here the model itself refuses it, with a 400 naming the error.
    nan = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [[0.0, 3.5, 1.4, 0.2]]}}).replace("0.0,", "NaN,", 1)
    error(post(server, nan), 400, "BAD_REQUEST", "the model raised ValueError", "NaN")
    error(post(server, b"not parquet", "application/vnd.apache.parquet"), 400, "BAD_REQUEST", "Parquet")


def test_signature_enforcement_names_the_column(server: str) -> None:
    missing = {"dataframe_split": {"columns": COLUMNS[:3], "data": [[5.1, 3.5, 1.4]]}}
    error(post(server, missing), 400, "BAD_REQUEST", "petal width (cm)", "missing")
    wrong = {"dataframe_records": [{**dict.fromkeys(COLUMNS, 1.0), "sepal width (cm)": "wide"}]}
    error(post(server, wrong), 400, "BAD_REQUEST", "sepal width (cm)", "double")


def test_content_types(server: str) -> None:
    body = json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]})
    assert post(server, body, "application/json; charset=UTF-8").status_code == 200
    error(post(server, body, "text/plain"), 415, "BAD_REQUEST", "text/plain", "application/json")
    error(post(server, body, "application/json; charset=latin-1"), 415, "BAD_REQUEST", "UTF-8")
    error(post(server, body, "application/json; format=pandas-split"), 415, "BAD_REQUEST", "format")
    response = requests.post(f"{server}/invocations", data=body.encode(), timeout=10)  # no Content-Type at all
    error(response, 415, "BAD_REQUEST", "Content-Type")


def test_oversized_body_is_refused_with_413(server: str) -> None:
    row = [5.1, 3.5, 1.4, 0.2]
    big = json.dumps({"instances": [row] * 20000})  # ~440 kB > the 200 kB limit of this server
    error(post(server, big), 413, "BAD_REQUEST", "too large", "200000")
    chunked = requests.post(f"{server}/invocations", data=iter([big.encode()[i:i + 65536] for i in range(0, len(big), 65536)]),
                            headers={"Content-Type": "application/json"}, timeout=30)  # fmt: skip
    error(chunked, 413, "BAD_REQUEST", "too large")
    assert post(server, {"instances": [row]}).status_code == 200  # the server is fine afterwards
    # A declared length far over the limit is answered at once, without reading the body.
    import socket

    host, port = server.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000000000\r\nExpect: 100-continue\r\n\r\n")  # fmt: skip
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ") and b"Connection: close" in head
    assert json.loads(body)["error_code"] == "BAD_REQUEST" and "1000000000 bytes" in json.loads(body)["message"]
    assert post(server, {"instances": [row]}).status_code == 200


def _raw(server: str, request: bytes) -> tuple[bytes, bytes]:
    """Send raw bytes to the server; the head and body of its answer (read until it closes)."""
    import socket

    host, port = server.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    return head, body


def test_a_huge_body_gets_413_not_a_reset(server: str) -> None:
    # Issue #12, defect 5: 50 MiB (here 260 times the limit) was answered by closing the connection, which
    # reset it under the client before it read anything. Declared or chunked, it is now a JSON 413.
    huge = b"x" * (50 << 20)
    error(post(server, huge), 413, "BAD_REQUEST", "too large", f"({len(huge)} bytes)", "200000")
    chunked = requests.post(f"{server}/invocations", data=iter([huge[i:i + (1 << 20)] for i in range(0, len(huge), 1 << 20)]),
                            headers={"Content-Type": "application/json"}, timeout=60)  # fmt: skip
    error(chunked, 413, "BAD_REQUEST", "too large", "200000")
    assert post(server, {"instances": [[5.1, 3.5, 1.4, 0.2]]}).status_code == 200


def test_unparseable_http_gets_a_json_400(server: str) -> None:
    # Issue #12, defect 5: tornado's own answer to these was a bare 400 with no message.
    body = json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]})
    message = error(post(server, body, "application/json; charset=\x01;;;"), 400, "BAD_REQUEST", "malformed HTTP request")
    assert "charset=\\x01;;;" in message and "control characters" in message
    for request in (
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\nContent-Length: 2\r\n\r\n{}",
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        b"NOT A REQUEST LINE\r\n\r\n",
    ):
        head, answer = _raw(server, request)
        assert head.startswith(b"HTTP/1.1 400 ") and b"Content-Type: application/json" in head, (request, head)
        decoded = json.loads(answer)
        assert decoded["error_code"] == "BAD_REQUEST" and decoded["message"].startswith("malformed HTTP request: ")
        assert len(decoded["message"]) > len("malformed HTTP request: ") + 10, decoded


def test_column_names_must_be_strings(server: str) -> None:
    row = [5.1, 3.5, 1.4]
    for columns, item, kind in (([1, {"x": 1}, None], 1, "object"), (["a", "b", None], 2, "null"),
                                ([["a"], "b", "c"], 0, "array"), ([True, "b", "c"], 0, "boolean"),
                                ([1.5, "b", "c"], 0, "number")):  # fmt: skip
        error(post(server, {"dataframe_split": {"columns": columns, "data": [row]}}), 400, "BAD_REQUEST",
              f"'dataframe_split.columns' item {item} is a JSON {kind}")  # fmt: skip
    error(post(server, {"dataframe_split": {"columns": "abc", "data": [row]}}), 400, "BAD_REQUEST", "must be a list")
    error(post(server, {"dataframe_split": {"columns": COLUMNS, "data": [row], "index": [{}]}}), 400, "BAD_REQUEST",
          "'dataframe_split.index' item 0")  # fmt: skip
    error(post(server, {"dataframe_split": {"columns": COLUMNS, "data": "rows"}}), 400, "BAD_REQUEST", "list of rows")


def test_deeply_nested_json_is_a_400(server: str) -> None:
    deep = "[" * 99_000 + "]" * 99_000  # as deep as the 200 kB limit of this server allows
    for before, after in (("", ""), ('{"instances": ', "}"), ('{"dataframe_records": [{"a": ', "}]}"),
                          ('{"instances": [[1, 2, 3, 4]], "params": {"p": ', "}}")):  # fmt: skip
        body = before + deep + after
        error(post(server, body), 400, "BAD_REQUEST", "nested too deeply")
    assert post(server, {"instances": [[5.1, 3.5, 1.4, 0.2]]}).status_code == 200


def test_empty_and_all_null_input_say_so(server: str) -> None:
    for body in ({"dataframe_split": {"columns": COLUMNS, "data": []}}, {"dataframe_records": []}, {"instances": []},
                 {"inputs": []}, {"inputs": {c: [] for c in COLUMNS}}, {"input_data": []}):  # fmt: skip
        error(post(server, body), 400, "BAD_REQUEST", "the input is empty", "has no rows")
    error(post(server, ",".join(COLUMNS) + "\n", "text/csv"), 400, "BAD_REQUEST", "the input is empty", "CSV")
    for body in ({"dataframe_split": {"columns": COLUMNS, "data": [[None] * 4, [None] * 4]}},
                 {"dataframe_records": [dict.fromkeys(COLUMNS)]}):  # fmt: skip
        message = error(post(server, body), 400, "BAD_REQUEST", "null in every row")
        assert "received object" not in message
    one_null = {"dataframe_split": {"columns": COLUMNS, "data": [[5.1, None, 1.4, 0.2], [5.0, None, 1.3, 0.2]]}}
    error(post(server, one_null), 400, "BAD_REQUEST", "column 'sepal width (cm)'", "null in every row")


def test_health_version_metadata_openapi(server: str, model_dir: Path) -> None:
    import jupyter_lifecycle as lc

    for route in ("/ping", "/health"):
        assert requests.get(server + route, timeout=10).status_code == 200
    assert requests.get(server + "/version", timeout=10).text == lc.__version__
    meta = requests.get(server + "/metadata", timeout=10).json()
    assert meta["model_uri"] == str(model_dir)
    assert meta["version"] == lc.__version__
    assert [c["name"] for c in meta["signature"]["inputs"]] == COLUMNS
    assert meta["model_uuid"] and "sklearn" in meta["flavors"]
    doc = requests.get(server + "/openapi.json", timeout=10).json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {"/invocations", "/ping", "/health", "/version", "/metadata", "/openapi.json"}
    records = doc["components"]["schemas"]["Request"]["oneOf"][1]["properties"]["dataframe_records"]
    assert records["items"]["required"] == COLUMNS
    error(requests.get(server + "/nope", timeout=10), 404, "ENDPOINT_NOT_FOUND", "/invocations")
    error(requests.get(server + "/invocations", timeout=10), 405, "BAD_REQUEST", "POST")
    error(requests.post(server + "/ping", timeout=10), 405, "BAD_REQUEST", "GET")


def test_openapi_document_is_valid(server: str) -> None:
    from jsonschema import Draft202012Validator

    doc = requests.get(server + "/openapi.json", timeout=10).json()
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    split = {"dataframe_split": {"columns": COLUMNS, "data": [[5.1, 3.5, 1.4, 0.2]]}}
    request_schema = {**doc["components"]["schemas"]["Request"], "components": doc["components"]}
    assert Draft202012Validator(request_schema).is_valid(split)


def test_workers_share_the_port_and_shut_down_gracefully(model_dir: Path, tmp_path: Path) -> None:
    proc, url = start_server(model_dir, "--workers", "2", home=tmp_path)
    try:
        pids = set()
        deadline = time.time() + 20
        while time.time() < deadline and len(pids) < 2:
            response = requests.post(f"{url}/invocations", json={"instances": [[5.1, 3.5, 1.4, 0.2]]}, timeout=10)
            assert response.json() == {"predictions": [0]}
            pids.add(response.headers.get("X-Worker-Pid"))
        assert len(pids) == 2, pids  # new connections land on both workers
    finally:
        code = stop_server(proc)
    assert code == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/ping", timeout=2)


def test_binds_loopback_and_reports_a_busy_port(model_dir: Path, tmp_path: Path) -> None:
    proc, url = start_server(model_dir, home=tmp_path)
    try:
        assert url.startswith("http://127.0.0.1:")
        port = url.rsplit(":", 1)[1]
        busy = subprocess.run([sys.executable, "-m", "jupyter_lifecycle.cli", "serve", str(model_dir), "--port", port],
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, "JUPYTER_LIFECYCLE_HOME": str(tmp_path)})  # fmt: skip
        assert busy.returncode == 1 and "already in use" in busy.stderr
    finally:
        assert stop_server(proc) == 0


def test_unknown_model_fails_with_a_clear_message(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "jupyter_lifecycle.cli", "serve", str(tmp_path / "nope")],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "JUPYTER_LIFECYCLE_HOME": str(tmp_path)})  # fmt: skip
    assert result.returncode == 1 and "no model at" in result.stderr


SLOW_MODEL = '''
import time

from jupyter_lifecycle.pyfunc import PythonModel


class SlowDoubler(PythonModel):
    def predict(self, context, model_input, params=None):
        time.sleep(float(model_input["delay"].iloc[0]))
        return model_input["x"] * 2
'''


def test_sigterm_lets_the_request_in_progress_finish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_lifecycle import pyfunc

    code = tmp_path / "slow_model.py"
    code.write_text(SLOW_MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    import slow_model

    try:
        pyfunc.save_model(tmp_path / "slow", python_model=slow_model.SlowDoubler(), code_paths=[str(code)],
                          input_example=pd.DataFrame({"x": [1.0], "delay": [0.0]}))  # fmt: skip
    finally:
        sys.modules.pop("slow_model", None)
    proc, url = start_server(tmp_path / "slow", home=tmp_path / "home")
    answers: list[requests.Response] = []
    slow = threading.Thread(target=lambda: answers.append(
        post(url, {"dataframe_records": [{"x": 21.0, "delay": 1.5}]})))  # fmt: skip
    slow.start()
    time.sleep(0.5)  # the request is being predicted now
    code_ = stop_server(proc)
    slow.join(10)
    assert code_ == 0
    assert answers and answers[0].status_code == 200 and answers[0].json() == {"predictions": [{"x": 42.0}]}
