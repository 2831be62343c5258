"""Notebook capture: the extension's hooks in-process, then real kernels (nbclient, papermill) and a real server."""

from __future__ import annotations

import os
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest
import requests
from IPython.utils.capture import capture_output
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

import jupyter_lifecycle as lc
from jupyter_lifecycle import config
from jupyter_lifecycle.capture.notebook_path import find_notebook_path, path_from_servers
from jupyter_lifecycle.capture.recorder import get_recorder
from jupyter_lifecycle.store import open_store
from jupyter_lifecycle.store.database import AUTOCHECKPOINT_PAGES
from jupyter_lifecycle.tracking import fluent
from tests.jupyter_process import running_jupyter


def cell(shell: Any, source: str, **kwargs: Any) -> Any:
    with capture_output():
        return shell.run_cell(source, store_history=True, **kwargs)


def raw_count(home: Path, sql: str) -> int:
    """Count rows with a separate sqlite3 connection: what a crash would leave on disk."""
    with sqlite3.connect(home / config.DB_FILENAME) as conn:
        return int(conn.execute(sql).fetchone()[0])


# ---- in-process ---------------------------------------------------------------


def test_cells_are_recorded_with_errors_ids_and_runs(ipython: Any, home: Path) -> None:
    cell(ipython, "import jupyter_lifecycle as lc\nrun = lc.start_run(run_name='open')", cell_id="c-start")
    cell(ipython, "lc.log_metric('loss', 0.5)\nundefined_name", cell_id="c-fail")
    # The failing cell started no run, so the open run stays active.
    assert lc.active_run() is not None
    # Buffered metrics were handed to the writer when the cell ended: on disk well before end_run.
    for _ in range(100):
        if raw_count(home, "SELECT count(*) FROM metrics"):
            break
        time.sleep(0.02)
    assert raw_count(home, "SELECT count(*) FROM metrics") == 1
    cell(ipython, "lc.end_run()")
    cell(ipython, "after = 1")
    cells = open_store().capture.cell_executions()
    assert [c.cell_id for c in cells][-4:] == ["c-start", "c-fail", None, None]
    failed = [c for c in cells if not c.success]
    assert [(c.error_type, c.error_message) for c in failed] == [("NameError", "name 'undefined_name' is not defined")]
    run_id = lc.last_active_run().info.run_id
    linked = open_store().capture.cell_executions(run_id=run_id)
    assert [c.source.splitlines()[0] for c in linked] == [
        "import jupyter_lifecycle as lc", "lc.log_metric('loss', 0.5)", "lc.end_run()"]  # fmt: skip
    assert all(c.duration_ms is not None and c.duration_ms >= 0 for c in linked)
    assert {c.session_id for c in cells} == {get_recorder(ipython).session_id}


def test_a_cells_metrics_are_committed_by_the_writer_right_after_it(ipython: Any, home: Path) -> None:
    """The cell hook hands its points to the background writer: on disk long before the age limit, not by the cell."""
    cell(ipython, "import jupyter_lifecycle as lc\nrun = lc.start_run()")
    buffer = fluent.client().store.metric_buffer
    buffer.max_seconds = 3600.0  # only the hand-off can commit the point in this test's time
    try:
        assert cell(ipython, "lc.log_metric('handed', 1.0)").success
        for _ in range(200):  # the commit runs beside the next cell, within milliseconds
            if raw_count(home, "SELECT count(*) FROM metrics WHERE key = 'handed'"):
                break
            time.sleep(0.05)
        assert raw_count(home, "SELECT count(*) FROM latest_metrics WHERE key = 'handed'") == 1
        assert buffer.points == [] and buffer.deadline == float("inf")
    finally:
        buffer.max_seconds = config.FLUSH_SECONDS
        cell(ipython, "lc.end_run()")


def test_failing_cell_ends_the_run_it_left_active(ipython: Any) -> None:
    result = cell(ipython, "import jupyter_lifecycle as lc\nlc.start_run(run_name='bare')\n1/0")
    assert not result.success
    assert lc.active_run() is None
    assert cell(ipython, "lc.start_run(run_name='bare')\nlc.end_run()").success  # no "already active"
    assert sorted(r.info.status for r in lc.search_runs(output_format="list")) == ["FAILED", "FINISHED"]


