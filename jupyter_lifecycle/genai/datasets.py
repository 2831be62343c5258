"""Evaluation datasets (MLflow 3's ``mlflow.genai.datasets``): rows of inputs and expectations, in the store.

``create_dataset("qa")``, then ``dataset.merge_records(...)`` from a list of
dicts, a DataFrame, traces or ``search_traces()``'s DataFrame; records with
the same inputs are merged (expectations and tags updated). Evaluate with
``genai.evaluate(data=dataset, ...)``.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput
from ..store import Store
from ..tracing import Expectation, Trace
from ..tracking import fluent as tracking

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EvaluationDataset", "create_dataset", "delete_dataset", "get_dataset", "search_datasets",
           "set_dataset_tags"]  # fmt: skip

DF_COLUMNS = ["inputs", "outputs", "expectations", "tags", "source_type", "source_id", "source", "created_time",
              "dataset_record_id"]  # fmt: skip
"""MLflow's ``EvaluationDataset.to_df()`` columns."""


def _store() -> Store:
    return tracking.client().store


class EvaluationDataset:
    """A named, stored set of evaluation records. Records are read from the store on each use."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.dataset_id: str = fields["dataset_id"]
        self.name: str = fields["name"]
        self.digest: str = fields["digest"]
        self.experiment_ids: list[str] = fields["experiment_ids"]
        self.tags: dict[str, str] = fields["tags"]
        self.created_time: int = fields["created_time"]
        self.last_update_time: int = fields["last_update_time"]
        self.created_by: str | None = fields["created_by"]

    @property
    def records(self) -> list[dict[str, Any]]:
        """The records: ``inputs``, ``outputs``, ``expectations``, ``tags``, ``source``, ids and times."""
        return _store().eval_datasets.records(self.dataset_id)

    def merge_records(self, records: Sequence[dict[str, Any]] | pd.DataFrame | Sequence[Trace]) -> EvaluationDataset:
        """Add records, or update those with the same inputs; returns the dataset (refreshed) for chaining.

        ``records``: dicts with ``inputs`` (a dict) and optionally ``expectations``,
        ``outputs``, ``tags``; a DataFrame with those columns, or with a ``trace``
        column (``search_traces()``'s); or ``Trace`` objects, whose root span's
        inputs and outputs and whose expectation assessments become a record.
        """
        rows = _record_dicts(records)
        _store().eval_datasets.merge_records(self.dataset_id, rows)
        self.__init__(_store().eval_datasets.get(dataset_id=self.dataset_id))  # type: ignore[misc]
        return self

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Add or replace tags on the dataset."""
        set_dataset_tags(self.dataset_id, tags)
        self.tags = {**self.tags, **{str(k): str(v) for k, v in tags.items()}}

    def to_df(self) -> pd.DataFrame:
        """The records as a DataFrame with MLflow's columns."""
        import pandas as pd

        rows = []
        for record in self.records:
            source = record["source"] or {}
            data = source.get("source_data") or {}
            rows.append({
                **{k: record[k] for k in ("inputs", "outputs", "expectations", "tags", "created_time",
                                          "dataset_record_id")},
                "source": source or None, "source_type": source.get("source_type"),
                "source_id": data.get("trace_id") or data.get("source_id"),
            })  # fmt: skip
        return pd.DataFrame(rows, columns=DF_COLUMNS)

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return f"EvaluationDataset(name={self.name!r}, dataset_id={self.dataset_id!r}, digest={self.digest!r})"


def _from_trace(trace: Trace) -> dict[str, Any]:
    root = trace.data._root()
    expectations = {a.name: a.value for a in trace.info.assessments if isinstance(a, Expectation)}
    return {
        "inputs": root.inputs if root is not None and root.inputs is not None else {},
        "outputs": root.outputs if root is not None else None,
        "expectations": expectations,
        "source": {"source_type": "TRACE", "source_data": {"trace_id": trace.info.trace_id}},
    }


def _record_dicts(records: Any) -> list[dict[str, Any]]:
    """Records given as dicts, a DataFrame or traces, as checked dicts."""
    import pandas as pd

    if isinstance(records, pd.DataFrame):
        if "trace" in records.columns:
            records = [t if isinstance(t, Trace) else Trace.from_json(t) for t in records["trace"]]
        else:
            records = records.to_dict("records")
    if isinstance(records, (dict, str)) or not isinstance(records, Sequence):
        raise InvalidInput(
            f"records must be a list of dicts, a DataFrame or a list of traces, got {type(records).__name__}"
        )
    out = []
    for index, record in enumerate(records):
        if isinstance(record, Trace):
            out.append(_from_trace(record))
            continue
        if not isinstance(record, dict) or not isinstance(record.get("inputs"), dict):
            raise InvalidInput(f"record {index} needs 'inputs' as a dict of the app's arguments, got {record!r}")
        unknown = set(record) - {"inputs", "outputs", "expectations", "tags", "source"}
        if unknown:
            raise InvalidInput(
                f"record {index} has unknown field(s) {', '.join(sorted(unknown))}: "
                "use inputs, outputs, expectations, tags, source"
            )
        for key in ("expectations", "tags"):
            if record.get(key) is not None and not isinstance(record[key], dict):
                raise InvalidInput(f"record {index}: {key} must be a dict, got {record[key]!r}")
        try:
            json.dumps(record)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"record {index} is not JSON-serializable: {exc}") from exc
        source = record.get("source") or {
            "source_type": "HUMAN" if record.get("expectations") else "CODE", "source_data": {}
        }  # fmt: skip
        out.append({**record, "source": source})
    return out


def create_dataset(
    name: str, experiment_id: str | Sequence[str] | None = None, tags: dict[str, Any] | None = None
) -> EvaluationDataset:
    """Create an empty evaluation dataset linked to experiments (default: the current one)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"an evaluation dataset needs a non-empty name, got {name!r}")
    if experiment_id is None:
        experiment_ids = [tracking._current_experiment_id(tracking.client())]
    else:
        experiment_ids = [experiment_id] if isinstance(experiment_id, str) else [str(e) for e in experiment_id]
    fields = _store().eval_datasets.create(
        name, experiment_ids, {str(k): str(v) for k, v in (tags or {}).items()}, getpass.getuser()
    )
    return EvaluationDataset(fields)


def _pick(name: str | None, dataset_id: str | None) -> dict[str, Any]:
    if (name is None) == (dataset_id is None):
        raise InvalidInput("give exactly one of name= or dataset_id=")
    return _store().eval_datasets.get(name=name, dataset_id=dataset_id)


def get_dataset(name: str | None = None, dataset_id: str | None = None) -> EvaluationDataset:
    """The evaluation dataset with this name or id (``NotFound`` when there is none)."""
    return EvaluationDataset(_pick(name, dataset_id))


def delete_dataset(name: str | None = None, dataset_id: str | None = None) -> None:
    """Delete an evaluation dataset and its records."""
    _store().eval_datasets.delete(_pick(name, dataset_id)["dataset_id"])


def search_datasets() -> list[EvaluationDataset]:
    """Every evaluation dataset of the store, the last updated first."""
    return [EvaluationDataset(fields) for fields in _store().eval_datasets.search()]


def set_dataset_tags(dataset_id: str, tags: dict[str, Any]) -> None:
    """Add or replace tags on an evaluation dataset."""
    _store().eval_datasets.set_tags(dataset_id, {str(k): str(v) for k, v in tags.items()})
