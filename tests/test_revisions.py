"""Notebook revisions: content-addressed storage, diff, restore, and a run's executed-code notebook."""

from __future__ import annotations

import zlib
from pathlib import Path

import nbformat
import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle.errors import InvalidInput, NotFound
from jupyter_lifecycle.store import open_store


def _notebook(*sources: str, ids: bool = True) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    if not ids:
        for cell in nb.cells:
            del cell["id"]
        nb.nbformat_minor = 4
    return nb


def _save(nb: nbformat.NotebookNode, path: Path) -> Path:
    nbformat.write(nb, path)
    return path


def test_identical_content_is_stored_once_and_read_back(home: Path, tmp_path: Path) -> None:
    path = _save(_notebook("a = 1", "print(a)"), tmp_path / "nb.ipynb")
    first = lc.record_revision(path)
    second = lc.record_revision(path, trigger="save")
    assert first == second and len(first) == 64
    store = open_store()
    assert store.capture.counts()["notebook_revisions"] == 1
    # Stored compressed, and the canonical JSON hashes to the id.
    blob = store.db.query("SELECT content, size FROM notebook_revisions")[0]
    assert len(blob[0]) < blob[1] or blob[1] < 200
    assert zlib.decompress(blob[0])
    nb = lc.get_revision(first[:8])
    assert isinstance(nb, nbformat.NotebookNode)
    assert [c.source for c in nb.cells] == ["a = 1", "print(a)"]
    listing = lc.list_revisions(path)
    assert list(listing["trigger"]) == ["save", "manual"]
    assert set(listing["revision_id"]) == {first}


def test_revision_ids_errors(home: Path, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no such file"):
        lc.record_revision(tmp_path / "missing.ipynb")
    (tmp_path / "bad.ipynb").write_text("not json")
    with pytest.raises(InvalidInput, match="not a notebook"):
        lc.record_revision(tmp_path / "bad.ipynb")
    with pytest.raises(InvalidInput, match="at least 4"):
        lc.get_revision("ab")
    with pytest.raises(NotFound, match="%lifecycle revisions"):
        lc.get_revision("abcd1234")


def test_diff_by_cell_ids_source_outputs_and_counts(home: Path, tmp_path: Path) -> None:
    old = _notebook("import math", "x = 1\ny = 2", "print(x)", "old_only()")
    new = nbformat.from_dict(old)
    new.cells[1].source = "x = 10\ny = 2"
    new.cells[2].outputs = [nbformat.v4.new_output("stream", text="10\n")]
    new.cells[2].execution_count = 7
    del new.cells[3]
    new.cells.insert(0, nbformat.v4.new_markdown_cell("# Title"))
    a = lc.record_revision(_save(old, tmp_path / "old.ipynb"))
    b = lc.record_revision(_save(new, tmp_path / "new.ipynb"))

    diff = lc.diff_revisions(a, b)
    by_status = {s: [c for c in diff.cells if c.status == s] for s in ("added", "removed", "modified", "unchanged")}
    assert [c.cell_type for c in by_status["added"]] == ["markdown"]
    assert [c.old_source for c in by_status["removed"]] == ["old_only()"]
    assert [c.old_source for c in by_status["unchanged"]] == ["import math"]
    source_change, output_change = by_status["modified"]
    assert source_change.source_changed and not source_change.outputs_changed
    assert "-x = 1" in source_change.source_diff() and "+x = 10" in source_change.source_diff()
    assert output_change.outputs_changed and not output_change.source_changed
    assert output_change.execution_count_changed and output_change.new_execution_count == 7
    assert diff.summary() == "2 modified, 1 added, 1 removed"

    text = str(diff)
    assert "+x = 10" in text and "-old_only()" in text and "execution count None → 7" in text and "+10" in text
    html = diff._repr_html_()
    assert "x = 10" in html and "1 unchanged cell(s)" in html and "background:#e6ffec" in html
    assert diff.to_dict()["summary"] == diff.summary()


def test_diff_without_cell_ids_pairs_replaced_cells(home: Path, tmp_path: Path) -> None:
    a = lc.record_revision(_save(_notebook("a = 1", "b = 2", ids=False), tmp_path / "a.ipynb"))
    b = lc.record_revision(_save(_notebook("a = 1", "b = 3", "c = 4", ids=False), tmp_path / "b.ipynb"))
    diff = lc.diff_revisions(a, b)
    assert [c.status for c in diff.cells] == ["unchanged", "modified", "added"]
    assert lc.diff_revisions(a, a).summary() == "no cell changes"


def test_restore_keeps_what_was_there(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "nb.ipynb"
    first = lc.record_revision(_save(_notebook("v = 1"), path))
    _save(_notebook("v = 2"), path)
    lc.restore_revision(first, path)
    assert nbformat.read(path, as_version=4).cells[0].source == "v = 1"
    # The overwritten content became a revision too: nothing is lost.
    restored = lc.list_revisions(path)
    assert "restore" in set(restored["trigger"])
    sources = {lc.get_revision(r).cells[0].source for r in restored["revision_id"]}
    assert sources == {"v = 1", "v = 2"}
    (tmp_path / "text.ipynb").write_text("hello")
    with pytest.raises(InvalidInput, match="not a notebook"):
        lc.restore_revision(first, tmp_path / "text.ipynb")


def test_export_executed_notebook_lists_the_runs_cells_in_order(home: Path, tmp_path: Path) -> None:
    store = open_store()
    with lc.start_run(run_name="exported") as run:
        pass
    other = lc.start_run(run_name="other")
    lc.end_run()
    for i, (source, ok) in enumerate([("load()", True), ("train()", False), ("train(fixed=True)", True)]):
        store.capture.record_cell(session_id="s" * 32, source=source, start_time=1000 + i, duration_ms=1.5,
                                  success=ok, execution_count=i + 1, error_type=None if ok else "ValueError",
                                  error_message=None if ok else "bad", run_ids=[run.info.run_id])  # fmt: skip
    store.capture.record_cell(session_id="s" * 32, source="unrelated()", start_time=999, duration_ms=1.0,
                              success=True, run_ids=[other.info.run_id])  # fmt: skip
    out = tmp_path / "executed.ipynb"
    nb = lc.export_executed_notebook(run.info.run_id, out)
    assert nb.cells[0].cell_type == "markdown" and run.info.run_id in nb.cells[0].source
    assert [c.source for c in nb.cells[1:]] == ["load()", "train()", "train(fixed=True)"]
    assert [c.execution_count for c in nb.cells[1:]] == [1, 2, 3]
    assert nb.cells[2].metadata["jupyter_lifecycle"]["error"] == "ValueError: bad"
    nbformat.validate(nbformat.read(out, as_version=4))
    # The source text is stored once however often it runs.
    store.capture.record_cell(session_id="t" * 32, source="load()", start_time=2000, duration_ms=None, success=True)
    assert store.capture.counts()["cell_sources"] == 4
