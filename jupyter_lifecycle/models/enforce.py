"""Checking model input against a signature at predict time.

The rules follow MLflow's: a missing required column is an error that names
it; extra columns are dropped; columns are put in the signature's order;
types convert only when nothing can be lost (int32 to int64, float32 to
float64, integers to float64); an integer column that arrived as floats
because of missing values gets an error that says so. Every failure is a
``SchemaMismatch`` naming the column, the expected and the received type.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from ..errors import SchemaMismatch
from .signature import NUMPY_NAMES, Array, ColSpec, ParamSchema, Schema, TensorSpec, dtype_type, type_name

_NUMERIC = ("integer", "long", "float", "double")


def _received(series: Any) -> str:
    dtype = series.dtype
    if str(dtype) == "object" and len(series):
        values = series.dropna()
        if values.empty:  # pandas types a column of nulls as object: say what it holds instead (issue #12, defect 5)
            return "null in every row"
        kinds = sorted({type(v).__name__ for v in values.head(100)})
        return f"object ({', '.join(kinds)})"
    if not len(series):
        return f"an empty column of {dtype} (no rows)"
    return str(dtype)


def _mismatch(name: Any, expected: Any, received: str, hint: str = "") -> SchemaMismatch:
    label = f"column {name!r}" if not isinstance(name, int) else f"input column at position {name}"
    exp = type_name(expected) if not isinstance(expected, str) else expected
    numpy = NUMPY_NAMES.get(exp, "") if isinstance(exp, str) else ""
    shown = f"{exp} ({numpy})" if numpy and numpy != "object" else exp
    return SchemaMismatch(f"{label}: expected {shown}, received {received}.{' ' + hint if hint else ''}")


def _convert_column(series: Any, spec: ColSpec, name: Any) -> Any:
    """The column converted to the spec's type, or a ``SchemaMismatch``; same object when it already fits."""
    import numpy as np

    expected = spec.type
    if isinstance(expected, dict):
        return series  # object/map/any: kept, not enforced
    actual = dtype_type(series.dtype)
    if isinstance(expected, Array):
        if str(series.dtype) != "object":
            raise _mismatch(name, expected, _received(series), "Each value must be a list.")
        return series
    if actual == expected:
        numpy_column = isinstance(series.dtype, np.dtype)  # not a nullable extension dtype (Int64 with <NA>)
        if expected in _NUMERIC and numpy_column and str(series.dtype) != NUMPY_NAMES[expected]:
            return series.astype(NUMPY_NAMES[expected])  # e.g. uint8 -> int32, same MLflow type
        return series
    dtype = series.dtype
    if expected in _NUMERIC and actual in _NUMERIC:
        target = np.dtype(NUMPY_NAMES[expected])
        source = np.dtype(getattr(dtype, "numpy_dtype", dtype))
        safe = np.can_cast(source, target, "safe") or (source.kind in "iu" and target == np.float64)
        if safe:
            try:
                return series.astype(target)
            except (TypeError, ValueError):  # a nullable integer column holding <NA>
                raise _mismatch(name, expected, str(dtype), "The column holds missing values; fill them first.") from None
        if source.kind == "f" and target.kind in "iu":
            if series.isna().any():
                raise _mismatch(
                    name, expected, str(dtype),
                    f"The column holds missing values (NaN), and integer columns cannot hold NaN, so pandas made "
                    f"it float. Fill the missing values (for example df[{name!r}].fillna(0).astype('int64')), "
                    f"or save the model with a signature that declares {name!r} as double.",
                )  # fmt: skip
            raise _mismatch(name, expected, str(dtype), f"Convert it with df[{name!r}].astype('{target}') if the "
                            "values are whole numbers.")  # fmt: skip
        raise _mismatch(name, expected, str(dtype), "Converting would lose precision.")
    if expected in _NUMERIC and str(dtype) == "object":
        received = _received(series)
        hint = "Send a number in every row." if received == "null in every row" else \
            "Convert the column to numbers first (pd.to_numeric)."  # fmt: skip
        raise _mismatch(name, expected, received, hint)
    if expected == "string" and str(dtype) == "object":
        values = series.dropna()
        if all(isinstance(v, str) for v in values.head(1000)) and all(isinstance(v, str) for v in values.tail(1000)):
            return series
        raise _mismatch(name, expected, _received(series), f"Convert it with df[{name!r}].astype(str).")
    if expected == "binary" and str(dtype) == "object":
        if all(isinstance(v, (bytes, bytearray)) for v in series.dropna().head(1000)):
            return series
        raise _mismatch(name, expected, _received(series))
    if expected == "datetime" and str(dtype) == "object":
        if all(isinstance(v, (_dt.datetime, _dt.date)) for v in series.dropna().head(1000)):
            import pandas as pd

            return pd.to_datetime(series)
        raise _mismatch(name, expected, _received(series), "Parse it with pd.to_datetime first.")
    raise _mismatch(name, expected, _received(series))


