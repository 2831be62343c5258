"""GenAI with MLflow 3's names (``mlflow.genai``): ``evaluate``, scorers, evaluation datasets, prompts.

Sits above tracing, tracking and models: ``evaluate`` traces the app, logs
feedback on the traces and metrics on a run. Assessment entities are here
too, as the issue's examples use them (``lc.genai.AssessmentSource``). No
IPython here: ``%lifecycle prompts`` lives in ``notebook/magics/tracing.py``.
"""

from ..tracing import Assessment, AssessmentError, AssessmentSource, AssessmentSourceType, Expectation, Feedback
from . import datasets, scorers
from .datasets import EvaluationDataset, create_dataset, delete_dataset, get_dataset, search_datasets, set_dataset_tags
from .evaluation import EvaluationResult, evaluate
from .prompts import (
    Prompt,
    PromptVersion,
    delete_prompt_alias,
    delete_prompt_tag,
    load_prompt,
    register_prompt,
    search_prompts,
    set_prompt_alias,
    set_prompt_tag,
)
from .scorers import Scorer, scorer

__all__ = [
    "Assessment", "AssessmentError", "AssessmentSource", "AssessmentSourceType", "EvaluationDataset",
    "EvaluationResult", "Expectation", "Feedback", "Scorer", "create_dataset", "datasets", "delete_dataset",
    "evaluate", "get_dataset", "scorer", "scorers", "search_datasets", "set_dataset_tags",
    # prompts
    "Prompt", "PromptVersion", "delete_prompt_alias", "delete_prompt_tag", "load_prompt", "register_prompt",
    "search_prompts", "set_prompt_alias", "set_prompt_tag",
]  # fmt: skip
