"""The sidebar's Endpoints tab and a version page's deployment job, in a real JupyterLab and Chromium.

Endpoints are started from this process with the Python API (real scoring
server processes registered in the lab's store); the browser sees them, marks
a killed one dead and stops a live one with its button; the store is read
back with the Python API.
"""

from __future__ import annotations

import os
import signal
import time

import nbformat
import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle.store.liveness import process_alive
from tests.browser.conftest import Lab, run_command
from tests.browser.test_sidebar import lab_store, open_sidebar

pytestmark = pytest.mark.browser

MODEL = "endpoints-model"


def _register(client: lc.Client) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    with lc.start_run(run_name="endpoint-source"):
        info = lc.sklearn.log_model(LogisticRegression(max_iter=200).fit(x, y), name="model")
    lc.register_model(info.model_uri, MODEL)
    client.set_registered_model_alias(MODEL, "champion", 1)


def _gone(pid: int, timeout: float = 20) -> bool:
    """True once ``pid`` has exited (a zombie child of this process counts as gone, as the store sees it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid, int(time.time() * 1000)):
            return True
        time.sleep(0.1)
    return False


def test_sidebar_lists_endpoints_marks_dead_ones_and_stops_one(lab: Lab, page: object) -> None:
    errors: list[str] = []
    started: list[lc.Endpoint] = []
    with lab_store(lab) as client:
        _register(client)
        try:
            live = lc.serve(f"models:/{MODEL}@champion")
            started.append(live)
            dead = lc.serve(f"models:/{MODEL}/1")
            started.append(dead)
            live.predict([[5.1, 3.5, 1.4, 0.2], [6.2, 3.4, 5.4, 2.3]])
            deadline = time.monotonic() + 20
            while live.requests_served < 1 and time.monotonic() < deadline:  # the server counts in batches
                time.sleep(0.1)
            os.killpg(dead.pid, signal.SIGKILL)
            assert _gone(dead.pid)

            sidebar = open_sidebar(lab, page, errors)
            sidebar.locator('.jl-tab[data-tab="endpoints"]').click()

            live_row = sidebar.locator(f'.jl-endpoint[data-endpoint-id="{live.endpoint_id}"]')
            dead_row = sidebar.locator(f'.jl-endpoint[data-endpoint-id="{dead.endpoint_id}"]')
            live_row.wait_for()
            cells = live_row.locator("td").all_inner_texts()
            assert cells[:4] == [f"models:/{MODEL}@champion", "1", live.url, "running"]
            assert cells[5] == "1"  # the one request sent above, as the store counts it
            assert dead_row.get_attribute("data-status") == "DEAD"
            assert dead_row.locator(".jl-endpoint-status").inner_text() == "dead"
            assert "jl-mod-dead" in (dead_row.get_attribute("class") or "")
            page.screenshot(path=str(lab.root.parent / "sidebar-endpoints.png"))  # type: ignore[attr-defined]

            live_row.locator(".jl-endpoint-stop").click()
            live_row.wait_for(state="detached")  # stopped ones are not listed (unless "stopped ones too")
            assert client.store.endpoints.get(live.endpoint_id).status == "STOPPED"
            assert _gone(live.pid)
            assert dead_row.is_visible()  # the dead one stays until it is acknowledged

            sidebar.locator(".jl-endpoints-all input").check()
            sidebar.locator(f'.jl-endpoint[data-endpoint-id="{live.endpoint_id}"][data-status="STOPPED"]').wait_for()
        finally:
            for endpoint in started:
                try:
                    endpoint.stop(timeout=5)
                except lc.LifecycleError:
                    pass
    assert errors == []


def test_version_page_shows_the_deployment_job_tasks(lab: Lab, page: object) -> None:
    task = lab.root / "check-task.ipynb"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("model_uri = None", metadata={"tags": ["parameters"]}),
                      nbformat.v4.new_code_cell("print('checked', model_uri)")]  # fmt: skip
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, task)
    name = "job-page-model"
    with lab_store(lab) as client:
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression

        x, y = load_iris(return_X_y=True)
        with lc.start_run(run_name="job-source"):
            info = lc.sklearn.log_model(LogisticRegression(max_iter=200).fit(x, y), name="model")
        client.create_registered_model(name)
        client.set_deployment_job(name, tasks=[("check", str(task))])
        lc.register_model(info.model_uri, name)  # a new version starts the job
        run = client.wait_for_deployment_job(name, 1, timeout=240)
        assert run.status == "SUCCEEDED", run.error
        output = run.tasks[0].output_notebook

    page.goto(lab.page_url("lab?reset"))  # type: ignore[attr-defined]
    page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=60_000)  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        "window.jupyterapp.commands.hasCommand('jupyter-lifecycle:open-model')", timeout=30_000
    )
    run_command(page, "jupyter-lifecycle:open-model", {"name": name, "version": 1})
    job = page.locator(f'.jl-version-page[data-model-name="{name}"] .jl-job-run')  # type: ignore[attr-defined]
    job.wait_for()
    assert job.get_attribute("data-status") == "SUCCEEDED"
    task_row = job.locator('.jl-job-tasks-table tr[data-task="check"]')
    assert task_row.get_attribute("data-status") == "SUCCEEDED"
    # The store lives outside the server root here: the executed notebook is shown by its path.
    assert task_row.locator(".jl-task-notebook").inner_text() == output
