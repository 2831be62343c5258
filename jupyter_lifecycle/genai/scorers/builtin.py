"""Deterministic built-in scorers: no model, the same answer every time.

``RegexMatch`` is MLflow's; ``ExactMatch`` and ``ContainsExpectedFacts`` are
this project's rule-based checks of the outputs against the row's
expectations (``expected_response``, ``expected_facts``), for evaluating
without a judge. Each answers ``"yes"`` or ``"no"`` (MLflow's ratings, which
average as 1 and 0).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from ...errors import InvalidInput
from ...tracing import Feedback
from .base import Scorer

__all__ = ["ContainsExpectedFacts", "ExactMatch", "RegexMatch", "as_text"]


def as_text(value: Any) -> str:
    """A row's outputs as the text checks read: a string as is, a chat answer's content, else its JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):  # OpenAI chat-completions and MLflow's ChatAgent shapes
        choices = value.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            message = choices[0].get("message") or {}
            if isinstance(message.get("content"), str):
                return message["content"]  # type: ignore[no-any-return]
        for key in ("content", "response", "output", "answer"):
            if isinstance(value.get(key), str):
                return value[key]  # type: ignore[no-any-return]
    import json

    return json.dumps(value, default=repr)


def _expected(expectations: dict[str, Any] | None, key: str, scorer: str) -> Any:
    if not expectations or expectations.get(key) is None:
        raise InvalidInput(f"{scorer} needs expectations[{key!r}] in each row: add it to the data's expectations")
    return expectations[key]


def _rating(ok: bool) -> str:
    return "yes" if ok else "no"


class RegexMatch(Scorer):
    """Whether the outputs match a regular expression (``match_type="search"`` anywhere, or ``"fullmatch"``)."""

    def __init__(
        self,
        pattern: str,
        match_type: Literal["search", "fullmatch"] = "search",
        case_insensitive: bool = False,
        name: str = "regex_match",
    ) -> None:
        if match_type not in ("search", "fullmatch"):
            raise InvalidInput(f"match_type must be 'search' or 'fullmatch', got {match_type!r}")
        try:
            self.regex = re.compile(pattern, re.IGNORECASE if case_insensitive else 0)
        except re.error as exc:
            raise InvalidInput(f"invalid regular expression {pattern!r}: {exc}") from exc
        self.match_type = match_type
        super().__init__(name)

    def __call__(self, *, outputs: Any = None, **_: Any) -> Feedback:  # type: ignore[override]
        """``yes`` when the outputs match."""
        text = as_text(outputs)
        found = self.regex.fullmatch(text) if self.match_type == "fullmatch" else self.regex.search(text)
        return Feedback(self.name, _rating(found is not None), source=self.source,
                        rationale=f"{self.match_type} of {self.regex.pattern!r}: {'matched' if found else 'no match'}")  # fmt: skip


class ExactMatch(Scorer):
    """Whether the outputs equal ``expectations["expected_response"]`` (text compared stripped)."""

    def __init__(self, case_insensitive: bool = False, name: str = "exact_match") -> None:
        self.case_insensitive = case_insensitive
        super().__init__(name)

    def __call__(self, *, outputs: Any = None, expectations: dict[str, Any] | None = None, **_: Any) -> Feedback:  # type: ignore[override]
        """``yes`` when the outputs are the expected response."""
        expected = _expected(expectations, "expected_response", type(self).__name__)
        if isinstance(expected, str) or isinstance(outputs, str):
            got, want = as_text(outputs).strip(), as_text(expected).strip()
            if self.case_insensitive:
                got, want = got.casefold(), want.casefold()
            same = got == want
        else:
            same = outputs == expected
        return Feedback(self.name, _rating(same), source=self.source,
                        rationale="the outputs are the expected response" if same else f"expected {expected!r}")  # fmt: skip


class ContainsExpectedFacts(Scorer):
    """Whether the outputs' text contains each of ``expectations["expected_facts"]`` (case-insensitive by default)."""

    def __init__(self, case_insensitive: bool = True, name: str = "contains_expected_facts") -> None:
        self.case_insensitive = case_insensitive
        super().__init__(name)

    def __call__(self, *, outputs: Any = None, expectations: dict[str, Any] | None = None, **_: Any) -> Feedback:  # type: ignore[override]
        """``yes`` when every expected fact appears in the outputs; the rationale names the missing ones."""
        facts = _expected(expectations, "expected_facts", type(self).__name__)
        facts = [facts] if isinstance(facts, str) else [str(f) for f in facts]
        text = as_text(outputs)
        if self.case_insensitive:
            missing = [f for f in facts if f.casefold() not in text.casefold()]
        else:
            missing = [f for f in facts if f not in text]
        rationale = "every expected fact is in the outputs" if not missing else f"missing: {', '.join(missing)}"
        return Feedback(self.name, _rating(not missing), source=self.source, rationale=rationale)

