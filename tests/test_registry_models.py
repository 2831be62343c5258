"""End to end with real models: sklearn.log_model -> register_model -> alias -> pyfunc.load_model("models:/...")."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import jupyter_lifecycle as lc
from jupyter_lifecycle import pyfunc
from jupyter_lifecycle import sklearn as lc_sklearn


def test_log_register_alias_load_predict(client: lc.Client) -> None:
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    with lc.start_run():
        info = lc_sklearn.log_model(model, name="model", input_example=X.head(3))
    mv = lc.register_model(info.model_uri, "iris")
    assert mv.version == 1 and mv.run_id == info.run_id and mv.model_id == info.model_id
    client.set_registered_model_alias("iris", "champion", mv.version)
    client.transition_model_version_stage("iris", mv.version, "Production", archive_existing_versions=True)

    expected = model.predict(X.head(10))
    for uri in ("models:/iris@champion", "models:/iris/1", "models:/iris/production", "models:/iris/latest"):
        loaded = pyfunc.load_model(uri)
        assert np.array_equal(np.asarray(loaded.predict(X.head(10))), expected), uri
    native = lc_sklearn.load_model("models:/iris@champion")
    assert np.array_equal(native.predict(X.head(10)), expected)
    assert client.get_model_version_by_alias("iris", "champion").current_stage == "Production"

    # A second, different model becomes version 2; the champion keeps serving version 1's files.
    with lc.start_run():
        other = lc_sklearn.log_model(LogisticRegression(C=0.01, max_iter=50).fit(X, y), name="model")
    assert lc.register_model(other.model_uri, "iris").version == 2
    assert pyfunc.load_model("models:/iris/latest").predict(X.head(3)) is not None
    assert np.array_equal(np.asarray(pyfunc.load_model("models:/iris@champion").predict(X.head(10))), expected)


def test_registered_copy_cannot_be_changed_silently(client: lc.Client) -> None:
    X, y = load_iris(return_X_y=True, as_frame=True)
    with lc.start_run():
        info = lc_sklearn.log_model(LogisticRegression(max_iter=300).fit(X, y), name="model")
    folder = Path(lc.register_model(info.model_uri, "iris").storage_location)
    pickled = next(p for p in folder.rglob("*.pkl"))
    os.chmod(pickled, 0o644)  # deliberately break the read-only copy
    pickled.write_bytes(pickled.read_bytes() + b"tampered")
    with pytest.raises(lc.LifecycleError, match="sha256|changed|modified"):
        pyfunc.load_model("models:/iris/1")
