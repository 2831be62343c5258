"""The ``jupyter-lifecycle`` command, run as a real process, and its documentation."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import jupyter_lifecycle as lc
from jupyter_lifecycle.cli import COMMANDS

from .conftest import ROOT

BIN = Path(sys.executable).parent


def run_cli(home: Path, *args: str, tool: str = "jupyter-lifecycle") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JUPYTER_LIFECYCLE_HOME": str(home)}
    command = [str(BIN / "jupyter"), "lifecycle", *args] if tool == "jupyter" else [str(BIN / tool), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def test_info_runs_experiments(home: Path) -> None:
    lc.set_experiment("cli")
    for depth in (3, 7):
        with lc.start_run(run_name=f"d{depth}"):
            lc.log_param("depth", depth)
            lc.log_metric("acc", depth / 10)
    info = run_cli(home, "info")
    assert info.returncode == 0, info.stderr
    assert f"store:          {home}" in info.stdout
    assert re.search(r"runs:\s+2\b", info.stdout)
    runs = run_cli(home, "runs", "metrics.acc > 0.5", "--columns", "tags.mlflow.runName,metrics.acc", tool="jupyter")
    assert runs.returncode == 0, runs.stderr
    assert runs.stdout.split() == ["tags.mlflow.runName", "metrics.acc", "d7", "0.7"]
    experiments = run_cli(home, "experiments")
    assert re.search(r"cli\s+\w{32}\s+2\s+active", experiments.stdout)


def test_bad_filter_is_a_clear_error_and_exit_1(home: Path) -> None:
    out = run_cli(home, "runs", "metrics.acc >")
    assert out.returncode == 1
    assert "error: invalid filter string: expected a value" in out.stderr


def test_every_command_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in COMMANDS if f"`{name}" not in readme]
    assert not missing, f"commands missing from README.md: {missing}"
