"""The sidebar's REST API, over real HTTP to a real ``jupyter server`` process with the extension enabled."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
import requests

import jupyter_lifecycle as lc
from jupyter_lifecycle import config
from tests.jupyter_process import Jupyter, running_jupyter


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jupyter]:
    """One server for the module (the extension is enabled by the package's installed config)."""
    with running_jupyter("server", tmp_path_factory.mktemp("server")) as running:
        yield running


@pytest.fixture(scope="module")
def seeded(server: Jupyter) -> Iterator[dict[str, str]]:
    """In the server's store: two runs with params, metric histories and a tag; the second logs
    a model registered as ``iris@champion``."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    config.set_store(server.store)
    try:
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
    finally:
        config.set_store(None)
    yield ids


@pytest.fixture
def store_client(server: Jupyter) -> Iterator[lc.Client]:
    """A client on the server's store, to check what the API changed."""
    yield lc.Client(server.store)


def call(server: Jupyter, method: str, *path: str, expect: int = 200, **kwargs: Any) -> dict[str, Any]:
    """One API call with the server's token; the decoded JSON answer, after checking the status."""
    response = requests.request(method, server.url + "/".join(["lifecycle/api", *path]),
                                headers={"Authorization": f"token {server.token}"}, timeout=60, **kwargs)  # fmt: skip
    assert response.status_code == expect, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


def get(server: Jupyter, *path: str, expect: int = 200, **params: str) -> dict[str, Any]:
    """A GET with query parameters."""
    return call(server, "GET", *path, expect=expect, params=params)


def test_runs_experiments_and_run_detail(server: Jupyter, seeded: dict[str, str]) -> None:
    info = get(server, "info")
    assert info["counts"]["runs"] == 2 and info["schema_version"] >= 5 and info["home"] == str(server.store)
    experiments = get(server, "experiments")["experiments"]
    assert {(e["name"], e["run_count"]) for e in experiments} >= {("api", 2)}

    listing = get(server, "runs", experiment_id=seeded["experiment_id"], order_by="metrics.acc DESC")
    assert [r["run_name"] for r in listing["runs"]] == ["large", "small"]
    assert listing["metric_keys"] == ["acc", "loss"] and listing["param_keys"] == ["C", "model"]
    assert listing["runs"][0]["params"] == {"C": "10.0", "model": "lr"} and listing["runs"][0]["tags"]["team"] == "a"
    only = get(server, "runs", experiment_id=seeded["experiment_id"], filter="metrics.acc < 0.9")
    assert [r["run_id"] for r in only["runs"]] == [seeded["small"]]

    detail = get(server, "runs", seeded["large"])
    assert detail["run"]["metrics"]["loss"] == pytest.approx(1 / 5 / 10)
    assert detail["models"][0]["model_uri"] == f"runs:/{seeded['large']}/model"
    assert detail["registered_versions"] == [{"name": "iris", "version": 1}]
    assert "model" in {a["path"] for a in detail["artifacts"]}

    spec = get(server, "runs", seeded["small"], "chart", keys="loss")["spec"]
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v5") and "loss" in json.dumps(spec)
    both = get(server, "runs", seeded["small"], "chart")["spec"]
    assert both["columns"] == 1 and [p["title"] for p in both["concat"]] == ["acc", "loss"]  # stacked for the sidebar
    panels = get(server, "runs", seeded["small"], "chart")["panels"]
    assert [p["width"] for p in panels] == ["container", "container"] and "acc" in json.dumps(panels[0])
    assert panels[0]["autosize"] == {"type": "fit-x", "contains": "padding"} and "loss" in json.dumps(panels[1])
    colours = [layer["encoding"]["color"] for layer in panels[0]["layer"] if "color" in layer.get("encoding", {})]
    assert colours and all(c["legend"] is None for c in colours)  # one run: no legend eating the sidebar's width


def test_errors_name_the_problem(server: Jupyter, seeded: dict[str, str]) -> None:
    body = get(server, "runs", expect=400, experiment_id=seeded["experiment_id"], filter="metrics.acc >< 1")
    assert body["error_code"] == "INVALID_PARAMETER_VALUE" and "><" in body["message"]
    assert get(server, "runs", "0" * 32, expect=404)["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert "experiment_id" in get(server, "runs", expect=400)["message"]
    body = get(server, "runs", seeded["small"], "chart", expect=404, keys="nope")
    assert "'nope'" in body["message"] and "acc, loss" in body["message"]
    body = call(server, "POST", "models", "iris", "versions", "1", "stage", expect=400, json={"stage": "Prod"})
    assert "Prod" in body["message"]
    body = call(server, "PUT", "models", "iris", "aliases", "x", expect=400, data="not json")
    assert "not JSON" in body["message"]


def test_requests_without_the_token_are_refused(server: Jupyter) -> None:
    response = requests.get(server.url + "lifecycle/api/experiments", timeout=30)
    assert response.status_code == 403 and response.json() == {"error_code": "PERMISSION_DENIED", "message": "Forbidden"}


def test_registry_aliases_and_stages(server: Jupyter, seeded: dict[str, str], store_client: lc.Client) -> None:
    models = get(server, "models")["models"]
    assert [(m["name"], m["aliases"], m["version_count"]) for m in models] == [("iris", {"champion": 1}, 1)]
    detail = call(server, "PUT", "models", "iris", "aliases", "challenger", json={"version": 1})
    assert set(detail["versions"][0]["aliases"]) == {"champion", "challenger"}
    assert store_client.get_model_version_by_alias("iris", "challenger").version == 1
    detail = call(server, "DELETE", "models", "iris", "aliases", "challenger")
    assert detail["model"]["aliases"] == {"champion": 1}
    assert detail["versions"][0]["metrics"]["acc"] == pytest.approx(0.95)  # the source run's, for the versions table
    detail = call(server, "POST", "models", "iris", "versions", "1", "stage", json={"stage": "Production"})
    assert detail["versions"][0]["current_stage"] == "Production"
    assert store_client.get_model_version("iris", 1).current_stage == "Production"
    # A name with '%' and '/'-free punctuation survives the URL (tornado decodes path arguments once).
    store_client.create_registered_model("50% off")
    assert get(server, "models", "50%25 off")["model"]["name"] == "50% off"


def test_scoring_notebooks_land_under_the_server_root(server: Jupyter, seeded: dict[str, str]) -> None:
    first = call(server, "POST", "scoring-notebooks", json={"model_uri": "models:/iris@champion"})
    assert first == {"path": "scoring/score_iris_champion.ipynb", "model_uri": "models:/iris@champion"}
    notebook = nbformat.read(server.root / first["path"], as_version=4)
    assert "models:/iris@champion" in notebook.cells[0].source
    again = call(server, "POST", "scoring-notebooks", json={"model_uri": "models:/iris@champion"})
    assert again["path"] == "scoring/score_iris_champion-2.ipynb"  # never overwrites
    body = call(server, "POST", "scoring-notebooks", expect=400,
                json={"model_uri": "models:/iris/1", "path": "../outside.ipynb"})  # fmt: skip
    assert "leaves the server root" in body["message"]
    body = call(server, "POST", "scoring-notebooks", expect=404, json={"model_uri": "models:/nope@x"})
    assert "nope" in body["message"]


def test_saving_a_notebook_records_a_revision(server: Jupyter) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    saved = requests.put(server.url + "api/contents/saved.ipynb", headers={"Authorization": f"token {server.token}"},
                         json={"type": "notebook", "format": "json", "content": notebook}, timeout=60)  # fmt: skip
    assert saved.status_code in (200, 201), saved.text
    found = get(server, "revisions", notebook_path=str(server.root / "saved.ipynb"))["revisions"]
    assert len(found) == 1 and found[0]["cell_count"] == 1 and found[0]["reason"] == "save"


def test_scoring_notebook_never_overwrites_a_given_path(server: Jupyter, seeded: dict[str, str]) -> None:
    mine = server.root / "mine.ipynb"
    mine.write_text("my work")
    body = call(server, "POST", "scoring-notebooks", expect=409, json={"model_uri": "models:/iris/1", "path": "mine.ipynb"})
    assert body["error_code"] == "RESOURCE_ALREADY_EXISTS" and "'mine.ipynb' already exists" in body["message"]
    assert mine.read_text() == "my work"
    (server.root / "folder.ipynb").mkdir()
    call(server, "POST", "scoring-notebooks", expect=409, json={"model_uri": "models:/iris/1", "path": "folder.ipynb"})
    body = call(server, "POST", "scoring-notebooks", expect=409,
                json={"model_uri": "models:/iris/1", "path": "mine.ipynb/inside.ipynb"})  # fmt: skip
    assert "'mine.ipynb', which is a file" in body["message"]
    fresh = call(server, "POST", "scoring-notebooks", json={"model_uri": "models:/iris/1", "path": "new/fresh.ipynb"})
    assert fresh["path"] == "new/fresh.ipynb" and (server.root / "new" / "fresh.ipynb").is_file()


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "needle"),
    [
        ("POST", ("scoring-notebooks",), {"json": {"model_uri": "models:/iris/1", "path": "a\x00b.ipynb"}}, "NUL"),
        ("POST", ("scoring-notebooks",), {"json": {"model_uri": "models:/iris/1", "path": "\ud800.ipynb"}}, "surrogate"),
        ("POST", ("scoring-notebooks",), {"json": {"model_uri": "models:/iris/1", "path": "x" * 300 + ".ipynb"}}, "bytes"),
        ("PUT", ("models", "iris", "aliases", "big"), {"json": {"version": 10**30}}, "larger than any version"),
        ("PUT", ("models", "iris", "aliases", "big"), {"json": {"version": "1" * 40}}, "larger than any version"),
        ("PUT", ("models", "iris", "aliases", "big"), {"json": {"version": 1.5}}, "1.5"),
        ("PUT", ("models", "iris", "aliases", "big"), {"data": "[" * 100_000}, "nests JSON too deeply"),
        ("GET", ("models", "iris", "versions", "1" * 40, "stage"), {}, ""),  # no GET route: 405
        ("POST", ("models", "iris", "versions", "1" * 40, "stage"), {"json": {"stage": "Staging"}}, "larger than any"),
        ("POST", ("models", "iris", "versions", "1", "stage"),
         {"json": {"stage": "Staging", "archive_existing_versions": "yes"}}, "JSON boolean"),
        ("POST", ("models", "iris", "versions", "1", "stage"),
         {"json": {"stage": "Staging", "archive_existing_versions": 1}}, "JSON boolean"),
        ("GET", ("runs",), {"params": {"experiment_id": "0", "filter": "metrics.acc > 99999999999999999999"}}, "64 bits"),
        ("GET", ("runs",), {"params": {"experiment_id": "0", "filter": " and ".join(["metrics.acc > 0"] * 2000)}},
         "more than 100 conditions"),
        ("GET", ("runs",), {"params": {"experiment_id": "0", "filter": b"params.a = '\xed\xa0\x80'"}}, ""),  # a surrogate
        ("GET", ("runs",), {"params": {"experiment_id": "0", "max_results": "1" * 40}}, "max_results"),
        ("GET", ("runs",), {"params": {"experiment_id": "0", "max_results": "²"}}, "max_results"),
    ],
)
def test_hostile_arguments_get_a_4xx_naming_them(
    server: Jupyter, seeded: dict[str, str], method: str, path: tuple[str, ...], kwargs: dict[str, Any], needle: str
) -> None:
    """Each of these answered 500 before (issue #12, defect 6)."""
    if "params" in kwargs:
        kwargs = {"params": {**kwargs["params"], "experiment_id": seeded["experiment_id"]}}
    before = store_versions(server)
    response = requests.request(method, server.url + "/".join(["lifecycle/api", *path]),
                                headers={"Authorization": f"token {server.token}"}, timeout=60, **kwargs)  # fmt: skip
    assert 400 <= response.status_code < 500, response.text
    assert needle in response.text
    assert store_versions(server) == before  # nothing moved


