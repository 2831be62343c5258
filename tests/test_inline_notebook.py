"""A notebook displaying every chart, the comparison, the reprs and the browser: executed by nbclient, checked by nbval."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests import inline_notebook

pytestmark = pytest.mark.slow

VEGALITE = "application/vnd.vegalite.v5+json"


def test_executed_notebook_shows_everything_and_nbval_accepts_it(home: Path, tmp_path: Path) -> None:
    path = inline_notebook.execute(tmp_path)
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    outputs = [cell.outputs for cell in notebook.cells]
    assert not [o for cell in outputs for o in cell if o.output_type == "error"]
    charts = [o for cell in outputs[1:5] for o in cell]
    assert all(VEGALITE in o.data for o in charts) and len(charts) == 4
    assert not any("text/html" in o.data for o in charts), "charts must not depend on a CDN renderer"
    assert "<mark>" in outputs[5][0].data["text/html"]  # params diff
    compare = outputs[6]
    assert "Comparing 3 runs" in compare[0].data["text/html"] and VEGALITE in compare[1].data
    magic = outputs[7]
    assert "Comparing 2 runs" in magic[0].data["text/html"] and VEGALITE in magic[1].data
    assert "Run run-2" in outputs[8][0].data["text/html"]
    assert "Experiment inline-ui" in outputs[9][0].data["text/html"]
    assert "Model inline-model version 1" in outputs[10][-1].data["text/html"]
    assert "Registered model inline-model" in outputs[11][-1].data["text/html"]
    assert "inline-model" in outputs[12][-1].data["text/html"]  # lineage
    assert "x = 2" in outputs[13][-1].data["text/html"]  # a notebook diff
    widget = outputs[14][-1].data
    assert "application/vnd.jupyter.widget-view+json" in widget
    assert notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]

    # nbval re-executes it in a fresh kernel on a fresh store and compares every output.
    sanitize = tmp_path / "sanitize.cfg"
    sanitize.write_text(inline_notebook.SANITIZE)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "JUPYTER_LIFECYCLE_HOME": str(tmp_path / "nbval-store")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env",
         "--nbval-sanitize-with", str(sanitize), str(path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert f"{len(notebook.cells)} passed" in result.stdout
