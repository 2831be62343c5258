"""``jupyter-lifecycle build-docker`` (issue #16, part 3): the written build context serves the model.

Without a Docker daemon (as here) the context is checked file by file and its entrypoint is run
as the image would run it, with only the context's copy of the package importable; the image is
built only where docker works.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import requests

import jupyter_lifecycle as lc
from jupyter_lifecycle.serving.docker import MODEL_DIR, PORT, docker_available
from tests.test_endpoints import _cli, _iris, _register


def test_build_docker_writes_a_context_whose_entrypoint_serves_the_model(home: Path, tmp_path: Path) -> None:
    clf = _register()
    X, _ = _iris()
    context = tmp_path / "ctx"
    out = _cli("build-docker", "models:/iris/1", "-n", "iris:1", "-d", str(context), "--no-build", home=home)
    assert out.returncode == 0, out.stderr
    assert f"docker build -t iris:1 {context}" in out.stdout and f"docker run --rm -p 127.0.0.1:{PORT}:{PORT} iris:1" in out.stdout
    dockerfile = (context / "Dockerfile").read_text()
    model = Path(lc.Client().get_model_version("iris", 1).storage_location)
    assert re.search(r"^FROM python:3\.\d+-slim$", dockerfile, re.M)
    python_env = (model / "python_env.yaml").read_text()
    assert dockerfile.split("FROM python:")[1].split("-slim")[0] in python_env
    assert (context / "requirements.txt").read_text() == (model / "requirements.txt").read_text()
    assert sorted(p.name for p in (context / "model").iterdir()) == sorted(p.name for p in model.iterdir())
    assert (context / "model" / "model.pkl").read_bytes() == (model / "model.pkl").read_bytes()
    assert (context / "lib" / "jupyter_lifecycle" / "serving" / "server.py").exists()
    assert not list(context.rglob("__pycache__"))
    wanted = (context / "lifecycle-requirements.txt").read_text()
    assert all(name in wanted for name in ("pandas", "orjson", "psutil", "pyyaml"))
    # Every file the Dockerfile copies is in the context.
    for source in re.findall(r"^COPY (\S+) ", dockerfile, re.M):
        assert (context / source).exists(), source
    (entry,) = re.findall(r"^ENTRYPOINT (.+)$", dockerfile, re.M)
    command = json.loads(entry)
    assert command[:4] == ["python", "-m", "jupyter_lifecycle.cli", "serve"] and command[4] == MODEL_DIR
    assert command[command.index("--host") + 1] == "0.0.0.0" and command[command.index("--port") + 1] == str(PORT)
    # Run it as the container would, with the context's own copy of the package and model.
    command = [sys.executable if c == "python" else str(context / "model") if c == MODEL_DIR else c for c in command]
    command[command.index("--host") + 1], command[command.index("--port") + 1] = "127.0.0.1", "0"
    env = {**os.environ, "PYTHONPATH": str(context / "lib"), "JUPYTER_LIFECYCLE_HOME": str(tmp_path / "image_store")}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            cwd=str(tmp_path))  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert url, line + proc.stdout.read()
        answer = requests.post(f"{url.group(0)}/invocations", json={"dataframe_split": json.loads(
            X.head(5).to_json(orient="split", index=False))}, timeout=10)  # fmt: skip
        assert answer.json()["predictions"] == clf.predict(X.head(5)).tolist()
        imported = requests.get(f"{url.group(0)}/version", timeout=10)
        assert imported.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    # With that environment the package imported is the context's copy.
    where = subprocess.run([sys.executable, "-c", "import jupyter_lifecycle; print(jupyter_lifecycle.__file__)"],
                           capture_output=True, text=True, env=env, cwd=str(tmp_path), check=True).stdout.strip()  # fmt: skip
    assert where == str(context / "lib" / "jupyter_lifecycle" / "__init__.py")
    # An existing context is not overwritten silently; a bad image name is refused.
    again = _cli("build-docker", "models:/iris/1", "-n", "iris:1", "-d", str(context), home=home)
    assert again.returncode == 1 and "is not empty" in again.stderr and "--force" in again.stderr
    assert _cli("build-docker", "models:/iris/1", "-n", "iris:1", "-d", str(context), "--force", "--no-build",
                home=home).returncode == 0  # fmt: skip
    bad = _cli("build-docker", "models:/iris/1", "-n", "my image", "-d", str(tmp_path / "x"), home=home)
    assert bad.returncode == 1 and "'my image'" in bad.stderr


def test_without_docker_the_context_is_written_and_the_build_explained(home: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    _register()
    monkeypatch.chdir(tmp_path)
    env_path = {"PATH": str(tmp_path / "empty-bin")}  # no docker on this PATH
    (tmp_path / "empty-bin").mkdir()
    out = subprocess.run([sys.executable, "-m", "jupyter_lifecycle.cli", "build-docker", "models:/iris/1", "-n", "iris"],
                         capture_output=True, text=True, env={**os.environ, **env_path, "JUPYTER_LIFECYCLE_HOME": str(home)},
                         timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "docker is not on the PATH or its daemon does not answer" in out.stdout
    assert f"docker build -t iris {tmp_path / 'docker-iris'}" in out.stdout
    assert (tmp_path / "docker-iris" / "Dockerfile").exists()


@pytest.mark.skipif(not docker_available(), reason="no docker daemon answers here")
@pytest.mark.slow
def test_the_image_builds_and_serves(home: Path, tmp_path: Path) -> None:
    clf = _register()
    X, _ = _iris()
    out = _cli("build-docker", "models:/iris/1", "-n", "lifecycle-test-iris", "-d", str(tmp_path / "ctx"), home=home)
    assert out.returncode == 0 and "built image lifecycle-test-iris" in out.stdout, out.stdout + out.stderr
    container = subprocess.run(["docker", "run", "-d", "--rm", "-p", "127.0.0.1::8080", "lifecycle-test-iris"],
                               capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    try:
        port = subprocess.run(["docker", "port", container, "8080"], capture_output=True, text=True,
                              check=True).stdout.split(":")[-1].strip()  # fmt: skip
        import time

        for _ in range(120):
            try:
                if requests.get(f"http://127.0.0.1:{port}/ping", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        answer = requests.post(f"http://127.0.0.1:{port}/invocations",
                               json={"dataframe_records": X.head(3).to_dict("records")}, timeout=10)  # fmt: skip
        assert answer.json()["predictions"] == clf.predict(pd.DataFrame(X.head(3))).tolist()
    finally:
        subprocess.run(["docker", "stop", container], capture_output=True)
