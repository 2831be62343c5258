"""Evaluation datasets (issue #15 part 5): stored in the SQLite file, merged from dicts, DataFrames and traces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle import genai
from jupyter_lifecycle.errors import AlreadyExists, InvalidInput, NotFound
from jupyter_lifecycle.genai import scorers
from jupyter_lifecycle.genai.datasets import DF_COLUMNS


def test_create_merge_and_read_back_in_another_process(home: Path) -> None:
    dataset = genai.create_dataset("qa", tags={"team": "search"})
    assert dataset.dataset_id.startswith("d-") and dataset.tags == {"team": "search"}
    assert dataset.experiment_ids == [lc.get_experiment_by_name("Default").experiment_id]  # type: ignore[union-attr]
    digest = dataset.digest
    dataset.merge_records([
        {"inputs": {"question": "Capital of France?"}, "expectations": {"expected_response": "Paris"}},
        {"inputs": {"question": "Capital of Spain?"}, "expectations": {"expected_response": "Madrid"}},
    ])  # fmt: skip
    # the same inputs again update that record: expectations merged, tags added
    dataset.merge_records(pd.DataFrame([
        {"inputs": {"question": "Capital of France?"}, "expectations": {"expected_facts": ["Paris"]}, "tags": {"k": "v"}},
    ]))  # fmt: skip
    assert dataset.digest != digest
    frame = dataset.to_df()
    assert list(frame.columns) == DF_COLUMNS and len(frame) == 2
    france = frame.iloc[0]
    assert france["expectations"] == {"expected_response": "Paris", "expected_facts": ["Paris"]}
    assert france["tags"] == {"k": "v"} and france["source_type"] == "HUMAN"
    assert france["dataset_record_id"].startswith("dr-")

    code = textwrap.dedent(
        """
        import sys, json
        import jupyter_lifecycle as lc
        lc.set_store(sys.argv[1])
        d = lc.genai.get_dataset(name="qa")
        print(json.dumps([d.dataset_id, d.tags, [r["expectations"] for r in d.records]]))
        """
    )
    out = subprocess.run([sys.executable, "-c", code, str(home)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})  # fmt: skip
    assert out.returncode == 0, out.stderr

    assert json.loads(out.stdout.strip().splitlines()[-1]) == [
        dataset.dataset_id, {"team": "search"},
        [{"expected_response": "Paris", "expected_facts": ["Paris"]}, {"expected_response": "Madrid"}],
    ]  # fmt: skip


def test_records_from_traces_and_evaluate_a_dataset(home: Path) -> None:
    @lc.trace
    def answer(question: str) -> str:
        return {"Capital of France?": "Paris", "Capital of Peru?": "Lima"}.get(question, "no idea")

    answer("Capital of France?")
    answer("Capital of Peru?")
    peru = lc.get_last_active_trace_id()
    assert peru is not None
    lc.log_expectation(trace_id=peru, name="expected_response", value="Lima")

    dataset = genai.create_dataset("from-traces")
    dataset.merge_records(lc.search_traces())  # search_traces' DataFrame
    records = {r["inputs"]["question"]: r for r in dataset.records}
    assert records["Capital of Peru?"]["expectations"] == {"expected_response": "Lima"}
    assert records["Capital of Peru?"]["outputs"] == "Lima"
    assert records["Capital of Peru?"]["source"] == {"source_type": "TRACE", "source_data": {"trace_id": peru}}
    assert dataset.to_df().set_index("source_id").loc[peru, "source_type"] == "TRACE"
    dataset.merge_records(lc.search_traces(return_type="list"))  # Trace objects: the same inputs, merged
    dataset.merge_records([{"inputs": {"question": "Capital of France?"}, "expectations": {"expected_response": "Paris"}}])
    assert len(dataset) == 2

    result = genai.evaluate(data=dataset, predict_fn=answer, scorers=[scorers.ExactMatch()])
    assert result.metrics == {"exact_match/mean": 1.0}
    assert sorted(result.result_df["outputs"]) == ["Lima", "Paris"]


def test_get_delete_search_and_bad_input(home: Path) -> None:
    first = genai.create_dataset("a")
    genai.create_dataset("b", experiment_id=["0"])
    with pytest.raises(AlreadyExists, match="'a'"):
        genai.create_dataset("a")
    assert genai.get_dataset(dataset_id=first.dataset_id).name == "a"
    assert sorted(d.name for d in genai.search_datasets()) == ["a", "b"]
    first.set_tags({"stage": "dev"})
    assert genai.get_dataset(name="a").tags == {"stage": "dev"}
    genai.delete_dataset(name="a")
    with pytest.raises(NotFound, match="'a'"):
        genai.get_dataset(name="a")
    with pytest.raises(NotFound):
        first.merge_records([{"inputs": {"q": 1}}])
    with pytest.raises(InvalidInput, match="exactly one of name= or dataset_id="):
        genai.get_dataset()
    b = genai.get_dataset(name="b")
    with pytest.raises(InvalidInput, match="record 0 needs 'inputs' as a dict"):
        b.merge_records([{"question": "x"}])
    with pytest.raises(InvalidInput, match="unknown field.*answer"):
        b.merge_records([{"inputs": {"q": 1}, "answer": 2}])
    with pytest.raises(InvalidInput, match="not JSON-serializable"):
        b.merge_records([{"inputs": {"q": object()}}])
    with pytest.raises(InvalidInput, match="non-empty name"):
        genai.create_dataset(" ")
    assert len(b) == 0 and b.to_df().empty and list(b.to_df().columns) == DF_COLUMNS
