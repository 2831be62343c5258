"""The magics in an in-process IPython shell: %%track, %lifecycle subcommands, %log_params, %log_metric."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from IPython.utils.capture import capture_output

import jupyter_lifecycle as lc
from jupyter_lifecycle.notebook.magics import SUBCOMMANDS, LifecycleMagics
from jupyter_lifecycle.store import open_store
from jupyter_lifecycle.store.database import AUTOCHECKPOINT_PAGES

ROOT = Path(__file__).resolve().parents[1]


def run(shell: Any, source: str) -> tuple[Any, Any]:
    with capture_output() as captured:
        result = shell.run_cell(source, store_history=True)
    return result, captured


def shown(captured: Any) -> str:
    """Everything a cell showed: printed text and the plain-text form of displayed objects."""
    return captured.stdout + "".join(o.data.get("text/plain", "") + o.data.get("text/html", "")
                                     for o in captured.outputs)  # fmt: skip


def runs_by_name() -> dict[str, Any]:
    return {r.info.run_name: r for r in lc.search_runs(output_format="list", search_all_experiments=True)}


def test_every_magic_and_subcommand_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Magics"):]
    section = section[: section.find("\n## ", 4)] if "\n## " in section[4:] else section
    for kind, names in LifecycleMagics.magics.items():
        prefix = "%%" if kind == "cell" else "%"
        for name in names:
            assert f"`{prefix}{name}" in section, f"{prefix}{name} is not documented in README.md's Magics section"
    for name in SUBCOMMANDS:  # features may document theirs in their own section
        assert re.search(rf"`%lifecycle {name}\b", readme), f"%lifecycle {name} is not documented in README.md"
        assert f"`{name}`" in section or f"`%lifecycle {name}" in section, f"the Magics section does not list {name}"


def test_track_runs_the_cell_as_a_run_and_logs_variables(ipython: Any) -> None:
    run(ipython, "import pandas as pd\nscore = 0.5\nframe = pd.DataFrame({'a': [1, 2]})\nconf = {'k': [1, 2]}")
    result, _ = run(ipython, "%%track --name first --param lr=0.1 depth=3 --tag team=ml --log score frame conf\n"
                             "import jupyter_lifecycle as lc\nlc.log_metric('acc', 0.9)\nscore * 2")  # fmt: skip
    assert result.success and result.result == 1.0
    assert lc.active_run() is None
    got = runs_by_name()["first"]
    assert got.info.status == "FINISHED"
    assert got.data.params == {"lr": "0.1", "depth": "3", "score": "0.5"}
    assert got.data.metrics == {"acc": 0.9} and got.data.tags["team"] == "ml"
    assert {f.path for f in lc.list_artifacts(got.info.run_id)} == {"frame.json", "conf.json"}
    # The %%track cell itself is linked to its run.
    cells = open_store().capture.cell_executions(run_id=got.info.run_id)
    assert [c.source.splitlines()[0] for c in cells] == ["%%track --name first --param lr=0.1 depth=3 --tag team=ml "
                                                         "--log score frame conf"]  # fmt: skip


def test_track_failure_marks_failed_and_rerun_works(ipython: Any) -> None:
    result, captured = run(ipython, "%%track --name flaky\nraise ValueError('boom')")
    assert not result.success and isinstance(result.error_in_exec, ValueError)
    assert "ended as FAILED" in captured.stderr
    assert lc.active_run() is None
    result, _ = run(ipython, "%%track --name flaky\n'ok'")
    assert result.success and result.result == "ok"
    statuses = sorted(r.info.status for r in lc.search_runs(output_format="list"))
    assert statuses == ["FAILED", "FINISHED"]
    failed_cell = [c for c in open_store().capture.cell_executions() if not c.success]
    assert [(c.error_type, c.error_message) for c in failed_cell] == [("ValueError", "boom")]


def test_track_nested_and_active_run_guard(ipython: Any) -> None:
    run(ipython, "import jupyter_lifecycle as lc\nparent = lc.start_run(run_name='parent')")
    result, captured = run(ipython, "%%track --name orphan\n1")
    assert not result.success and "is active" in captured.stdout + captured.stderr
    result, _ = run(ipython, "%%track --name child --nested --experiment other\n1")
    assert result.success
    runs = runs_by_name()
    assert "orphan" not in runs
    assert runs["child"].info.parent_run_id == runs["parent"].info.run_id
    assert lc.get_experiment(runs["child"].info.experiment_id).name == "other"
    assert lc.active_run().info.run_name == "parent"
    _, captured = run(ipython, "%lifecycle end --status killed")
    assert "as KILLED" in captured.stdout
    assert lc.get_run(runs["parent"].info.run_id).info.status == "KILLED"


def test_log_params_and_log_metric(ipython: Any) -> None:
    run(ipython, "import jupyter_lifecycle as lc\nlc.start_run(run_name='quick')\nalpha = 0.3\nloss = 1.5")
    assert run(ipython, "%log_params alpha mode='fast'")[0].success
    assert run(ipython, "%log_metric loss acc=0.25*4 --step 3")[0].success
    result, captured = run(ipython, "%log_params missing")
    assert not result.success and "no variable named 'missing'" in captured.stdout + captured.stderr
    run(ipython, "%lifecycle end")
    got = runs_by_name()["quick"]
    assert got.data.params == {"alpha": "0.3", "mode": "fast"}
    assert got.data.metrics == {"loss": 1.5, "acc": 1.0}
    assert [m.step for m in lc.get_metric_history(got.info.run_id, "acc")] == [3]


def test_lifecycle_subcommands(ipython: Any, tmp_path: Path) -> None:
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("a = 1")]), tmp_path / "nb.ipynb")
    _, out = run(ipython, "%lifecycle experiment magic-tests")
    assert "magic-tests" in out.stdout
    run(ipython, "%%track --name one\nimport jupyter_lifecycle as lc\nlc.log_metric('acc', 0.7)")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("a = 2")]), tmp_path / "nb.ipynb")
    run(ipython, "%%track --name two\nlc.log_metric('acc', 0.9)")

    _, out = run(ipython, "%lifecycle")
    assert "experiment: magic-tests" in out.stdout and "recording:  on" in out.stdout and "nb.ipynb" in out.stdout
    _, out = run(ipython, "%lifecycle runs metrics.acc > 0.8")
    assert "two" in shown(out) and ">one<" not in shown(out)
    assert any("text/html" in o.data for o in out.outputs)  # a DataFrame table
    two = runs_by_name()["two"]
    _, out = run(ipython, f"%lifecycle show {two.info.run_id[:8]}")
    assert "Cells executed (1)" in shown(out) and "[" in shown(out) and "lc.log_metric(&#x27;acc&#x27;, 0.9)" in shown(out)
    _, out = run(ipython, "%lifecycle revisions")
    assert "[2 rows x 6 columns]" in shown(out) and "run_start" in shown(out)
    start, end = (open_store().capture.run_revisions(r.info.run_id)["start"] for r in (runs_by_name()["one"], two))
    _, out = run(ipython, f"%lifecycle diff {start[:6]} {end[:6]}")
    assert "-a = 1" in shown(out) and "+a = 2" in shown(out)
    _, out = run(ipython, f"%lifecycle diff {start[:6]}")  # against the notebook as saved now
    assert "+a = 2" in shown(out)
    def autocheckpoint() -> int:
        return int(open_store().db.connection().execute("PRAGMA wal_autocheckpoint").fetchone()[0])

    assert autocheckpoint() == 0  # while recording, the background writer checkpoints the WAL
    _, out = run(ipython, "%lifecycle record off")
    assert autocheckpoint() == AUTOCHECKPOINT_PAGES  # the store's own setting again
    before = open_store().capture.counts()["cell_executions"]
    run(ipython, "x = 1")
    run(ipython, "%lifecycle record on")
    assert open_store().capture.counts()["cell_executions"] == before + 1  # only the `record on` cell
    assert autocheckpoint() == 0
    _, out = run(ipython, "%lifecycle end")
    assert "no active run" in out.stdout
    result, out = run(ipython, "%lifecycle nope")
    assert not result.success and "invalid choice" in out.stdout + out.stderr


@pytest.mark.parametrize("magic", ["%lifecycle --help", "%%track --help\n1", "%log_params --help", "%log_metric --help",
                                   *[f"%lifecycle {name} --help" for name in SUBCOMMANDS]])  # fmt: skip
def test_help(ipython: Any, magic: str) -> None:
    result, out = run(ipython, magic)
    assert result.success and "usage:" in out.stdout
    assert lc.active_run() is None
