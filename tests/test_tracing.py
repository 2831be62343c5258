"""GenAI tracing (issue #15 parts 1-2): spans, nesting, context, storage and search on a real store."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle.errors import InvalidInput, InvalidState, NotFound
from jupyter_lifecycle.store.trace_writer import MAX_BATCH, MAX_QUEUED
from jupyter_lifecycle.tracing import SpanEvent, SpanStatusCode, Trace, TraceState
from jupyter_lifecycle.tracing.fluent import MAX_PREVIEW


def _last() -> Trace:
    trace_id = lc.get_last_active_trace_id()
    assert trace_id is not None
    return lc.get_trace(trace_id)


def _by_name(trace: Trace) -> dict[str, Any]:
    return {span.name: span for span in trace.data.spans}


def test_nested_functions_and_spans(home: Path) -> None:
    @lc.trace(name="retrieve", span_type="RETRIEVER", attributes={"k": 3})
    def retrieve(q: str) -> list[str]:
        return [q + "-doc"]

    @lc.trace
    def answer(question: str, style: str = "short") -> str:
        docs = retrieve(question)
        with lc.start_span("llm", span_type="LLM") as span:
            span.set_inputs({"docs": docs})
            span.set_outputs("42")
            span.add_event(SpanEvent("token", attributes={"n": 1}))
        return "42"

    assert answer("why?") == "42"
    trace = _last()
    spans = _by_name(trace)
    root = spans["answer"]
    assert root.parent_id is None and root.inputs == {"question": "why?", "style": "short"} and root.outputs == "42"
    assert spans["retrieve"].parent_id == root.span_id and spans["llm"].parent_id == root.span_id
    assert spans["retrieve"].span_type == "RETRIEVER" and spans["retrieve"].get_attribute("k") == 3
    assert spans["retrieve"].outputs == ["why?-doc"]
    assert spans["llm"].events[0].name == "token" and spans["llm"].events[0].attributes == {"n": 1}
    assert all(s.status.status_code is SpanStatusCode.OK for s in trace.data.spans)
    assert trace.info.state is TraceState.OK
    assert trace.info.tags["mlflow.traceName"] == "answer"
    assert trace.info.request_preview == '{"question": "why?", "style": "short"}'
    assert trace.info.response_preview == '"42"'
    assert all(s.end_time_ns >= s.start_time_ns for s in trace.data.spans)
    for span in trace.data.spans:  # the writer's hand-built JSON is json.dumps of to_dict()
        assert json.loads(span.to_json()) == span.to_dict()
    assert lc.get_current_active_span() is None


def test_methods_generators_and_async(home: Path) -> None:
    class Agent:
        @lc.trace(span_type="AGENT")
        def run(self, x: int) -> int:
            return sum(self.stream(x))

        @lc.trace
        def stream(self, n: int) -> Any:
            for i in range(n):
                with lc.start_span(f"step{i}"):
                    pass
                yield i

    assert Agent().run(3) == 3
    spans = _by_name(_last())
    assert spans["run"].inputs == {"x": 3}  # self is left out
    assert spans["stream"].parent_id == spans["run"].span_id and spans["stream"].outputs == [0, 1, 2]
    assert all(spans[f"step{i}"].parent_id == spans["stream"].span_id for i in range(3))

    @lc.trace
    async def leaf(i: int) -> int:
        await asyncio.sleep(0.01)
        return i

    @lc.trace
    async def fan_out() -> list[int]:
        return list(await asyncio.gather(leaf(1), leaf(2)))

    # A fresh thread: an earlier in-process notebook run (nbclient, nest_asyncio) can leave this one's loop "running".
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(asyncio.run, fan_out()).result() == [1, 2]
    spans = {s.span_id: s for s in _last().data.spans}
    root = next(s for s in spans.values() if s.name == "fan_out")
    leaves = [s for s in spans.values() if s.name == "leaf"]
    assert len(leaves) == 2 and all(s.parent_id == root.span_id for s in leaves)
    assert sorted(s.outputs for s in leaves) == [1, 2]


def test_a_generator_span_is_not_current_between_items(home: Path) -> None:
    @lc.trace
    def numbers() -> Any:
        yield 1
        yield 2

    iterator = numbers()
    next(iterator)
    assert lc.get_current_active_span() is None  # the caller's code is not inside the generator's span
    list(iterator)
    assert _last().data.spans[0].outputs == [1, 2]



def test_generator_send_throw_close_reach_the_traced_generator(home: Path) -> None:
    closed: list[str] = []

    @lc.trace
    def echo() -> Any:
        received = yield "ready"
        while True:
            try:
                received = yield f"got {received}"
            except KeyError as exc:
                received = yield f"handled {exc.args[0]}"
            except GeneratorExit:
                closed.append(str(lc.get_current_active_span().name))  # type: ignore[union-attr]
                raise

    gen = echo()
    assert next(gen) == "ready"
    assert gen.send(1) == "got 1"
    assert gen.throw(KeyError("k")) == "handled k"
    assert gen.send(2) == "got 2"
    gen.close()
    assert closed == ["echo"]  # close() ran the generator's own cleanup, inside its span
    span = _last().data.spans[0]
    assert span.outputs == ["ready", "got 1", "handled k", "got 2"] and span.status.status_code is SpanStatusCode.OK

    @lc.trace
    def sub() -> Any:
        yield 1
        return "done"

    def outer() -> Any:
        result = yield from sub()  # the return value comes through
        yield result

    assert list(outer()) == [1, "done"]

    gen = echo()
    next(gen)
    with pytest.raises(ValueError, match="not handled"):
        gen.throw(ValueError("not handled"))
    span = _last().data.spans[0]
    assert span.status.status_code is SpanStatusCode.ERROR and span.events[0].name == "exception"


def test_async_generator_asend_athrow_aclose_reach_the_traced_generator(home: Path) -> None:
    closed: list[str] = []

    @lc.trace
    async def echo() -> Any:
        received = yield "ready"
        while True:
            try:
                await asyncio.sleep(0)
                received = yield f"got {received}"
            except KeyError as exc:
                received = yield f"handled {exc.args[0]}"
            except GeneratorExit:
                await asyncio.sleep(0)
                closed.append(str(lc.get_current_active_span().name))  # type: ignore[union-attr]
                raise

    async def drive() -> list[Any]:
        gen = echo()
        seen = [await gen.__anext__()]
        assert lc.get_current_active_span() is None  # not current in the caller between items
        seen.append(await gen.asend(1))
        seen.append(await gen.athrow(KeyError("k")))
        seen.append(await gen.asend(2))
        await gen.aclose()
        return seen

    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(asyncio.run, drive()).result() == ["ready", "got 1", "handled k", "got 2"]
    assert closed == ["echo"]
    span = _last().data.spans[0]
    assert span.outputs == ["ready", "got 1", "handled k", "got 2"] and span.status.status_code is SpanStatusCode.OK


def test_a_span_ended_after_its_root_is_still_written(home: Path) -> None:
    @lc.trace
    def numbers() -> Any:
        yield 1
        yield 2

    with lc.start_span("root") as root:
        late = lc.start_span_no_context("late", parent_span=root)
        left_open = numbers()
        next(left_open)
    lc.flush_trace_async_logging()
    spans = _by_name(lc.get_trace(root.trace_id))
    assert spans["late"].end_time_ns is None and spans["numbers"].end_time_ns is None  # written while open
    late.set_outputs("after the root")
    late.end()
    left_open.close()
    spans = _by_name(lc.get_trace(root.trace_id))
    assert spans["late"].outputs == "after the root" and spans["late"].status.status_code is SpanStatusCode.OK
    assert spans["late"].end_time_ns is not None and spans["late"].parent_id == root.span_id
    assert spans["numbers"].outputs == [1] and spans["numbers"].end_time_ns is not None
    assert lc.get_trace(root.trace_id).info.state is TraceState.OK

def test_exception_is_recorded_and_reraised_unchanged(home: Path) -> None:
    error = ValueError("bad input 7")

    @lc.trace
    def inner() -> None:
        raise error

    @lc.trace
    def outer() -> None:
        inner()

    with pytest.raises(ValueError) as caught:
        outer()
    assert caught.value is error
    trace = _last()
    assert trace.info.state is TraceState.ERROR
    for span in trace.data.spans:
        assert span.status.status_code is SpanStatusCode.ERROR
        event = span.events[0]
        assert event.name == "exception" and event.attributes["exception.type"] == "ValueError"
        assert event.attributes["exception.message"] == "bad input 7"
        assert "raise error" in event.attributes["exception.stacktrace"]
    with pytest.raises(KeyError):
        with lc.start_span("block"):
            raise KeyError("k")
    assert _last().data.spans[0].status.status_code is SpanStatusCode.ERROR


def test_a_span_in_another_thread_is_not_a_child(home: Path) -> None:
    seen: dict[str, Any] = {}

    def worker() -> None:
        seen["current"] = lc.get_current_active_span()
        with lc.start_span("in_thread") as span:
            seen["span"] = span

    with lc.start_span("main") as main:
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
    assert seen["current"] is None
    assert seen["span"].parent_id is None and seen["span"].trace_id != main.trace_id
    lc.flush_trace_async_logging()
    assert [s.name for s in lc.get_trace(seen["span"].trace_id).data.spans] == ["in_thread"]


def test_start_span_no_context_and_update_current_trace(home: Path) -> None:
    root = lc.start_span_no_context("callback_root", span_type="CHAIN", inputs={"a": 1})
    assert lc.get_current_active_span() is None
    child = lc.start_span_no_context("callback_child", parent_span=root)
    child.end(outputs={"b": 2})
    root.end(outputs="done", attributes={"extra": True})
    trace = lc.get_trace(root.trace_id)
    spans = _by_name(trace)
    assert spans["callback_child"].parent_id == root.span_id and spans["callback_child"].outputs == {"b": 2}
    assert spans["callback_root"].get_attribute("extra") is True

    with pytest.raises(InvalidState):
        lc.update_current_trace(tags={"a": "b"})

    @lc.trace
    def f() -> str:
        lc.update_current_trace(
            tags={"env": "dev"}, metadata={"user": "me"}, request_preview="Q?", response_preview="A!"
        )
        return "x"

    f()
    info = _last().info
    assert info.tags["env"] == "dev" and info.trace_metadata["user"] == "me"
    assert (info.request_preview, info.response_preview) == ("Q?", "A!")


def test_large_and_unserialisable_inputs(home: Path) -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<Opaque thing>"

    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    @lc.trace
    def f(big: str, thing: Any, broken: Any, circular: Any) -> Any:
        return Opaque()

    circular: list[Any] = []
    circular.append(circular)
    big = "x" * 50_000
    assert repr(f(big, Opaque(), Broken(), circular)) == "<Opaque thing>"
    trace = _last()
    root = trace.data.spans[0]
    assert root.outputs == "<Opaque thing>"
    assert root.inputs["big"] == big  # whole in the span
    assert root.inputs["thing"] == "<Opaque thing>" and root.inputs["broken"] == "<unrepresentable Broken>"
    assert len(trace.info.request_preview or "") == MAX_PREVIEW
    assert len(trace.info.trace_metadata["mlflow.traceInputs"]) == MAX_PREVIEW


def test_a_value_changed_after_it_was_set_keeps_what_was_recorded(home: Path) -> None:
    # Flat containers are kept as copies and JSON-encoded later by the writer; nested ones are encoded at once.
    # Either way the span holds the value as it was when set, even if the caller changes it afterwards.
    flat = {"q": "what", "k": 3}
    docs = ["a", "b"]
    nested = {"docs": ["x"], "meta": {"n": 1}}

    @lc.trace
    def count(items: list[Any]) -> list[Any]:
        with lc.start_span("rank") as span:
            span.set_inputs(flat)
            span.set_outputs(docs)
            span.set_attribute("nested", nested)
        return items

    items = [1, 2.5, None, True]
    result = count(items)
    items.append("later")
    flat["q"] = "changed"
    docs.append("c")
    nested["docs"].append("y")
    nested["meta"]["n"] = 2
    root, rank = _last().data.spans
    assert root.inputs == {"items": [1, 2.5, None, True]} and root.outputs == [1, 2.5, None, True]
    assert result is items  # the traced function's own value is handed back, not the copy
    assert rank.inputs == {"q": "what", "k": 3} and rank.outputs == ["a", "b"]
    assert rank.get_attribute("nested") == {"docs": ["x"], "meta": {"n": 1}}


def test_trace_inside_a_run_is_linked_to_it(home: Path) -> None:
    traced = lc.trace(lambda x: x)
    with lc.start_run() as run:
        traced(1)
    in_run = lc.get_last_active_trace_id()
    traced(2)
    info = lc.get_trace(in_run).info  # type: ignore[arg-type]
    assert info.trace_metadata["mlflow.sourceRun"] == run.info.run_id
    assert info.experiment_id == run.info.experiment_id
    found = lc.search_traces(run_id=run.info.run_id, return_type="list")
    assert [t.info.trace_id for t in found] == [in_run]  # type: ignore[union-attr]
    assert "mlflow.sourceRun" not in _last().info.trace_metadata


def test_trace_is_linked_to_the_active_model(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    traced = lc.trace(lambda x: x)
    monkeypatch.setenv("MLFLOW_ACTIVE_MODEL_ID", "m-123")
    traced(1)
    linked = lc.get_last_active_trace_id()
    monkeypatch.delenv("MLFLOW_ACTIVE_MODEL_ID")
    traced(2)
    assert lc.get_trace(linked).info.trace_metadata["mlflow.modelId"] == "m-123"  # type: ignore[arg-type]
    assert [t.info.trace_id for t in lc.search_traces(model_id="m-123", return_type="list")] == [linked]  # type: ignore[union-attr]
    assert "mlflow.modelId" not in _last().info.trace_metadata


def test_search_filters_tags_and_delete(home: Path) -> None:
    @lc.trace
    def ok(env: str) -> str:
        lc.update_current_trace(tags={"env": env}, metadata={"team": "a"})
        with lc.start_span("lookup", span_type="TOOL"):
            pass
        return env

    @lc.trace
    def fails() -> None:
        raise RuntimeError("x")

    ok("dev")
    time.sleep(0.002)  # distinct request times, so that the order is the calls' order
    ok("prod")
    time.sleep(0.002)
    with pytest.raises(RuntimeError):
        fails()

    def ids(filter_string: str | None, **kwargs: Any) -> list[str]:
        frame = lc.search_traces(filter_string=filter_string, **kwargs)
        return [name for name in frame["tags"].map(lambda t: t["mlflow.traceName"] + ":" + t.get("env", ""))]  # type: ignore[index]

    assert ids(None) == ["fails:", "ok:prod", "ok:dev"]  # newest first
    assert ids("attributes.status = 'OK' and tags.env = 'dev'") == ["ok:dev"]
    assert ids("trace.status = 'ERROR'") == ["fails:"]
    assert ids("metadata.team = 'a'", order_by=["timestamp_ms ASC"]) == ["ok:dev", "ok:prod"]
    assert ids("span.type = 'TOOL' and tags.env LIKE 'pr%'") == ["ok:prod"]
    assert ids("span.name = 'lookup'", max_results=1) == ["ok:prod"]
    assert ids("execution_time_ms >= 0 and name IN ('fails')") == ["fails:"]
    frame = lc.search_traces()
    assert list(frame.columns) == ["trace_id", "trace", "client_request_id", "state", "request_time",  # type: ignore[union-attr]
                                   "execution_duration", "request", "response", "trace_metadata", "tags", "spans",
                                   "assessments"]  # fmt: skip
    row = frame.iloc[1]  # type: ignore[union-attr]
    assert row["request"] == {"env": "prod"} and row["response"] == "prod" and row["state"] == "OK"
    assert [s["name"] for s in row["spans"]] == ["ok", "lookup"]
    assert Trace.from_json(row["trace"]).to_dict() == lc.get_trace(row["trace_id"]).to_dict()

    with pytest.raises(InvalidInput, match="got .tags.env. at position 25"):
        lc.search_traces(filter_string="attributes.status = 'OK' tags.env = 'x'")
    with pytest.raises(InvalidInput, match="unknown attribute 'colour'"):
        lc.search_traces(filter_string="attributes.colour = 'red'")
    with pytest.raises(InvalidInput, match="span field 'colour'"):
        lc.search_traces(filter_string="span.colour = 'red'")
    # values are bound, never pasted: a quote in a value is just a character
    assert ids("tags.env = 'x'' OR 1=1 --'") == []

    trace_id = str(frame.iloc[0]["trace_id"])  # type: ignore[union-attr]
    def listed_tags() -> dict[str, str]:  # the tags in the trace's JSON of search_traces' "trace" column
        listed = lc.search_traces(filter_string=f"trace_id = '{trace_id}'")["trace"][0]  # type: ignore[index]
        return Trace.from_json(listed).info.tags

    lc.set_trace_tag(trace_id, "reviewed", "yes")
    lc.set_trace_tag(trace_id, 'a."b', "dotted")  # a key that a JSON path must quote
    assert lc.get_trace(trace_id).info.tags["reviewed"] == "yes"
    assert listed_tags() == lc.get_trace(trace_id).info.tags and listed_tags()['a."b'] == "dotted"
    assert ids("tags.reviewed = 'yes'") == ["fails:"]
    lc.delete_trace_tag(trace_id, "reviewed")
    lc.delete_trace_tag(trace_id, 'a."b')
    assert "reviewed" not in lc.get_trace(trace_id).info.tags and ids("tags.reviewed = 'yes'") == []
    assert listed_tags() == lc.get_trace(trace_id).info.tags == {"mlflow.traceName": "fails"}
    with pytest.raises(NotFound):
        lc.delete_trace_tag(trace_id, "reviewed")
    with pytest.raises(NotFound, match="tr-nope"):
        lc.get_trace("tr-nope")

    experiment_id = lc.get_trace(trace_id).info.experiment_id
    with pytest.raises(InvalidInput):
        lc.delete_traces(experiment_id)
    assert lc.delete_traces(experiment_id, trace_ids=[trace_id]) == 1
    assert ids(None) == ["ok:prod", "ok:dev"]
    assert lc.delete_traces(experiment_id, max_traces=1) == 1  # the oldest
    assert ids(None) == ["ok:prod"]
    with sqlite3.connect(home / "lifecycle.db") as conn:
        assert conn.execute("SELECT count(*) FROM spans").fetchone()[0] == 2
        assert conn.execute("SELECT count(*) FROM trace_tags").fetchone()[0] == 2



def test_search_traces_extract_fields_and_lazy_spans(home: Path) -> None:
    for i in range(2):
        with lc.start_span("predict") as span:
            span.set_inputs({"question": f"q{i}", "k": i})
            with lc.start_span("a.b") as inner:
                inner.set_inputs({"x.y": i})
                inner.set_outputs([i, i])
            span.set_outputs({"result": i * 10})
    with lc.start_span("other") as span:
        span.set_inputs("plain text")
    frame = lc.search_traces(
        extract_fields=["predict.inputs", "predict.outputs.result", "`a.b`.inputs.`x.y`", "`a.b`.outputs",
                        "predict.inputs.missing", "other.inputs"],
    )  # fmt: skip
    assert list(frame.columns)[12:] == [  # type: ignore[union-attr]
        "predict.inputs", "predict.outputs.result", "a.b.inputs.x.y", "a.b.outputs", "predict.inputs.missing",
        "other.inputs",
    ]  # fmt: skip
    rows = frame.to_dict("records")  # type: ignore[union-attr]
    assert rows[0]["other.inputs"] == "plain text" and rows[0]["predict.inputs"] is None
    assert rows[1]["predict.inputs"] == {"question": "q1", "k": 1} and rows[1]["predict.outputs.result"] == 10
    assert rows[2]["a.b.inputs.x.y"] == 0 and rows[2]["a.b.outputs"] == [0, 0]
    assert rows[1]["predict.inputs.missing"] is None
    spans = rows[1]["spans"]  # decoded when read; behaves as the list of MLflow's span dicts
    assert spans == lc.get_trace(rows[1]["trace_id"]).to_dict()["data"]["spans"]
    assert len(spans) == 2 and [s["name"] for s in spans] == ["predict", "a.b"] and spans[1]["name"] == "a.b"
    with lc.start_span("big") as span:  # its request preview is cut at MAX_PREVIEW: not JSON, kept as text
        span.set_inputs({"text": "x" * 3000})
    frame = lc.search_traces(max_results=2)
    assert frame.iloc[0]["request"] == '{"text": "' + "x" * (MAX_PREVIEW - 10)  # type: ignore[union-attr]
    assert frame.iloc[1]["request"] == "plain text" and frame.iloc[1]["spans"][0]["name"] == "other"  # type: ignore[union-attr]
    with pytest.raises(InvalidInput, match="'predict.params'"):
        lc.search_traces(extract_fields=["predict.params"])
    with pytest.raises(InvalidInput, match="return_type='pandas'"):
        lc.search_traces(extract_fields=["predict.inputs"], return_type="list")

def test_traces_are_written_at_exit_and_at_the_end_of_a_cell(home: Path, ipython: Any) -> None:
    script = textwrap.dedent(
        """
        import sys, jupyter_lifecycle as lc
        lc.set_store(sys.argv[1])
        @lc.trace
        def f(i):
            with lc.start_span("a"):
                with lc.start_span("b"):
                    return i
        for i in range(500):
            f(i)
        """
    )
    out = subprocess.run([sys.executable, "-c", script, str(home)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    with sqlite3.connect(home / "lifecycle.db") as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT trace_id) FROM spans").fetchone() == (1500, 500)

    ipython.run_cell("import jupyter_lifecycle as lc\n@lc.trace\ndef g(x):\n    return x\ng(1)")
    trace_id = ipython.user_ns["lc"].get_last_active_trace_id()
    # read with plain sqlite3: the post-cell hook committed it without any read call flushing first
    with sqlite3.connect(home / "lifecycle.db") as conn:
        assert conn.execute("SELECT name FROM traces WHERE trace_id = ?", (trace_id,)).fetchone() == ("g",)


def test_a_sigkill_loses_only_the_last_moment(home: Path) -> None:
    script = textwrap.dedent(
        """
        import os, signal, sys, time, jupyter_lifecycle as lc
        lc.set_store(sys.argv[1])
        traced = lc.trace(lambda i: i)
        for i in range(300):
            traced(i)
        time.sleep(0.5)  # the writer commits on its own, with no flush
        for i in range(3000):
            traced(i)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    out = subprocess.run([sys.executable, "-c", script, str(home)], capture_output=True, text=True, timeout=120)
    assert out.returncode == -9, out.stderr
    with sqlite3.connect(home / "lifecycle.db") as conn:
        written = conn.execute("SELECT count(*) FROM traces").fetchone()[0]
    lost = 3300 - written
    assert written >= 300 and lost <= MAX_QUEUED + MAX_BATCH


