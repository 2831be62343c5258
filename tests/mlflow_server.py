"""A real ``mlflow server`` from ``.venv-mlflow`` for the tests that sync with one (tests/test_sync.py, the browser's Sync tab).

It listens on a free loopback port with a SQLite backend (or
``LIFECYCLE_SYNC_BACKEND``, e.g. PostgreSQL for ``make team-test``) and
artifacts proxied into a tmp folder. Starting one takes seconds to a minute
on a loaded machine: share one per module where the tests allow it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MLFLOW_BIN = ROOT / ".venv-mlflow" / "bin"
BACKEND_ENV = "LIFECYCLE_SYNC_BACKEND"


def free_port() -> int:
    """A TCP port free on the loopback interface now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MlflowServer:
    """``mlflow server`` on a free loopback port, with a backend store and proxied artifacts in a tmp folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.backend = os.environ.get(BACKEND_ENV) or f"sqlite:///{folder}/mlflow.db"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.folder / "server.log", "ab")
        self.process = subprocess.Popen(
            [str(MLFLOW_BIN / "mlflow"), "server", "--backend-store-uri", self.backend,
             "--artifacts-destination", str(self.folder / "artifacts"), "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", "1"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        import requests

        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.folder / "server.log").read_text()[-3000:]
            try:
                if requests.get(f"{self.uri}/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise AssertionError("mlflow server did not start:\n" + (self.folder / "server.log").read_text()[-3000:])

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server and every process it started (its session): uvicorn, job runners."""
        assert self.process is not None
        tick, total = os.sysconf("SC_CLK_TCK"), 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
            if int(fields[3]) == self.process.pid:  # session id: start_new_session made the server its leader
                total += int(fields[11]) + int(fields[12])
        return total / tick

    def wait_quiet(self, idle: float = 0.3, window: float = 3.0, limit: float = 180.0) -> float:
        """Wait until the server's processes use under ``idle`` CPU seconds per ``window``; the seconds waited.

        MLflow 3's server answers /health before it has started its job
        runner and huey consumers (eight processes importing MLflow): for
        half a minute they take the CPU from whatever the server is asked
        to do, so a timing taken then measures their start-up.
        """
        started = time.monotonic()
        before = self.cpu_seconds()
        while time.monotonic() - started < limit:
            time.sleep(window)
            now = self.cpu_seconds()
            if now - before < idle:
                break
            before = now
        return time.monotonic() - started

    def kill(self) -> None:
        """SIGKILL the server and its workers (a crash, not a shutdown)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def mlflow(self, code: str) -> object:
        """Run ``code`` with ``client`` (an ``MlflowClient`` on the server) in .venv-mlflow; its ``out`` back as JSON."""
        script = "import json, mlflow, warnings\nwarnings.filterwarnings('ignore')\n" \
                 f"mlflow.set_tracking_uri({self.uri!r})\nclient = mlflow.MlflowClient()\nout = None\n" \
                 + textwrap.dedent(code) + "\nprint('@@' + json.dumps(out, default=str))"  # fmt: skip
        done = subprocess.run([str(MLFLOW_BIN / "python"), "-c", script], capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.split("@@")[-1])
