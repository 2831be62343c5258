"""Signatures: inference with MLflow's type names and JSON, and enforcement at predict time."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from jupyter_lifecycle.errors import SchemaMismatch
from jupyter_lifecycle.models import (
    ColSpec,
    ModelSignature,
    ParamSchema,
    ParamSpec,
    Schema,
    TensorSpec,
    enforce_params,
    enforce_schema,
    infer_signature,
)


def specs(schema: Schema | None) -> list[dict]:
    assert schema is not None
    return json.loads(schema.to_json())


def test_dataframe_types_use_mlflow_names() -> None:
    frame = pd.DataFrame({
        "i32": np.array([1, 2], dtype="int32"), "i64": [1, 2], "f32": np.array([1, 2], dtype="float32"),
        "f64": [1.5, None], "b": [True, False], "s": ["x", "y"], "by": [b"x", b"y"],
        "dt": pd.to_datetime(["2020-01-01", "2020-01-02"]), "l": [[1, 2], [3]],
    })  # fmt: skip
    got = specs(infer_signature(frame).inputs)
    assert got == [
        {"type": "integer", "name": "i32", "required": True},
        {"type": "long", "name": "i64", "required": True},
        {"type": "float", "name": "f32", "required": True},
        {"type": "double", "name": "f64", "required": False},
        {"type": "boolean", "name": "b", "required": True},
        {"type": "string", "name": "s", "required": True},
        {"type": "binary", "name": "by", "required": True},
        {"type": "datetime", "name": "dt", "required": True},
        {"type": "array", "items": {"type": "long"}, "name": "l", "required": True},
    ]


def test_tensors_dicts_lists_and_outputs_match_mlflow_json() -> None:
    # Expected strings are what MLflow 3.17.2's infer_signature writes for the same inputs.
    cases = [
        (np.zeros((3, 4), dtype="float32"), '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}]'),
        ({"x": np.zeros((2, 3))}, '[{"name": "x", "type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 3]}}]'),
        ({"a": 1, "b": "x"}, '[{"type": "long", "name": "a", "required": true}, {"type": "string", "name": "b", "required": true}]'),
        ([{"a": 1.5, "b": [1, 2]}], '[{"type": "double", "name": "a", "required": true}, {"type": "array", "items": {"type": "long"}, "name": "b", "required": true}]'),
        (["x", "y"], '[{"type": "string", "required": true}]'),
        (pd.Series([1, 2], name="z"), '[{"type": "long", "name": "z", "required": true}]'),
    ]  # fmt: skip
    for data, expected in cases:
        assert infer_signature(data).inputs.to_json() == expected  # type: ignore[union-attr]
    out = infer_signature(pd.DataFrame({"a": [1]}), np.array([0, 1])).to_dict()
    assert out["outputs"] == '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]'


def test_params_schema_and_round_trip_through_dict() -> None:
    signature = infer_signature(pd.DataFrame({"a": [1.0]}), params={"k": 3, "t": 0.5, "l": [1, 2]})
    assert signature.to_dict()["params"] == (
        '[{"name": "k", "default": 3, "shape": null, "type": "long"}, '
        '{"name": "t", "default": 0.5, "shape": null, "type": "double"}, '
        '{"name": "l", "default": [1, 2], "shape": [-1], "type": "long"}]'
    )
    assert ModelSignature.from_dict(signature.to_dict()) == signature


def test_mixed_object_column_is_refused_with_its_name() -> None:
    with pytest.raises(Exception, match="'mixed'"):
        infer_signature(pd.DataFrame({"mixed": [1, "a"]}))


SCHEMA = Schema([ColSpec("double", "a"), ColSpec("long", "b"), ColSpec("string", "c")])


def frame(**columns: object) -> pd.DataFrame:
    return pd.DataFrame(columns)


def test_missing_column_is_named() -> None:
    with pytest.raises(SchemaMismatch, match="missing column 'c'"):
        enforce_schema(frame(a=[1.0], b=[1]), SCHEMA)


def test_extra_columns_dropped_and_order_restored() -> None:
    out = enforce_schema(frame(c=["x"], z=[0], b=[1], a=[1.0]), SCHEMA)
    assert list(out.columns) == ["a", "b", "c"]


def test_safe_upcasts_convert() -> None:
    out = enforce_schema(frame(a=np.array([1], dtype="int64"), b=np.array([1], dtype="int32"), c=["x"]), SCHEMA)
    assert out["a"].dtype == np.float64 and out["b"].dtype == np.int64
    out = enforce_schema(frame(a=np.array([1.5], dtype="float32"), b=[1], c=["x"]), SCHEMA)
    assert out["a"].dtype == np.float64


def test_unsafe_conversions_name_column_expected_and_received() -> None:
    with pytest.raises(SchemaMismatch, match=r"column 'b': expected long \(int64\), received float64"):
        enforce_schema(frame(a=[1.0], b=[1.5], c=["x"]), SCHEMA)
    with pytest.raises(SchemaMismatch, match=r"column 'c': expected string, received int64"):
        enforce_schema(frame(a=[1.0], b=[1], c=[3]), SCHEMA)
    narrow = Schema([ColSpec("float", "a")])
    with pytest.raises(SchemaMismatch, match=r"column 'a': expected float \(float32\), received float64"):
        enforce_schema(frame(a=[1.0]), narrow)


def test_integer_column_with_nan_is_explained() -> None:
    with pytest.raises(SchemaMismatch, match="missing values .NaN.") as caught:
        enforce_schema(frame(a=[1.0, 2.0], b=[1, None], c=["x", "y"]), SCHEMA)
    assert "'b'" in str(caught.value) and "double" in str(caught.value)


def test_other_input_types_become_frames() -> None:
    records = [{"a": 1.0, "b": 2, "c": "x"}]
    assert list(enforce_schema(records, SCHEMA).columns) == ["a", "b", "c"]
    assert enforce_schema({"a": 1.0, "b": 2, "c": "x"}, SCHEMA).shape == (1, 3)
    assert enforce_schema({"a": [1.0, 2.0], "b": [1, 2], "c": ["x", "y"]}, SCHEMA).shape == (2, 3)
    numeric = Schema([ColSpec("double", "a"), ColSpec("double", "b")])
    assert list(enforce_schema(np.ones((3, 2)), numeric).columns) == ["a", "b"]
    with pytest.raises(SchemaMismatch, match="shape"):
        enforce_schema(np.ones((3, 5)), numeric)


def test_optional_columns_may_be_missing() -> None:
    schema = Schema([ColSpec("double", "a"), ColSpec("double", "b", required=False)])
    assert list(enforce_schema(frame(a=[1.0]), schema).columns) == ["a"]


def test_tensor_enforcement() -> None:
    schema = Schema([TensorSpec("float64", (-1, 3))])
    assert enforce_schema(np.ones((2, 3), dtype="float32"), schema).dtype == np.float64
    with pytest.raises(SchemaMismatch, match=r"shape \[-1, 3\], received \[2, 4\]"):
        enforce_schema(np.ones((2, 4)), schema)
    with pytest.raises(SchemaMismatch, match="float32, received float64"):
        enforce_schema(np.ones((2, 3)), Schema([TensorSpec("float32", (-1, 3))]))


def test_params_defaults_types_and_unknown_names() -> None:
    schema = ParamSchema([ParamSpec("k", "long", 3), ParamSpec("t", "double", 0.5)])
    assert enforce_params(None, schema) == {"k": 3, "t": 0.5}
    assert enforce_params({"t": 1}, schema) == {"k": 3, "t": 1.0}
    with pytest.raises(SchemaMismatch, match="param 'k': expected long"):
        enforce_params({"k": "many"}, schema)
    with pytest.raises(SchemaMismatch, match="unknown param"):
        enforce_params({"kk": 1}, schema)
