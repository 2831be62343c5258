"""Registered model files are checked against the store's hashes before anything is unpickled (issue #12, defect 2).

Each case tampers with a real registered version the way someone with write
access to the registry folder would, with a pickle that creates a marker
folder when unpickled, then loads it through ``models:/`` URIs in this process
and through a real ``jupyter-lifecycle serve`` process. The marker proves
nothing was unpickled; the control cases prove the same pickle does run when
the registry check is not in the way.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

import jupyter_lifecycle as lc
from jupyter_lifecycle import pyfunc
from jupyter_lifecycle.models.model import NAMESPACE, verify_model
from jupyter_lifecycle.models.uri import resolve_model_uri
from jupyter_lifecycle.tracking.artifacts import sha256_file


class _Payload:
    """Unpickling this runs ``os.mkdir(marker)``: what an attacker's pickle would do, made visible."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.mkdir, (str(self.marker),)


def attacker_pickle(marker: Path, size: int | None = None) -> bytes:
    """A pickle that creates ``marker``, padded to ``size`` bytes (pickle ignores what follows its STOP)."""
    data = pickle.dumps(_Payload(marker))
    return data if size is None else data + b"\0" * (size - len(data))


@pytest.fixture
def victim(client: lc.Client, tmp_path: Path) -> Path:
    """``models:/victim/1`` (alias ``champion``, stage Production), loaded once so the hash cache is warm."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    source = tmp_path / "source"
    lc.sklearn.save_model(LogisticRegression(max_iter=300).fit(X, y), source, input_example=X.head(2))
    version = lc.register_model(str(source), "victim")
    client.set_registered_model_alias("victim", "champion", 1)
    client.transition_model_version_stage("victim", 1, "Production")
    assert pyfunc.load_model("models:/victim/1").predict(X.head(2)) is not None
    return Path(version.storage_location)


def _write(file: Path, data: bytes) -> None:
    os.chmod(file, 0o644)  # registered files are read-only; their owner can undo that
    file.write_bytes(data)


def _edit_mlmodel(folder: Path, change: Callable[[dict], None]) -> None:
    mlmodel = folder / "MLmodel"
    data = yaml.safe_load(mlmodel.read_text())
    change(data)
    _write(mlmodel, yaml.safe_dump(data).encode())


def replace_pickle_and_its_hash(folder: Path, marker: Path) -> None:
    _write(folder / "model.pkl", attacker_pickle(marker))
    _edit_mlmodel(folder, lambda d: d[NAMESPACE]["files"].update({"model.pkl": sha256_file(folder / "model.pkl")}))


def replace_pickle_and_drop_hash_block(folder: Path, marker: Path) -> None:
    _write(folder / "model.pkl", attacker_pickle(marker))
    _edit_mlmodel(folder, lambda d: d.pop(NAMESPACE))


def same_size_restored_mtime(folder: Path, marker: Path) -> None:
    pickled = folder / "model.pkl"
    before = pickled.stat()
    _write(pickled, attacker_pickle(marker, before.st_size))
    os.chmod(pickled, before.st_mode)
    os.utime(pickled, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = pickled.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)


def add_a_pickle(folder: Path, marker: Path) -> None:
    (folder / "extra.pkl").write_bytes(attacker_pickle(marker))


def delete_a_file(folder: Path, marker: Path) -> None:
    (folder / "requirements.txt").unlink()


def link_a_folder(folder: Path, marker: Path) -> None:
    elsewhere = marker.parent / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "model.pkl").write_bytes(attacker_pickle(marker))
    (folder / "code").symlink_to(elsewhere, target_is_directory=True)


def delete_the_hash_rows(folder: Path, marker: Path) -> None:
    from jupyter_lifecycle.store import open_store

    _write(folder / "model.pkl", attacker_pickle(marker))
    _edit_mlmodel(folder, lambda d: d.pop(NAMESPACE))
    with open_store().db.write() as conn:
        conn.execute("DELETE FROM model_version_files WHERE name = 'victim'")


CASES = {  # tampering -> (the words the refusal must contain, whether MLmodel's own check lets it through)
    replace_pickle_and_its_hash: (["'model.pkl' changed", "'MLmodel' changed"], True),
    replace_pickle_and_drop_hash_block: (["'model.pkl' changed", "'MLmodel' changed"], True),
    same_size_restored_mtime: (["'model.pkl' changed"], False),
    add_a_pickle: (["'extra.pkl' was added"], False),
    delete_a_file: (["'requirements.txt' is missing"], False),
    link_a_folder: (["'code' is a link"], False),
    delete_the_hash_rows: (["recorded no files"], True),
}


def test_the_attacker_pickle_runs_when_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    pickle.loads(attacker_pickle(marker, 4096))
    assert marker.is_dir()


@pytest.mark.parametrize("tamper", CASES, ids=[f.__name__ for f in CASES])
def test_tampered_version_is_refused_before_unpickling(victim: Path, tmp_path: Path, tamper: Callable) -> None:
    marker = tmp_path / "pwned"
    tamper(victim, marker)
    words, mlmodel_check_passes = CASES[tamper]
    for uri in ("models:/victim/1", "models:/victim@champion", "models:/victim/Production", "models:/victim/latest"):
        with pytest.raises(lc.InvalidState) as raised:
            pyfunc.load_model(uri)
        message = str(raised.value)
        assert "\n" not in message and "refusing to load 'victim' version 1" in message
        assert "Nothing was loaded" in message and "register the model again" in message
        for word in words:
            assert word in message, (word, message)
        assert not marker.exists(), f"{uri} unpickled the attacker's pickle"
    with pytest.raises(lc.InvalidState):
        lc.sklearn.load_model("models:/victim/1")
    assert not marker.exists()
    if mlmodel_check_passes:
        # Control: MLmodel's own hashes let this one through, so the folder loaded by path runs the payload.
        verify_model(victim)
        with contextlib.suppress(Exception):
            pyfunc.load_model(str(victim))
        assert marker.is_dir()


def test_folder_check_does_not_trust_size_and_mtime(victim: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    verify_model(victim)  # cached as verified
    same_size_restored_mtime(victim, marker)
    with pytest.raises(lc.InvalidState, match="model.pkl changed"):
        verify_model(victim)
    with pytest.raises(lc.InvalidState, match="model.pkl changed"):
        pyfunc.load_model(str(victim))
    assert not marker.exists()


@pytest.mark.parametrize("tamper", [replace_pickle_and_its_hash, replace_pickle_and_drop_hash_block, add_a_pickle],
                         ids=lambda f: f.__name__)  # fmt: skip
def test_serve_refuses_a_tampered_version(victim: Path, home: Path, tmp_path: Path, tamper: Callable) -> None:
    marker = tmp_path / "pwned"
    tamper(victim, marker)
    result = subprocess.run([sys.executable, "-m", "jupyter_lifecycle.cli", "serve", "models:/victim@champion", "--port", "0"],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "JUPYTER_LIFECYCLE_HOME": str(home)})  # fmt: skip
    assert result.returncode == 1, result
    assert result.stdout == ""  # never said it was serving
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: refusing to load 'victim' version 1"), result.stderr
    assert CASES[tamper][0][0] in lines[0]
    assert not marker.exists()


CODE_MODEL = '''
from jupyter_lifecycle.pyfunc import PythonModel


class Doubler(PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input["x"] * 2
'''


def test_bytecode_caches_are_dropped_not_trusted(client: lc.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    code = tmp_path / "doubler.py"
    code.write_text(CODE_MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    import doubler

    try:
        pyfunc.save_model(tmp_path / "m", python_model=doubler.Doubler(), code_paths=[str(code)],
                          input_example=pd.DataFrame({"x": [1.0]}))  # fmt: skip
    finally:
        sys.modules.pop("doubler", None)
    pyfunc.load_model(str(tmp_path / "m"))  # writes code/__pycache__ into the source, which registration copies
    folder = Path(lc.register_model(str(tmp_path / "m"), "coded").storage_location)
    for _ in range(2):  # caches written by Python at the first load are not mistaken for tampering at the next
        sys.modules.pop("doubler", None)
        assert pyfunc.load_model("models:/coded/1").predict(pd.DataFrame({"x": [2.0]})).tolist() == [4.0]
    # A planted .pyc whose header copies the source's mtime and size is what Python runs instead of the source:
    source = folder / "code" / "doubler.py"
    marker = tmp_path / "pwned"
    payload = compile(f"import os\nos.mkdir({str(marker)!r})\n" + CODE_MODEL, str(source), "exec")
    planted = importlib._bootstrap_external._code_to_timestamp_pyc(  # type: ignore[attr-defined]
        payload, int(source.stat().st_mtime), source.stat().st_size)
    pyc = Path(importlib.util.cache_from_source(str(source)))
    pyc.parent.mkdir(exist_ok=True)
    pyc.write_bytes(planted)
    control = f"import sys; sys.path.insert(0, {str(source.parent)!r}); import doubler"
    subprocess.run([sys.executable, "-c", control], check=True, timeout=60)
    assert marker.is_dir()  # control: the planted cache runs when imported as Python normally would
    marker.rmdir()
    # Through the registry it is removed before anything is imported.
    sys.modules.pop("doubler", None)
    assert pyfunc.load_model("models:/coded/1").predict(pd.DataFrame({"x": [3.0]})).tolist() == [6.0]
    assert not marker.exists()
    sys.modules.pop("doubler", None)


@pytest.mark.parametrize("tamper", [replace_pickle_and_its_hash, replace_pickle_and_drop_hash_block], ids=lambda f: f.__name__)
def test_tampered_logged_model_is_refused_before_unpickling(client: lc.Client, tmp_path: Path, tamper: Callable) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    with lc.start_run():
        info = lc.sklearn.log_model(LogisticRegression(max_iter=300).fit(X, y), name="model")
    folder = resolve_model_uri(info.model_uri)
    assert pyfunc.load_model(info.model_uri).predict(X.head(2)) is not None
    marker = tmp_path / "pwned"
    tamper(folder, marker)
    with pytest.raises(lc.InvalidState, match="MLmodel changed since the model was logged") as raised:
        pyfunc.load_model(info.model_uri)
    assert "\n" not in str(raised.value) and not marker.exists()
    with contextlib.suppress(Exception):  # control: by path, MLmodel's own (rewritten) hashes let it through
        pyfunc.load_model(str(folder))
    assert marker.is_dir()
