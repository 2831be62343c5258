"""Model signatures in MLflow's format: column and tensor specs, params, inference.

The JSON written into ``MLmodel`` is the one MLflow reads
(``mlflow/types/schema.py``): ``{"type": "double", "name": "a", "required": true}``
for columns, ``{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}``
for tensors, ``{"name": "k", "default": 3, "shape": null, "type": "long"}`` for params.
Enforcement at predict time lives in ``enforce.py``.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput

DATA_TYPES = ("boolean", "integer", "long", "float", "double", "string", "binary", "datetime")
"""MLflow's scalar type names."""

NUMPY_NAMES = {
    "boolean": "bool", "integer": "int32", "long": "int64", "float": "float32",
    "double": "float64", "string": "object", "binary": "object", "datetime": "datetime64[ns]",
}  # fmt: skip
"""The numpy dtype each MLflow type stands for."""


@dataclass(frozen=True)
class Array:
    """MLflow's ``array`` type: a column whose values are lists of ``items``."""

    items: str | Array | dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The JSON MLflow writes for this type."""
        return {"type": "array", "items": _type_dict(self.items)}


ColType = str | Array | dict  # dict: an MLflow type this project keeps but does not enforce (object, map, any)


def _type_dict(kind: ColType) -> dict[str, Any]:
    if isinstance(kind, Array):
        return kind.to_dict()
    if isinstance(kind, dict):
        return dict(kind)
    return {"type": kind}


def _parse_type(spec: dict[str, Any]) -> ColType:
    kind = spec.get("type")
    if kind == "array":
        return Array(_parse_type(spec["items"]))
    if kind in DATA_TYPES:
        return str(kind)
    return {k: v for k, v in spec.items() if k not in ("name", "required")}


def type_name(kind: ColType) -> str:
    """A readable name for a column type (``long``, ``array<string>``, ``object``)."""
    if isinstance(kind, Array):
        return f"array<{type_name(kind.items)}>"
    if isinstance(kind, dict):
        return str(kind.get("type", "any"))
    return kind


@dataclass(frozen=True)
class ColSpec:
    """One input or output column: its MLflow type, optional name, and whether it may be missing."""

    type: ColType
    name: str | None = None
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The JSON MLflow writes for a column."""
        out = _type_dict(self.type)
        if self.name is not None:
            out["name"] = self.name
        out["required"] = self.required
        return out


@dataclass(frozen=True)
class TensorSpec:
    """A tensor input or output: numpy dtype name and shape (``-1`` for any size)."""

    dtype: str
    shape: tuple[int, ...]
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON MLflow writes for a tensor."""
        out: dict[str, Any] = {"name": self.name} if self.name is not None else {}
        out["type"] = "tensor"
        out["tensor-spec"] = {"dtype": self.dtype, "shape": list(self.shape)}
        return out

    @property
    def type(self) -> str:
        """The numpy dtype name (MLflow's ``TensorSpec.type`` is a numpy dtype)."""
        return self.dtype


Spec = ColSpec | TensorSpec


@dataclass(frozen=True)
class Schema:
    """An ordered list of column specs or of tensor specs (never both)."""

    inputs: tuple[Spec, ...]

    def __init__(self, inputs: Sequence[Spec]) -> None:
        specs = tuple(inputs)
        if specs and len({isinstance(s, TensorSpec) for s in specs}) > 1:
            raise InvalidInput("a schema holds either column specs or tensor specs, not both")
        names = [s.name for s in specs]
        if any(n is None for n in names) and any(n is not None for n in names):
            raise InvalidInput("in a schema either every spec has a name or none has")
        object.__setattr__(self, "inputs", specs)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.inputs)

    def __len__(self) -> int:
        return len(self.inputs)

    def is_tensor_spec(self) -> bool:
        """True when the schema describes tensors."""
        return bool(self.inputs) and isinstance(self.inputs[0], TensorSpec)

    def has_input_names(self) -> bool:
        """True when the specs are named (matched by name, not position)."""
        return bool(self.inputs) and self.inputs[0].name is not None

    def input_names(self) -> list[str | int]:
        """Names, or positions when unnamed."""
        return [s.name if s.name is not None else i for i, s in enumerate(self.inputs)]

    def required_input_names(self) -> list[str | int]:
        """Names of the specs that must be present."""
        return [n for n, s in zip(self.input_names(), self.inputs, strict=True) if getattr(s, "required", True)]

    def input_types(self) -> list[Any]:
        """MLflow types (columns) or numpy dtype names (tensors)."""
        return [s.dtype if isinstance(s, TensorSpec) else s.type for s in self.inputs]

    def to_dict(self) -> list[dict[str, Any]]:
        """The list of spec dicts."""
        return [s.to_dict() for s in self.inputs]

    def to_json(self) -> str:
        """The JSON string MLflow stores in ``MLmodel``."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Schema:
        """Parse the JSON string MLflow stores in ``MLmodel``."""
        specs: list[Spec] = []
        for item in json.loads(text):
            if item.get("type") == "tensor":
                tensor = item["tensor-spec"]
                specs.append(TensorSpec(str(tensor["dtype"]), tuple(tensor["shape"]), item.get("name")))
            else:
                specs.append(ColSpec(_parse_type(item), item.get("name"), bool(item.get("required", True))))
        return cls(specs)

    def __repr__(self) -> str:
        parts = []
        for spec in self.inputs:
            label = f"{spec.name!r}: " if spec.name is not None else ""
            if isinstance(spec, TensorSpec):
                parts.append(f"{label}Tensor({spec.dtype!r}, {list(spec.shape)})")
            else:
                parts.append(f"{label}{type_name(spec.type)}{'' if spec.required else ' (optional)'}")
        return "[" + ", ".join(parts) + "]"


@dataclass(frozen=True)
class ParamSpec:
    """An inference parameter: name, MLflow type, default, and shape (``None`` scalar, ``(-1,)`` list)."""

    name: str
    type: str
    default: Any
    shape: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON MLflow writes for a param."""
        default = self.default.isoformat() if isinstance(self.default, _dt.datetime) else self.default
        return {"name": self.name, "default": default,
                "shape": None if self.shape is None else list(self.shape), "type": self.type}  # fmt: skip


