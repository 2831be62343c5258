"""GenAI evaluation with MLflow 3's names (``mlflow.genai``): ``evaluate``, scorers, evaluation datasets.

Sits above tracing, tracking and models: ``evaluate`` traces the app, logs
feedback on the traces and metrics on a run. Assessment entities are here
too, as the issue's examples use them (``lc.genai.AssessmentSource``).
"""

from ..tracing import Assessment, AssessmentError, AssessmentSource, AssessmentSourceType, Expectation, Feedback
from . import datasets, scorers
from .datasets import EvaluationDataset, create_dataset, delete_dataset, get_dataset, search_datasets, set_dataset_tags
from .evaluation import EvaluationResult, evaluate
from .scorers import Scorer, scorer

__all__ = [
    "Assessment", "AssessmentError", "AssessmentSource", "AssessmentSourceType", "EvaluationDataset",
    "EvaluationResult", "Expectation", "Feedback", "Scorer", "create_dataset", "datasets", "delete_dataset",
    "evaluate", "get_dataset", "scorer", "scorers", "search_datasets", "set_dataset_tags",
]  # fmt: skip
