"""The sidebar's Sync tab against a real ``mlflow server`` (tests/mlflow_server.py), in JupyterLab and Chromium.

The tab compares the lab's store with the server (local-only, remote-only,
changed) and pushes; what arrived is read back with MLflow's own client.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import jupyter_lifecycle as lc
from tests.browser.conftest import Lab
from tests.browser.test_sidebar import lab_store, open_sidebar
from tests.mlflow_server import MLFLOW_BIN, MlflowServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.mlflow,
    pytest.mark.skipif(not (MLFLOW_BIN / "mlflow").exists(), reason=f"{MLFLOW_BIN}/mlflow missing"),
]

EXPERIMENT = "sync-tab"


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """One tracking server for the module."""
    running = MlflowServer(tmp_path_factory.mktemp("mlflow-sync-tab"))
    running.start()
    yield running
    running.kill()


def test_sync_tab_compares_and_pushes(lab: Lab, page: object, mlflow_server: MlflowServer) -> None:
    with lab_store(lab):
        lc.set_experiment(EXPERIMENT)
        with lc.start_run(run_name="tab-run") as run:
            lc.log_metric("loss", 0.5)
    mlflow_server.mlflow('client.create_experiment("only-on-the-server")')
    errors: list[str] = []
    sidebar = open_sidebar(lab, page, errors)
    sidebar.locator('.jl-tab[data-tab="sync"]').click()
    uri = sidebar.locator(".jl-sync-uri")
    uri.fill(mlflow_server.uri)
    sidebar.locator(".jl-sync-compare").click()

    local_only = sidebar.locator('.jl-sync-section[data-section="local-only"]')
    local_only.locator("li", has_text=f"tab-run ({run.info.run_id})").wait_for(timeout=120_000)
    assert local_only.locator('li[data-kind="experiment"]', has_text=EXPERIMENT).count() == 1
    remote_only = sidebar.locator('.jl-sync-section[data-section="remote-only"]')
    assert remote_only.locator('li[data-kind="experiment"]', has_text="only-on-the-server").count() == 1
    assert mlflow_server.mlflow(f"out = client.get_experiment_by_name({EXPERIMENT!r})") is None  # nothing sent yet

    sidebar.locator(".jl-sync-push").click()
    report = sidebar.locator(".jl-sync-report")
    report.wait_for(timeout=120_000)
    assert report.get_attribute("data-ok") == "true", report.inner_text()
    assert "pushed to" in report.inner_text()
    sidebar.locator('.jl-sync-section[data-section="local-only"][data-count="0"]').wait_for()
    assert sidebar.locator('.jl-sync-section[data-section="changed"]').get_attribute("data-count") == "0"
    pushed = mlflow_server.mlflow(f"""
exp = client.get_experiment_by_name({EXPERIMENT!r})
out = [(r.info.run_name, r.data.metrics) for r in client.search_runs([exp.experiment_id])]
""")
    assert pushed == [["tab-run", {"loss": 0.5}]]
    page.screenshot(path=str(lab.root.parent / "sidebar-sync.png"))  # type: ignore[attr-defined]
    assert not errors
