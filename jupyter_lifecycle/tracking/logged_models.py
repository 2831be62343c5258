"""What the tracking layer knows of MLflow 3's logged models: their ids, and metric points attached to them.

``Client``'s logged-model methods use these; the SQL lives in ``store/models.py``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from ..entities import Metric
from ..errors import InvalidInput
from .validation import metric_value, validate_key


def new_model_id() -> str:
    """A logged-model id in MLflow 3's form: ``m-`` and a hex UUID."""
    return f"m-{uuid.uuid4().hex}"


def checked_strings(values: dict[str, Any] | None, what: str) -> dict[str, str]:
    """Params or tags with checked keys and values as strings."""
    return {validate_key(str(k), what): str(v) for k, v in (values or {}).items()}


def model_metrics(
    metrics: dict[str, Any],
    model_id: str,
    run_id: str | None,
    step: int | None,
    timestamp: int | None,
    dataset_name: str | None = None,
    dataset_digest: str | None = None,
) -> list[Metric]:
    """Checked ``Metric`` points for a logged model (``dataset_name`` and ``dataset_digest`` come together)."""
    if (dataset_name is None) != (dataset_digest is None):
        raise InvalidInput(f"a model metric names its dataset by both dataset_name and dataset_digest; got "
                           f"dataset_name={dataset_name!r}, dataset_digest={dataset_digest!r}")  # fmt: skip
    now = int(time.time() * 1000) if timestamp is None else int(timestamp)
    return [Metric(validate_key(k, "metric"), metric_value(k, v), now, int(step or 0), run_id=run_id, model_id=model_id,
                   dataset_name=dataset_name, dataset_digest=dataset_digest) for k, v in metrics.items()]  # fmt: skip


def dataset_fields(dataset: Any) -> tuple[str | None, str | None]:
    """``(name, digest)`` of a dataset object (anything with ``.name`` and ``.digest``), or ``(None, None)``."""
    if dataset is None:
        return None, None
    name, digest = getattr(dataset, "name", None), getattr(dataset, "digest", None)
    if not name or not digest:
        raise InvalidInput(f"dataset= needs an object with .name and .digest (a dataset from lc.data); got {dataset!r}")
    return str(name), str(digest)
