"""The model registry: models, versions, aliases, stages, requests, activity, URIs, lineage."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle.models.uri import resolve_model_uri
from jupyter_lifecycle.store import open_store


def log_fake_model(weights: str = "w1", path: str = "model") -> str:
    """A run holding an MLflow-shaped model folder (MLmodel + a data file); its runs:/ URI."""
    with lc.start_run() as run:
        lc.log_param("alpha", 0.5)
        lc.log_metric("acc", 0.91)
        lc.log_text(f"artifact_path: {path}\nflavors: {{}}\nrun_id: {run.info.run_id}\n", f"{path}/MLmodel")
        lc.log_text(weights, f"{path}/data/weights.txt")
    return f"runs:/{run.info.run_id}/{path}"


@pytest.fixture
def uri(home: Path) -> str:
    return log_fake_model()


# ---- registered models -----------------------------------------------------


def test_create_get_and_duplicate_name(client: lc.Client) -> None:
    model = client.create_registered_model("fraud", tags={"team": "risk"}, description="flags fraud")
    assert (model.name, model.description, model.tags) == ("fraud", "flags fraud", {"team": "risk"})
    assert model.latest_versions == [] and model.aliases == {}
    assert model.creation_timestamp == model.last_updated_timestamp > 0
    assert client.get_registered_model("fraud") == model
    with pytest.raises(lc.AlreadyExists, match="registered model 'fraud' already exists"):
        client.create_registered_model("fraud")


@pytest.mark.parametrize("name", ["", "  ", "a/b", "a:b", None])
def test_invalid_model_names(client: lc.Client, name: object) -> None:
    with pytest.raises(lc.InvalidInput):
        client.create_registered_model(name)  # type: ignore[arg-type]


def test_unknown_model_error_lists_models(client: lc.Client) -> None:
    with pytest.raises(lc.NotFound, match="registered models: none yet"):
        client.get_registered_model("nope")
    client.create_registered_model("alpha")
    client.create_registered_model("beta")
    with pytest.raises(lc.NotFound, match="no registered model named 'nope'; registered models: 'alpha', 'beta'"):
        client.get_registered_model("nope")


def test_update_tags_rename_delete(client: lc.Client, uri: str) -> None:
    client.create_registered_model("m")
    assert client.update_registered_model("m", description="new").description == "new"
    client.set_registered_model_tag("m", "owner", "ana")
    client.delete_registered_model_tag("m", "owner")
    with pytest.raises(lc.NotFound, match="has no tag 'owner'; its tags: none"):
        client.delete_registered_model_tag("m", "owner")
    mv = client.create_model_version("m", uri)
    client.set_registered_model_alias("m", "champion", mv.version)
    renamed = client.rename_registered_model("m", "m2")
    assert renamed.name == "m2" and renamed.aliases == {"champion": 1}
    assert client.get_model_version("m2", 1).aliases == ["champion"]
    assert resolve_model_uri("models:/m2@champion") == Path(mv.storage_location)
    with pytest.raises(lc.NotFound, match="registered models: 'm2'"):
        client.get_model_version("m", 1)
    client.create_registered_model("taken")
    with pytest.raises(lc.AlreadyExists, match="cannot rename 'm2' to 'taken'"):
        client.rename_registered_model("m2", "taken")
    # History follows the rename.
    types = list(client.get_activity("m2")["activity_type"])
    assert types[:2] == ["CREATED_MODEL", "UPDATED_DESCRIPTION"] and types[-1] == "RENAMED_MODEL"

    client.delete_registered_model("m2")
    assert not Path(mv.storage_location).exists()
    with pytest.raises(lc.NotFound):
        client.get_registered_model("m2")
    assert client.get_activity("m2")["activity_type"].iloc[-1] == "DELETED_MODEL"  # the log outlives the model
    counts = open_store().db.query(
        "SELECT (SELECT count(*) FROM model_versions), (SELECT count(*) FROM registered_model_aliases),"
        " (SELECT count(*) FROM model_version_files)"
    )[0]
    assert tuple(counts) == (0, 0, 0)


def test_search_registered_models(client: lc.Client) -> None:
    for name, team in (("fraud-a", "risk"), ("fraud-b", "growth"), ("churn", "growth")):
        client.create_registered_model(name, tags={"team": team})
    names = lambda found: [m.name for m in found]  # noqa: E731
    assert names(client.search_registered_models()) == ["churn", "fraud-a", "fraud-b"]
    assert names(client.search_registered_models("name LIKE 'fraud%'")) == ["fraud-a", "fraud-b"]
    assert names(client.search_registered_models("name ILIKE 'FRAUD-A'")) == ["fraud-a"]
    assert names(client.search_registered_models("tags.team = 'growth'")) == ["churn", "fraud-b"]
    assert names(client.search_registered_models(order_by=["name DESC"])) == ["fraud-b", "fraud-a", "churn"]
    first = client.search_registered_models(max_results=2)
    assert names(first) == ["churn", "fraud-a"] and first.token
    second = client.search_registered_models(max_results=2, page_token=first.token)
    assert names(second) == ["fraud-b"] and second.token is None
    with pytest.raises(lc.InvalidInput, match="filtered by tags.<key> or name"):
        client.search_registered_models("metrics.acc > 1")
    with pytest.raises(lc.InvalidInput, match="cannot order registered models by 'foo'"):
        client.search_registered_models(order_by=["foo"])

    frame = lc.search_registered_models("tags.team = 'growth'")
    assert isinstance(frame, pd.DataFrame)
    assert list(frame["name"]) == ["churn", "fraud-b"] and list(frame["tags.team"]) == ["growth", "growth"]
    assert {"latest_version", "aliases", "description", "creation_timestamp"} <= set(frame.columns)


# ---- versions --------------------------------------------------------------


def test_versions_numbered_from_one_with_source_and_run(client: lc.Client, uri: str) -> None:
    run_id = uri.split("/")[1]
    first = lc.register_model(uri, "m", tags={"k": "v"})
    second = lc.register_model(uri, "m")
    assert (first.version, second.version) == (1, 2)
    assert (first.source, first.run_id, first.status, first.current_stage) == (uri, run_id, "READY", "None")
    assert first.tags == {"k": "v"} and first.user_id
    assert client.get_model_version("m", "2") == second  # versions may be given as strings
    lc.register_model(uri, "other")  # numbering is per name
    assert client.get_model_version("other", 1).version == 1
    # A plain folder: the run id comes from the MLmodel file, the source is the absolute path.
    folder = client.download_artifacts(run_id, "model")
    from_folder = client.create_model_version("m", folder)
    assert (from_folder.run_id, from_folder.source) == (run_id, str(Path(folder).resolve()))
    assert client.update_model_version("m", 1, description="first").description == "first"
    assert client.get_model_version_download_uri("m", 1) == Path(first.storage_location).as_uri()


def test_registered_files_are_a_frozen_copy(client: lc.Client, home: Path) -> None:
    uri = log_fake_model("original")
    mv = lc.register_model(uri, "m")
    folder = Path(mv.storage_location)
    assert folder.is_relative_to(home / "registry")
    weights = folder / "data" / "weights.txt"
    assert weights.read_text() == "original"
    assert not os.access(weights, os.W_OK) or os.geteuid() == 0  # read-only (root ignores modes)
    assert not (weights.stat().st_mode & 0o222)
    # Overwriting the run's artifact does not touch the registered version.
    run_id = uri.split("/")[1]
    client.log_text(run_id, "changed", "model/data/weights.txt")
    assert weights.read_text() == "original"
    assert resolve_model_uri("models:/m/1") == folder
    files = dict((p, (size, sha)) for p, size, sha in open_store().registry.version_files("m", 1))
    assert files["data/weights.txt"] == (8, hashlib.sha256(b"original").hexdigest())
    assert set(files) == {"MLmodel", "data/weights.txt"}


def test_register_refuses_non_models(client: lc.Client, tmp_path: Path) -> None:
    (tmp_path / "not_a_model").mkdir()
    with pytest.raises(lc.InvalidInput, match="has no MLmodel file"):
        lc.register_model(str(tmp_path / "not_a_model"), "m")
    with pytest.raises(lc.NotFound):
        lc.register_model(str(tmp_path / "missing"), "m")
    with pytest.raises(lc.InvalidInput, match="unknown scheme 's3'"):
        lc.register_model("s3://bucket/model", "m")


def test_unknown_version_error_lists_versions(client: lc.Client, uri: str) -> None:
    lc.register_model(uri, "m")
    lc.register_model(uri, "m")
    with pytest.raises(lc.NotFound, match="registered model 'm' has no version 7; its versions: 1, 2"):
        client.get_model_version("m", 7)
    with pytest.raises(lc.NotFound, match="no registered model named 'x'"):
        client.get_model_version("x", 1)
    for bad in ("one", 0, -1, 1.5, True):
        with pytest.raises(lc.InvalidInput, match="model version"):
            client.get_model_version("m", bad)  # type: ignore[arg-type]


def test_delete_version_removes_files_and_aliases_and_never_reuses_number(client: lc.Client, uri: str) -> None:
    for _ in range(3):
        lc.register_model(uri, "m")
    client.set_registered_model_alias("m", "champion", 3)
    client.set_registered_model_alias("m", "backup", 2)
    folder = Path(client.get_model_version("m", 3).storage_location)
    client.delete_model_version("m", 3)
    assert not folder.exists()
    assert client.get_registered_model("m").aliases == {"backup": 2}
    with pytest.raises(lc.NotFound, match="its aliases: backup -> 2"):
        client.get_model_version_by_alias("m", "champion")
    assert lc.register_model(uri, "m").version == 4
    entry = client.list_activity("m", 3)[-1]
    assert (entry.activity_type, entry.details["removed_aliases"]) == ("DELETED_VERSION", ["champion"])


def test_get_latest_versions_and_search_versions(client: lc.Client, uri: str) -> None:
    for _ in range(4):
        lc.register_model(uri, "m")
    client.transition_model_version_stage("m", 1, "Production")
    client.transition_model_version_stage("m", 2, "Staging")
    client.transition_model_version_stage("m", 3, "Staging")
    latest = {v.current_stage: v.version for v in client.get_latest_versions("m")}
    assert latest == {"Production": 1, "Staging": 3, "None": 4}
    assert [v.version for v in client.get_latest_versions("m", ["staging"])] == [3]
    client.set_model_version_tag("m", 2, "validated", "yes")
    client.set_model_version_tag("m", stage="Production", key="live", value="1")  # latest in the stage
    assert client.get_model_version("m", 1).tags == {"live": "1"}

    versions = lambda found: [v.version for v in found]  # noqa: E731
    assert versions(client.search_model_versions("name = 'm'")) == [4, 3, 2, 1]
    assert versions(client.search_model_versions("tags.validated = 'yes'")) == [2]
    assert versions(client.search_model_versions("version_number > 2")) == [4, 3]
    assert versions(client.search_model_versions("current_stage = 'staging'")) == [3, 2]
    assert versions(client.search_model_versions(f"run_id = '{uri.split('/')[1]}'", max_results=2)) == [4, 3]
    assert versions(client.search_model_versions(order_by=["version_number ASC"])) == [1, 2, 3, 4]
    with pytest.raises(lc.InvalidInput, match="filtered by tags.<key> or name"):
        client.search_model_versions("params.x = 'y'")
    client.delete_model_version_tag("m", 2, "validated")
    with pytest.raises(lc.NotFound, match="no tag 'validated'"):
        client.delete_model_version_tag("m", 2, "validated")

    frame = lc.search_model_versions("name = 'm'")
    assert isinstance(frame, pd.DataFrame)
    assert list(frame["version"]) == [4, 3, 2, 1]
    assert list(frame["current_stage"]) == ["None", "Staging", "Staging", "Production"]
    assert frame["tags.live"].tolist()[-1] == "1"
    assert str(frame["creation_timestamp"].dtype).startswith("datetime64")


# ---- aliases ---------------------------------------------------------------


def test_alias_set_move_delete(client: lc.Client, uri: str) -> None:
    lc.register_model(uri, "m")
    lc.register_model(uri, "m")
    client.set_registered_model_alias("m", "champion", "1")
    assert client.get_model_version_by_alias("m", "champion").version == 1
    client.set_registered_model_alias("m", "champion", 2)  # moving is one change
    assert client.get_model_version_by_alias("m", "champion").version == 2
    assert client.get_model_version("m", 1).aliases == []
    rows = open_store().db.query("SELECT alias, version FROM registered_model_aliases WHERE name = 'm'")
    assert [tuple(r) for r in rows] == [("champion", 2)]
    moved = client.list_activity("m")[-1]
    assert (moved.activity_type, moved.version, moved.details) == (
        "SET_ALIAS", 2, {"alias": "champion", "previous_version": 1})
    client.set_registered_model_alias("m", "Challenger_2-b", 1)
    assert client.get_registered_model("m").aliases == {"Challenger_2-b": 1, "champion": 2}
    client.delete_registered_model_alias("m", "champion")
    with pytest.raises(lc.NotFound, match=r"no alias 'champion'; its aliases: Challenger_2-b -> 1"):
        client.delete_registered_model_alias("m", "champion")
    with pytest.raises(lc.NotFound, match="has no version 5; its versions: 1, 2"):
        client.set_registered_model_alias("m", "champion", 5)


@pytest.mark.parametrize(
    ("alias", "message"),
    [
        ("latest", "reserved"), ("LATEST", "reserved"), ("Latest", "reserved"),
        ("v1", "reserved"), ("V42", "reserved"),
        ("has space", "letters, digits"), ("a.b", "letters, digits"), ("a/b", "letters, digits"),
        ("", "non-empty"), ("x" * 256, "limit is 255"),
    ],
)  # fmt: skip
def test_alias_rules(client: lc.Client, uri: str, alias: str, message: str) -> None:
    lc.register_model(uri, "m")
    with pytest.raises(lc.InvalidInput, match=message):
        client.set_registered_model_alias("m", alias, 1)


def test_alias_edge_cases_allowed(client: lc.Client, uri: str) -> None:
    lc.register_model(uri, "m")
    for alias in ("x" * 255, "v1a", "version2", "latest_good", "-_-"):
        client.set_registered_model_alias("m", alias, 1)
    assert len(client.get_registered_model("m").aliases) == 5


# ---- stages ----------------------------------------------------------------


def test_stages_case_insensitive_and_canonical(client: lc.Client, uri: str) -> None:
    lc.register_model(uri, "m")
    for given, canonical in (("staging", "Staging"), ("PRODUCTION", "Production"), ("archived", "Archived"),
                             ("none", "None")):  # fmt: skip
        assert client.transition_model_version_stage("m", 1, given).current_stage == canonical
    with pytest.raises(lc.InvalidInput, match="use one of None, Staging, Production, Archived"):
        client.transition_model_version_stage("m", 1, "prod")


def test_archive_existing_versions(client: lc.Client, uri: str) -> None:
    for _ in range(4):
        lc.register_model(uri, "m")
    client.transition_model_version_stage("m", 1, "Production")
    client.transition_model_version_stage("m", 2, "Production")
    client.transition_model_version_stage("m", 3, "Staging")
    time.sleep(0.01)  # so that a stamp left from the set-up would differ from the archive's
    moved = client.transition_model_version_stage("m", 4, "production", archive_existing_versions=True)
    stages = {v.version: v.current_stage for v in client.search_model_versions("name = 'm'")}
    assert stages == {1: "Archived", 2: "Archived", 3: "Staging", 4: "Production"}
    stamps = {v: client.get_model_version("m", v).last_updated_timestamp for v in (1, 2, 4)}
    assert set(stamps.values()) == {moved.last_updated_timestamp}  # one timestamp for the whole change
    assert client.get_model_version("m", 3).last_updated_timestamp < moved.last_updated_timestamp
    system = [a for a in client.list_activity("m") if a.activity_type == "SYSTEM_TRANSITION"]
    assert [(a.version, a.from_stage, a.to_stage) for a in system] == [(1, "Production", "Archived"),
                                                                     (2, "Production", "Archived")]  # fmt: skip
    for stage in ("Archived", "None", "archived"):
        with pytest.raises(lc.InvalidInput, match="only applies to Staging and Production"):
            client.transition_model_version_stage("m", 3, stage, archive_existing_versions=True)
    assert client.get_model_version("m", 3).current_stage == "Staging"  # the refused call changed nothing


# ---- transition requests, comments, activity -------------------------------


def test_transition_requests(client: lc.Client, uri: str) -> None:
    import getpass

    for _ in range(2):
        lc.register_model(uri, "m")
    client.transition_model_version_stage("m", 1, "Production")
    request = client.create_transition_request("m", 2, "production", comment="better recall")
    assert (request.status, request.to_stage, request.user_id, request.comment) == (
        "PENDING", "Production", getpass.getuser(), "better recall")
    with pytest.raises(lc.AlreadyExists, match="already requested 'm' version 2 -> Production"):
        client.create_transition_request("m", 2, "Production", user="bob")
    with pytest.raises(lc.InvalidState, match="already in Production"):
        client.create_transition_request("m", 1, "Production")
    assert [r.request_id for r in client.list_transition_requests("m", 2)] == [request.request_id]

    approved = client.approve_transition_request("m", 2, "Production", archive_existing_versions=True,
                                                 comment="ship it", user="carol")  # fmt: skip
    assert (approved.status, approved.resolved_by, approved.resolution_comment) == ("APPROVED", "carol", "ship it")
    assert client.get_model_version("m", 2).current_stage == "Production"
    assert client.get_model_version("m", 1).current_stage == "Archived"
    assert client.list_transition_requests("m") == []
    assert len(client.list_transition_requests("m", include_resolved=True)) == 1

    client.create_transition_request("m", 1, "Staging", user="dan")
    rejected = client.reject_transition_request("m", 1, "staging", comment="no", user="erin")
    assert (rejected.status, rejected.user_id, rejected.resolved_by) == ("REJECTED", "dan", "erin")
    assert client.get_model_version("m", 1).current_stage == "Archived"
    client.create_transition_request("m", 1, "Staging", user="dan")
    cancelled = client.delete_transition_request("m", 1, "Staging", creator="dan", comment="oops")
    assert cancelled.status == "CANCELLED"
    with pytest.raises(lc.NotFound, match="no pending request to move 'm' version 1 to Staging; its pending requests: none"):
        client.approve_transition_request("m", 1, "Staging")
    client.create_transition_request("m", 1, "None")
    with pytest.raises(lc.NotFound, match=r"its pending requests: -> None"):
        client.cancel_transition_request("m", 1, "Staging")
    with pytest.raises(lc.InvalidInput, match="only applies to Staging and Production"):
        client.approve_transition_request("m", 1, "None", archive_existing_versions=True)
    client.create_comment("m", 1, "kept for audits", user="frank")

    log = client.get_activity("m")
    tail = log[log["activity_type"].isin(["REQUESTED_TRANSITION", "APPROVED_REQUEST", "REJECTED_REQUEST",
                                          "CANCELLED_REQUEST", "NEW_COMMENT", "SYSTEM_TRANSITION"])]  # fmt: skip
    assert list(zip(tail["activity_type"], tail["user_id"], tail["version"], strict=True)) == [
        ("REQUESTED_TRANSITION", getpass.getuser(), 2),
        ("SYSTEM_TRANSITION", "carol", 1),
        ("APPROVED_REQUEST", "carol", 2),
        ("REQUESTED_TRANSITION", "dan", 1),
        ("REJECTED_REQUEST", "erin", 1),
        ("REQUESTED_TRANSITION", "dan", 1),
        ("CANCELLED_REQUEST", "dan", 1),
        ("REQUESTED_TRANSITION", getpass.getuser(), 1),
        ("NEW_COMMENT", "frank", 1),
    ]
    approved_row = tail[tail["activity_type"] == "APPROVED_REQUEST"].iloc[0]
    assert (approved_row["from_stage"], approved_row["to_stage"], approved_row["comment"]) == (
        "None", "Production", "ship it")
    # Deleting the version drops its requests; the log keeps them.
    client.delete_model_version("m", 1)
    assert client.list_transition_requests("m", include_resolved=True) == [approved]


def test_activity_log_frame(client: lc.Client, uri: str) -> None:
    lc.register_model(uri, "m")
    client.update_model_version("m", 1, "v1 notes")
    client.set_registered_model_alias("m", "champion", 1)
    client.delete_registered_model_alias("m", "champion")
    client.transition_model_version_stage("m", 1, "Staging")
    log = client.get_activity("m")
    assert list(log.columns) == ["timestamp", "activity_type", "user_id", "name", "version", "from_stage",
                                 "to_stage", "comment", "details"]  # fmt: skip
    assert list(log["activity_type"]) == ["CREATED_MODEL", "CREATED_VERSION", "UPDATED_DESCRIPTION", "SET_ALIAS",
                                          "DELETED_ALIAS", "APPLIED_TRANSITION"]  # fmt: skip
    assert log["timestamp"].is_monotonic_increasing and log["user_id"].notna().all()
    assert str(log["timestamp"].dtype).startswith("datetime64")
    assert log.iloc[1]["details"]["source"] == uri
    assert list(client.get_activity("m", 1)["activity_type"])[0] == "CREATED_VERSION"
    with pytest.raises(lc.NotFound, match="registered models: 'm'"):
        client.get_activity("nope")


# ---- URIs ------------------------------------------------------------------


def test_models_uris_resolve_everywhere(client: lc.Client, uri: str) -> None:
    for _ in range(3):
        lc.register_model(uri, "m")
    client.transition_model_version_stage("m", 1, "Production")
    client.transition_model_version_stage("m", 2, "Staging")
    client.set_registered_model_alias("m", "champion", 2)
    folder = lambda v: Path(client.get_model_version("m", v).storage_location)  # noqa: E731
    expected = {
        "models:/m/1": 1, "models:/m/3": 3, "models:/m@champion": 2, "models:/m/Production": 1,
        "models:/m/production": 1, "models:/m/STAGING": 2, "models:/m/latest": 3, "models:/m/LATEST": 3,
    }  # fmt: skip
    for model_uri, version in expected.items():
        assert resolve_model_uri(model_uri) == folder(version), model_uri
    assert lc.Client().lineage("models:/m@champion").model_version.version == 2  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("model_uri", "error", "message"),
    [
        ("models:/m", lc.InvalidInput, "add a version, stage, 'latest' or an alias"),
        ("models:/", lc.InvalidInput, "Accepted forms"),
        ("models:/m/1/extra", lc.InvalidInput, "Accepted forms"),
        ("models:/m/prod", lc.InvalidInput, "'prod' is not a version number, 'latest' or a stage"),
        ("models:/m/9", lc.NotFound, "has no version 9; its versions: 1"),
        ("models:/m@nope", lc.NotFound, "has no alias 'nope'; its aliases: none yet"),
        ("models:/m/Archived", lc.NotFound, "no version of 'm' is in stage Archived.*None: version 1"),
        ("models:/other/1", lc.NotFound, "registered models: 'm'"),
    ],
)
def test_models_uri_errors(client: lc.Client, uri: str, model_uri: str, error: type, message: str) -> None:
    lc.register_model(uri, "m")
    with pytest.raises(error, match=message):
        resolve_model_uri(model_uri)


def test_latest_of_a_model_without_versions(client: lc.Client) -> None:
    client.create_registered_model("empty")
    with pytest.raises(lc.NotFound, match="has no versions yet"):
        resolve_model_uri("models:/empty/latest")


# ---- lineage ---------------------------------------------------------------


def test_lineage_follows_version_run_revision_cells(client: lc.Client, home: Path) -> None:
    store = open_store()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("fit()")])
    with lc.start_run() as run:
        run_id = run.info.run_id
        store.capture.put_revision(nbformat.writes(nb), "train.ipynb", "run_start", run_id=run_id, moment="start")
        for count, source in enumerate(["x = 1", "model.fit(X, y)  # <train>"], start=1):
            store.capture.record_cell(session_id="s1", source=source, start_time=count, duration_ms=1.0,
                                      success=True, notebook_path="train.ipynb", execution_count=count,
                                      run_ids=[run_id])  # fmt: skip
        lc.log_metric("acc", 0.5)
        lc.log_text("flavors: {}\n", "model/MLmodel")
    lc.register_model(f"runs:/{run_id}/model", "m")
    client.set_registered_model_alias("m", "champion", 1)

    lineage = lc.lineage("models:/m/1")
    assert lineage.model_version is not None and lineage.model_version.aliases == ["champion"]
    assert lineage.run is not None and lineage.run.info.run_id == run_id
    assert lineage.run.data.metrics == {"acc": 0.5}
    assert lineage.revisions["start"].cell_count == 2
    assert [c.source for c in lineage.cells] == ["x = 1", "model.fit(X, y)  # <train>"]
    assert lineage.notes == []
    page = lineage._repr_html_()
    assert "model.fit(X, y)  # &lt;train&gt;" in page and run_id in page and "@champion" in page
    data = lineage.to_dict()
    assert data["model_version"]["version"] == 1 and len(data["cells"]) == 2
    assert "run" in str(lineage) and lc.lineage(f"runs:/{run_id}/model").model_version is None


def test_lineage_without_capture_or_run(client: lc.Client, tmp_path: Path) -> None:
    uri = log_fake_model()
    lineage = lc.lineage(lc.register_model(uri, "m").source)
    assert lineage.run is not None and lineage.cells == []
    assert "no notebook revision or cells" in lineage.notes[0]
    folder = tmp_path / "loose"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")
    lc.register_model(str(folder), "loose")
    orphan = lc.lineage("models:/loose/1")
    assert orphan.run is None and "names no run" in orphan.notes[0]
    assert "names no run" in orphan._repr_html_()


# ---- schema ----------------------------------------------------------------


def test_schema_is_plain_and_readable(home: Path, uri: str) -> None:
    lc.register_model(uri, "m")
    conn = sqlite3.connect(home / "lifecycle.db")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"registered_models", "model_versions", "registered_model_aliases", "transition_requests",
            "registry_activity", "model_version_files"} <= tables  # fmt: skip
    assert conn.execute("SELECT name, version, current_stage FROM model_versions").fetchall() == [("m", 1, "None")]
    assert "m0004_registry" in {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}


def test_copy_model_version_and_unknown_model(client: lc.Client, uri: str) -> None:
    with pytest.raises(lc.NotFound, match="no registered model named 'nope'"):
        client.create_model_version("nope", uri)
    lc.register_model(uri, "dev")
    client.set_registered_model_alias("dev", "candidate", 1)
    copied = client.copy_model_version("models:/dev@candidate", "prod")
    assert (copied.name, copied.version, copied.source, copied.run_id) == ("prod", 1, "models:/dev@candidate",
                                                                           uri.split("/")[1])  # fmt: skip
    assert Path(copied.storage_location) != Path(client.get_model_version("dev", 1).storage_location)
    assert (Path(copied.storage_location) / "data" / "weights.txt").read_text() == "w1"
    assert client.copy_model_version("models:/dev/1", "prod").version == 2  # the target exists: next version
    assert client.get_model_version_stages("prod", 1) == ["None", "Staging", "Production", "Archived"]
