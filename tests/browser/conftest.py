"""Browser-test fixtures: a real JupyterLab server and Debian's Chromium driven by Playwright for Python.

``lab`` starts one JupyterLab for the whole session on a free loopback port
with a known token, in a temporary root folder, with its own settings (no
news popup, every notebook cell rendered), config and runtime folders, and a
fresh store (``JUPYTER_LIFECYCLE_HOME``); ``window.jupyterapp`` is exposed so
a test can run Lab commands (``run_command``). ``page`` is a new Chromium page.
Playwright never downloads a browser here: it launches /usr/bin/chromium.
Tests using these are marked ``browser``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.jupyter_process import Jupyter, running_jupyter

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    # Every cell rendered (for assertions); a notebook's own kernel starts without asking.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none",
                                                                   "autoStartDefaultKernel": True},
}


Lab = Jupyter  # the browser tests' name for it


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """One JupyterLab server for the session."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser-deps` (apt-get install chromium)")
    base = tmp_path_factory.mktemp("lab")
    settings = base / "settings"
    for name, values in SETTINGS.items():
        target = settings / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    args = [f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={base / 'workspaces'}",
            "--LabApp.expose_app_in_browser=True"]  # fmt: skip
    try:
        with running_jupyter("lab", base, args) as server:
            yield server
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """Debian's Chromium, launched once per session by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: object) -> Iterator[object]:
    """A fresh page (own context: no shared storage between tests)."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    page = context.new_page()
    yield page
    context.close()


def open_in_lab(page: object, lab: Lab, path: str) -> None:
    """Open ``path`` (relative to the lab root) alone in JupyterLab and wait until the app is up.

    ``reset`` drops the workspace the server kept from earlier tests, so only this document opens.
    """
    page.goto(lab.page_url(f"lab/tree/{path}?reset"))  # type: ignore[attr-defined]
    page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=60_000)  # type: ignore[attr-defined]


def run_command(page: object, command: str, args: dict[str, object] | None = None, timeout_ms: int = 120_000) -> None:
    """Run a JupyterLab command (``notebook:run-all-cells``...) in the page and wait for its promise."""
    page.evaluate(  # type: ignore[attr-defined]
        "([id, args, ms]) => Promise.race([window.jupyterapp.commands.execute(id, args).then(() => null),"
        " new Promise((_, fail) => setTimeout(() => fail(new Error(`${id} still running after ${ms} ms`)), ms))])",
        [command, args or {}, timeout_ms],
    )
