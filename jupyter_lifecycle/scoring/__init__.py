"""Batch scoring and generated scoring notebooks.

``generate_scoring_notebook(model_uri, ...)`` writes a notebook that scores a
table with a model; ``score(model_uri, input, output, engine=...)`` does the
same in one call, on pandas or Dask. Both score through ``ScoringModel``
(``model.py``), which the scoring server shares.
"""

from .batch import score
from .environment import ensure_environment
from .model import ScoringModel, load_scoring_model
from .notebook import build_scoring_notebook, generate_scoring_notebook
from .predict import check_input, predict_frame, with_predictions
from .tables import preview_table, read_table, write_table

__all__ = [
    "ScoringModel", "build_scoring_notebook", "check_input", "ensure_environment", "generate_scoring_notebook",
    "load_scoring_model", "predict_frame", "preview_table", "read_table", "score", "with_predictions", "write_table",
]  # fmt: skip