def _to_frame(data: Any, schema: Schema) -> Any:
    import numpy as np
    import pandas as pd

    names = schema.input_names()
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    if isinstance(data, np.ndarray):
        if data.ndim == 1 and len(names) == 1:
            return pd.DataFrame({names[0]: data})
        if data.ndim == 2 and data.shape[1] == len(names):
            frame = pd.DataFrame(data, columns=names)
            # A 2-D array has one dtype, so integer columns arrive as floats: take them back when every value is whole.
            for spec in schema.inputs:
                column = frame[spec.name]
                if spec.type in ("integer", "long") and column.dtype.kind == "f" and np.isfinite(column).all() \
                        and (column == np.floor(column)).all():  # fmt: skip
                    frame[spec.name] = column.astype(NUMPY_NAMES[spec.type])  # type: ignore[index]
            return frame
        raise SchemaMismatch(
            f"the model takes {len(names)} columns ({', '.join(map(str, names))}) but received a numpy array of "
            f"shape {data.shape}; pass a DataFrame with those columns"
        )
    if isinstance(data, dict):
        arrays = [s for s in schema.inputs if isinstance(s, ColSpec) and isinstance(s.type, Array)]
        scalar_record = all(not isinstance(v, (list, tuple, np.ndarray, pd.Series)) for v in data.values())
        if scalar_record or (arrays and len(arrays) == len(schema.inputs)):
            return pd.DataFrame([data])
        return pd.DataFrame(data)
    if isinstance(data, (list, tuple)):
        if data and all(isinstance(v, dict) for v in data):
            return pd.DataFrame.from_records(list(data))
        return pd.DataFrame({names[0]: list(data)}) if len(names) == 1 else pd.DataFrame(list(data), columns=names)
    if isinstance(data, (str, bytes, int, float, bool)):
        return pd.DataFrame({names[0]: [data]})
    raise SchemaMismatch(
        f"cannot check a {type(data).__name__} against the model's columns; pass a pandas DataFrame, "
        "a dict of columns, a list of records or a numpy array"
    )


def enforce_columns(data: Any, schema: Schema) -> Any:
    """``data`` as a DataFrame in the signature's columns, order and types."""
    frame = _to_frame(data, schema)
    specs = schema.inputs
    if not schema.has_input_names():
        if frame.shape[1] < len(specs):
            raise SchemaMismatch(f"the model takes {len(specs)} input columns but received {frame.shape[1]}")
        out = frame
        for position, spec in enumerate(specs):
            column = frame.iloc[:, position]
            converted = _convert_column(column, spec, position)  # type: ignore[arg-type]
            if converted is not column:
                out = out.copy() if out is frame else out
                out.isetitem(position, converted)
        return out
    present = set(frame.columns)
    missing = [s.name for s in specs if getattr(s, "required", True) and s.name not in present]
    if missing:
        shown = ", ".join(repr(m) for m in missing)
        raise SchemaMismatch(
            f"model input is missing column{'s' if len(missing) > 1 else ''} {shown}; "
            f"the signature expects {', '.join(repr(s.name) for s in specs)} and received "
            f"{', '.join(repr(c) for c in frame.columns) or 'no columns'}"
        )
    wanted = [s.name for s in specs if s.name in present]
    out = frame if list(frame.columns) == wanted else frame[wanted]
    for spec in specs:
        if spec.name not in present:
            continue
        column = out[spec.name]
        converted = _convert_column(column, spec, spec.name)  # type: ignore[arg-type]
        if converted is not column:
            if out is frame:
                out = frame.copy(deep=False)
            out[spec.name] = converted
    return out