def store_versions(server: Jupyter) -> dict[int, str]:
    """The stage of each version of ``iris`` in the server's store."""
    return {v.version: v.current_stage for v in lc.Client(server.store).search_model_versions("name = 'iris'")}


def test_every_route_is_in_the_openapi_document_and_the_readme(server: Jupyter) -> None:
    import re

    from jupyter_lifecycle.server.handlers import ROUTES, LifecycleHandler

    document = call(server, "GET", "openapi.json")
    assert document["openapi"] == "3.1.0" and document["servers"] == [{"url": "/lifecycle/api"}]
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()

    def shape(path: str) -> str:
        return re.sub(r"\{[^}]+\}", "{}", path)

    documented = {shape(path): set(operations) for path, operations in document["paths"].items()}
    routed = {}
    for pattern, handler in ROUTES:
        path = "/" + re.sub(r"\([^)]*\)", "{}", pattern).replace("\\.", ".")
        methods = {m for m in ("get", "put", "post", "delete") if getattr(handler, m) is not getattr(LifecycleHandler, m)}
        routed[path] = methods
        readme_path = "[A-Z_]+".join(re.escape(part) for part in path.lstrip("/").split("{}"))
        for method in methods:
            assert re.search(rf"`{method.upper()} {readme_path}[`?]", readme), f"{method.upper()} {path} not in README"
    assert routed == documented


