"""Start a real ``jupyter lab`` or ``jupyter server`` process for a test, and stop it after.

It listens on a free loopback port with a known token, in its own root,
config, runtime and data folders, on its own store (``JUPYTER_LIFECYCLE_HOME``),
and is stopped by its pid at the end.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Jupyter:
    """A running Jupyter server: its URL, token, root folder and the environment it runs with."""

    url: str
    token: str
    root: Path
    env: dict[str, str]

    def page_url(self, path: str = "lab") -> str:
        """An authenticated URL below the server root (``lab/tree/x.ipynb``...)."""
        separator = "&" if "?" in path else "?"
        return f"{self.url}{path}{separator}token={self.token}"

    @property
    def store(self) -> Path:
        """The store home the server uses."""
        return Path(self.env["JUPYTER_LIFECYCLE_HOME"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _use_checkout_labextension(data_dir: Path) -> None:
    """Serve the lab extension built in this checkout (``jlpm build`` in ``labextension/``), not the installed one.

    JupyterLab takes the first extension of a name along its data path, where
    ``$JUPYTER_PATH`` comes before the environment's folders: a linked build
    there wins, so a worktree's browser tests run its own TypeScript.
    """
    import jupyter_lifecycle

    built = Path(jupyter_lifecycle.__file__).parent / "labextension"
    if (built / "package.json").is_file():
        target = data_dir / "labextensions" / "jupyter-lifecycle"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.symlink_to(built, target_is_directory=True)


@contextmanager
def running_jupyter(app: str, base: Path, args: list[str] = ()) -> Iterator[Jupyter]:  # type: ignore[assignment]
    """``jupyter <app>`` (``lab`` or ``server``) with its folders under ``base``, until the block ends."""
    root = base / "root"
    root.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "JUPYTER_DATA_DIR": str(base / "data"),
        "JUPYTER_PATH": os.pathsep.join(p for p in (str(base / "path"), os.environ.get("JUPYTER_PATH", "")) if p),
        "JUPYTER_LIFECYCLE_HOME": str(base / "store"),
    }
    _use_checkout_labextension(base / "path")
    token, port = secrets.token_hex(16), _free_port()
    jupyter = Path(sys.executable).parent / "jupyter"
    log_path = base / f"{app}.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [str(jupyter), app, "--allow-root", "--no-browser", f"--ServerApp.token={token}",
         "--ServerApp.ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
         f"--ServerApp.root_dir={root}", *args],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}api/status?token={token}", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"jupyter {app} did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.3)
    try:
        yield Jupyter(url, token, root, env)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
