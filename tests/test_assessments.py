"""Feedback and expectations on traces (issue #15 part 5), on a real store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle.errors import InvalidInput, NotFound
from jupyter_lifecycle.store import open_store
from jupyter_lifecycle.tracing import Assessment, AssessmentError, AssessmentSource, Expectation, Feedback, Trace


def _traced(question: str = "q") -> str:
    @lc.trace
    def answer(question: str) -> str:
        return question.upper()

    answer(question)
    trace_id = lc.get_last_active_trace_id()
    assert trace_id is not None
    return trace_id


def test_log_get_update_delete(home: Path) -> None:
    trace_id = _traced()
    feedback = lc.log_feedback(
        trace_id=trace_id, name="correct", value=True, source=AssessmentSource("human", "me"),
        rationale="matches the docs", metadata={"round": 1},
    )  # fmt: skip
    expectation = lc.log_expectation(trace_id=trace_id, name="expected_facts", value=["a", "b"])
    assert feedback.assessment_id and feedback.assessment_id.startswith("a-")
    assert feedback.source.source_type == "HUMAN" and feedback.metadata == {"round": "1"}
    assert expectation.source.source_type == "HUMAN"  # MLflow's default for expectations

    trace = lc.get_trace(trace_id)
    assert [type(a) for a in trace.info.assessments] == [Feedback, Expectation]
    got = lc.get_assessment(trace_id, feedback.assessment_id)
    assert isinstance(got, Feedback) and got.value is True and got.rationale == "matches the docs"
    assert got.source == AssessmentSource("HUMAN", "me") and got.trace_id == trace_id
    assert lc.get_assessment(trace_id, expectation.assessment_id).value == ["a", "b"]  # type: ignore[arg-type]

    updated = lc.update_assessment(trace_id, feedback.assessment_id, Feedback(name="correct", value=0.5, metadata={"by": "x"}))
    again = lc.get_assessment(trace_id, feedback.assessment_id)
    assert again.value == 0.5 and again.rationale == "matches the docs"  # unchanged unless given
    assert again.metadata == {"round": "1", "by": "x"} and again.source.source_id == "me"
    assert updated.last_update_time_ms is not None and updated.last_update_time_ms >= updated.create_time_ms
    with pytest.raises(InvalidInput, match="is a feedback"):
        lc.update_assessment(trace_id, feedback.assessment_id, Expectation("x", 1))

    lc.delete_assessment(trace_id, expectation.assessment_id)  # type: ignore[arg-type]
    assert [a.name for a in lc.get_trace(trace_id).info.assessments] == ["correct"]
    with pytest.raises(NotFound, match=str(expectation.assessment_id)):
        lc.get_assessment(trace_id, expectation.assessment_id)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        lc.delete_assessment(trace_id, expectation.assessment_id)  # type: ignore[arg-type]


def test_search_traces_and_json_carry_assessments(home: Path) -> None:
    first, second = _traced("one"), _traced("two")
    lc.log_feedback(trace_id=first, name="relevant", value="yes")
    frame = lc.search_traces()
    by_id = dict(zip(frame["trace_id"], frame["assessments"], strict=True))
    assert by_id[second] == [] and [a["assessment_name"] for a in by_id[first]] == ["relevant"]
    assert by_id[first][0]["feedback"] == {"value": "yes"} and by_id[first][0]["source"]["source_type"] == "CODE"
    # the trace column and to_json hold them too, and read back
    text = frame.loc[frame["trace_id"] == first, "trace"].iloc[0]
    assert Trace.from_json(text).info.assessments[0].value == "yes"
    listed = {t.info.trace_id: t for t in lc.search_traces(return_type="list")}  # type: ignore[union-attr]
    assert [a.name for a in listed[first].info.assessments] == ["relevant"]
    back = Trace.from_json(lc.get_trace(first).to_json())
    assert back.info.assessments[0].to_dictionary() == lc.get_trace(first).info.assessments[0].to_dictionary()
    assert "assessments" not in lc.get_trace(second).to_dict()["info"]  # left out when empty, as MLflow does


def test_error_feedback_and_bad_input(home: Path) -> None:
    trace_id = _traced()
    try:
        raise TimeoutError("judge timed out")
    except TimeoutError as exc:
        made = lc.log_feedback(trace_id=trace_id, name="judge", error=exc)
    got = lc.get_assessment(trace_id, made.assessment_id)  # type: ignore[arg-type]
    assert isinstance(got, Feedback) and got.value is None
    assert got.error_code == "TimeoutError" and got.error_message == "judge timed out"
    assert got.error is not None and "TimeoutError" in (got.error.stack_trace or "")
    explicit = Feedback("f", error=AssessmentError("RATE_LIMIT", "slow down"))
    assert explicit.to_dictionary()["feedback"]["error"] == {"error_code": "RATE_LIMIT", "error_message": "slow down"}

    with pytest.raises(NotFound, match="tr-missing"):
        lc.log_feedback(trace_id="tr-missing", name="x", value=1)
    with pytest.raises(InvalidInput, match="needs a value or an error"):
        lc.log_feedback(trace_id=trace_id, name="x")
    with pytest.raises(InvalidInput, match="source type 'robot'"):
        AssessmentSource("robot")
    with pytest.raises(InvalidInput, match="JSON-serializable"):
        lc.log_feedback(trace_id=trace_id, name="x", value=object())
    with pytest.raises(InvalidInput, match="needs a value"):
        Expectation("x", None)
    assert isinstance(Assessment.from_dictionary(Feedback("f", 1).to_dictionary()), Feedback)


def test_deleting_a_trace_deletes_its_assessments(home: Path) -> None:
    trace_id = _traced()
    lc.log_feedback(trace_id=trace_id, name="x", value=1)
    trace = lc.get_trace(trace_id)
    assert lc.delete_traces(trace.info.experiment_id, trace_ids=[trace_id]) == 1
    assert open_store(home).db.query("SELECT count(*) FROM assessments") == [(0,)]
    assert json.loads(json.dumps(trace.to_dict()))["info"]["assessments"][0]["assessment_name"] == "x"
