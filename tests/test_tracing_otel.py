"""OpenTelemetry in and out (issue #15 part 3): SDK spans captured into the store; traces exported as OTLP/HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle.errors import InvalidInput, LifecycleError
from jupyter_lifecycle.tracing import SpanStatusCode, Trace

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (  # noqa: E402
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.trace import Status, StatusCode  # noqa: E402


def _by_name(trace: Trace) -> dict[str, Any]:
    return {span.name: span for span in trace.data.spans}


def test_otel_spans_are_captured_as_traces_and_inside_ours(home: Path) -> None:
    provider = TracerProvider()
    processor = lc.tracing.capture_otel(provider)
    tracer = provider.get_tracer("some.library")

    # An OTel trace of its own becomes a trace here, with its ids, parents, attributes, events, status
    with tracer.start_as_current_span("request", attributes={"http.method": "GET", "mlflow.spanType": "CHAIN"}) as root:
        with tracer.start_as_current_span("db.query", attributes={"db.rows": 3, "tags": ("a", "b")}) as child:
            child.add_event("retry", {"attempt": 2})
            child.set_status(Status(StatusCode.ERROR, "timeout"))
    otel_trace_id = f"tr-{root.get_span_context().trace_id:032x}"
    trace = lc.get_trace(otel_trace_id)
    spans = _by_name(trace)
    assert spans["request"].parent_id is None and spans["db.query"].parent_id == spans["request"].span_id
    assert spans["request"].span_id == f"{root.get_span_context().span_id:016x}"
    assert spans["request"].span_type == "CHAIN" and spans["db.query"].span_type == "UNKNOWN"
    assert spans["db.query"].get_attribute("db.rows") == 3 and spans["db.query"].get_attribute("tags") == ["a", "b"]
    assert spans["db.query"].status.status_code is SpanStatusCode.ERROR and spans["db.query"].status.description == "timeout"
    assert spans["db.query"].events[0].name == "retry" and spans["db.query"].events[0].attributes == {"attempt": 2}
    assert spans["request"].status.status_code is SpanStatusCode.OK and trace.info.tags["mlflow.traceName"] == "request"

    # Called from traced code: the OTel spans join our trace under the current span
    @lc.trace(span_type="AGENT")
    def agent() -> str:
        with tracer.start_as_current_span("library.call") as call:
            with tracer.start_as_current_span("library.inner"):
                pass
            call.set_attribute("answer", 42)
        return "done"

    agent()
    trace = lc.get_trace(str(lc.get_last_active_trace_id()))
    spans = _by_name(trace)
    assert set(spans) == {"agent", "library.call", "library.inner"}
    assert spans["library.call"].parent_id == spans["agent"].span_id
    assert spans["library.inner"].parent_id == spans["library.call"].span_id
    assert spans["library.call"].get_attribute("answer") == 42 and spans["library.call"].trace_id == trace.info.trace_id

    assert lc.tracing.capture_otel(provider) is processor  # a re-run cell adds no second processor
    processor.shutdown()
    with tracer.start_as_current_span("after shutdown") as ignored:
        pass
    assert lc.search_traces(filter_string="name = 'after shutdown'", return_type="list") == []
    assert ignored.end_time is not None
    with pytest.raises(InvalidInput, match="TracerProvider"):
        lc.tracing.capture_otel(object())  # type: ignore[arg-type]


class Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP collector: decodes each protobuf request, keeps it, answers as a collector does."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path != "/v1/traces":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.server.received.append((self.headers["Content-Type"], request))  # type: ignore[attr-defined]
        data = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def collector() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    httpd.received = []  # type: ignore[attr-defined]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_export_otlp_sends_protobuf_spans(home: Path, collector: ThreadingHTTPServer) -> None:
    @lc.trace(span_type="RETRIEVER")
    def retrieve(q: str) -> list[str]:
        return [q + "-doc"]

    @lc.trace(span_type="AGENT")
    def answer(q: str) -> str:
        return retrieve(q)[0]

    answer("why")
    first = lc.get_trace(str(lc.get_last_active_trace_id()))
    with lc.start_span("other") as span:
        span.set_attribute("env", "dev")
    url = f"http://127.0.0.1:{collector.server_address[1]}/v1/traces"

    assert lc.tracing.export_otlp(url, trace_ids=[first.info.trace_id]) == 2
    content_type, request = collector.received[-1]  # type: ignore[attr-defined]
    assert content_type == "application/x-protobuf"
    (resource_spans,) = request.resource_spans
    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert resource["service.name"] == "jupyter-lifecycle"
    spans = {s.name: s for scope in resource_spans.scope_spans for s in scope.spans}
    assert set(spans) == {"answer", "retrieve"}
    ours = _by_name(first)
    assert spans["answer"].trace_id.hex() == first.info.trace_id.removeprefix("tr-")
    assert spans["answer"].span_id.hex() == ours["answer"].span_id and spans["answer"].parent_span_id == b""
    assert spans["retrieve"].parent_span_id.hex() == ours["answer"].span_id
    attributes = {a.key: a.value.string_value for a in spans["retrieve"].attributes}
    assert json.loads(attributes["mlflow.spanType"]) == "RETRIEVER"
    assert json.loads(attributes["mlflow.spanInputs"]) == {"q": "why"}
    assert json.loads(attributes["mlflow.spanOutputs"]) == ["why-doc"]
    assert spans["answer"].start_time_unix_nano == ours["answer"].start_time_ns
    assert spans["answer"].end_time_unix_nano == ours["answer"].end_time_ns
    assert spans["answer"].status.code == 1  # STATUS_CODE_OK

    # By filter: only the matching trace
    assert lc.tracing.export_otlp(url, filter_string="name = 'other'") == 1
    _, request = collector.received[-1]  # type: ignore[attr-defined]
    assert [s.name for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans] == ["other"]
    assert lc.tracing.export_otlp(url, filter_string="name = 'nothing'") == 0

    with pytest.raises(LifecycleError, match="did not take the 2 spans"):
        lc.tracing.export_otlp(url.replace("/v1/traces", "/wrong"), trace_ids=[first.info.trace_id], timeout=2)
    with pytest.raises(InvalidInput, match="http"):
        lc.tracing.export_otlp("localhost:4318")
    with pytest.raises(InvalidInput, match="not both"):
        lc.tracing.export_otlp(url, trace_ids=[first.info.trace_id], filter_string="name = 'x'")
