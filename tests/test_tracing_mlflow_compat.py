"""A trace exported here is read by MLflow 3.17's own ``mlflow.entities.Trace.from_json`` (issue #15 part 3).

MLflow runs in its own venv (``make mlflow-venv``), as a subprocess, so it is
never a dependency of this package.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle.tracing import AssessmentSource, SpanEvent, Trace

from .test_models_mlflow_compat import MLFLOW_PYTHON, _skip_reason

pytestmark = [pytest.mark.mlflow, pytest.mark.skipif(_skip_reason is not None, reason=_skip_reason or "")]

READ = textwrap.dedent(
    """
    import json, sys
    from mlflow.entities import Trace
    trace = Trace.from_json(open(sys.argv[1]).read())
    by_id = {s.span_id: s for s in trace.data.spans}
    print(json.dumps({
        "trace_id": trace.info.trace_id,
        "state": str(trace.info.state.value if hasattr(trace.info.state, "value") else trace.info.state),
        "request_time": trace.info.request_time,
        "execution_duration": trace.info.execution_duration,
        "tags": trace.info.tags,
        "metadata": trace.info.trace_metadata,
        "request_preview": trace.info.request_preview,
        "experiment_id": trace.info.experiment_id,
        "assessments": [{
            "kind": type(a).__name__, "id": a.assessment_id, "name": a.name, "value": a.value,
            "source": [a.source.source_type, a.source.source_id], "rationale": a.rationale,
            "error": [a.error.error_code, a.error.error_message] if getattr(a, "error", None) else None,
            "metadata": a.metadata, "span_id": a.span_id, "trace_id": a.trace_id, "created": a.create_time_ms,
        } for a in trace.info.assessments],
        "spans": [{
            "name": s.name,
            "parent": by_id[s.parent_id].name if s.parent_id else None,
            "span_type": s.span_type,
            "inputs": s.inputs,
            "outputs": s.outputs,
            "status": s.status.status_code.value,
            "description": s.status.description,
            "events": [[e.name, sorted(e.attributes)] for e in s.events],
            "start": s.start_time_ns,
            "end": s.end_time_ns,
            "trace_id": s.trace_id,
        } for s in trace.data.spans],
    }))
    # and MLflow's own export of it reads back here
    open(sys.argv[2], "w").write(trace.to_json())
    """
)


def test_mlflow_reads_a_trace_exported_here(home: Path, tmp_path: Path) -> None:
    @lc.trace(span_type="RETRIEVER")
    def retrieve(q: str) -> list[dict[str, str]]:
        return [{"doc": q.upper()}]

    @lc.trace(span_type="AGENT")
    def agent(question: str) -> str:
        lc.update_current_trace(tags={"env": "dev"})
        docs = retrieve(question)
        with lc.start_span("llm", span_type="LLM") as span:
            span.set_inputs({"messages": [{"role": "user", "content": question}], "docs": docs})
            span.add_event(SpanEvent("first_token", attributes={"ms": 12}))
            try:
                with lc.start_span("tool", span_type="TOOL"):
                    raise TimeoutError("tool timed out")
            except TimeoutError:
                pass
            span.set_outputs({"choices": [{"message": {"content": "an alias"}}]})
        return "an alias"

    with lc.start_run() as run:
        agent("what is an alias?")
    trace_id = lc.get_last_active_trace_id()
    assert trace_id is not None
    llm_span = next(s for s in lc.get_trace(trace_id).data.spans if s.name == "llm")
    lc.log_feedback(
        trace_id=trace_id, name="correct", value=True, rationale="cites the docs",
        source=AssessmentSource("HUMAN", "me@example.com"), metadata={"round": "1"},
    )  # fmt: skip
    lc.log_feedback(trace_id=trace_id, name="scores", value={"fluency": 0.5, "tone": "ok"}, span_id=llm_span.span_id)
    lc.log_feedback(trace_id=trace_id, name="judge", error=TimeoutError("judge timed out"),
                    source=AssessmentSource("LLM_JUDGE", "my-judge"))  # fmt: skip
    lc.log_expectation(trace_id=trace_id, name="expected_response", value="an alias")
    lc.log_expectation(trace_id=trace_id, name="expected_facts", value=["alias", "version"])
    trace = lc.get_trace(trace_id)
    # search_traces' "trace" column (info JSON kept by the writer, assessments joined in) is the same JSON
    listed = lc.search_traces(filter_string=f"trace_id = '{trace_id}'")["trace"][0]  # type: ignore[index]
    listed_info, info = json.loads(listed)["info"], json.loads(trace.to_json())["info"]
    assert listed_info == info and json.loads(listed) == json.loads(trace.to_json())
    exported = tmp_path / "trace.json"
    exported.write_text(trace.to_json())
    back = tmp_path / "back.json"
    out = subprocess.run(
        [str(MLFLOW_PYTHON), "-c", READ, str(exported), str(back)], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])

    assert seen["trace_id"] == trace.info.trace_id and seen["state"] == "OK"
    assert seen["request_time"] == trace.info.request_time
    assert seen["execution_duration"] == trace.info.execution_duration
    assert seen["experiment_id"] == trace.info.experiment_id
    assert seen["tags"]["env"] == "dev" and seen["tags"]["mlflow.traceName"] == "agent"
    assert seen["metadata"]["mlflow.sourceRun"] == run.info.run_id
    assert seen["request_preview"] == '{"question": "what is an alias?"}'
    ours = {
        s.name: {
            "name": s.name,
            "parent": next((p.name for p in trace.data.spans if p.span_id == s.parent_id), None),
            "span_type": s.span_type,
            "inputs": s.inputs,
            "outputs": s.outputs,
            "status": s.status.status_code.value,
            "description": s.status.description,
            "events": [[e.name, sorted(e.attributes)] for e in s.events],
            "start": s.start_time_ns,
            "end": s.end_time_ns,
            "trace_id": s.trace_id,
        }
        for s in trace.data.spans
    }
    assert {s["name"]: s for s in seen["spans"]} == ours
    assert ours["tool"]["status"] == "ERROR" and ours["tool"]["events"][0][0] == "exception"
    assert ours["llm"]["parent"] == "agent" and ours["tool"]["parent"] == "llm"
    mine = [
        {
            "kind": type(a).__name__, "id": a.assessment_id, "name": a.name, "value": a.value,
            "source": [a.source.source_type, a.source.source_id], "rationale": a.rationale,
            "error": [a.error.error_code, a.error.error_message] if a.error else None,
            "metadata": a.metadata, "span_id": a.span_id, "trace_id": a.trace_id, "created": a.create_time_ms,
        }
        for a in trace.info.assessments
    ]  # fmt: skip
    assert len(mine) == 5 and seen["assessments"] == mine
    assert [a["kind"] for a in mine] == ["Feedback", "Feedback", "Feedback", "Expectation", "Expectation"]

    # MLflow's own JSON of the same trace reads back here unchanged
    again = Trace.from_json(back.read_text())
    assert again.to_dict()["data"] == trace.to_dict()["data"]
    assert again.info.trace_id == trace.info.trace_id and again.info.tags == trace.info.tags
    assert [a.to_dictionary() for a in again.info.assessments] == [a.to_dictionary() for a in trace.info.assessments]


PROMPTS = textwrap.dedent(
    """
    import json, sys, warnings
    warnings.filterwarnings("ignore")
    from mlflow.entities.model_registry.prompt_version import PromptVersion
    cases = json.loads(open(sys.argv[1]).read())
    out = []
    for template, values in cases:
        p = PromptVersion("p", 1, template)
        out.append([sorted(p.variables), p.format(**values)])
    print(json.dumps(out))
    """
)


def test_prompts_format_as_mlflow_does(home: Path, tmp_path: Path) -> None:
    cases = [
        ("Answer {{question}} using {{ docs }}.", {"question": "why?", "docs": ["a", 1]}),
        ("{{a.b}} and {{ c_1 }} twice {{c_1}}", {"a.b": 1.5, "c_1": None}),
        ([{"role": "system", "content": "You are {{style}}."}, {"role": "user", "content": "{{q}}"}],
         {"style": "brief", "q": 'say "hi"'}),
    ]  # fmt: skip
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    out = subprocess.run(
        [str(MLFLOW_PYTHON), "-c", PROMPTS, str(tmp_path / "cases.json")], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    theirs = json.loads(out.stdout.strip().splitlines()[-1])
    for i, (template, values) in enumerate(cases):
        ours = lc.genai.register_prompt(f"p{i}", template)
        assert [sorted(ours.variables), ours.format(**values)] == theirs[i]
