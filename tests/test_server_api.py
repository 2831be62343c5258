"""The sidebar's REST API, over real HTTP to a real jupyter_server with the extension enabled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from tornado.httpclient import HTTPClientError

import jupyter_lifecycle as lc

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def jp_server_config(home: Path) -> dict[str, Any]:
    """The server loads the extension; ``home`` (the store) is set in the environment first."""
    return {"ServerApp": {"jpserver_extensions": {"jupyter_lifecycle": True}}}


@pytest.fixture
def seeded(home: Path) -> dict[str, str]:
    """Two runs with params, metric histories and a tag; the second logs a model registered as ``iris@champion``."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    lc.set_experiment("api")
    ids = {}
    for name, c in (("small", 0.1), ("large", 10.0)):
        with lc.start_run(run_name=name) as run:
            lc.log_params({"C": c, "model": "lr"})
            for step in range(5):
                lc.log_metric("loss", 1.0 / (step + 1) / c, step=step)
            lc.log_metric("acc", 0.8 if c < 1 else 0.95)
            lc.set_tag("team", "a")
            if name == "large":
                info = lc.sklearn.log_model(LogisticRegression(C=c, max_iter=500).fit(X, y), "model")
        ids[name] = run.info.run_id
    version = lc.register_model(info.model_uri, "iris")
    lc.Client().set_registered_model_alias("iris", "champion", version.version)
    ids["experiment_id"] = lc.get_experiment_by_name("api").experiment_id
    return ids


async def get(jp_fetch: Any, *path: str, **params: str) -> dict[str, Any]:
    response = await jp_fetch("lifecycle", "api", *path, params=params)
    return json.loads(response.body)


async def send(jp_fetch: Any, method: str, *path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await jp_fetch("lifecycle", "api", *path, method=method,
                              body=None if method == "DELETE" else json.dumps(body or {}))  # fmt: skip
    return json.loads(response.body)


async def error(call: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(HTTPClientError) as caught:
        await call
    return caught.value.code, json.loads(caught.value.response.body)


async def test_runs_experiments_and_run_detail(jp_fetch: Any, seeded: dict[str, str]) -> None:
    info = await get(jp_fetch, "info")
    assert info["counts"]["runs"] == 2 and info["schema_version"] >= 5 and info["home"].endswith("store")
    experiments = (await get(jp_fetch, "experiments"))["experiments"]
    assert {(e["name"], e["run_count"]) for e in experiments} >= {("api", 2)}

    listing = await get(jp_fetch, "runs", experiment_id=seeded["experiment_id"], order_by="metrics.acc DESC")
    assert [r["run_name"] for r in listing["runs"]] == ["large", "small"]
    assert listing["metric_keys"] == ["acc", "loss"] and listing["param_keys"] == ["C", "model"]
    assert listing["runs"][0]["params"] == {"C": "10.0", "model": "lr"} and listing["runs"][0]["tags"]["team"] == "a"
    only = await get(jp_fetch, "runs", experiment_id=seeded["experiment_id"], filter="metrics.acc < 0.9")
    assert [r["run_id"] for r in only["runs"]] == [seeded["small"]]

    detail = await get(jp_fetch, "runs", seeded["large"])
    assert detail["run"]["metrics"]["loss"] == pytest.approx(1 / 5 / 10)
    assert detail["models"][0]["model_uri"] == f"runs:/{seeded['large']}/model"
    assert detail["registered_versions"] == [{"name": "iris", "version": 1}]
    assert "model" in {a["path"] for a in detail["artifacts"]}

    spec = (await get(jp_fetch, "runs", seeded["small"], "chart", keys="loss"))["spec"]
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v5")
    assert "loss" in json.dumps(spec)


async def test_errors_name_the_problem(jp_fetch: Any, seeded: dict[str, str]) -> None:
    code, body = await error(get(jp_fetch, "runs", experiment_id=seeded["experiment_id"], filter="metrics.acc >< 1"))
    assert code == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE" and "><" in body["message"]
    code, body = await error(get(jp_fetch, "runs", "0" * 32))
    assert code == 404 and body["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    code, body = await error(get(jp_fetch, "runs"))
    assert code == 400 and "experiment_id" in body["message"]
    code, body = await error(get(jp_fetch, "runs", seeded["small"], "chart", keys="nope"))
    assert code == 404 and "'nope'" in body["message"] and "acc, loss" in body["message"]
    code, body = await error(send(jp_fetch, "POST", "models", "iris", "versions", "1", "stage", body={"stage": "Prod"}))
    assert code == 400 and "Prod" in body["message"]


async def test_requests_without_the_token_are_refused(jp_fetch: Any, seeded: dict[str, str]) -> None:
    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch("lifecycle", "api", "experiments", headers={"Authorization": ""})
    assert caught.value.code == 403


async def test_registry_aliases_and_stages(jp_fetch: Any, seeded: dict[str, str]) -> None:
    models = (await get(jp_fetch, "models"))["models"]
    assert [(m["name"], m["aliases"], m["version_count"]) for m in models] == [("iris", {"champion": 1}, 1)]
    detail = await send(jp_fetch, "PUT", "models", "iris", "aliases", "challenger", body={"version": 1})
    assert set(detail["versions"][0]["aliases"]) == {"champion", "challenger"}
    assert lc.Client().get_model_version_by_alias("iris", "challenger").version == 1
    detail = await send(jp_fetch, "DELETE", "models", "iris", "aliases", "challenger")
    assert detail["model"]["aliases"] == {"champion": 1}
    detail = await send(jp_fetch, "POST", "models", "iris", "versions", "1", "stage", body={"stage": "Production"})
    assert detail["versions"][0]["current_stage"] == "Production"
    assert lc.Client().get_model_version("iris", 1).current_stage == "Production"


async def test_scoring_notebooks_land_under_the_server_root(
    jp_fetch: Any, jp_root_dir: Path, seeded: dict[str, str]
) -> None:
    first = await send(jp_fetch, "POST", "scoring-notebooks", body={"model_uri": "models:/iris@champion"})
    assert first == {"path": "scoring/score_iris_champion.ipynb", "model_uri": "models:/iris@champion"}
    notebook = nbformat.read(jp_root_dir / first["path"], as_version=4)
    assert "models:/iris@champion" in notebook.cells[0].source
    again = await send(jp_fetch, "POST", "scoring-notebooks", body={"model_uri": "models:/iris@champion"})
    assert again["path"] == "scoring/score_iris_champion-2.ipynb"  # never overwrites
    code, body = await error(send(jp_fetch, "POST", "scoring-notebooks",
                                  body={"model_uri": "models:/iris/1", "path": "../outside.ipynb"}))  # fmt: skip
    assert code == 400 and "leaves the server root" in body["message"]
    code, body = await error(send(jp_fetch, "POST", "scoring-notebooks", body={"model_uri": "models:/nope@x"}))
    assert code == 404 and "nope" in body["message"]


async def test_saving_a_notebook_records_a_revision(jp_fetch: Any, jp_root_dir: Path, home: Path) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    await jp_fetch("api", "contents", "saved.ipynb", method="PUT",
                   body=json.dumps({"type": "notebook", "format": "json", "content": notebook}))  # fmt: skip
    found = (await get(jp_fetch, "revisions", notebook_path=str(jp_root_dir / "saved.ipynb")))["revisions"]
    assert len(found) == 1 and found[0]["cell_count"] == 1 and found[0]["reason"] == "save"
