"""Generated scoring notebooks, executed in a real kernel (papermill, nbclient) and checked with nbval."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle.scoring import build_scoring_notebook, generate_scoring_notebook

pytestmark = pytest.mark.slow

MODEL_CODE = '''
import pandas as pd

from jupyter_lifecycle.pyfunc import PythonModel

from price_helpers import with_tax


class PriceModel(PythonModel):
    """Adds tax to a price; the helper lives in code_paths."""

    def predict(self, context, model_input, params=None):
        return pd.Series(with_tax(model_input["price"], model_input["rate"]), name="gross")
'''
HELPER_CODE = "def with_tax(price, rate):\n    return price * (1 + rate)\n"


def _iris() -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


def _registered_iris() -> tuple[str, object]:
    from sklearn.linear_model import LogisticRegression

    from jupyter_lifecycle import sklearn as lc_sklearn

    X, y = _iris()
    clf = LogisticRegression(max_iter=500).fit(X, y)
    lc.set_experiment("scoring")
    with lc.start_run(run_name="iris-lr") as run:
        info = lc_sklearn.log_model(clf, "model", input_example=X.head(3))
    version = lc.register_model(info.model_uri, "iris")
    lc.Client().set_registered_model_alias("iris", "champion", version.version)
    assert run.info.run_id
    return "models:/iris@champion", clf


def _cells(nb: nbformat.NotebookNode, tag: str) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        for value in output.get("data", {}).values():
            parts.append(value if isinstance(value, str) else json.dumps(value))
    return "".join(parts)


def test_sklearn_notebook_runs_with_papermill_and_validates_with_nbval(home: Path, tmp_path: Path) -> None:
    import papermill

    uri, clf = _registered_iris()
    X, _ = _iris()
    X.to_csv(tmp_path / "new.csv", index=False)
    path = generate_scoring_notebook(uri, input_path=str(tmp_path / "new.csv"), output_path=str(tmp_path / "scored.parquet"),
                                     notebook_path=tmp_path / "score.ipynb")  # fmt: skip
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    header = nb.cells[0].source
    for expected in ("models:/iris@champion", "**iris** version 1", "`@champion`", "iris-lr", "sepal length (cm)", "double"):
        assert expected in header, expected
    (parameters,) = _cells(nb, "parameters")
    assert "model_uri = 'models:/iris@champion'" in parameters.source and "engine = 'pandas'" in parameters.source
    assert any("%pip install" in c.source and "-r {requirements}" in c.source for c in nb.cells)

    executed = tmp_path / "scored.ipynb"
    papermill.execute_notebook(str(path), str(executed), parameters={"batch_size": 40}, kernel_name="python3",
                               cwd=str(tmp_path), progress_bar=False)  # fmt: skip
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    assert len(scored) == 150
    assert scored["prediction"].tolist() == clf.predict(X).tolist()
    out = nbformat.read(executed, as_version=4)
    sources = [c.source for c in out.cells]
    report = next(c for c in out.cells if c.source.startswith("report = check_input"))
    assert "matches the signature" in _text(report)
    predict_cell = next(c for c in out.cells if "predict_frame(model, frame, batch_size)" in c.source)
    assert predict_cell.outputs, "the progress bar should show"
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in out.cells), sources

    # nbval re-runs the executed notebook in a fresh kernel and compares every output not tagged to be ignored.
    result = subprocess.run([sys.executable, "-m", "pytest", "--nbval", str(executed), "-q", "-p", "no:cacheprovider",
                             "-o", "addopts=", "-W", "ignore::DeprecationWarning"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=600, env=dict(os.environ))  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout


def test_python_model_with_code_paths_and_a_signature_mismatch(home: Path, tmp_path: Path) -> None:
    import nbclient
    import papermill

    code = tmp_path / "code"
    code.mkdir()
    (code / "price_model.py").write_text(MODEL_CODE)
    (code / "price_helpers.py").write_text(HELPER_CODE)
    sys.path.insert(0, str(code))
    try:
        import price_model

        from jupyter_lifecycle import pyfunc

        example = pd.DataFrame({"price": [10.0, 20.0], "rate": [0.2, 0.1]})
        with lc.start_run():
            info = pyfunc.log_model("model", python_model=price_model.PriceModel(), input_example=example,
                                    code_paths=[str(code / "price_model.py"), str(code / "price_helpers.py")])  # fmt: skip
    finally:
        sys.path.remove(str(code))
        sys.modules.pop("price_model", None)
        sys.modules.pop("price_helpers", None)

    rows = pd.DataFrame({"price": [100.0, 50.0, 8.0], "rate": [0.2, 0.1, 0.5]})
    rows.to_csv(tmp_path / "prices.csv", index=False)
    nb = build_scoring_notebook(info.model_uri, input_path=str(tmp_path / "prices.csv"),
                                output_path=str(tmp_path / "gross.csv"), batch_size=2)  # fmt: skip
    assert f"`{info.run_id}`" in nb.cells[0].source and "`price` | double" in nb.cells[0].source
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    gross = pd.read_csv(tmp_path / "gross.csv")
    assert gross["gross"].round(6).tolist() == [120.0, 55.0, 12.0]
    assert list(gross.columns) == ["price", "rate", "gross"]

    # An input that does not fit: a report cell, no traceback, nothing written.
    pd.DataFrame({"price": ["cheap", "dear"], "discount": [1, 2]}).to_csv(tmp_path / "bad.csv", index=False)
    nbformat.write(nb, tmp_path / "score.ipynb")
    papermill.execute_notebook(str(tmp_path / "score.ipynb"), str(tmp_path / "bad.ipynb"), kernel_name="python3",
                               parameters={"input_path": str(tmp_path / "bad.csv"), "output_path": str(tmp_path / "bad_out.csv"),
                                           "install_requirements": False},
                               cwd=str(tmp_path), progress_bar=False)  # fmt: skip
    out = nbformat.read(tmp_path / "bad.ipynb", as_version=4)
    assert not any(o.get("output_type") == "error" for c in out.cells for o in c.get("outputs", []))
    report = _text(next(c for c in out.cells if c.source.startswith("report = check_input")))
    assert "does not match" in report and "'price'" in report and "'rate'" in report
    assert not (tmp_path / "bad_out.csv").exists()
    assert "nothing written" in _text(next(c for c in out.cells if c.source.startswith("if scored is not None")))


def test_virtualenv_notebook_scores_inside_an_isolated_environment(home: Path, tmp_path: Path) -> None:
    uri, _ = _registered_iris()
    nb = build_scoring_notebook(uri, input_path="in.csv", output_path="out.json", env_manager="virtualenv", engine="dask")
    nbformat.validate(nb)
    sources = "\n".join(c.source for c in nb.cells)
    assert "ensure_environment(model_uri)" in sources
    assert '[str(python), "-m", "jupyter_lifecycle.cli", "score", model_uri, input_path, output_path,' in sources
    assert "%pip" not in sources and "isolated virtual environment" in nb.cells[0].source
    with pytest.raises(lc.InvalidInput, match="env_manager"):
        build_scoring_notebook(uri, env_manager="conda")
    with pytest.raises(lc.InvalidInput, match="engine"):
        build_scoring_notebook(uri, engine="spark")


def test_virtualenv_notebook_builds_the_environment_and_scores(home: Path, shared_envs: Path, tmp_path: Path) -> None:
    """The isolated environment really gets built from requirements.txt (pip, a few minutes the first time:
    shared by the session's virtualenv tests, the kernel finds it through ``$JUPYTER_LIFECYCLE_ENVS``)."""
    import papermill

    from jupyter_lifecycle.models.environment import get_model_dependencies
    from jupyter_lifecycle.scoring.environment import environment_dir

    uri, clf = _registered_iris()
    X, _ = _iris()
    X.to_csv(tmp_path / "in.csv", index=False)
    path = generate_scoring_notebook(uri, input_path=str(tmp_path / "in.csv"), output_path=str(tmp_path / "out.csv"),
                                     notebook_path=tmp_path / "venv.ipynb", env_manager="virtualenv")  # fmt: skip
    papermill.execute_notebook(str(path), str(tmp_path / "venv.out.ipynb"), kernel_name="python3",
                               cwd=str(tmp_path), progress_bar=False, execution_timeout=1200)  # fmt: skip
    assert pd.read_csv(tmp_path / "out.csv")["prediction"].tolist() == clf.predict(X).tolist()
    environment = environment_dir(get_model_dependencies(uri))
    assert environment.parent == shared_envs and (environment / ".jupyter_lifecycle_ready").exists()
    python = environment / "bin" / "python"
    pins = (home / "registry").rglob("requirements.txt")
    wanted = next(pins).read_text().split()
    frozen = subprocess.run([str(python), "-m", "pip", "freeze"], capture_output=True, text=True, check=True).stdout
    for pin in wanted:
        if pin.startswith(("scikit-learn", "pandas", "numpy")):
            assert pin.lower() in frozen.lower(), (pin, frozen)
