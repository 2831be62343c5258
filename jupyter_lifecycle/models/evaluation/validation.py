"""``MetricThreshold`` and ``validate_evaluation_results``: MLflow's model validation, every failure listed."""

from __future__ import annotations

from typing import Any

from ...errors import InvalidInput


class ModelValidationFailedException(InvalidInput):
    """A candidate model failed one or more thresholds; the message lists each one (MLflow's name)."""

    error_code = "BAD_REQUEST"

    def __init__(self, failures: list[str]) -> None:
        self.failures = failures
        super().__init__(f"model validation failed for {len(failures)} threshold(s):\n  " + "\n  ".join(failures))


class MetricThreshold:
    """A metric's acceptance rule (``mlflow.models.MetricThreshold``).

    ``threshold``: the value the metric must reach (``>=`` when
    ``greater_is_better``, else ``<=``); ``min_absolute_change`` /
    ``min_relative_change`` (0..1): how much better than the baseline it must be.
    """

    def __init__(
        self,
        threshold: float | None = None,
        min_absolute_change: float | None = None,
        min_relative_change: float | None = None,
        greater_is_better: bool | None = None,
    ) -> None:
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, int | float)):
            raise InvalidInput(f"MetricThreshold: threshold must be a number, not {threshold!r}")
        if min_absolute_change is not None and (isinstance(min_absolute_change, bool)
                                                or not isinstance(min_absolute_change, int | float)
                                                or min_absolute_change <= 0):  # fmt: skip
            raise InvalidInput(f"MetricThreshold: min_absolute_change must be a positive number, not {min_absolute_change!r}")
        if min_relative_change is not None and (not isinstance(min_relative_change, float)
                                                or not 0 <= min_relative_change <= 1):  # fmt: skip
            raise InvalidInput(f"MetricThreshold: min_relative_change must be a float between 0 and 1, "
                               f"not {min_relative_change!r}")  # fmt: skip
        if not isinstance(greater_is_better, bool):
            raise InvalidInput(f"MetricThreshold: greater_is_better must be True or False, not {greater_is_better!r}")
        if threshold is None and min_absolute_change is None and min_relative_change is None:
            raise InvalidInput("MetricThreshold: give threshold=, min_absolute_change= or min_relative_change=")
        self.threshold = threshold
        self.min_absolute_change = min_absolute_change
        self.min_relative_change = min_relative_change
        self.greater_is_better = greater_is_better

    def __repr__(self) -> str:
        fields = ("threshold", "min_absolute_change", "min_relative_change", "greater_is_better")
        return "MetricThreshold(" + ", ".join(f"{f}={getattr(self, f)!r}" for f in fields
                                              if getattr(self, f) is not None) + ")"  # fmt: skip


def _failures(name: str, rule: MetricThreshold, value: float | None, base: float | None) -> list[str]:
    if value is None:
        return [f"{name}: the candidate has no such metric"]
    better = "higher" if rule.greater_is_better else "lower"
    sign = 1 if rule.greater_is_better else -1
    out = []
    if rule.threshold is not None and sign * (value - rule.threshold) < 0:
        out.append(f"{name}={value:.6g} is not {'>=' if sign > 0 else '<='} the threshold {rule.threshold:g}")
    if rule.min_absolute_change is not None or rule.min_relative_change is not None:
        if base is None:
            return [*out, f"{name}: a change against the baseline is required, but there is no baseline value"]
        if rule.min_absolute_change is not None and sign * (value - base) < rule.min_absolute_change:
            out.append(f"{name}={value:.6g} is not {rule.min_absolute_change:g} {better} than the baseline's "
                       f"{base:.6g}")  # fmt: skip
        if rule.min_relative_change is not None:
            needed = abs(base) * rule.min_relative_change
            if sign * (value - base) < needed:
                out.append(f"{name}={value:.6g} is not {rule.min_relative_change:.0%} {better} than the "
                           f"baseline's {base:.6g}")  # fmt: skip
    return out


def validate_evaluation_results(
    validation_thresholds: Any = None,
    candidate_result: Any = None,
    baseline_result: Any = None,
    *,
    thresholds: dict[str, MetricThreshold] | None = None,
) -> None:
    """Check a candidate's metrics against thresholds (and a baseline); raise listing every failure.

    MLflow's order is ``(validation_thresholds, candidate_result,
    baseline_result)``; ``(candidate, baseline, thresholds=...)`` works too.
    The baseline defaults to the one ``evaluate(baseline_model=...)``
    measured with the candidate. Raises ``ModelValidationFailedException``.
    """
    from .evaluate import EvaluationResult

    if isinstance(validation_thresholds, EvaluationResult):  # the (candidate, baseline, thresholds=) order
        validation_thresholds, candidate_result, baseline_result = thresholds, validation_thresholds, candidate_result
    elif thresholds is not None:
        raise InvalidInput("validate_evaluation_results: thresholds given twice (positionally and as thresholds=)")
    if not isinstance(validation_thresholds, dict) or not all(
        isinstance(k, str) and isinstance(v, MetricThreshold) for k, v in validation_thresholds.items()
    ):
        raise InvalidInput("validation thresholds must be a dict of metric name to MetricThreshold, "
                           f"not {validation_thresholds!r}")  # fmt: skip
    if not isinstance(candidate_result, EvaluationResult):
        raise InvalidInput(f"candidate_result must be what evaluate() returned, not {type(candidate_result).__name__}")
    if baseline_result is not None and not isinstance(baseline_result, EvaluationResult):
        raise InvalidInput(f"baseline_result must be what evaluate() returned, not {type(baseline_result).__name__}")
    base = baseline_result.metrics if baseline_result is not None else candidate_result.baseline_metrics or {}
    failures = [f for name, rule in validation_thresholds.items()
                for f in _failures(name, rule, candidate_result.metrics.get(name), base.get(name))]  # fmt: skip
    if failures:
        raise ModelValidationFailedException(failures)
