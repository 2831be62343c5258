"""Run inputs: turning what the user passes to ``log_input`` into checked ``DatasetInput`` entities.

The dataset objects of ``lc.data`` (and MLflow's own, when both are installed)
are read through ``to_dict()``, MLflow's dataset config, so this module needs
neither pandas nor the ``data`` package. Limits are MLflow's
(``mlflow/utils/validation.py``), so what is logged here also fits there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..entities import DATASET_CONTEXT_TAG, Dataset, DatasetInput, InputTag
from ..errors import InvalidInput

MAX_NAME = 500
MAX_DIGEST = 36
MAX_SOURCE = 65535
MAX_SCHEMA = 1048575
MAX_PROFILE = 16777215
MAX_TAG_KEY = 255
MAX_TAG_VALUE = 500
MAX_DATASETS_PER_BATCH = 1000


def as_dataset(dataset: Any, argument: str = "dataset") -> Dataset:
    """The ``Dataset`` entity of a dataset from ``lc.data.from_pandas``/``from_numpy`` (or an entity as is)."""
    if isinstance(dataset, Dataset):
        entity = dataset
    elif callable(getattr(dataset, "to_dict", None)) and hasattr(dataset, "digest"):
        config = dataset.to_dict()
        try:
            entity = Dataset(config["name"], config["digest"], config["source_type"], config["source"],
                             config.get("schema"), config.get("profile"))  # fmt: skip
        except (KeyError, TypeError) as exc:
            raise InvalidInput(f"{argument}: {type(dataset).__name__}.to_dict() lacks the field {exc}") from None
    else:
        raise InvalidInput(
            f"{argument} must be a dataset made by lc.data.from_pandas() or lc.data.from_numpy() "
            f"(or a Dataset entity), not {type(dataset).__name__}"
        )
    check_dataset(entity, argument)
    return entity


def check_dataset(dataset: Dataset, argument: str = "dataset") -> None:
    """Refuse a dataset record MLflow's store would refuse: missing fields, or fields over its limits."""
    for name in ("name", "digest", "source_type", "source"):
        if not isinstance(getattr(dataset, name), str) or not getattr(dataset, name):
            raise InvalidInput(f"{argument}.{name} must be a non-empty string, not {getattr(dataset, name)!r}")
    for name in ("schema", "profile"):
        if getattr(dataset, name) is not None and not isinstance(getattr(dataset, name), str):
            raise InvalidInput(f"{argument}.{name} must be a JSON string or None, not {type(getattr(dataset, name)).__name__}")
    limits = {"name": MAX_NAME, "digest": MAX_DIGEST, "source": MAX_SOURCE, "schema": MAX_SCHEMA, "profile": MAX_PROFILE}
    for name, limit in limits.items():
        value = getattr(dataset, name)
        if value is not None and len(value) > limit:
            raise InvalidInput(f"{argument}.{name} is {len(value)} characters long; the limit is {limit}")


def input_tags(tags: Any, context: Any = None, argument: str = "tags", context_argument: str = "context") -> list[InputTag]:
    """Checked input tags from a ``{key: value}`` dict and a context (stored as ``mlflow.data.context``)."""
    if tags is not None and not isinstance(tags, Mapping):
        raise InvalidInput(f"{argument} must be a dict of tag key to value, not {type(tags).__name__}")
    if context is not None and not isinstance(context, str):
        raise InvalidInput(
            f"{context_argument} must be a string such as 'training' or 'eval', not {type(context).__name__} {context!r}"
        )
    out = []
    for key, value in (tags or {}).items():
        if not isinstance(key, str) or not key:
            raise InvalidInput(f"{argument}: tag keys must be non-empty strings, not {key!r}")
        if not isinstance(value, str | int | float | bool):
            raise InvalidInput(f"{argument}[{key!r}] must be a string (or number), not {type(value).__name__}")
        out.append(InputTag(key, str(value)))
    if context:
        out.append(InputTag(DATASET_CONTEXT_TAG, context))
    for tag in out:
        if len(tag.key) > MAX_TAG_KEY:
            raise InvalidInput(f"{argument}: tag key {tag.key[:40]!r}... is longer than {MAX_TAG_KEY} characters")
        if len(tag.value) > MAX_TAG_VALUE:
            raise InvalidInput(f"{argument}[{tag.key!r}] is {len(tag.value)} characters; the limit is {MAX_TAG_VALUE}")
    return out


def dataset_input(dataset: Any, context: Any = None, tags: Any = None, index: int | None = None) -> DatasetInput:
    """One checked ``DatasetInput`` from what ``log_input`` (or entry ``index`` of ``log_inputs``) was given."""
    if index is None:
        return DatasetInput(as_dataset(dataset), input_tags(tags, context))
    return DatasetInput(as_dataset(dataset, f"datasets[{index}]"),
                        input_tags(tags, context, f"tags_list[{index}]", f"contexts[{index}]"))  # fmt: skip


def check_dataset_inputs(datasets: Any) -> list[DatasetInput]:
    """``Client.log_inputs``' ``datasets``: a list of ``DatasetInput``, each checked."""
    if datasets is None:
        return []
    if not isinstance(datasets, Sequence) or isinstance(datasets, str):
        raise InvalidInput(f"datasets must be a list of DatasetInput, not {type(datasets).__name__}")
    if len(datasets) > MAX_DATASETS_PER_BATCH:
        raise InvalidInput(f"datasets has {len(datasets)} entries; log at most {MAX_DATASETS_PER_BATCH} per call")
    out = []
    for index, item in enumerate(datasets):
        if not isinstance(item, DatasetInput):
            raise InvalidInput(
                f"datasets[{index}] must be a DatasetInput(dataset, tags), not {type(item).__name__}; "
                "lc.log_input(dataset, context=...) builds one for you"
            )
        check_dataset(item.dataset, f"datasets[{index}].dataset")
        if not isinstance(item.tags, Sequence) or not all(isinstance(t, InputTag) for t in item.tags):
            raise InvalidInput(f"datasets[{index}].tags must be a list of InputTag")
        input_tags({t.key: t.value for t in item.tags}, argument=f"datasets[{index}].tags")
        out.append(item)
    return out


def model_ids(models: Any) -> list[str]:
    """The model ids of ``models``: ``LoggedModelInput`` objects (or anything with a ``model_id``, or ids)."""
    if models is None:
        return []
    if not isinstance(models, Sequence) or isinstance(models, str):
        raise InvalidInput(f"models must be a list of LoggedModelInput, not {type(models).__name__}")
    out = []
    for index, model in enumerate(models):
        model_id = model if isinstance(model, str) else getattr(model, "model_id", None)
        if not isinstance(model_id, str) or not model_id:
            raise InvalidInput(f"models[{index}] must be a LoggedModelInput(model_id) or a model id, not {model!r}")
        out.append(model_id)
    return out