@dataclass(frozen=True)
class ParamSchema:
    """The params a model's ``predict`` accepts."""

    params: tuple[ParamSpec, ...]

    def __init__(self, params: list[ParamSpec] | tuple[ParamSpec, ...]) -> None:
        object.__setattr__(self, "params", tuple(params))

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.params)

    def to_json(self) -> str:
        """The JSON string MLflow stores in ``MLmodel``."""
        return json.dumps([p.to_dict() for p in self.params])

    @classmethod
    def from_json(cls, text: str) -> ParamSchema:
        """Parse the JSON string MLflow stores in ``MLmodel``."""
        return cls([ParamSpec(p["name"], p["type"], p.get("default"),
                              None if p.get("shape") is None else tuple(p["shape"]))
                    for p in json.loads(text)])  # fmt: skip


@dataclass(frozen=True)
class ModelSignature:
    """What a model takes and returns: input and output schemas, and params."""

    inputs: Schema | None = None
    outputs: Schema | None = None
    params: ParamSchema | None = field(default=None)

    def to_dict(self) -> dict[str, str | None]:
        """``{"inputs": json, "outputs": json, "params": json}`` as in ``MLmodel``."""
        return {
            "inputs": self.inputs.to_json() if self.inputs is not None else None,
            "outputs": self.outputs.to_json() if self.outputs is not None else None,
            "params": self.params.to_json() if self.params is not None else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSignature:
        """Read the ``signature`` mapping of an ``MLmodel`` file."""
        inputs, outputs, params = data.get("inputs"), data.get("outputs"), data.get("params")
        return cls(
            Schema.from_json(inputs) if inputs else None,
            Schema.from_json(outputs) if outputs else None,
            ParamSchema.from_json(params) if params else None,
        )

    def __repr__(self) -> str:
        return f"inputs:\n  {self.inputs!r}\noutputs:\n  {self.outputs!r}\nparams:\n  {self.params!r}\n"


# ---- inference --------------------------------------------------------------


def _scalar_type(value: Any) -> ColType | None:
    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        return "boolean"
    if isinstance(value, (int, np.integer)):
        return "integer" if isinstance(value, (np.int8, np.int16, np.int32, np.uint8, np.uint16)) else "long"
    if isinstance(value, (float, np.floating)):
        return "float" if isinstance(value, np.float32) else "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (bytes, bytearray)):
        return "binary"
    if isinstance(value, (_dt.datetime, _dt.date, np.datetime64)):
        return "datetime"
    if isinstance(value, (list, tuple, np.ndarray)):
        items = {_scalar_type(v) for v in value if not _is_missing(v)}
        items.discard(None)
        if len(items) > 1 and items <= {"integer", "long", "float", "double"}:
            items = {"double"}
        if len(items) != 1:
            return None
        return Array(items.pop())  # type: ignore[arg-type]
    return None


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def dtype_type(dtype: Any) -> ColType | None:
    """The MLflow type of a numpy or pandas dtype (``None`` when values decide, as for ``object``)."""
    import numpy as np

    kind = getattr(dtype, "kind", "O")
    name = str(dtype)
    if name == "category":
        return dtype_type(dtype.categories.dtype)
    if kind == "b" or name == "boolean":
        return "boolean"
    if kind in "iu":
        size = np.dtype(dtype.numpy_dtype if hasattr(dtype, "numpy_dtype") else dtype).itemsize
        return "integer" if size < 4 or (size == 4 and kind == "i") else "long"
    if kind == "f":
        return "float" if np.dtype(getattr(dtype, "numpy_dtype", dtype)).itemsize == 4 else "double"
    if kind == "M" or name.startswith("datetime64"):
        return "datetime"
    if kind in "US" or name in ("string", "str") or name.startswith("string["):
        return "string" if kind != "S" else "binary"
    return None


def _series_spec(series: Any, name: str | None) -> ColSpec:
    kind = dtype_type(series.dtype)
    values = series.dropna()
    if kind is None:  # object column: the values decide
        found = {_scalar_type(v) for v in values.head(1000)}
        if None in found or len(found) > 1:
            shown = sorted({type(v).__name__ for v in values.head(1000)})
            raise InvalidInput(
                f"cannot infer a signature type for column {name!r}: it holds {', '.join(shown) or 'no values'}; "
                "convert it to one type or pass signature= explicitly"
            )
        kind = found.pop() if found else "string"
    return ColSpec(kind, name, required=len(values) == len(series))  # type: ignore[arg-type]


def _frame_schema(frame: Any) -> Schema:
    return Schema([_series_spec(frame[c], str(c)) for c in frame.columns])


def _tensor(array: Any, name: str | None = None) -> TensorSpec:
    dtype = array.dtype
    label = "str" if dtype.kind == "U" else "bytes" if dtype.kind == "S" else dtype.name
    return TensorSpec(label, (-1, *array.shape[1:]), name)


def infer_schema(data: Any) -> Schema:
    """The MLflow schema of a DataFrame, Series, numpy array, dict, list or scalar."""
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return _frame_schema(data)
    if isinstance(data, pd.Series):
        return Schema([_series_spec(data, None if data.name is None else str(data.name))])
    if isinstance(data, np.ndarray):
        return Schema([_tensor(data)])
    if isinstance(data, dict):
        if data and all(isinstance(v, np.ndarray) for v in data.values()):
            return Schema([_tensor(v, str(k)) for k, v in data.items()])
        specs = []
        for key, value in data.items():
            kind = _scalar_type(value)
            if kind is None:
                raise InvalidInput(f"cannot infer a signature type for key {key!r} ({type(value).__name__})")
            specs.append(ColSpec(kind, str(key)))  # type: ignore[arg-type]
        return Schema(specs)
    if isinstance(data, (list, tuple)):
        if data and all(isinstance(v, dict) for v in data):
            return _frame_schema(pd.DataFrame.from_records(list(data)))
        kinds = {_scalar_type(v) for v in data if not _is_missing(v)}
        if len(kinds) > 1 and kinds <= {"integer", "long", "float", "double"}:
            kinds = {"double"}
        if len(kinds) != 1 or None in kinds:
            raise InvalidInput("cannot infer a signature from a list mixing types; pass a DataFrame or signature=")
        return Schema([ColSpec(kinds.pop(), None, required=not any(_is_missing(v) for v in data))])  # type: ignore[arg-type]
    kind = _scalar_type(data)
    if kind is None:
        raise InvalidInput(
            f"cannot infer a signature from a {type(data).__name__}; pass a DataFrame, numpy array, dict or list, "
            "or give signature= explicitly"
        )
    return Schema([ColSpec(kind)])


def infer_params_schema(params: dict[str, Any]) -> ParamSchema:
    """A ``ParamSchema`` whose defaults are the given values."""
    specs = []
    for name, value in params.items():
        kind = _scalar_type(value)
        if isinstance(kind, Array) and isinstance(kind.items, str):
            specs.append(ParamSpec(name, kind.items, list(value), (-1,)))
        elif isinstance(kind, str):
            specs.append(ParamSpec(name, kind, value.item() if hasattr(value, "item") else value))
        else:
            raise InvalidInput(f"param {name!r} must be a scalar or a list of scalars, not {type(value).__name__}")
    return ParamSchema(specs)


def infer_signature(
    model_input: Any = None, model_output: Any = None, params: dict[str, Any] | None = None
) -> ModelSignature:
    """Infer a ``ModelSignature`` from example input, output and params, as MLflow does.

    DataFrames and dicts/lists of records give column specs (``double``,
    ``long``, ``string``...; a column with missing values is not
    ``required``); numpy arrays give tensor specs whose first dimension is
    ``-1``.
    """
    return ModelSignature(
        infer_schema(model_input) if model_input is not None else None,
        infer_schema(model_output) if model_output is not None else None,
        infer_params_schema(params) if params else None,
    )