def test_runs_get_notebook_tags_and_revisions(ipython: Any, tmp_path: Path) -> None:
    path = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("v = 1")]), path)
    cell(ipython, "%%track --name first\nv = 1")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("v = 2")]), path)
    cell(ipython, "%%track --name second\nv = 2")
    runs = {r.info.run_name: r for r in lc.search_runs(output_format="list")}
    capture = open_store().capture
    first, second = (capture.run_revisions(runs[n].info.run_id) for n in ("first", "second"))
    assert first["start"] == first["end"] != second["start"]
    tags = runs["second"].data.tags
    assert tags["mlflow.source.name"] == str(path) and tags["mlflow.source.type"] == "NOTEBOOK"
    assert tags["lifecycle.notebook.revision"] == second["start"]
    assert runs["second"].info.notebook_path == str(path)
    assert lc.get_revision(second["start"]).cells[0].source == "v = 2"
    assert capture.counts()["notebook_revisions"] == 2


def test_unknown_notebook_still_records_and_says_so(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    for name in (config.NOTEBOOK_ENV, "JPY_SESSION_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(home.parent / "no-servers"))
    shell = InteractiveShell.instance()
    shell.user_ns.pop("__session__", None)
    with capture_output() as out:
        shell.run_cell("%load_ext jupyter_lifecycle", store_history=True)
    try:
        assert "notebook file is unknown" in out.stdout
        cell(shell, "%%track --name lost\nx = 1")
        (run,) = lc.search_runs(output_format="list")
        assert "notebook path unknown" in run.data.tags["lifecycle.notebook.note"]
        assert open_store().capture.run_revisions(run.info.run_id) == {}
        assert [c.source for c in open_store().capture.cell_executions(run_id=run.info.run_id)] == [
            "%%track --name lost\nx = 1"]  # fmt: skip
        # A hint that appears later (VS Code sets its variable after start-up) is picked up at the next run.
        late = home.parent / "late.ipynb"
        nbformat.write(nbformat.v4.new_notebook(), late)
        shell.user_ns["__vsc_ipynb_file__"] = str(late)
        cell(shell, "%%track --name found\nx = 2")
        found = lc.search_runs(filter_string="attributes.run_name = 'found'", output_format="list")[0]
        assert found.data.tags["mlflow.source.name"] == str(late)
        assert set(open_store().capture.run_revisions(found.info.run_id)) == {"start", "end"}
    finally:
        shell.user_ns.pop("__vsc_ipynb_file__", None)
        shell.run_cell("%unload_ext jupyter_lifecycle", store_history=True)


def test_store_error_warns_once_and_cells_still_run(ipython: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(config.HOME_ENV, str(blocker / "store"))  # cannot be created: a real store error
    with pytest.warns(RuntimeWarning, match="could not record this cell") as caught:
        first = cell(ipython, "y = 41")
        second = cell(ipython, "y += 1")
    assert first.success and second.success and ipython.user_ns["y"] == 42
    assert len(caught) == 1
    rec = get_recorder(ipython)
    assert rec.failures == 2 and "a-file" in rec.last_error


def test_load_twice_is_harmless_and_unload_removes_every_hook(home: Path) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    before = {event: list(shell.events.callbacks[event]) for event in ("pre_run_cell", "post_run_cell")}
    hooks = (list(fluent.RUN_START_HOOKS), list(fluent.RUN_END_HOOKS))
    cell(shell, "%load_ext jupyter_lifecycle")
    cell(shell, "%load_ext jupyter_lifecycle")
    import jupyter_lifecycle.notebook.extension as extension

    extension.load(shell)  # direct second load: still one set of hooks (the cell recorder's, the trace view's)
    assert len(shell.events.callbacks["post_run_cell"]) == len(before["post_run_cell"]) + 2
    assert len(fluent.RUN_START_HOOKS) == len(hooks[0]) + 1
    assert "lifecycle" in shell.magics_manager.magics["line"] and "track" in shell.magics_manager.magics["cell"]
    cell(shell, "%lifecycle autolog on")
    cell(shell, "%unload_ext jupyter_lifecycle")
    assert {e: list(shell.events.callbacks[e]) for e in before} == before
    assert (list(fluent.RUN_START_HOOKS), list(fluent.RUN_END_HOOKS)) == hooks
    for kind, name in (("line", "lifecycle"), ("line", "log_params"), ("line", "log_metric"), ("cell", "track")):
        assert name not in shell.magics_manager.magics[kind]
    assert not lc.autologging.sklearn.is_enabled()
    assert get_recorder(shell) is None
    assert open_store().db.connection().execute("PRAGMA wal_autocheckpoint").fetchone()[0] == AUTOCHECKPOINT_PAGES


def test_notebook_path_discovery_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "a.ipynb", tmp_path / "b.ipynb"
    b.write_text("{}")
    monkeypatch.delenv(config.NOTEBOOK_ENV, raising=False)
    monkeypatch.setenv("JPY_SESSION_NAME", str(a))  # stale (renamed notebook): does not exist
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    assert find_notebook_path({"__session__": str(b)}) == (str(b), "__session__")
    assert find_notebook_path({"__vsc_ipynb_file__": str(b), "__session__": str(a)})[1] == "__vsc_ipynb_file__"
    assert find_notebook_path({}) == (str(a), "JPY_SESSION_NAME (file not found)")
    monkeypatch.setenv(config.NOTEBOOK_ENV, "relative.ipynb")  # explicit: wins even before the file exists
    assert find_notebook_path({"__session__": str(b)}) == (str(Path("relative.ipynb").resolve()), config.NOTEBOOK_ENV)
    monkeypatch.delenv(config.NOTEBOOK_ENV)
    monkeypatch.delenv("JPY_SESSION_NAME")
    assert find_notebook_path({}) == (None, "not found")


# ---- real kernels -----------------------------------------------------------------

SESSION_CELLS = [
    "%load_ext jupyter_lifecycle",
    "import jupyter_lifecycle as lc\nlc.set_experiment('kernel')",
    "1/0",
    "%%track --name k1 --param a=1\nlc.log_metric('m', 1.0)",
    "%%track --name k2\nraise RuntimeError('first try')",
    "%%track --name k2\n'second try'",
    "lc.start_run(run_name='bare')\nundefined_name",
    "lc.start_run(run_name='bare')\nlc.log_metric('before_death', 1.0)",
    "%lifecycle status",
    # Rows are written by a background thread within milliseconds; this cell's own row may not be
    # committed when the next cell kills the kernel, the earlier ones are.
    "import time\ntime.sleep(0.5)",
    "import os\nos._exit(1)",
]


def test_notebook_in_a_real_kernel(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "session.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in SESSION_CELLS])
    nbformat.write(nb, path)
    env = {**os.environ, config.HOME_ENV: str(home), config.NOTEBOOK_ENV: str(path)}
    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(tmp_path)}})  # fmt: skip
    with pytest.raises(DeadKernelError):
        client.execute(env=env)
    status = "".join(o.get("text", "") for o in nb.cells[8].outputs)
    assert f"notebook:   {path}" in status and "recording:  on" in status

    store = open_store(home)
    cells = store.capture.cell_executions()
    # Every cell up to the status cell (the last row may not have been committed when the kernel
    # died); the cell that killed the kernel never finished.
    assert [c.source for c in cells][:9] == SESSION_CELLS[:9] and len(cells) <= 10
    # (nbclient sends no cellId, unlike JupyterLab: the in-process test covers cell ids.)
    assert [c.error_type for c in cells if not c.success] == ["ZeroDivisionError", "RuntimeError", "NameError"]
    runs = {(r.info.run_name, r.info.status): r for r in lc.search_runs(experiment_names=["kernel"], output_format="list")}
    # The kernel died with 'bare' running: its process is gone, so it reads KILLED (issue #12, defect 7).
    assert set(runs) == {("k1", "FINISHED"), ("k2", "FAILED"), ("k2", "FINISHED"), ("bare", "FAILED"),
                         ("bare", "KILLED")}  # fmt: skip
    k1 = runs[("k1", "FINISHED")]
    assert k1.data.params == {"a": "1"} and k1.data.metrics == {"m": 1.0}
    assert set(store.capture.run_revisions(k1.info.run_id)) == {"start", "end"}
    assert k1.data.tags["mlflow.source.name"] == str(path)
    # Logged in a cell that finished, then the kernel died: the point is on disk.
    killed = runs[("bare", "KILLED")]
    assert raw_count(home, f"SELECT count(*) FROM metrics WHERE run_id = '{killed.info.run_id}'") == 1
    executed = lc.export_executed_notebook(runs[("k2", "FAILED")].info.run_id)
    assert [c.source for c in executed.cells[1:]] == [SESSION_CELLS[4]]


def _long_notebook(path: Path, extension: bool) -> Path:
    sources = ["%load_ext jupyter_lifecycle" if extension else "pass",
               "import jupyter_lifecycle as lc\nlc.start_run(run_name='long')"]  # fmt: skip
    sources += [f"x = {i}\nlc.log_metric('x', x, step=x)" for i in range(497)]
    sources.append("lc.end_run()")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]), path)
    return path


