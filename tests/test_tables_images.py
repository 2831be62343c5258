"""Tables that grow and load across runs, and images (single files and step series), as MLflow logs them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import jupyter_lifecycle as lc


def test_log_table_appends_to_an_existing_table_and_load_table_gathers_runs(home: Path) -> None:
    ids = []
    for lr in (0.1, 0.2):
        with lc.start_run() as run:
            lc.log_param("lr", lr)
            lc.log_table({"question": ["a", "b"], "score": [1.0, 2.0]}, "eval/results.json")
            lc.log_table(pd.DataFrame({"question": ["c"], "score": [3.0]}), "eval/results.json")
            lc.log_table({"question": "one row from scalars", "score": 4.0}, "eval/results.json")
            ids.append(run.info.run_id)
    with lc.start_run():
        lc.log_param("lr", 0.3)  # a run without the table is skipped by load_table
    table = lc.load_table("eval/results.json", extra_columns=["run_id", "params.lr"])
    assert len(table) == 8
    first = table[table["run_id"] == ids[0]]
    assert list(first["question"]) == ["a", "b", "c", "one row from scalars"]
    assert list(first["params.lr"]) == ["0.1"] * 4
    tags = json.loads(lc.get_run(ids[0]).data.tags["mlflow.loggedArtifacts"])
    assert tags == [{"path": "eval/results.json", "type": "table"}]  # listed once, as MLflow does
    only = lc.load_table("eval/results.json", run_ids=[ids[1]])
    assert len(only) == 4 and "run_id" not in only.columns


def test_load_table_errors_name_the_problem(home: Path) -> None:
    with lc.start_run() as run:
        lc.log_table({"run_id": ["x"]}, "t.parquet")
    clashing = lc.load_table("t.parquet", extra_columns=["run_id"])
    assert list(clashing["run_id"]) == ["x"] and list(clashing["run_id_"]) == [run.info.run_id]
    with pytest.raises(lc.NotFound, match="no run of experiment .* has a table 'missing.json'"):
        lc.load_table("missing.json")
    with pytest.raises(lc.InvalidInput, match="extra column 'nope'"):
        lc.load_table("t.parquet", extra_columns=["nope"])
    with pytest.raises(lc.InvalidInput, match=r"\.json, \.parquet or \.csv"):
        lc.log_table({"a": [1]}, "t.txt", run_id=run.info.run_id)
    with pytest.raises(lc.InvalidInput, match="DataFrame or a dict"):
        lc.log_table([1, 2], "t.json", run_id=run.info.run_id)


def test_log_image_single_file_and_series(home: Path) -> None:
    gradient = np.linspace(0, 1, 64 * 48).reshape(48, 64)
    rgb = (np.random.default_rng(0).random((300, 400, 3)) * 255).astype(np.uint8)
    with lc.start_run() as run:
        lc.log_image(gradient, "plots/gradient.png")
        lc.log_image(Image.fromarray(rgb), "plots/noise.png")
        for step in range(3):
            lc.log_image(rgb, key="samples/train", step=step)
    folder = Path(lc.Client().artifact_dir(run.info.run_id))
    with Image.open(folder / "plots/gradient.png") as image:
        assert image.size == (64, 48) and image.mode == "L"
        assert np.asarray(image)[0, 0] == 0 and np.asarray(image)[-1, -1] == 255
    series = sorted(p.name for p in (folder / "images").iterdir())
    full = [n for n in series if n.endswith(".png")]
    assert len(full) == 3 and len([n for n in series if n.endswith("+compressed.webp")]) == 3
    assert [n.split("+")[:3] for n in full] == [["samples~train", "step", str(s)] for s in range(3)]
    with Image.open(folder / "images" / full[0]) as image:
        assert np.array_equal(np.asarray(image), rgb)  # lossless
    with Image.open(folder / "images" / next(n for n in series if n.endswith(".webp"))) as small:
        assert max(small.size) == 256
    assert lc.get_run(run.info.run_id).data.tags["mlflow.loggedImages"] == "True"


@pytest.mark.parametrize(
    ("image", "kwargs", "message"),
    [
        (np.zeros((4, 4)), {}, "artifact_file .* or key"),
        (np.zeros((4, 4)), {"artifact_file": "a.png", "key": "k"}, "not both"),
        (np.zeros((4, 4)), {"key": "bad:key"}, "may hold only"),
        (np.full((4, 4), 2.0), {"artifact_file": "a.png"}, r"in \[0, 1\]"),
        (np.zeros((4, 4, 2)), {"artifact_file": "a.png"}, "HxW"),
        ("not an image", {"artifact_file": "a.png"}, "numpy array or a PIL image"),
    ],
)
def test_log_image_refuses_bad_input(home: Path, image: object, kwargs: dict, message: str) -> None:
    with lc.start_run() as run:
        with pytest.raises(lc.InvalidInput, match=message):
            lc.log_image(image, **kwargs)
    assert lc.list_artifacts(run.info.run_id) == []  # nothing half-written