def test_a_trace_is_linked_to_the_active_logged_model(home: Path) -> None:
    active = lc.set_active_model(name="agent-v1")

    @lc.trace
    def answer(question: str) -> str:
        return question.upper()

    answer("q")
    trace = lc.get_trace(lc.get_last_active_trace_id())
    assert trace.info.trace_metadata["mlflow.modelId"] == active.model_id
    assert len(lc.search_traces(model_id=active.model_id, return_type="list")) == 1


def test_a_store_from_before_m0016_keeps_its_traces(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_lifecycle.store import Store, migrations

    @lc.trace
    def outer(q: str) -> str:
        lc.update_current_trace(metadata={"team": "a"})
        with lc.start_span("inner", span_type="TOOL") as span:
            span.set_outputs([q])
        return q

    outer("x")
    trace = _last()
    before = trace.to_dict()
    listed = json.loads(lc.search_traces()["trace"][0])  # type: ignore[index]  # its info JSON as the writer built it
    with sqlite3.connect(home / "lifecycle.db") as new:
        columns = ("trace_id, experiment_id, name, request_time, execution_duration, state, tags_json, metadata_json,"
                   " client_request_id, request_preview, response_preview, run_id, model_id")
        trace_row = new.execute(f"SELECT {columns} FROM traces").fetchone()
        span_rows = new.execute("SELECT trace_id, span_id, parent_span_id, name, span_type, status, start_time_ns,"
                                " end_time_ns FROM spans ORDER BY start_time_ns DESC").fetchall()  # fmt: skip
    # the same trace written as the store kept it before m0016: span JSON in spans.content, metadata rows
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[: migrations.MIGRATIONS.index(migrations.m0016_trace_speed)])
        old = Store(tmp_path / "s")
        with old.db.write() as conn:
            conn.execute(f"INSERT INTO traces ({columns}) VALUES ({', '.join('?' for _ in trace_row)})", trace_row)
            conn.executemany("INSERT INTO spans VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                (*row, json.dumps(next(s.to_dict() for s in trace.data.spans if s.span_id == row[1])))
                for row in span_rows
            ])  # fmt: skip
            conn.executemany("INSERT INTO trace_metadata VALUES (?, ?, ?)",
                             [(trace_row[0], k, v) for k, v in json.loads(trace_row[7]).items()])  # fmt: skip
        old.db.close()
    store = Store(tmp_path / "s")
    assert store.db.schema_version() == len(migrations.MIGRATIONS)
    conn = store.db.connection()
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'trace_metadata'").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM spans").fetchone() == (2,)
    store.db.close()
    lc.set_store(tmp_path / "s")
    ids = [trace.info.experiment_id]
    try:
        assert lc.get_trace(trace.info.trace_id).to_dict() == before  # spans in start order, as before
        assert len(lc.search_traces(filter_string="metadata.team = 'a' and span.type = 'TOOL'", return_type="list", experiment_ids=ids)) == 1
        assert lc.search_traces(filter_string="metadata.team != 'a'", return_type="list", experiment_ids=ids) == []
        assert lc.search_traces(filter_string="metadata.team LIKE 'b%'", return_type="list", experiment_ids=ids) == []
        assert lc.search_traces(experiment_ids=ids)["spans"][0] == before["data"]["spans"]
        assert json.loads(lc.search_traces(experiment_ids=ids)["trace"][0]) == listed  # type: ignore[index]  # m0017's
    finally:
        lc.set_store(None)


def test_a_forked_child_writes_its_own_traces(home: Path) -> None:
    script = textwrap.dedent(
        """
        import os, sys, jupyter_lifecycle as lc
        lc.set_store(sys.argv[1])
        traced = lc.trace(lambda name: name)
        traced("parent")
        lc.flush_trace_async_logging()  # the writer thread is running when the process forks
        pid = os.fork()
        if pid == 0:
            lc.trace(name="child")(lambda: 1)()
            lc.flush_trace_async_logging()
            os._exit(0)
        assert os.waitpid(pid, 0)[1] == 0
        traced("parent again")
        lc.flush_trace_async_logging()
        """
    )
    out = subprocess.run([sys.executable, "-c", script, str(home)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    with sqlite3.connect(home / "lifecycle.db") as conn:
        names = sorted(row[0] for row in conn.execute("SELECT name FROM traces"))
    assert names == ["<lambda>", "<lambda>", "child"]
