"""The model being scored: loading it, reading its signature, shaping input to it.

The scoring notebook, ``lc.score`` and the scoring server all score through a
``ScoringModel``: the loaded pyfunc model plus what its ``MLmodel`` file says
(signature, uuid, run, flavors). Signature parsing and enforcement are the
models package's (``models.signature``, ``models.enforce``); this module only
adds what scoring needs on top: the casts that JSON and CSV input needs
before enforcement, and a report of every mismatch at once.
"""

from __future__ import annotations

import base64
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, SchemaMismatch
from ..models.signature import NUMPY_NAMES, ColSpec, ModelSignature, Schema, TensorSpec, type_name

_INTEGERS = {"integer", "long"}
_FLOATS = {"float", "double"}


def read_mlmodel(folder: Path) -> dict[str, Any]:
    """The parsed ``MLmodel`` file of a model folder."""
    import yaml

    path = folder / "MLmodel"
    if not path.is_file():
        raise InvalidInput(f"{str(folder)!r} is not a model folder: it has no MLmodel file. "
                           "Pass a model URI such as runs:/<run_id>/model or models:/<name>@<alias>.")  # fmt: skip
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def spec_type(spec: ColSpec | TensorSpec) -> str:
    """``double``, ``array<string>``..., or ``tensor(float64, [-1, 4])``."""
    if isinstance(spec, TensorSpec):
        return f"tensor({spec.dtype}, {list(spec.shape)})"
    return type_name(spec.type)


@dataclass
class ScoringModel:
    """A loaded model and what its MLmodel says; ``predict`` takes a DataFrame or array."""

    uri: str
    path: Path
    model: Any
    mlmodel: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.signature = ModelSignature.from_dict(self.mlmodel.get("signature") or {})
        self.inputs: Schema | None = self.signature.inputs
        try:
            self._takes_params = "params" in inspect.signature(self.model.predict).parameters
        except (TypeError, ValueError):
            self._takes_params = False
        specs = self.inputs.inputs if self.inputs is not None else ()
        self.columns: list[ColSpec] = [s for s in specs if isinstance(s, ColSpec) and s.name is not None]
        self._by_name = {c.name: c for c in self.columns}
        # Signatures of numbers only let JSON rows go straight into one float/int
        # block (see serving.protocol), the fast path for the common case.
        self.numeric_only = bool(self.columns) and all(c.type in _INTEGERS | _FLOATS for c in self.columns)
        self._targets = {c.name: NUMPY_NAMES[c.type] for c in self.columns if isinstance(c.type, str)}

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Predict with the model; its own signature enforcement raises ``SchemaMismatch``."""
        if self._takes_params:
            return self.model.predict(data, params=params)
        return self.model.predict(data)

    def conform(self, frame: Any) -> Any:
        """Cast the columns that JSON or CSV cannot type exactly to the signature's types.

        JSON has no ``float32``, ``int32``, dates or bytes, and ``1.0`` reads as
        a float; MLflow casts parsed payloads to the signature before
        predicting, and so does this, when nothing is lost. Anything else is
        left for the signature enforcement to report, naming the column.
        """
        import numpy as np
        import pandas as pd

        targets = self._targets
        for name, dtype in zip(frame.columns, frame.dtypes.tolist(), strict=True):
            target = targets.get(name)
            if target is None or dtype == target:
                continue  # only mismatched columns are touched: this runs on every request
            column, kind = frame[name], self._by_name[name].type
            try:
                if kind in _FLOATS and dtype.kind in "iuf" and dtype != target:
                    frame[name] = column.astype(target)
                elif kind in _INTEGERS and dtype.kind in "iuf" and dtype != target and len(column):
                    values = column.to_numpy()
                    info = np.iinfo(target)
                    whole = dtype.kind in "iu" or (not np.isnan(values).any() and np.all(np.mod(values, 1) == 0))
                    if whole and values.min() >= info.min and values.max() <= info.max:
                        frame[name] = column.astype(target)
                elif kind == "datetime" and dtype.kind != "M":
                    frame[name] = pd.to_datetime(column)
                elif kind == "binary" and len(column) and isinstance(column.iloc[0], str):
                    frame[name] = column.map(lambda x: base64.b64decode(x) if isinstance(x, str) else x)
            except (ValueError, TypeError, OverflowError) as exc:
                raise SchemaMismatch(f"column {name!r}: expected {kind}, but the values cannot be read as {kind}: {exc}") from exc
        return frame

    def check(self, frame: Any) -> list[str]:
        """Every mismatch between a DataFrame and the signature, one message each (empty when it fits).

        The scoring notebook's validation cell reports them all at once rather
        than stopping at the first, using the same enforcement as ``predict``.
        """
        from ..models.enforce import enforce_schema

        if self.inputs is None:
            return []
        if not self.columns:
            try:
                enforce_schema(frame, self.inputs)
            except SchemaMismatch as exc:
                return [str(exc)]
            return []
        problems = []
        for spec in self.columns:
            try:
                enforce_schema(frame, Schema([spec]))
            except SchemaMismatch as exc:
                problems.append(str(exc))
        return problems

    def describe(self) -> dict[str, Any]:
        """What ``/metadata`` and the notebook header show about the model."""
        sig = self.signature
        return {
            "model_uri": self.uri,
            "model_uuid": self.mlmodel.get("model_uuid"),
            "run_id": self.mlmodel.get("run_id"),
            "utc_time_created": self.mlmodel.get("utc_time_created"),
            "flavors": sorted((self.mlmodel.get("flavors") or {}).keys()),
            "signature": {
                "inputs": sig.inputs.to_dict() if sig.inputs is not None else None,
                "outputs": sig.outputs.to_dict() if sig.outputs is not None else None,
                "params": [p.to_dict() for p in sig.params.params] if sig.params is not None else None,
            },
        }


def load_scoring_model(model_uri: str) -> ScoringModel:
    """Load ``model_uri`` (any URI form) for scoring."""
    from ..models.uri import resolve_model_uri
    from ..pyfunc import load_model

    path = resolve_model_uri(model_uri)
    mlmodel = read_mlmodel(path)
    # Load from the resolved folder, so an alias moved meanwhile cannot mix two versions.
    return ScoringModel(str(model_uri), path, load_model(str(path)), mlmodel)
