"""Fixtures: a fresh store in a tmp dir for every test, with the fluent state reset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle import config
from jupyter_lifecycle.tracking import fluent

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A new, empty store home used by the fluent API and ``Client()``."""
    path = tmp_path / "store"
    monkeypatch.setenv(config.HOME_ENV, str(path))
    config.set_store(None)
    yield path
    while lc.active_run() is not None:
        lc.end_run()
    fluent._experiment.clear()
    config.set_store(None)
    from jupyter_lifecycle.models import logged

    logged._active_model_id.set(None)  # set_active_model is process state, like the active run


@pytest.fixture(scope="session")
def _envs_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("envs")


@pytest.fixture
def shared_envs(_envs_folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The session's folder of isolated scoring environments (``$JUPYTER_LIFECYCLE_ENVS``).

    The virtualenv tests share it, so a test session builds each environment
    (pip, minutes under load) once, not once per test.
    """
    monkeypatch.setenv(config.ENVS_ENV, str(_envs_folder))
    return _envs_folder


@pytest.fixture
def client(home: Path) -> lc.Client:
    """A ``Client`` on the fresh store."""
    return lc.Client()


@pytest.fixture
def ipython(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """An in-process IPython shell with ``%load_ext jupyter_lifecycle`` run, unloaded afterwards.

    ``$JUPYTER_LIFECYCLE_NOTEBOOK`` points at ``tmp_path / "nb.ipynb"`` (not
    created: write it to get revisions).
    """
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv(config.NOTEBOOK_ENV, str(tmp_path / "nb.ipynb"))
    shell = InteractiveShell.instance()
    shell.colors = "nocolor"
    shell.run_cell("%load_ext jupyter_lifecycle", store_history=True)
    yield shell
    shell.run_cell("%unload_ext jupyter_lifecycle", store_history=True)
