"""Fixtures of the stress tests: the scale, and worker processes whose output goes to files.

``make test`` runs this folder at the ``ci`` scale (well under a minute in
all); ``make stress`` sets ``LIFECYCLE_STRESS_SCALE=full``. Every process is
real (``tests/stress/workers.py`` started with ``subprocess``) and every
write goes to the real SQLite file of the ``home`` fixture's store.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SCALE_ENV = "LIFECYCLE_STRESS_SCALE"
SEED_ENV = "LIFECYCLE_STRESS_SEED"
WORKERS = Path(__file__).with_name("workers.py")


@dataclass(frozen=True)
class Scale:
    """How big a stress run is."""

    name: str
    writers: int
    """Processes logging metrics, params and tags (one run each), then registering a version."""
    readers: int
    """Processes searching runs and versions while the others write."""
    points: int
    """Metric points per writer."""
    flush_every: int
    """Points between a writer's explicit flushes (each with a param and a tag)."""
    versions: int
    """Versions the registering process registers."""
    kills: int
    """Writer processes SIGKILLed at random moments in the kill test."""
    victims: int
    """Writer processes alive at once in the kill test."""
    victim_points: int
    """Points a victim logs as fast as it can before it slows down (this keeps the file, and each check, small)."""
    timeout: float
    """Seconds any one process may take."""


SCALES = {
    "ci": Scale("ci", writers=8, readers=2, points=10_000, flush_every=2_500, versions=8, kills=4, victims=3,
                victim_points=10_000, timeout=120),  # fmt: skip
    "full": Scale("full", writers=8, readers=2, points=1_000_000, flush_every=50_000, versions=100, kills=40,
                  victims=8, victim_points=20_000, timeout=1800),  # fmt: skip
}


@pytest.fixture(scope="session")
def scale() -> Scale:
    """The scale named by ``$LIFECYCLE_STRESS_SCALE`` (``ci`` when unset)."""
    name = os.environ.get(SCALE_ENV, "ci")
    if name not in SCALES:
        raise pytest.UsageError(f"{SCALE_ENV}={name!r}: use one of {', '.join(SCALES)}")
    return SCALES[name]


@pytest.fixture
def rng() -> random.Random:
    """Random moments, reproducible with ``$LIFECYCLE_STRESS_SEED`` (the seed is printed)."""
    seed = int(os.environ.get(SEED_ENV) or random.randrange(2**32))
    print(f"{SEED_ENV}={seed}")
    return random.Random(seed)


class Worker:
    """One process running a role of ``workers.py``; its stdout and stderr are files in ``logs``."""

    def __init__(self, logs: Path, name: str, role: str, args: tuple[object, ...], timeout: float,
                 env: dict[str, str] | None = None) -> None:  # fmt: skip
        self.name = name
        self.timeout = timeout
        self.out = logs / f"{name}.out"
        self.err = logs / f"{name}.err"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen([sys.executable, str(WORKERS), role, *map(str, args)], stdout=out, stderr=err,
                                         env={**os.environ, **(env or {})})  # fmt: skip

    def reports(self) -> list[dict[str, Any]]:
        """The JSON lines written so far (a line cut by a kill is left out)."""
        lines = self.out.read_text().split("\n")[:-1]
        return [json.loads(line) for line in lines]

    def values(self, key: str) -> list[Any]:
        """Every reported value of ``key``, in order."""
        return [r[key] for r in self.reports() if key in r]

    def reported(self, key: str) -> Any:
        """The first reported value of ``key``, or None; fails if the process ended without reporting it."""
        exited = self.proc.poll() is not None
        found = self.values(key)
        if found:
            return found[0]
        if exited:
            pytest.fail(f"{self.name} exited ({self.proc.returncode}) before reporting {key!r}:\n{self.err.read_text()}")
        return None

    def wait_for(self, key: str) -> Any:
        """The first reported value of ``key``, waiting for it; fails if the process ends first."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            found = self.reported(key)
            if found is not None:
                return found
            time.sleep(0.01)
        pytest.fail(f"{self.name} did not report {key!r} within {self.timeout} s")

    def finish(self) -> None:
        """Wait for a clean exit."""
        try:
            self.proc.wait(self.timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.name} still running after {self.timeout} s")
        assert self.proc.returncode == 0, f"{self.name} failed:\n{self.err.read_text()}"

    def kill(self) -> None:
        """SIGKILL it and wait until it is gone."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(self.timeout)


@pytest.fixture
def workers(tmp_path: Path, home: Path, scale: Scale) -> Iterator[Callable[..., Worker]]:
    """Start a worker: ``workers(name, role, *args, env={...})``; all use the ``home`` store (from the environment).

    Any still running at the end of the test is killed.
    """
    logs = tmp_path / "logs"
    logs.mkdir()
    started: list[Worker] = []

    def start(name: str, role: str, *args: object, env: dict[str, str] | None = None) -> Worker:
        worker = Worker(logs, name, role, args, scale.timeout, env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.proc.poll() is None:
            worker.kill()


def integrity_check(db: Path) -> list[str]:
    """``PRAGMA integrity_check`` of the file, read while other processes may be writing it."""
    with sqlite3.connect(db, timeout=60) as conn:
        return [row[0] for row in conn.execute("PRAGMA integrity_check")]


def lock_errors(logs: Path) -> list[str]:
    """Lines of any worker's output that mention a locked database."""
    return [f"{path.name}: {line}" for path in sorted(logs.iterdir())
            for line in path.read_text().splitlines() if "locked" in line.lower()]  # fmt: skip
