"""Scorers for ``genai.evaluate`` (MLflow's ``mlflow.genai.scorers``): ``@scorer``, rule-based checks, LLM judges."""

from .base import Scorer, scorer
from .builtin import ContainsExpectedFacts, ExactMatch, RegexMatch
from .judges import Correctness, ExpectationsGuidelines, Guidelines, Judge, RelevanceToQuery, Safety

__all__ = [
    "ContainsExpectedFacts", "Correctness", "ExactMatch", "ExpectationsGuidelines", "Guidelines", "Judge",
    "RegexMatch", "RelevanceToQuery", "Safety", "Scorer", "scorer",
]  # fmt: skip
