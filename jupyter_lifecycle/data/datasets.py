"""Datasets for tracking: a DataFrame or arrays with a name, digest, source, schema and profile.

``from_pandas`` and ``from_numpy`` build them as ``mlflow.data`` does, and
``lc.log_input(dataset, context="training")`` links one to the active run.
What is stored (``to_dict()``) is MLflow's dataset config, field for field;
the digest is computed when the dataset is built (fast: a sample is hashed),
the schema and profile when it is first logged or shown.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from ..entities import Dataset as DatasetEntity
from ..errors import InvalidInput
from ..models.signature import Schema, infer_schema
from .digest import numpy_digest, pandas_digest
from .sources import DatasetSource, resolve_source


class Dataset:
    """What every dataset has: a name, a digest, a source; subclasses add schema and profile."""

    def __init__(self, source: DatasetSource, name: str | None = None, digest: str | None = None) -> None:
        for argument, value in (("name", name), ("digest", digest)):
            if value is not None and (not isinstance(value, str) or not value):
                raise InvalidInput(f"{argument} must be a non-empty string or None, not {value!r}")
        self._source = source
        self._name = name
        self._digest = digest or self._compute_digest()

    def _compute_digest(self) -> str:
        raise NotImplementedError

    @property
    def name(self) -> str:
        """The dataset's name (``"dataset"`` when none was given, as in MLflow)."""
        return self._name if self._name is not None else "dataset"

    @property
    def digest(self) -> str:
        """A short hash of the content: equal data, equal digest."""
        return self._digest

    @property
    def source(self) -> DatasetSource:
        """Where the data came from."""
        return self._source

    @property
    def schema(self) -> Any:
        """The data's schema, or ``None`` when it cannot be inferred."""
        return None

    @property
    def profile(self) -> dict[str, Any] | None:
        """Summary numbers (rows, elements...), or ``None``."""
        return None

    def _schema_json(self) -> str | None:
        return None

    def to_dict(self) -> dict[str, Any]:
        """MLflow's dataset config: name, digest, source, source_type, schema and profile (JSON strings)."""
        profile = self.profile
        return {
            "name": self.name,
            "digest": self.digest,
            "source": self.source.to_json(),
            "source_type": self.source.source_type,
            "schema": self._schema_json(),
            "profile": None if profile is None else json.dumps(profile),
        }

    def to_json(self) -> str:
        """``to_dict()`` as JSON."""
        return json.dumps(self.to_dict())

    def _to_mlflow_entity(self) -> DatasetEntity:
        """The record ``log_input`` stores (MLflow's method name)."""
        config = self.to_dict()
        return DatasetEntity(config["name"], config["digest"], config["source_type"], config["source"],
                             config["schema"], config["profile"])  # fmt: skip

    def __repr__(self) -> str:
        facts = " ".join(f"{k}={v}" for k, v in (self.profile or {}).items() if isinstance(v, int))
        return (f"<{type(self).__name__}: name={self.name!r} digest={self.digest!r} "
                f"source_type={self.source.source_type!r}{' ' + facts if facts else ''}>")  # fmt: skip

    def _repr_html_(self) -> str | None:
        render = getattr(self._to_mlflow_entity(), "_repr_html_", None)
        return render() if render is not None else None


class PandasDataset(Dataset):
    """A DataFrame as a dataset, with optional ``targets`` and ``predictions`` column names."""

    def __init__(
        self,
        df: Any,
        source: DatasetSource,
        targets: str | None = None,
        name: str | None = None,
        digest: str | None = None,
        predictions: str | None = None,
    ) -> None:
        for argument, column in (("targets", targets), ("predictions", predictions)):
            if column is not None and column not in df.columns:
                shown = ", ".join(map(repr, list(df.columns)[:20]))
                raise InvalidInput(f"{argument}={column!r} is not a column of the DataFrame; its columns: {shown}")
        self._df = df
        self._targets = targets
        self._predictions = predictions
        super().__init__(source, name, digest)

    def _compute_digest(self) -> str:
        return pandas_digest(self._df)

    @property
    def df(self) -> Any:
        """The DataFrame."""
        return self._df

    @property
    def targets(self) -> str | None:
        """The target column's name, or ``None``."""
        return self._targets

    @property
    def predictions(self) -> str | None:
        """The predictions column's name, or ``None``."""
        return self._predictions

    @property
    def profile(self) -> dict[str, Any]:
        """``{"num_rows": ..., "num_elements": ...}``, MLflow's pandas profile."""
        return {"num_rows": len(self._df), "num_elements": int(self._df.size)}

    @cached_property
    def schema(self) -> Schema | None:
        """The column schema (MLflow's ``ColSpec`` form), or ``None`` when a column has no single type."""
        try:
            schema = infer_schema(self._df)
        except Exception:  # the schema is optional: MLflow stores None when inference fails, so do we
            return None
        return schema if len(schema) else None  # no columns: no schema, as in MLflow

    def _schema_json(self) -> str | None:
        schema = self.schema
        return None if schema is None else json.dumps({"mlflow_colspec": schema.to_dict()})


