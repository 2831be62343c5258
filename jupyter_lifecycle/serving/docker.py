"""``jupyter-lifecycle build-docker``: a Docker image serving one model (issue #16, part 3), as
``mlflow models build-docker`` makes one.

The build context holds the model's files (``model/``), its pinned
``requirements.txt``, this jupyter-lifecycle (the same version: its source
when it is not installed from an index) and a ``Dockerfile`` on a slim
Python image of the model's Python version whose entrypoint is the scoring
server on port 8080. It is built when ``docker`` is on the PATH and its
daemon answers; otherwise the context is left ready with the command that
builds it.
"""

from __future__ import annotations

import importlib.metadata as metadata
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import AlreadyExists, InvalidInput, LifecycleError

__all__ = ["DockerContext", "build_docker", "docker_available", "write_context"]

PORT = 8080  # MLflow's images serve on 8080 too
MODEL_DIR = "/opt/ml/model"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "labextension")


@dataclass(frozen=True)
class DockerContext:
    """A written build context: where it is, the image name, and whether it was built."""

    path: Path
    image: str
    built: bool

    @property
    def build_command(self) -> str:
        """The shell command that builds the image from the context."""
        return f"docker build -t {self.image} {self.path}"

    @property
    def run_command(self) -> str:
        """The shell command that serves the model from the image on this machine's port 8080."""
        return f"docker run --rm -p 127.0.0.1:{PORT}:{PORT} {self.image}"


def _python_version(model: Path) -> str:
    """``3.11`` from the model's ``python_env.yaml`` (this interpreter's when it has none)."""
    import yaml

    env = model / "python_env.yaml"
    if env.is_file():
        version = str((yaml.safe_load(env.read_text(encoding="utf-8")) or {}).get("python", ""))
        parts = version.split(".")
        if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
            return f"{parts[0]}.{parts[1]}"
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _install_self(context: Path) -> list[str]:
    """Put this jupyter-lifecycle into the context; the Dockerfile lines that install it."""
    from .._version import __version__

    package = Path(__file__).resolve().parents[1]
    try:
        direct = metadata.distribution("jupyter-lifecycle").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        direct = None
    from_index = direct is None and not (package.parent / "pyproject.toml").exists()
    if from_index:
        return [f"RUN pip install --no-cache-dir jupyter-lifecycle=={__version__}"]
    # Installed from source (editable, or run from a checkout): its wheel build needs node and
    # JupyterLab for the sidebar, which a server image does not want. Copy the Python package
    # and install its dependencies instead.
    shutil.copytree(package, context / "lib" / "jupyter_lifecycle", ignore=_IGNORED)
    try:
        requires = metadata.requires("jupyter-lifecycle") or []
    except metadata.PackageNotFoundError:
        requires = []
    core = sorted(r for r in requires if "extra ==" not in r)
    (context / "lifecycle-requirements.txt").write_text("".join(f"{r}\n" for r in core), encoding="utf-8")
    return ["COPY lifecycle-requirements.txt /opt/ml/lifecycle-requirements.txt",
            "RUN pip install --no-cache-dir -r /opt/ml/lifecycle-requirements.txt",
            "COPY lib /opt/ml/lib",
            "ENV PYTHONPATH=/opt/ml/lib"]  # fmt: skip


def write_context(model_uri: str, image: str, path: str | Path, force: bool = False) -> DockerContext:
    """Write the build context for ``image`` serving ``model_uri`` into the folder ``path``."""
    from ..models.environment import get_model_dependencies
    from ..models.uri import resolve_model_uri

    if not image or any(c.isspace() for c in image):
        raise InvalidInput(f"image name {image!r} is not valid: give one like fraud-model or registry.io/fraud:3")
    model = resolve_model_uri(model_uri)
    context = Path(path).expanduser().resolve()
    if context.exists() and any(context.iterdir()):
        if not force:
            raise AlreadyExists(f"{context} exists and is not empty: pick another folder with -d, or --force to replace it")
        shutil.rmtree(context)
    context.mkdir(parents=True, exist_ok=True)
    shutil.copytree(model, context / "model", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(get_model_dependencies(model_uri), context / "requirements.txt")
    python = _python_version(model)
    entrypoint = ["python", "-m", "jupyter_lifecycle.cli", "serve", MODEL_DIR, "--host", "0.0.0.0", "--port", str(PORT)]
    lines = [
        f"# Serves {model_uri} with MLflow's scoring protocol on port {PORT} (jupyter-lifecycle build-docker).",
        f"FROM python:{python}-slim",
        "WORKDIR /opt/ml",
        "COPY requirements.txt /opt/ml/requirements.txt",
        "RUN pip install --no-cache-dir -r /opt/ml/requirements.txt",
        *_install_self(context),
        f"COPY model {MODEL_DIR}",
        # The server records itself as an endpoint: a store inside the container.
        "ENV JUPYTER_LIFECYCLE_HOME=/opt/ml/store",
        f"EXPOSE {PORT}",
        # 0.0.0.0 inside the container: docker's port mapping (-p) decides who reaches it.
        f"ENTRYPOINT {json.dumps(entrypoint)}",
    ]
    (context / "Dockerfile").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (context / ".dockerignore").write_text("**/__pycache__\n**/*.pyc\n", encoding="utf-8")
    return DockerContext(context, image, built=False)


def docker_available() -> bool:
    """Whether ``docker`` is on the PATH and its daemon answers."""
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def build_docker(model_uri: str, image: str, path: str | Path | None = None, build: bool = True,
                 force: bool = False) -> DockerContext:  # fmt: skip
    """Write the build context (default folder ``docker-<image>``) and build the image when docker works."""
    folder = path if path is not None else Path.cwd() / ("docker-" + image.replace("/", "_").replace(":", "_"))
    context = write_context(model_uri, image, folder, force=force)
    if not build or not docker_available():
        return context
    done = subprocess.run(["docker", "build", "-t", image, str(context.path)])
    if done.returncode != 0:
        raise LifecycleError(f"`{context.build_command}` failed with status {done.returncode}: see its output above")
    return DockerContext(context.path, image, built=True)
