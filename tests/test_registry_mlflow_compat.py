"""The registry's names match MLflow's: client methods (with their parameters) and entity attributes."""

from __future__ import annotations

import dataclasses
import inspect
import json
import subprocess
from pathlib import Path

import pytest

import jupyter_lifecycle as lc

ROOT = Path(__file__).resolve().parents[1]
MLFLOW_PY = ROOT / ".venv-mlflow" / "bin" / "python"

METHODS = [
    "create_registered_model", "get_registered_model", "rename_registered_model", "update_registered_model",
    "delete_registered_model", "search_registered_models", "set_registered_model_tag",
    "delete_registered_model_tag", "create_model_version", "get_model_version", "update_model_version",
    "delete_model_version", "get_latest_versions", "search_model_versions", "get_model_version_download_uri",
    "get_model_version_stages", "set_model_version_tag", "delete_model_version_tag",
    "transition_model_version_stage", "set_registered_model_alias", "delete_registered_model_alias",
    "get_model_version_by_alias", "copy_model_version",
]  # fmt: skip

PROBE = f"""
import inspect, json, warnings
warnings.filterwarnings("ignore")
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion, RegisteredModel
out = {{"methods": {{}}, "ModelVersion": [], "RegisteredModel": []}}
for name in {METHODS!r}:
    params = inspect.signature(getattr(MlflowClient, name)).parameters
    out["methods"][name] = [p for p in params if p != "self"]
for cls in (ModelVersion, RegisteredModel):
    out[cls.__name__] = [n for n, v in vars(cls).items() if isinstance(v, property)]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def mlflow_names() -> dict[str, object]:
    if not MLFLOW_PY.exists():
        pytest.skip("MLflow's venv is missing: run `make mlflow-venv` to compare names with MLflow")
    proc = subprocess.run([str(MLFLOW_PY), "-c", PROBE], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_client_methods_take_mlflows_parameters(mlflow_names: dict[str, dict[str, list[str]]]) -> None:
    for name, theirs in mlflow_names["methods"].items():
        ours = [p for p in inspect.signature(getattr(lc.MlflowClient, name)).parameters if p != "self"]
        # Same parameters in the same order (MLflow's newest trailing extras may be missing).
        assert ours[: len(theirs)] == theirs[: len(ours)], f"{name}: ours {ours}, MLflow {theirs}"
        assert set(theirs) - set(ours) <= {"workspace"}, f"{name} lacks {set(theirs) - set(ours)}"


def test_entities_have_mlflows_attributes(mlflow_names: dict[str, list[str]]) -> None:
    mlflow_only = {"workspace", "deployment_job_state", "deployment_job_id", "model_id", "params", "metrics"}
    for cls in (lc.ModelVersion, lc.RegisteredModel):
        ours = {f.name for f in dataclasses.fields(cls)}
        missing = set(mlflow_names[cls.__name__]) - ours - mlflow_only
        assert not missing, f"{cls.__name__} lacks MLflow's {sorted(missing)}"
