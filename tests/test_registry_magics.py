"""The registry from a notebook (``%lifecycle register/models/promote`` in an IPython shell) and the shell CLI."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from IPython.utils.capture import capture_output

import jupyter_lifecycle as lc
from jupyter_lifecycle.cli import main


def run(shell: Any, source: str) -> tuple[Any, Any]:
    with capture_output() as captured:
        result = shell.run_cell(source, store_history=True)
    return result, captured


def logged_run(*paths: str) -> str:
    with lc.start_run() as run:
        for path in paths:
            lc.log_text("flavors: {}\n", f"{path}/MLmodel")
    return run.info.run_id


def test_lifecycle_register_models_promote(ipython: Any) -> None:
    run_id = logged_run("clf")
    result, _ = run(ipython, f"%lifecycle register {run_id} fraud --tag team=risk --alias candidate")
    assert result.success, result.error_in_exec
    mv = lc.Client().get_model_version("fraud", 1)
    assert mv.source == f"runs:/{run_id}/clf" and mv.tags == {"team": "risk"} and mv.aliases == ["candidate"]
    run(ipython, f"%lifecycle register {run_id} fraud")

    result, _ = run(ipython, "%lifecycle promote fraud 1 --alias champion --stage production")
    assert result.success, result.error_in_exec
    mv = lc.Client().get_model_version("fraud", 1)
    assert (mv.current_stage, mv.aliases) == ("Production", ["candidate", "champion"])
    run(ipython, "%lifecycle promote fraud latest --stage Production --archive-existing")
    assert lc.Client().get_model_version("fraud", 1).current_stage == "Archived"

    result, captured = run(ipython, "%lifecycle models")
    assert result.success, result.error_in_exec
    page = captured.outputs[-1].data["text/html"]
    assert "fraud" in page and "champion: 1" in page and "Production: 2" in page and "{" not in page
    assert ">updated (UTC)</th>" in page
    result, captured = run(ipython, "%lifecycle models fraud")
    page = captured.outputs[-1].data["text/html"]
    body = page.split("<tbody>")[1]
    assert body.count("<tr>") == 2 and "Archived" in page and "candidate, champion" in page  # two versions
    assert "[" not in body and f">{run_id[:8]}<" in body and run_id not in body  # names and short ids, no reprs


def test_lifecycle_magic_errors(ipython: Any) -> None:
    run_id = logged_run("a", "b")
    result, captured = run(ipython, f"%lifecycle register {run_id} m")
    assert "holds 2 models: name one ('a', 'b')" in captured.stderr + captured.stdout
    result, captured = run(ipython, f"%lifecycle register {run_id} m --path c")
    assert "has no model at 'c'; its models: 'a', 'b'" in captured.stderr + captured.stdout
    result, captured = run(ipython, "%lifecycle promote m 1")
    assert "needs --alias ALIAS and/or --stage STAGE" in captured.stderr + captured.stdout
    result, captured = run(ipython, "%lifecycle models nope")
    assert "no registered model named 'nope'" in captured.stderr + captured.stdout


def test_cli_register_promote_models(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = logged_run("model")
    assert main(["register", run_id, "churn", "--alias", "candidate"]) == 0
    assert "registered 'churn' version 1: models:/churn/1" in capsys.readouterr().out
    assert main(["register", f"runs:/{run_id}/model", "churn"]) == 0
    assert main(["promote", "churn", "2", "--alias", "champion", "--stage", "staging"]) == 0
    assert "'churn' version 2: stage Staging, @champion" in capsys.readouterr().out
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "churn" in out and "{'candidate': 1, 'champion': 2}" in out
    assert main(["models", "churn"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:2] == ["2", "Staging"] and lines[2].split()[:2] == ["1", "None"]
    assert main(["models", "churn", "--filter", "current_stage = 'staging'"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]] == ["2"]
    assert main(["models", "--filter", "name LIKE 'x%'"]) == 0
    assert capsys.readouterr().out.strip() == "(none)"
    assert main(["models", "nope"]) == 1
    assert "error: no registered model named 'nope'; registered models: 'churn'" in capsys.readouterr().err
    assert main(["promote", "churn", "9", "--alias", "x"]) == 1
    assert "has no version 9; its versions: 1, 2" in capsys.readouterr().err
    assert main(["info"]) == 0
    assert re.search(r"model_versions:\s+2\b", capsys.readouterr().out)
    frame = lc.search_model_versions("name = 'churn'")
    assert isinstance(frame, pd.DataFrame) and list(frame["aliases"]) == [["champion"], ["candidate"]]


def test_lineage_of_a_model_trained_in_a_captured_session(ipython: Any, tmp_path: Path) -> None:
    import nbformat

    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("w = 41 + 1")]), tmp_path / "nb.ipynb")
    cells = ["import jupyter_lifecycle as lc", "run = lc.start_run()", "w = 41 + 1",
             "lc.log_text('flavors: {}\\n', 'model/MLmodel')", "lc.end_run()",
             "lc.register_model(f'runs:/{run.info.run_id}/model', 'nbmodel')",
             "lineage = lc.lineage('models:/nbmodel/latest')"]  # fmt: skip
    for source in cells:
        result, _ = run(ipython, source)
        assert result.success, (source, result.error_in_exec)
    lineage = ipython.user_ns["lineage"]
    assert lineage.model_version.name == "nbmodel" and lineage.run.info.run_id == ipython.user_ns["run"].info.run_id
    assert [c.source for c in lineage.cells] == cells[1:5]  # the cells that ran while the run was active
    assert lineage.notebook_path == str(tmp_path / "nb.ipynb")
    assert set(lineage.revisions) == {"start", "end"} and lineage.revisions["start"].cell_count == 1
    result, captured = run(ipython, "from IPython.display import display; display(lineage)")
    assert "w = 41 + 1" in captured.outputs[-1].data["text/html"]


def test_activity_log_shows_as_a_table_for_people(ipython: Any) -> None:
    """get_activity stays a DataFrame with dict details, but shows as a readable table once the extension is loaded."""
    run_id = logged_run("clf")
    run(ipython, f"%lifecycle register {run_id} act --alias candidate")
    result, captured = run(ipython, "import jupyter_lifecycle as lc\nlc.Client().get_activity('act')")
    assert result.success, result.error_in_exec
    frame = result.result
    assert isinstance(frame.loc[len(frame) - 1, "details"], dict)
    page = ipython.display_formatter.format(frame)[0]["text/html"]  # what the cell's result shows as
    assert "activity (" in page and ">time (UTC)</th>" in page and "{" not in page
    assert "alias: candidate" in page
    other = ipython.display_formatter.format(pd.DataFrame({"a": [{"x": 1}]}))[0]["text/html"]
    assert "<td>{'x': 1}</td>" in other and 'class="dataframe"' in other  # other frames: pandas' own HTML
    ipython.run_line_magic("unload_ext", "jupyter_lifecycle")
    assert pd.DataFrame not in ipython.display_formatter.formatters["text/html"].type_printers
