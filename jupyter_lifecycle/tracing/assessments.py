"""Assessments with MLflow 3's model: feedback and expectations attached to a trace (issue #15 part 5).

A ``Feedback`` judges a trace (correct? relevant? a score), from a human, an
LLM judge or code; an ``Expectation`` is ground truth (the expected answer).
``to_dictionary()`` gives MLflow's JSON shape (``Assessment.to_dictionary``,
protobuf field names), which ``mlflow.entities.Trace.from_json`` reads inside
``trace.info.assessments`` (mlflow/entities/assessment.py).
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..errors import InvalidInput

__all__ = [
    "Assessment", "AssessmentError", "AssessmentSource", "AssessmentSourceType", "Expectation", "Feedback",
    "SOURCE_RUN_ID",
]  # fmt: skip

SOURCE_RUN_ID = "mlflow.assessment.sourceRunId"
"""Metadata key naming the evaluation run that produced an assessment (MLflow's)."""
MAX_STACK_TRACE = 10_000  # characters kept, from the end, as MLflow truncates


class AssessmentSourceType:
    """Who made an assessment: ``HUMAN``, ``LLM_JUDGE`` or ``CODE`` (MLflow's names)."""

    SOURCE_TYPE_UNSPECIFIED = "SOURCE_TYPE_UNSPECIFIED"
    LLM_JUDGE = "LLM_JUDGE"
    HUMAN = "HUMAN"
    CODE = "CODE"
    _ALL = (SOURCE_TYPE_UNSPECIFIED, LLM_JUDGE, HUMAN, CODE)

    @classmethod
    def standardize(cls, source_type: str) -> str:
        """Upper-case and check a source type; MLflow's deprecated ``AI_JUDGE`` is ``LLM_JUDGE``."""
        name = str(source_type).upper()
        name = cls.LLM_JUDGE if name == "AI_JUDGE" else name
        if name not in cls._ALL:
            raise InvalidInput(f"invalid assessment source type {source_type!r}: use one of {', '.join(cls._ALL)}")
        return name


@dataclass
class AssessmentSource:
    """The source of an assessment: its type and who or what (a user, a judge model, a scorer)."""

    source_type: str
    source_id: str | None = "default"

    def __post_init__(self) -> None:
        self.source_type = AssessmentSourceType.standardize(self.source_type)

    def to_dictionary(self) -> dict[str, Any]:
        """``{"source_type": ..., "source_id": ...}``."""
        out: dict[str, Any] = {"source_type": self.source_type}
        if self.source_id is not None:
            out["source_id"] = self.source_id
        return out

    @classmethod
    def from_dictionary(cls, data: dict[str, Any]) -> AssessmentSource:
        """Read ``to_dictionary()``'s shape back."""
        return cls(data.get("source_type", AssessmentSourceType.SOURCE_TYPE_UNSPECIFIED), data.get("source_id"))


@dataclass
class AssessmentError:
    """Why a feedback has no value (a judge timed out, a scorer raised)."""

    error_code: str
    error_message: str | None = None
    stack_trace: str | None = None

    @classmethod
    def from_exception(cls, exception: BaseException) -> AssessmentError:
        """The error of a raised exception: its class name, message and stack trace."""
        stack = "".join(traceback.format_exception(type(exception), exception, exception.__traceback__))
        return cls(type(exception).__name__, str(exception), stack[-MAX_STACK_TRACE:])

    def to_dictionary(self) -> dict[str, Any]:
        """MLflow's shape (empty fields left out, as protobuf does)."""
        out: dict[str, Any] = {"error_code": self.error_code}
        if self.error_message:
            out["error_message"] = self.error_message
        if self.stack_trace:
            out["stack_trace"] = self.stack_trace[-MAX_STACK_TRACE:]
        return out

    @classmethod
    def from_dictionary(cls, data: dict[str, Any]) -> AssessmentError:
        """Read ``to_dictionary()``'s shape back."""
        return cls(data["error_code"], data.get("error_message"), data.get("stack_trace"))


def _timestamp(ms: int) -> str:
    when = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _ms(text: str) -> int:
    when = datetime.strptime(text.rstrip("Z")[:26], "%Y-%m-%dT%H:%M:%S.%f" if "." in text else "%Y-%m-%dT%H:%M:%S")
    return round(when.replace(tzinfo=timezone.utc).timestamp() * 1000)


def _json_value(value: Any, what: str) -> Any:
    """``value`` if JSON holds it unchanged, else ``InvalidInput`` naming it (an assessment is data, not a repr)."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{what} must be JSON-serializable (a number, string, bool, list or dict): {value!r}") from exc


@dataclass
class Assessment:
    """What ``Feedback`` and ``Expectation`` share: a name, a source, and where it is attached."""

    name: str
    source: AssessmentSource
    value: Any = None
    trace_id: str | None = None
    rationale: str | None = None
    metadata: dict[str, str] | None = None
    span_id: str | None = None
    create_time_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    last_update_time_ms: int | None = None
    assessment_id: str | None = None
    error: AssessmentError | None = None
    valid: bool = True
    overrides: str | None = None

    kind = "assessment"  # "feedback" or "expectation": the key of the value in MLflow's JSON

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInput(f"an assessment needs a non-empty name, got {self.name!r}")
        if not isinstance(self.source, AssessmentSource):
            raise InvalidInput(
                f"source must be an AssessmentSource (e.g. AssessmentSource('HUMAN', 'me')), got {self.source!r}"
            )
        if self.last_update_time_ms is None:
            self.last_update_time_ms = self.create_time_ms
        if self.metadata is not None:
            self.metadata = {str(k): str(v) for k, v in self.metadata.items()}

    @property
    def run_id(self) -> str | None:
        """The evaluation run that made this assessment, if any."""
        return (self.metadata or {}).get(SOURCE_RUN_ID)

    def _value_dictionary(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_dictionary(self) -> dict[str, Any]:
        """MLflow's JSON shape (``Assessment.to_dictionary``)."""
        out: dict[str, Any] = {}
        if self.assessment_id is not None:
            out["assessment_id"] = self.assessment_id
        out["assessment_name"] = self.name
        out["trace_id"] = self.trace_id or ""
        if self.span_id is not None:
            out["span_id"] = self.span_id
        out["source"] = self.source.to_dictionary()
        out["create_time"] = _timestamp(self.create_time_ms)
        out["last_update_time"] = _timestamp(self.last_update_time_ms or self.create_time_ms)
        out[self.kind] = self._value_dictionary()
        if self.rationale is not None:
            out["rationale"] = self.rationale
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        if self.overrides:
            out["overrides"] = self.overrides
        out["valid"] = self.valid
        return out

    @staticmethod
    def from_dictionary(data: dict[str, Any]) -> Assessment:
        """A ``Feedback`` or an ``Expectation`` from MLflow's JSON shape."""
        common: dict[str, Any] = {
            "name": data["assessment_name"],
            "source": AssessmentSource.from_dictionary(data.get("source") or {}),
            "trace_id": data.get("trace_id") or None,
            "metadata": data.get("metadata"),
            "span_id": data.get("span_id") or None,
            "create_time_ms": _ms(data["create_time"]),
            "last_update_time_ms": _ms(data["last_update_time"]),
        }
        if "expectation" in data:
            body = data["expectation"]
            if "serialized_value" in body:
                value = json.loads(body["serialized_value"]["value"])
            else:
                value = body.get("value")
            made: Assessment = Expectation(value=value, **common)
        elif "feedback" in data:
            body = data["feedback"]
            error = AssessmentError.from_dictionary(body["error"]) if body.get("error") else None
            made = Feedback(
                value=body.get("value"), error=error, rationale=data.get("rationale"),
                overrides=data.get("overrides"), valid=data.get("valid", True), **common,
            )  # fmt: skip
        else:
            raise InvalidInput(f"assessment {data.get('assessment_name')!r} has neither 'feedback' nor 'expectation'")
        made.assessment_id = data.get("assessment_id") or None
        return made

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, value={self.value!r}, source={self.source.source_type})"