@pytest.mark.slow
def test_500_cells_with_and_without_the_extension(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counts = {}
    for extension in (True, False):
        home = tmp_path / f"store-{extension}"
        path = _long_notebook(tmp_path / f"long-{extension}.ipynb", extension)
        monkeypatch.setenv(config.HOME_ENV, str(home))
        monkeypatch.setenv(config.NOTEBOOK_ENV, str(path))
        if extension:  # papermill, as a scheduled notebook would run
            papermill.execute_notebook(str(path), str(tmp_path / "out.ipynb"), kernel_name="python3",
                                       progress_bar=False, cwd=str(tmp_path),
                                       request_save_on_cell_execute=False)  # fmt: skip
        else:
            nb = nbformat.read(path, as_version=4)
            NotebookClient(nb, timeout=300, kernel_name="python3").execute()
        counts[extension] = {
            table: raw_count(home, f"SELECT count(*) FROM {table}")
            for table in ("runs", "metrics", "cell_executions", "cell_sources", "run_cells", "run_revisions")
        }
    assert counts[False] == {"runs": 1, "metrics": 497, "cell_executions": 0, "cell_sources": 0, "run_cells": 0,
                             "run_revisions": 0}  # fmt: skip
    # 500 cells, each text distinct; the run's 499 cells (start_run to end_run) are linked to it.
    assert counts[True] == {"runs": 1, "metrics": 497, "cell_executions": 500, "cell_sources": 500,
                            "run_cells": 499, "run_revisions": 2}  # fmt: skip


# ---- a real Jupyter server: post-save hook and the sessions API -------------------------


def test_post_save_hook_and_sessions_api(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The hook configured by hand, as without the server extension; the extension must not add it twice.
    hook = ["--FileContentsManager.post_save_hook=jupyter_lifecycle.capture.post_save_hook"]
    with running_jupyter("server", tmp_path, hook) as server:
        assert server.store == home and server.root == tmp_path / "root"
        monkeypatch.setenv("JUPYTER_RUNTIME_DIR", server.env["JUPYTER_RUNTIME_DIR"])
        root, base, headers = server.root, server.url.rstrip("/"), {"Authorization": f"token {server.token}"}
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell()])
        for source in ("a = 1", "a = 2", "a = 2"):
            nb.cells[0].source = source
            saved = requests.put(f"{base}/api/contents/work.ipynb", headers=headers, timeout=10,
                                 json={"type": "notebook", "format": "json", "content": nb})  # fmt: skip
            assert saved.status_code in (200, 201), saved.text
        requests.put(f"{base}/api/contents/notes.txt", headers=headers, timeout=10,
                     json={"type": "file", "format": "text", "content": "ignored"})  # fmt: skip
        listing = lc.list_revisions(root / "work.ipynb")
        assert list(listing["trigger"]) == ["save", "save", "save"]
        assert listing["revision_id"].nunique() == 2  # identical content stored once
        assert open_store(home).capture.counts()["notebook_revisions"] == 2

        session = requests.post(f"{base}/api/sessions", headers=headers, timeout=60,
                                json={"path": "work.ipynb", "type": "notebook", "name": "work.ipynb",
                                      "kernel": {"name": "python3"}}).json()  # fmt: skip
        kernel_id = session["kernel"]["id"]
        # The kernel asks the running servers (found in the runtime dir) which session it serves.
        assert path_from_servers(kernel_id) == str(root / "work.ipynb")
        assert path_from_servers("no-such-kernel") is None
        requests.delete(f"{base}/api/sessions/{session['id']}", headers=headers, timeout=30)


