"""Model registry speed, side by side: jupyter-lifecycle and MLflow's own SQLite registry.

    .venv/bin/python benchmarks/bench_registry.py [--versions 300]

Both register the same small model folder (MLmodel + a 100 kB file) as
versions of one name, move an alias, transition with
``archive_existing_versions``, search versions with a filter, and resolve
``models:/<name>@champion`` to local files (what ``load_model`` does first:
MLflow downloads the version's artifacts, jupyter-lifecycle points at the
registry's own copy). Note the work differs on registration: jupyter-lifecycle
copies and hashes the files into the registry, MLflow's SQLite store records
the source URI only. MLflow runs in ``.venv-mlflow`` as a subprocess that
prints JSON. Prints rates and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MLFLOW_PY = ROOT / ".venv-mlflow" / "bin" / "python"


def make_model(folder: Path) -> Path:
    """A minimal MLflow-format model folder."""
    model = folder / "model"
    (model / "data").mkdir(parents=True)
    (model / "MLmodel").write_text("artifact_path: model\nflavors:\n  python_function:\n    loader_module: x\n")
    (model / "data" / "blob.bin").write_bytes(bytes(range(256)) * 400)
    return model


def bench_ours(model: Path, versions: int) -> dict[str, float]:
    import jupyter_lifecycle as lc
    from jupyter_lifecycle.models.uri import resolve_model_uri

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        lc.set_store(Path(tmp) / "store")
        client = lc.Client()
        client.create_registered_model("bench")
        start = time.perf_counter()
        for _ in range(versions):
            client.create_model_version("bench", str(model))
        out["create_model_version (versions/s)"] = versions / (time.perf_counter() - start)
        start = time.perf_counter()
        for i in range(1, versions + 1):
            client.set_registered_model_alias("bench", "champion", i)
        out["move an alias (ops/s)"] = versions / (time.perf_counter() - start)
        start = time.perf_counter()
        for i in range(1, versions + 1):
            client.transition_model_version_stage("bench", i, "Production", archive_existing_versions=True)
        out["transition, archive existing (ops/s)"] = versions / (time.perf_counter() - start)
        client.search_model_versions("name = 'bench'")  # warm
        start = time.perf_counter()
        found = client.search_model_versions("name = 'bench' and version_number > 10")
        out["search_model_versions, filtered (ms)"] = (time.perf_counter() - start) * 1000
        out["search matched"] = len(found)
        start = time.perf_counter()
        for _ in range(100):
            resolve_model_uri("models:/bench@champion")
        out["resolve models:/name@alias to files (ms)"] = (time.perf_counter() - start) * 1000 / 100
        lc.set_store(None)
    return out


MLFLOW_SCRIPT = textwrap.dedent(
    """
    import json, sys, tempfile, time, warnings, logging
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    import mlflow
    from mlflow import MlflowClient
    model, versions = sys.argv[1], int(sys.argv[2])
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
        client = MlflowClient()
        client.create_registered_model("bench")
        start = time.perf_counter()
        for _ in range(versions):
            client.create_model_version("bench", model)
        out["create_model_version (versions/s)"] = versions / (time.perf_counter() - start)
        start = time.perf_counter()
        for i in range(1, versions + 1):
            client.set_registered_model_alias("bench", "champion", i)
        out["move an alias (ops/s)"] = versions / (time.perf_counter() - start)
        start = time.perf_counter()
        for i in range(1, versions + 1):
            client.transition_model_version_stage("bench", i, "Production", archive_existing_versions=True)
        out["transition, archive existing (ops/s)"] = versions / (time.perf_counter() - start)
        client.search_model_versions("name = 'bench'")
        start = time.perf_counter()
        found = client.search_model_versions("name = 'bench' and version_number > 10")
        out["search_model_versions, filtered (ms)"] = (time.perf_counter() - start) * 1000
        out["search matched"] = len(found)
        start = time.perf_counter()
        for _ in range(20):
            mlflow.artifacts.download_artifacts("models:/bench@champion", dst_path=tempfile.mkdtemp(dir=tmp))
        out["resolve models:/name@alias to files (ms)"] = (time.perf_counter() - start) * 1000 / 20
    print(json.dumps(out))
    """
)


def bench_mlflow(model: Path, versions: int) -> dict[str, float] | None:
    if not MLFLOW_PY.exists():
        return None
    # A scratch working directory: MLflow writes ./mlruns wherever it runs.
    with tempfile.TemporaryDirectory() as scratch:
        proc = subprocess.run([str(MLFLOW_PY), "-c", MLFLOW_SCRIPT, str(model), str(versions)],
                              capture_output=True, text=True, cwd=scratch, timeout=1800)  # fmt: skip
    if proc.returncode != 0:
        print(f"MLflow run failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    """Run both, print a table with the ratio (ours / MLflow for rates, MLflow / ours for times)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--versions", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = make_model(Path(tmp))
        ours = bench_ours(model, args.versions)
        theirs = bench_mlflow(model, args.versions)
    print(f"model registry, {args.versions} versions of one model")
    print(f"{'':44} {'jupyter-lifecycle':>18} {'MLflow 3 sqlite':>16} {'speed-up':>9}")
    for key, value in ours.items():
        other = theirs.get(key) if theirs else None
        if other is None:
            print(f"{key:44} {value:18.2f} {'-':>16}")
            continue
        if key == "search matched":
            print(f"{key:44} {value:18.0f} {other:16.0f}")
            continue
        ratio = value / other if "/s" in key else other / value
        print(f"{key:44} {value:18.2f} {other:16.2f} {ratio:8.1f}x")


if __name__ == "__main__":
    main()