def test_concurrent_scoring_notebooks_get_distinct_files(server: Jupyter, seeded: dict[str, str]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def post(body: dict[str, str]) -> requests.Response:
        return requests.post(server.url + "lifecycle/api/scoring-notebooks", json=body,
                             headers={"Authorization": f"token {server.token}"}, timeout=120)  # fmt: skip

    with ThreadPoolExecutor(6) as pool:
        same = list(pool.map(post, [{"model_uri": "models:/iris/1", "path": "race.ipynb"}] * 6))
        free = list(pool.map(post, [{"model_uri": "models:/iris/1"}] * 6))
    assert sorted(r.status_code for r in same) == [200] + [409] * 5
    paths = [r.json()["path"] for r in free]
    assert all(r.status_code == 200 for r in free) and len(set(paths)) == 6
    assert all(nbformat.read(server.root / p, as_version=4).cells for p in paths)
    body = call(server, "POST", "scoring-notebooks", expect=404, json={"model_uri": "models:/" + "n" * 300 + "/1"})
    assert "no registered model" in body["message"]
    assert not any(len(p.name.encode()) > 255 for p in (server.root / "scoring").iterdir())


def test_endpoints_are_listed_and_stopped_over_rest(server: Jupyter, seeded: dict[str, str]) -> None:
    config.set_store(server.store)
    try:
        ep = lc.serve("models:/iris@champion")
    finally:
        config.set_store(None)
    try:
        (listed,) = [e for e in call(server, "GET", "endpoints")["endpoints"] if e["endpoint_id"] == ep.endpoint_id]
        assert (listed["status"], listed["version"], listed["url"], listed["pid"]) == ("RUNNING", "1", ep.url, ep.pid)
        stopped = call(server, "POST", "endpoints", ep.endpoint_id, "stop")["endpoint"]
        assert stopped["status"] == "STOPPED" and stopped["end_time"] >= stopped["start_time"]
        assert ep.endpoint_id not in [e["endpoint_id"] for e in call(server, "GET", "endpoints")["endpoints"]]
        assert ep.endpoint_id in [e["endpoint_id"] for e in get(server, "endpoints", all="true")["endpoints"]]
        assert "ep-0000" in call(server, "POST", "endpoints", "ep-0000", "stop", expect=404)["message"]
        assert "'maybe'" in get(server, "endpoints", all="maybe", expect=400)["message"]
    finally:
        if ep.status != "STOPPED":
            ep.stop()


def test_runs_listing_pages_and_keeps_only_the_columns_asked_for(
    server: Jupyter, seeded: dict[str, str], store_client: lc.Client
) -> None:
    experiment = seeded["experiment_id"]
    first = get(server, "runs", experiment_id=experiment, order_by="metrics.acc DESC", max_results="1")
    assert [r["run_name"] for r in first["runs"]] == ["large"] and first["next_page_token"]
    second = get(server, "runs", experiment_id=experiment, order_by="metrics.acc DESC", max_results="1",
                 page_token=first["next_page_token"])  # fmt: skip
    assert [r["run_name"] for r in second["runs"]] == ["small"] and second["next_page_token"] is None
    narrow = get(server, "runs", experiment_id=experiment, columns="params.C,metrics.acc")
    assert all(set(r["params"]) == {"C"} and set(r["metrics"]) == {"acc"} and r["tags"] == {} for r in narrow["runs"])
    assert narrow["param_keys"] == ["C", "model"] and narrow["tag_keys"] == ["team"]  # the picker still sees every key
    metrics_only = get(server, "runs", experiment_id=experiment, columns="metrics.*")
    assert all(set(r["metrics"]) == {"acc", "loss"} and r["params"] == {} for r in metrics_only["runs"])
    bare = get(server, "runs", experiment_id=experiment, columns="")
    assert all(r["params"] == r["metrics"] == {} for r in bare["runs"]) and len(bare["runs"]) == 2
    other = store_client.create_experiment("api-other")
    store_client.set_terminated(store_client.create_run(other, run_name="elsewhere").info.run_id)
    both = get(server, "runs", experiment_id=[experiment, other])  # type: ignore[arg-type]
    assert {r["run_name"] for r in both["runs"]} == {"large", "small", "elsewhere"}
    assert "column 'C' must be params.<key>" in get(server, "runs", expect=400, experiment_id=experiment,
                                                    columns="C")["message"]  # fmt: skip
    assert "page_token" in get(server, "runs", expect=400, experiment_id=experiment, page_token="nope")["message"]
    assert "between 1 and 1000" in get(server, "runs", expect=400, experiment_id=experiment, max_results="5000")["message"]


def test_jupyter_answers_while_a_slow_listing_is_in_flight(tmp_path: Path) -> None:
    """Store queries run off the server's event loop (#14): ``/api/status`` is answered before a
    slow runs listing finishes. On the event loop, every status request would wait for the listing."""
    import threading
    import time

    from jupyter_lifecycle.entities import Param

    with running_jupyter("server", tmp_path) as running:
        client = lc.Client(running.store)
        experiment = client.create_experiment("wide")
        for _ in range(1000):  # 1,000 runs of 120 params: a listing of a few MB, well over the time a status takes
            run = client.create_run(experiment)
            client.log_batch(run.info.run_id, params=[Param(f"param_{j:03d}", f"value-{j:03d}-" * 3) for j in range(120)])
            client.set_terminated(run.info.run_id)
        headers = {"Authorization": f"token {running.token}"}
        answered = threading.Event()  # the listing's headers arrived: the server has finished computing it
        listing: dict[str, Any] = {}

        def list_runs() -> None:
            with requests.get(running.url + "lifecycle/api/runs", headers=headers, timeout=120, stream=True,
                              params={"experiment_id": experiment, "order_by": "params.param_007 DESC"}) as response:
                answered.set()  # fmt: skip
                listing["status"], listing["count"] = response.status_code, len(response.json()["runs"])

        thread = threading.Thread(target=list_runs)
        thread.start()
        time.sleep(0.02)  # the listing request is on its way first
        during = 0
        while not answered.is_set():
            status = requests.get(running.url + "api/status", headers=headers, timeout=120)
            assert status.status_code == 200
            during += not answered.is_set()
        thread.join()
        assert listing == {"status": 200, "count": 1000}
        # On the event loop, the one status request sent while the listing is computed would wait for it,
        # and at most one or two could slip in around it; off the loop, status answers keep coming.
        assert during >= 5, during


def test_artifact_listing_and_previews_of_each_kind(server: Jupyter, seeded: dict[str, str], store_client: lc.Client) -> None:
    import pandas as pd

    run_id = seeded["small"]
    folder = store_client.artifact_dir(run_id)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text('{"lr": 0.1, "layers": [1, 2]}')
    (folder / "params.yaml").write_text("lr: 0.1\nname: x\n")
    (folder / "notes.txt").write_text("hello\n")
    pd.DataFrame({"a": [1, 2, 3], "b": ["x", None, "z"]}).to_csv(folder / "data" / "t.csv", index=False)
    pd.DataFrame({"a": [1.5, float("nan")]}).to_parquet(folder / "data" / "t.parquet")
    (folder / "plot.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>')
    (folder / "blob.bin").write_bytes(b"\x00\x01\x02")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1", outputs=[
        nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)])]), folder / "nb.ipynb")  # fmt: skip
    from PIL import Image

    Image.new("RGB", (3, 2), "red").save(folder / "img.png")
    (folder / "escape").symlink_to(server.root)

    listing = get(server, "runs", run_id, "artifacts")["files"]
    assert {"config.json", "data", "nb.ipynb"} <= {f["path"] for f in listing}
    assert [f["path"] for f in get(server, "runs", run_id, "artifacts", path="data")["files"]] == ["data/t.csv",
                                                                                                  "data/t.parquet"]

    def preview(path: str, expect: int = 200) -> dict[str, Any]:
        return get(server, "runs", run_id, "artifact", expect=expect, path=path)

    assert preview("config.json")["kind"] == "json" and preview("config.json")["data"] == {"lr": 0.1, "layers": [1, 2]}
    assert preview("params.yaml")["data"] == {"lr": 0.1, "name": "x"}
    assert (preview("notes.txt")["kind"], preview("notes.txt")["text"]) == ("text", "hello\n")
    table = preview("data/t.csv")
    assert table["kind"] == "table" and table["columns"] == ["a", "b"] and table["rows"] == [[1, "x"], [2, None], [3, "z"]]
    assert preview("data/t.parquet")["rows"] == [[1.5], [None]]
    assert preview("plot.svg")["kind"] == "image" and preview("plot.svg")["text"].startswith("<svg")
    png = preview("img.png")
    assert png["mime"] == "image/png" and base64.b64decode(png["base64"]).startswith(b"\x89PNG")
    assert preview("blob.bin")["kind"] == "binary"
    notebook = preview("nb.ipynb")
    assert notebook["kind"] == "notebook" and notebook["cells"][0]["source"] == "1 + 1" and notebook["cells"][0]["outputs"] == ["2"]
    large = seeded["large"]
    mlmodel = get(server, "runs", large, "artifact", path="model/MLmodel")
    assert mlmodel["kind"] == "mlmodel" and "sklearn" in mlmodel["data"]["flavors"]
    # Never a file outside the run's artifacts: not by '..', an absolute path, nor a symlink out.
    assert "inside the run" in preview("../../x", expect=400)["message"]
    assert preview("/etc/passwd", expect=400)["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "outside the run's artifacts" in preview("escape/mine.ipynb", expect=400)["message"]
    assert "no artifact 'nope.txt'" in preview("nope.txt", expect=404)["message"]
    assert "is a folder" in preview("data", expect=400)["message"]


def test_version_page_requests_approve_reject_and_description(
    server: Jupyter, seeded: dict[str, str], store_client: lc.Client
) -> None:
    detail = get(server, "models", "iris", "versions", "1")
    assert detail["version"]["name"] == "iris" and detail["version"]["run_id"] == seeded["large"]
    assert detail["signature"] is None and "sklearn" in detail["flavors"]  # logged without an input example
    assert any(r.startswith("scikit-learn") for r in detail["requirements"])
    assert detail["metrics"]["acc"] == pytest.approx(0.95) and detail["lineage"]["run"]["run_id"] == seeded["large"]

    def act(action: str, expect: int = 200, **body: Any) -> dict[str, Any]:
        return call(server, "POST", "models", "iris", "versions", "1", "requests", action, expect=expect, json=body)

    requested = act("request", stage="Staging", comment="ready?")
    assert [(r["to_stage"], r["status"]) for r in requested["transition_requests"]][0] == ("Staging", "PENDING")
    rejected = act("reject", stage="Staging", comment="not yet")
    assert rejected["transition_requests"][0]["status"] == "REJECTED"
    assert store_client.list_transition_requests("iris", 1) == []
    act("request", stage="Archived")
    approved = act("approve", stage="Archived", archive_existing_versions=False)
    assert approved["version"]["current_stage"] == "Archived"
    assert store_client.get_model_version("iris", 1).current_stage == "Archived"
    assert {"REQUESTED_TRANSITION", "REJECTED_REQUEST", "APPROVED_REQUEST"} <= {a["activity_type"] for a in approved["activity"]}
    assert "Production" in act("approve", expect=404, stage="Production")["message"]  # no pending request for it
    body = act("approve", expect=400, stage="Production", archive_existing_versions="yes")
    assert "JSON boolean" in body["message"]
    described = call(server, "PUT", "models", "iris", "versions", "1", "description", json={"description": "the good one"})
    assert described["version"]["description"] == "the good one"
    assert store_client.get_model_version("iris", 1).description == "the good one"
    assert "description" in call(server, "PUT", "models", "iris", "versions", "1", "description", expect=400,
                                 json={"description": 3})["message"]  # fmt: skip
    call(server, "POST", "models", "iris", "versions", "1", "stage", json={"stage": "Production"})  # as before


def test_compare_gives_summaries_and_histories(server: Jupyter, seeded: dict[str, str]) -> None:
    both = get(server, "compare", run_id=[seeded["small"], seeded["large"]])  # type: ignore[arg-type]
    assert [r["run_name"] for r in both["runs"]] == ["small", "large"]
    loss = both["histories"]["loss"][seeded["small"]]
    assert [p[0] for p in loss["points"]] == [0, 1, 2, 3, 4] and loss["count"] == 5
    assert loss["min"] == pytest.approx(2.0) and loss["max"] == pytest.approx(10.0)
    assert both["histories"]["acc"][seeded["large"]]["points"][0][2] == pytest.approx(0.95)
    assert "run_id" in get(server, "compare", expect=400)["message"]
    assert get(server, "compare", expect=404, run_id="0" * 32)["error_code"] == "RESOURCE_DOES_NOT_EXIST"