def test_capture_example_notebook(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``make demo``'s second notebook: magics, autolog, a failing cell, revisions and a diff, in a real kernel."""
    from .conftest import ROOT

    path = ROOT / "example_notebooks" / "capture.ipynb"
    nb = nbformat.read(path, as_version=4)
    env = {**os.environ, config.HOME_ENV: str(home), config.NOTEBOOK_ENV: str(path)}
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute(env=env)  # fmt: skip
    runs = lc.search_runs(experiment_names=["capture-demo"], output_format="list")
    by_name: dict[str, list[Any]] = {}
    for run in runs:
        by_name.setdefault(run.info.run_name, []).append(run)
    (rf,) = by_name["rf-baseline"]
    assert rf.data.params["dataset"] == "iris" and rf.data.params["n_estimators"] == "50"
    assert rf.data.metrics["test_accuracy"] > 0.8 and "training_accuracy_score" in rf.data.metrics
    assert "model/MLmodel" in {f.path for f in lc.list_artifacts(rf.info.run_id, "model")}
    assert sorted(r.info.status for r in by_name["logreg"]) == ["FAILED", "FINISHED"]
    (grid,) = by_name["logreg-grid"]
    assert sum(r.info.parent_run_id == grid.info.run_id for r in runs) == 3
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert open_store(home).capture.counts()["cell_executions"] == len(code_cells)
    shown = "".join(o.get("data", {}).get("text/plain", "") for c in code_cells for o in c.outputs)
    assert "1 modified" in shown  # the diff of the edited copy
    # `make demo` shows these counts in its summary.
    from jupyter_lifecycle.cli import main

    assert main(["info"]) == 0
    info = capsys.readouterr().out
    assert re.search(rf"cells:\s+{len(code_cells)}\n", info) and re.search(r"revisions:\s+2\n", info)
