"""Scorers: what ``genai.evaluate`` runs on each row to judge it (MLflow 3's ``Scorer`` and ``@scorer``).

A scorer is called with the row's ``inputs``, ``outputs``, ``expectations``
and ``trace`` (a function scorer receives only the ones it names) and returns
a value (bool, number, string...), a ``Feedback``, or a list of them.
"""

from __future__ import annotations

import functools
import inspect
import re
import statistics
from collections.abc import Callable, Sequence
from typing import Any, overload

from ...errors import InvalidInput
from ...tracing import AssessmentSource, Feedback, Trace

__all__ = ["AGGREGATIONS", "FIELDS", "Scorer", "scorer"]

FIELDS = ("inputs", "outputs", "expectations", "trace")
"""What a scorer can be given, by parameter name (MLflow's)."""

AGGREGATIONS: dict[str, Callable[[list[float]], float]] = {
    "min": min, "max": max, "mean": statistics.fmean, "median": statistics.median,
    "variance": lambda v: statistics.pvariance(v) if len(v) > 1 else 0.0,
    "p90": lambda v: statistics.quantiles(v, n=10, method="inclusive")[-1] if len(v) > 1 else v[0],
}  # fmt: skip
"""The aggregations a scorer can ask for (``aggregations=["mean", "p90"]``); MLflow's names."""


def _check_name(name: object, what: str) -> None:
    """A scorer's (or its feedback's) name names metrics (``<name>/mean``): MLflow's metric-key rules, no '/'."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput(
            f"{what} is named {name!r}: a name of letters, digits, underscores, dashes, periods, spaces and colons "
            "is needed, as it names metrics (<name>/mean); give one with name=..."
        )


_NAME = re.compile(r"[\w.\- :]{1,200}")


class Scorer:
    """A named judge of one row. Subclass it and define ``__call__``, or decorate a function with ``@scorer``.

    ``aggregations`` are the metrics computed over all rows (default ``["mean"]``),
    logged as ``<name>/<aggregation>``.
    """

    source_type = "CODE"

    def __init__(self, name: str, aggregations: Sequence[str | Callable[[list[float]], float]] | None = None) -> None:
        _check_name(name, "a scorer")
        for aggregation in aggregations or ():
            if isinstance(aggregation, str) and aggregation not in AGGREGATIONS:
                raise InvalidInput(f"unknown aggregation {aggregation!r}: use one of {', '.join(AGGREGATIONS)} or a function")
            if not isinstance(aggregation, str) and not callable(aggregation):
                raise InvalidInput(f"an aggregation is a name or a function of a list of floats, got {aggregation!r}")
        self.name = name
        self.aggregations = list(aggregations) if aggregations is not None else None

    def __call__(
        self, *, inputs: Any = None, outputs: Any = None, expectations: dict[str, Any] | None = None,
        trace: Trace | None = None,
    ) -> Any:  # fmt: skip
        """Judge one row."""
        raise NotImplementedError(f"{type(self).__name__} must define __call__")

    @property
    def source(self) -> AssessmentSource:
        """Where this scorer's feedback comes from (``CODE`` and the scorer's name)."""
        return AssessmentSource(self.source_type, self.name)

    def run(
        self, *, inputs: Any = None, outputs: Any = None, expectations: dict[str, Any] | None = None,
        trace: Trace | None = None,
    ) -> list[Feedback]:  # fmt: skip
        """Call the scorer and give its result as feedback named after it (MLflow's ``Scorer.run``)."""
        result = self(inputs=inputs, outputs=outputs, expectations=expectations, trace=trace)
        return self.feedbacks(result)

    def feedbacks(self, result: Any) -> list[Feedback]:
        """A scorer's result as ``Feedback``: a value is wrapped, a feedback left with the default name is renamed."""
        if result is None:
            return []
        items = result if isinstance(result, list) and result and all(isinstance(r, Feedback) for r in result) else [result]
        out = []
        for item in items:
            if isinstance(item, Feedback):
                if item.name == "feedback":
                    item.name = self.name
                _check_name(item.name, f"feedback of scorer {self.name!r}")
                if item.source.source_type == "CODE" and item.source.source_id == "default":
                    item.source = self.source
                out.append(item)
            else:
                out.append(Feedback(name=self.name, value=item, source=self.source))
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class _FunctionScorer(Scorer):
    """A function turned into a scorer; it is given only the fields it names."""

    def __init__(self, func: Callable[..., Any], name: str | None, aggregations: Sequence[Any] | None) -> None:
        params = inspect.signature(func).parameters
        unknown = [p for p, spec in params.items() if p not in FIELDS and spec.kind not in (spec.VAR_KEYWORD,)]
        if unknown:
            raise InvalidInput(
                f"scorer {func.__name__!r} has parameter(s) {', '.join(unknown)}: a scorer's parameters must be "
                f"named {', '.join(FIELDS)}"
            )
        super().__init__(name or func.__name__, aggregations)
        self.func = func
        self.wants = [p for p in FIELDS if p in params or any(s.kind is s.VAR_KEYWORD for s in params.values())]
        functools.update_wrapper(self, func)  # type: ignore[arg-type]

    def __call__(self, **fields: Any) -> Any:  # type: ignore[override]
        """Call the function with the fields it names."""
        return self.func(**{key: fields.get(key) for key in self.wants})


@overload
def scorer(func: Callable[..., Any]) -> Scorer: ...
@overload
def scorer(
    func: None = None, *, name: str | None = None, aggregations: Sequence[Any] | None = None
) -> Callable[[Callable[..., Any]], Scorer]: ...


def scorer(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    aggregations: Sequence[Any] | None = None,
) -> Scorer | Callable[[Callable[..., Any]], Scorer]:
    """Make a function a scorer: ``@scorer`` or ``@scorer(name=..., aggregations=["mean", "min"])``.

    The function's parameters are named ``inputs``, ``outputs``,
    ``expectations`` and/or ``trace``; it returns a value (bool, number,
    string, list, dict), a ``Feedback`` or a list of ``Feedback``.
    """
    if func is None:
        return lambda f: _FunctionScorer(f, name, aggregations)
    return _FunctionScorer(func, name, aggregations)
