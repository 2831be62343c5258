"""MLflow 3's assessment API: ``log_feedback``, ``log_expectation``, ``get/update/delete_assessment``.

Assessments are attached to stored traces (a trace is stored when its root
span ends); they come back in ``trace.info.assessments``, in ``to_json()``
and in ``search_traces``' ``assessments`` column.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Sequence
from typing import Any

from ..errors import InvalidInput
from .assessments import Assessment, AssessmentError, AssessmentSource, Expectation, Feedback
from .queries import _store

__all__ = ["delete_assessment", "get_assessment", "log_assessment", "log_assessments", "log_expectation",
           "log_feedback", "update_assessment"]  # fmt: skip


def _row(assessment: Assessment) -> dict[str, Any]:
    return {**assessment.to_dictionary(), "_create_time_ms": assessment.create_time_ms}


def log_assessments(assessments: Sequence[Assessment]) -> list[Assessment]:
    """Store several assessments (each with its ``trace_id``) in one transaction; give each a new id."""
    for assessment in assessments:
        if not assessment.trace_id:
            raise InvalidInput(f"assessment {assessment.name!r} has no trace_id: say which trace it judges")
        if assessment.assessment_id is None:
            assessment.assessment_id = "a-" + uuid.uuid4().hex
    _store().assessments.write([_row(a) for a in assessments])
    return list(assessments)


def log_assessment(trace_id: str, assessment: Assessment) -> Assessment:
    """Attach a ``Feedback`` or ``Expectation`` to a stored trace; returns it with its new ``assessment_id``."""
    if not isinstance(assessment, Assessment):
        raise InvalidInput(f"assessment must be a Feedback or an Expectation, got {assessment!r}")
    made = copy.copy(assessment)
    made.trace_id, made.assessment_id = trace_id, None
    return log_assessments([made])[0]


def log_feedback(
    *,
    trace_id: str,
    name: str = "feedback",
    value: Any = None,
    source: AssessmentSource | None = None,
    error: BaseException | AssessmentError | str | None = None,
    rationale: str | None = None,
    metadata: dict[str, Any] | None = None,
    span_id: str | None = None,
) -> Assessment:
    """Log feedback on a trace: ``lc.log_feedback(trace_id=..., name="correct", value=True, source=...)``.

    ``value`` is a bool, number, string, or a list or dict of those; give
    ``error`` instead when the feedback could not be made (a judge timed out).
    The source defaults to ``CODE``.
    """
    if value is None and error is None:
        raise InvalidInput(f"feedback {name!r} needs a value or an error")
    feedback = Feedback(name=name, value=value, error=error, source=source, trace_id=trace_id, metadata=metadata,
                        span_id=span_id, rationale=rationale)  # fmt: skip
    return log_assessments([feedback])[0]


def log_expectation(
    *,
    trace_id: str,
    name: str,
    value: Any,
    source: AssessmentSource | None = None,
    metadata: dict[str, Any] | None = None,
    span_id: str | None = None,
) -> Assessment:
    """Log ground truth on a trace: ``lc.log_expectation(trace_id=..., name="expected_response", value="Paris")``.

    The source defaults to ``HUMAN``.
    """
    expectation = Expectation(name=name, value=value, source=source, trace_id=trace_id, metadata=metadata,
                              span_id=span_id)  # fmt: skip
    return log_assessments([expectation])[0]


def get_assessment(trace_id: str, assessment_id: str) -> Assessment:
    """One assessment of a trace (``NotFound`` when the trace has none with this id)."""
    return Assessment.from_dictionary(_store().assessments.get(trace_id, assessment_id))


def update_assessment(trace_id: str, assessment_id: str, assessment: Assessment) -> Assessment:
    """Change an assessment's name, value, rationale, error and metadata (merged); its source and time stay.

    As in MLflow, a feedback stays a feedback and an expectation an expectation.
    """
    old = get_assessment(trace_id, assessment_id)
    if type(assessment) is not type(old):
        raise InvalidInput(
            f"assessment {assessment_id!r} is a {old.kind}; it cannot be updated with a {assessment.kind}: "
            "delete it and log a new one"
        )
    new = copy.copy(old)
    new.name, new.value = assessment.name, assessment.value
    if assessment.rationale is not None:
        new.rationale = assessment.rationale
    if isinstance(assessment, Feedback):
        new.error = assessment.error
    if assessment.metadata:
        new.metadata = {**(old.metadata or {}), **assessment.metadata}
    new.last_update_time_ms = int(time.time() * 1000)
    _store().assessments.write([_row(new)])
    return new


def delete_assessment(trace_id: str, assessment_id: str) -> None:
    """Remove an assessment from a trace (``NotFound`` when the trace has none with this id)."""
    _store().assessments.delete(trace_id, assessment_id)