class NumpyDataset(Dataset):
    """Arrays (or dicts of named arrays) as a dataset: ``features`` and optional ``targets``."""

    def __init__(
        self,
        features: Any,
        source: DatasetSource,
        targets: Any = None,
        name: str | None = None,
        digest: str | None = None,
    ) -> None:
        self._features = _arrays(features, "features")
        self._targets = None if targets is None else _arrays(targets, "targets")
        super().__init__(source, name, digest)

    def _compute_digest(self) -> str:
        return numpy_digest(self._features, self._targets)

    @property
    def features(self) -> Any:
        """The feature array (or dict of arrays)."""
        return self._features

    @property
    def targets(self) -> Any:
        """The target array (or dict of arrays), or ``None``."""
        return self._targets

    @property
    def profile(self) -> dict[str, Any]:
        """Shapes, sizes and bytes of features and targets, MLflow's numpy profile."""
        out: dict[str, Any] = {}
        for prefix, data in (("features", self._features), ("targets", self._targets)):
            if data is None:
                continue
            for attr in ("shape", "size", "nbytes"):
                out[f"{prefix}_{attr}"] = ({k: _plain(getattr(v, attr)) for k, v in data.items()}
                                           if isinstance(data, dict) else _plain(getattr(data, attr)))  # fmt: skip
        return out

    @cached_property
    def schema(self) -> dict[str, Schema | None] | None:
        """Tensor schemas of ``features`` and ``targets``, or ``None`` when they cannot be inferred."""
        try:
            return {"features": infer_schema(self._features),
                    "targets": None if self._targets is None else infer_schema(self._targets)}  # fmt: skip
        except Exception:  # optional, as for DataFrames
            return None

    def _schema_json(self) -> str | None:
        schema = self.schema
        if schema is None:
            return None
        specs = {k: None if v is None else v.to_json() for k, v in schema.items()}
        return json.dumps({"mlflow_tensorspec": specs})


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else int(value)


def _arrays(data: Any, argument: str) -> Any:
    import numpy as np

    if isinstance(data, dict):
        if not data or not all(isinstance(k, str) for k in data):
            raise InvalidInput(f"{argument} as a dict needs string keys naming arrays, got {list(data)[:5]!r}")
        return {k: _arrays(v, f"{argument}[{k!r}]") for k, v in data.items()}
    if not isinstance(data, np.ndarray):
        raise InvalidInput(f"{argument} must be a numpy array or a dict of arrays, not {type(data).__name__}")
    return data


def from_pandas(
    df: Any,
    source: str | DatasetSource | None = None,
    targets: str | None = None,
    name: str | None = None,
    digest: str | None = None,
    predictions: str | None = None,
) -> PandasDataset:
    """A dataset of a DataFrame, as ``mlflow.data.from_pandas``.

    ``source`` says where the data came from (a path, ``file://``, ``https://``
    or ``s3://`` URI; default: the notebook or script running now);
    ``targets`` and ``predictions`` name columns of ``df``; ``name`` defaults
    to ``"dataset"``; ``digest`` is computed when not given.
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise InvalidInput(f"df must be a pandas DataFrame, not {type(df).__name__}; from_numpy() takes arrays")
    return PandasDataset(df, resolve_source(source), targets=targets, name=name, digest=digest,
                         predictions=predictions)  # fmt: skip


def from_numpy(
    features: Any,
    source: str | DatasetSource | None = None,
    targets: Any = None,
    name: str | None = None,
    digest: str | None = None,
) -> NumpyDataset:
    """A dataset of numpy arrays (or dicts of named arrays), as ``mlflow.data.from_numpy``."""
    return NumpyDataset(features, resolve_source(source), targets=targets, name=name, digest=digest)
