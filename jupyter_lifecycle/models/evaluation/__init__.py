"""Model evaluation, as ``mlflow.models.evaluate``: default metrics, plots, thresholds.

Pure Python over scikit-learn, pandas and vl-convert (imported on first
use); the notebook layer gives ``EvaluationResult`` its inline display.
"""

from .evaluate import EvaluationArtifact, EvaluationResult, evaluate
from .metrics import EvaluationMetric, MetricValue, make_metric
from .validation import MetricThreshold, ModelValidationFailedException, validate_evaluation_results

__all__ = [
    "EvaluationArtifact", "EvaluationMetric", "EvaluationResult", "MetricThreshold", "MetricValue",
    "ModelValidationFailedException", "evaluate", "make_metric", "validate_evaluation_results",
]  # fmt: skip