class Feedback(Assessment):
    """A judgement of a trace: ``value`` (bool, number, string, list or dict) or an ``error``.

    ``Feedback(name="correct", value=True, rationale=..., source=AssessmentSource("HUMAN", "me"))``;
    the source defaults to ``CODE``, as in MLflow.
    """

    kind = "feedback"

    def __init__(
        self,
        name: str = "feedback",
        value: Any = None,
        error: BaseException | AssessmentError | str | None = None,
        source: AssessmentSource | None = None,
        trace_id: str | None = None,
        metadata: dict[str, str] | None = None,
        span_id: str | None = None,
        create_time_ms: int | None = None,
        last_update_time_ms: int | None = None,
        rationale: str | None = None,
        overrides: str | None = None,
        valid: bool = True,
    ) -> None:
        if isinstance(error, BaseException):
            error = AssessmentError.from_exception(error)
        elif isinstance(error, str):
            error = AssessmentError("ASSESSMENT_ERROR", error)
        elif error is not None and not isinstance(error, AssessmentError):
            raise InvalidInput(f"error must be an exception, an AssessmentError or a string, got {error!r}")
        super().__init__(
            name=name, source=source or AssessmentSource(AssessmentSourceType.CODE),
            value=_json_value(value, f"the value of feedback {name!r}"), trace_id=trace_id, rationale=rationale,
            metadata=metadata, span_id=span_id,
            create_time_ms=int(time.time() * 1000) if create_time_ms is None else create_time_ms,
            last_update_time_ms=last_update_time_ms, error=error, valid=valid, overrides=overrides,
        )  # fmt: skip

    @property
    def error_code(self) -> str | None:
        """The error's code, if the feedback has an error."""
        return self.error.error_code if self.error else None

    @property
    def error_message(self) -> str | None:
        """The error's message, if the feedback has an error."""
        return self.error.error_message if self.error else None

    def _value_dictionary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value}
        if self.error is not None:
            out["error"] = self.error.to_dictionary()
        return out


class Expectation(Assessment):
    """Ground truth for a trace, e.g. ``Expectation("expected_response", "Paris")``; the source defaults to HUMAN."""

    kind = "expectation"

    def __init__(
        self,
        name: str,
        value: Any,
        source: AssessmentSource | None = None,
        trace_id: str | None = None,
        metadata: dict[str, str] | None = None,
        span_id: str | None = None,
        create_time_ms: int | None = None,
        last_update_time_ms: int | None = None,
    ) -> None:
        if value is None:
            raise InvalidInput(f"expectation {name!r} needs a value")
        super().__init__(
            name=name, source=source or AssessmentSource(AssessmentSourceType.HUMAN),
            value=_json_value(value, f"the value of expectation {name!r}"), trace_id=trace_id, metadata=metadata,
            span_id=span_id, create_time_ms=int(time.time() * 1000) if create_time_ms is None else create_time_ms,
            last_update_time_ms=last_update_time_ms,
        )  # fmt: skip

    def _value_dictionary(self) -> dict[str, Any]:
        # Lists and dicts go as JSON text, as MLflow writes them (ExpectationValue.to_proto).
        if isinstance(self.value, (str, int, float, bool)):
            return {"value": self.value}
        return {"serialized_value": {"serialization_format": "JSON_FORMAT", "value": json.dumps(self.value)}}