def _check_tensor(array: Any, spec: TensorSpec, label: str) -> Any:
    import numpy as np

    array = np.asarray(array)
    target = np.dtype(spec.dtype) if spec.dtype not in ("str", "bytes") else None
    if target is not None and array.dtype != target:
        if not (np.can_cast(array.dtype, target, "safe") or (array.dtype.kind in "iu" and target == np.float64)):
            raise SchemaMismatch(f"{label}: expected a tensor of {spec.dtype}, received {array.dtype}; "
                                 f"convert it with .astype('{spec.dtype}') if no precision is lost")  # fmt: skip
        array = array.astype(target)
    if len(array.shape) != len(spec.shape) or any(
        want != -1 and want != got for want, got in zip(spec.shape, array.shape, strict=True)
    ):
        raise SchemaMismatch(f"{label}: expected a tensor of shape {list(spec.shape)}, received {list(array.shape)}")
    return array


def enforce_tensors(data: Any, schema: Schema) -> Any:
    """``data`` as the numpy array (or dict of arrays) the signature's tensor specs describe."""
    import pandas as pd

    specs = schema.inputs
    if not schema.has_input_names():
        spec = specs[0]
        assert isinstance(spec, TensorSpec)
        if isinstance(data, pd.DataFrame):
            data = data.to_numpy()
        elif isinstance(data, dict) and len(data) == 1:
            data = next(iter(data.values()))
        return _check_tensor(data, spec, "model input")
    if isinstance(data, pd.DataFrame):
        data = {c: data[c].to_numpy() for c in data.columns}
    if not isinstance(data, dict):
        raise SchemaMismatch(
            f"the model takes named tensors {', '.join(repr(s.name) for s in specs)}; pass a dict of numpy arrays"
        )
    missing = [s.name for s in specs if s.name not in data]
    if missing:
        raise SchemaMismatch(f"model input is missing tensor(s) {', '.join(map(repr, missing))}")
    return {s.name: _check_tensor(data[s.name], s, f"tensor {s.name!r}") for s in specs}  # type: ignore[arg-type, misc]


def enforce_schema(data: Any, schema: Schema | None) -> Any:
    """Check and convert ``data`` against an input schema (``None``: unchanged)."""
    if schema is None or not schema.inputs:
        return data
    if schema.is_tensor_spec():
        return enforce_tensors(data, schema)
    return enforce_columns(data, schema)


def enforce_params(params: dict[str, Any] | None, schema: ParamSchema | None) -> dict[str, Any] | None:
    """Params checked against the signature, with its defaults filled in.

    Unknown params are an error when the model declares params, so a typo
    does not silently fall back to a default.
    """
    if schema is None:
        return params
    given = dict(params or {})
    known = {p.name for p in schema.params}
    unknown = sorted(set(given) - known)
    if unknown:
        raise SchemaMismatch(f"unknown param(s) {', '.join(map(repr, unknown))}; the model accepts "
                             f"{', '.join(repr(n) for n in sorted(known))}")  # fmt: skip
    out: dict[str, Any] = {}
    for spec in schema.params:
        if spec.name not in given:
            out[spec.name] = spec.default
            continue
        value = given[spec.name]
        values = value if spec.shape is not None else [value]
        if spec.shape is not None and not isinstance(value, (list, tuple)):
            raise SchemaMismatch(f"param {spec.name!r}: expected a list of {spec.type}, received {value!r}")
        checked = [_param_value(spec.name, spec.type, v) for v in values]
        out[spec.name] = checked if spec.shape is not None else checked[0]
    return out


def _param_value(name: str, kind: str, value: Any) -> Any:
    ok = {
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "long": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "double": isinstance(value, (int, float)) and not isinstance(value, bool),
        "string": isinstance(value, str),
        "binary": isinstance(value, (bytes, bytearray)),
        "datetime": isinstance(value, (_dt.datetime, _dt.date, str)),
    }.get(kind, True)
    if not ok:
        raise SchemaMismatch(f"param {name!r}: expected {kind}, received {type(value).__name__} {value!r}")
    return float(value) if kind in ("float", "double") else value
