"""OpenAI autolog (issue #15 part 4): the real ``openai`` client against a local server speaking its wire format."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle.errors import InvalidInput
from jupyter_lifecycle.tracing import SpanStatusCode, Trace

openai = pytest.importorskip("openai")


class ChatCompletions(BaseHTTPRequestHandler):
    """``POST /v1/chat/completions``: answers "echo: <last message>" as OpenAI does, streamed or not."""

    def log_message(self, *args: Any) -> None:  # keep pytest's output clean
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)  # type: ignore[attr-defined]
        if self.path != "/v1/chat/completions":
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
            return
        if body["model"] == "overloaded":
            self._json(400, {"error": {"message": "model overloaded", "type": "invalid_request_error"}})
            return
        text = "echo: " + body["messages"][-1]["content"]
        usage = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
        if not body.get("stream"):
            self._json(200, {
                "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": body["model"] + "-0613",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": usage,
            })  # fmt: skip
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        pieces = [
            {"role": "assistant", "content": ""},
            {"content": "echo: "},
            {"content": body["messages"][-1]["content"]},
        ]
        for i, delta in enumerate(pieces):
            chunk = {"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1700000000,
                     "model": body["model"], "choices": [{"index": 0, "delta": delta,
                                                          "finish_reason": "stop" if i == len(pieces) - 1 else None}]}  # fmt: skip
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        if (body.get("stream_options") or {}).get("include_usage"):
            last = {"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1700000000,
                    "model": body["model"], "choices": [], "usage": usage}  # fmt: skip
            self.wfile.write(f"data: {json.dumps(last)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), ChatCompletions)
    httpd.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def autolog() -> Iterator[None]:
    lc.openai.autolog()
    yield
    lc.openai.autolog(disable=True)


def _url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/v1"


def _last() -> Trace:
    trace_id = lc.get_last_active_trace_id()
    assert trace_id is not None
    return lc.get_trace(trace_id)


def test_a_chat_completion_is_a_chat_model_span(home: Path, server: ThreadingHTTPServer, autolog: None) -> None:
    client = openai.OpenAI(base_url=_url(server), api_key="test", max_retries=0)
    messages = [{"role": "user", "content": "hello"}]
    response = client.chat.completions.create(model="gpt-test", messages=messages, temperature=0.2)
    assert response.choices[0].message.content == "echo: hello"  # the caller gets the real response
    trace = _last()
    (span,) = trace.data.spans
    assert span.name == "Completions" and span.span_type == "CHAT_MODEL" and span.parent_id is None
    assert span.inputs == {"model": "gpt-test", "messages": messages, "temperature": 0.2}
    assert span.get_attribute("temperature") == 0.2 and span.get_attribute("model") == "gpt-test"
    assert span.get_attribute("mlflow.message.format") == "openai"
    assert span.get_attribute("mlflow.llm.model") == "gpt-test-0613"
    assert span.get_attribute("mlflow.chat.tokenUsage") == {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}
    assert span.outputs["choices"][0]["message"]["content"] == "echo: hello"
    assert json.loads(trace.info.trace_metadata["mlflow.trace.tokenUsage"]) == {
        "input_tokens": 7, "output_tokens": 3, "total_tokens": 10
    }  # fmt: skip

    # Inside a traced function: a child span; two calls add up their tokens on the trace
    @lc.trace(span_type="AGENT")
    def agent(question: str) -> str:
        first = client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": question}])
        second = client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "again"}])
        return str(first.choices[0].message.content) + " / " + str(second.choices[0].message.content)

    with lc.start_run() as run:
        assert agent("why?") == "echo: why? / echo: again"
    trace = _last()
    root = next(s for s in trace.data.spans if s.name == "agent")
    calls = [s for s in trace.data.spans if s.span_type == "CHAT_MODEL"]
    assert len(calls) == 2 and all(s.parent_id == root.span_id for s in calls)
    assert json.loads(trace.info.trace_metadata["mlflow.trace.tokenUsage"])["total_tokens"] == 20
    assert trace.info.trace_metadata["mlflow.sourceRun"] == run.info.run_id

    # An API error is recorded on the span and raised unchanged
    with pytest.raises(openai.BadRequestError, match="model overloaded"):
        client.chat.completions.create(model="overloaded", messages=messages)
    (span,) = _last().data.spans
    assert span.status.status_code is SpanStatusCode.ERROR and span.events[0].name == "exception"
    assert span.events[0].attributes["exception.type"] == "BadRequestError"

    # with_raw_response goes through the same create
    raw = client.chat.completions.with_raw_response.create(model="gpt-test", messages=messages)
    assert raw.parse().choices[0].message.content == "echo: hello"
    assert _last().data.spans[0].outputs["choices"][0]["message"]["content"] == "echo: hello"

    lc.openai.autolog(disable=True)
    before = lc.get_last_active_trace_id()
    client.chat.completions.create(model="gpt-test", messages=messages)
    assert lc.get_last_active_trace_id() == before  # disabled: no trace


def test_streaming_sync_and_async(home: Path, server: ThreadingHTTPServer, autolog: None) -> None:
    client = openai.OpenAI(base_url=_url(server), api_key="test", max_retries=0)
    stream = client.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "stream me"}], stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "echo: stream me"
    (span,) = _last().data.spans
    assert span.outputs["choices"][0]["message"] == {"role": "assistant", "content": "echo: stream me"}
    assert span.outputs["choices"][0]["finish_reason"] == "stop"
    assert span.get_attribute("mlflow.chat.tokenUsage")["total_tokens"] == 10
    assert span.get_attribute("stream") is True

    async def main() -> tuple[str, str]:
        aclient = openai.AsyncOpenAI(base_url=_url(server), api_key="test", max_retries=0)
        response = await aclient.chat.completions.create(model="gpt-async", messages=[{"role": "user", "content": "a"}])
        astream = await aclient.chat.completions.create(
            model="gpt-async", messages=[{"role": "user", "content": "b"}], stream=True
        )
        streamed = "".join([chunk.choices[0].delta.content or "" async for chunk in astream])
        await aclient.close()
        return str(response.choices[0].message.content), streamed

    with ThreadPoolExecutor(max_workers=1) as pool:  # a fresh loop, as in the tracing tests
        assert pool.submit(asyncio.run, main()).result() == ("echo: a", "echo: b")
    chat = [t.data.spans[0] for t in lc.search_traces(return_type="list", max_results=2)]  # type: ignore[union-attr]
    assert [s.name for s in chat] == ["AsyncCompletions", "AsyncCompletions"]
    by_answer = {s.outputs["choices"][0]["message"]["content"]: s for s in chat}
    assert set(by_answer) == {"echo: a", "echo: b"}
    assert by_answer["echo: a"].get_attribute("mlflow.chat.tokenUsage")["input_tokens"] == 7
    assert by_answer["echo: b"].status.status_code is SpanStatusCode.OK


def test_options_are_checked(home: Path) -> None:
    lc.openai.autolog(exclusive=False, disable_for_unsupported_versions=True, silent=True)
    assert lc.openai.is_enabled()
    lc.openai.autolog(log_traces=False)  # MLflow: no traces, i.e. nothing recorded
    assert not lc.openai.is_enabled()
    with pytest.raises(InvalidInput, match="exclusive=True"):
        lc.openai.autolog(exclusive=True)
    with pytest.raises(InvalidInput, match="no option 'log_models'"):
        lc.openai.autolog(log_models=True)
    with pytest.raises(InvalidInput, match="Agents SDK"):
        lc.openai.autolog(disable_openai_agent_tracer=False)
    from openai.resources.chat.completions import Completions

    original = Completions.create
    lc.openai.autolog()
    lc.openai.autolog()  # twice: still one layer of patching
    assert Completions.create.__wrapped__ is original  # type: ignore[attr-defined]
    lc.openai.autolog(disable=True)
    assert Completions.create is original
