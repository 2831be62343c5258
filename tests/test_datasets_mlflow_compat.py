"""Datasets cross over to MLflow 3.17: the same data gives the same digest, schema and profile strings,
and a logged run reads back with MLflow's ``inputs.dataset_inputs`` shape.

MLflow runs in its own venv (``make mlflow-venv``), as a subprocess, on the same pickled data.
"""

from __future__ import annotations

import decimal
import json
import pickle
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import jupyter_lifecycle as lc

ROOT = Path(__file__).resolve().parents[1]
MLFLOW_PYTHON = ROOT / ".venv-mlflow" / "bin" / "python"


def _mlflow_available() -> str | None:
    if not MLFLOW_PYTHON.exists():
        return f"{MLFLOW_PYTHON} does not exist: run `make mlflow-venv`"
    probe = subprocess.run([str(MLFLOW_PYTHON), "-c", "import mlflow"], capture_output=True, text=True)
    return None if probe.returncode == 0 else f"{MLFLOW_PYTHON} cannot import mlflow: run `make mlflow-venv`"


_skip_reason = _mlflow_available()
pytestmark = [pytest.mark.mlflow, pytest.mark.skipif(_skip_reason is not None, reason=_skip_reason or "")]


def _cases() -> tuple[dict[str, pd.DataFrame], dict[str, tuple[object, object]]]:
    rng = np.random.default_rng(0)
    n = 100_000  # ten times the 10,000-row sample the digest hashes
    late_none = pd.Series(["s"] * n, dtype=object)
    late_none[n - 1] = None  # a string column only up to the last row: not a string column for the digest
    frames = {
        "mixed": pd.DataFrame({"b": [1, 2, 3], "a": ["x", "y", "z"], "c": [1.5, 2.5, None], "d": [True, False, True]}),
        "lists": pd.DataFrame({"tags": [["a"], ["b", "c"]], "n": [1, 2]}),
        "only_lists": pd.DataFrame({"l": [[1], [2]]}),
        "types": pd.DataFrame({
            "i32": np.array([1, 2], dtype="int32"), "f32": np.array([1, 2], dtype="float32"),
            "cat": pd.Categorical(["u", "v"]), "string_na": pd.array(["p", None], dtype="string"),
            "mixed": pd.Series([1, "a"], dtype=object), "when": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "u8": np.array([1, 2], dtype="uint8"), "strs": pd.Series(["q", "r"], dtype=object)}),
        "big": pd.DataFrame({"x": rng.random(n), "k": rng.integers(0, 9, n), "s": rng.choice(["a", "b"], n),
                             "late_none": late_none}),
        "empty": pd.DataFrame({"a": pd.Series([], dtype="float64")}),
        "no_columns": pd.DataFrame(index=range(3)),
        "sets_and_decimals": pd.DataFrame({"s": [{1}, {2}], "d": [decimal.Decimal(1), decimal.Decimal(2)]}),
        "duplicate_columns": pd.DataFrame([[1, 2]], columns=["a", "a"]),
    }  # fmt: skip
    arrays: dict[str, tuple[object, object]] = {
        "matrix": (np.arange(12).reshape(4, 3), np.array([0, 1, 0, 1])),
        "dict": ({"a": np.arange(4), "b": np.ones((4, 2))}, None),
        "objects": (np.array([{"a": 1}, {"b": 2}], dtype=object), None),
        "cube": (rng.random((50, 30, 20)).astype("float32"), rng.integers(0, 2, 50)),
        "strings": (np.array(["a", "b", "c"]), None),
    }
    return frames, arrays


SIDE = textwrap.dedent(
    """
    import json, pickle, sys, warnings
    warnings.filterwarnings("ignore")
    import mlflow, mlflow.data
    frames, arrays = pickle.load(open(sys.argv[1], "rb"))
    out = {}
    for k, df in frames.items():
        out["pandas/" + k] = mlflow.data.from_pandas(df, source=f"data/{k}.csv", name=k).to_dict()
    for k, (f, t) in arrays.items():
        out["numpy/" + k] = mlflow.data.from_numpy(f, source=f"s3://bucket/{k}", targets=t, name=k).to_dict()
    mlflow.set_tracking_uri("sqlite:///" + sys.argv[2] + "/mlflow.db")
    with mlflow.start_run() as run:
        mlflow.log_input(mlflow.data.from_pandas(frames["mixed"], source="data/mixed.csv", name="mixed", targets="b"),
                         context="training", tags={"split": "v1"})
    out["run"] = mlflow.get_run(run.info.run_id).to_dictionary()["inputs"]
    print(json.dumps(out))
    """
)


def test_digest_schema_profile_and_run_inputs_match_mlflow(tmp_path: Path, home: Path) -> None:
    frames, arrays = _cases()
    data = tmp_path / "cases.pkl"
    data.write_bytes(pickle.dumps((frames, arrays)))
    done = subprocess.run([str(MLFLOW_PYTHON), "-c", SIDE, str(data), str(tmp_path)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    theirs = json.loads(done.stdout.strip().splitlines()[-1])

    ours = {f"pandas/{k}": lc.data.from_pandas(df, source=f"data/{k}.csv", name=k).to_dict() for k, df in frames.items()}
    ours.update({f"numpy/{k}": lc.data.from_numpy(f, source=f"s3://bucket/{k}", targets=t, name=k).to_dict()
                 for k, (f, t) in arrays.items()})  # fmt: skip
    for case, config in ours.items():
        assert config == theirs[case], case  # every field, as the exact strings MLflow stores
    assert len({c["digest"] for c in ours.values()}) == len(ours)  # the cases are told apart

    with lc.start_run() as run:
        lc.log_input(lc.data.from_pandas(frames["mixed"], source="data/mixed.csv", name="mixed", targets="b"),
                     context="training", tags={"split": "v1"})  # fmt: skip
    assert lc.get_run(run.info.run_id).to_dictionary()["inputs"] == theirs["run"]
