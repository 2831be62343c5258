"""Notebook revisions: read, list, diff, restore, and a run's "executed code" notebook.

Pure Python over the store and nbformat (no IPython), so the CLI, the server
extension and scripts use it as the magics do. Revisions are recorded by the
kernel at run start and end, by the jupyter_server post-save hook on every
save, and by ``record_revision(path)``.

Revision ids are sha256 hex digests of the notebook's canonical JSON; every
function here also takes a unique prefix (at least 4 digits), as git does.
"""

from __future__ import annotations

import difflib
import html
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat

from ..errors import InvalidInput, NotFound
from ..store import Store, open_store

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CellDiff", "NotebookDiff", "diff_revisions", "export_executed_notebook", "get_revision",
    "list_revisions", "record_revision", "restore_revision",
]  # fmt: skip


def _store(store: Store | None) -> Store:
    return store if store is not None else open_store()


def record_revision(
    path: str | os.PathLike[str], trigger: str = "manual", store: Store | None = None, run_id: str | None = None,
    moment: str | None = None,
) -> str:
    """Store the notebook at ``path`` as a revision (identical content is kept once); return its id."""
    file = Path(path).expanduser()
    try:
        content = file.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"cannot record a revision of {str(path)!r}: no such file (save the notebook first)") from None
    return _store(store).capture.put_revision(content, str(file.resolve()), trigger, run_id, moment)


def get_revision(revision_id: str, store: Store | None = None) -> nbformat.NotebookNode:
    """The notebook stored as revision ``revision_id`` (a full id or a unique prefix)."""
    content = _store(store).capture.revision_content(revision_id)
    return nbformat.reads(content.decode("utf-8"), as_version=nbformat.NO_CONVERT)


def list_revisions(notebook: str | os.PathLike[str] | None = None, store: Store | None = None,
                   max_results: int | None = None) -> pd.DataFrame:  # fmt: skip
    """Every time a notebook (or any notebook) was seen with a revision, newest first, as a DataFrame."""
    import pandas as pd

    path = str(Path(notebook).expanduser().resolve()) if notebook else None
    rows = _store(store).capture.list_revisions(path, max_results)
    return pd.DataFrame(
        {
            "revision_id": [r.revision_id for r in rows],
            "notebook_path": [r.notebook_path for r in rows],
            "recorded_time": pd.to_datetime([r.recorded_time for r in rows], unit="ms", utc=True),
            "trigger": [r.trigger for r in rows],
            "cells": [r.cell_count for r in rows],
            "size": [r.size for r in rows],
        }
    )


def restore_revision(revision_id: str, path: str | os.PathLike[str], store: Store | None = None) -> Path:
    """Write revision ``revision_id`` to ``path`` as a notebook; return the path.

    If ``path`` already holds a notebook, its content is recorded as a
    revision first, so restoring never loses what was there.
    """
    store = _store(store)
    notebook = get_revision(revision_id, store)
    target = Path(path).expanduser().resolve()
    if target.exists():
        try:
            store.capture.put_revision(target.read_bytes(), str(target), "restore")
        except InvalidInput:
            raise InvalidInput(
                f"{str(target)!r} exists and is not a notebook: restore to another path, or move that file away"
            ) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.restore-tmp")
    nbformat.write(notebook, tmp)
    os.replace(tmp, target)
    store.capture.put_revision(target.read_bytes(), str(target), "restore")
    return target


def export_executed_notebook(
    run_id: str, path: str | os.PathLike[str] | None = None, store: Store | None = None
) -> nbformat.NotebookNode:
    """A notebook of the code a run executed: the cells that ran while it was active, in order.

    The first cell says which run, notebook and revision it came from; each
    code cell keeps its execution count, and its metadata holds when it ran,
    for how long, and the error if it failed. Written to ``path`` if given.
    """
    store = _store(store)
    run = store.tracking.get_run(run_id)
    cells = store.capture.cell_executions(run_id=run_id)
    revisions = store.capture.run_revisions(run_id)
    name = run.info.run_name or run_id
    lines = [
        f"# Code executed by run `{name}`",
        "",
        f"- run id: `{run_id}` ({run.info.status})",
        f"- notebook: `{run.info.notebook_path or run.data.tags.get('mlflow.source.name', 'unknown')}`",
    ]
    if revisions.get("start"):
        lines.append(f"- revision at start: `{revisions['start'][:12]}`")
    if revisions.get("end") and revisions.get("end") != revisions.get("start"):
        lines.append(f"- revision at end: `{revisions['end'][:12]}`")
    lines.append(f"- {len(cells)} cell execution(s), in the order they ran")
    nb = nbformat.v4.new_notebook()
    nb.metadata["jupyter_lifecycle"] = {"run_id": run_id, "revisions": revisions}
    nb.cells.append(nbformat.v4.new_markdown_cell("\n".join(lines), id="run-header"))
    for cell in cells:
        meta: dict[str, Any] = {"start_time": cell.start_time, "duration_ms": cell.duration_ms, "success": cell.success}
        if cell.error_type:
            meta["error"] = f"{cell.error_type}: {cell.error_message}"
        code = nbformat.v4.new_code_cell(cell.source, id=cell.execution_id, execution_count=cell.execution_count)
        code.metadata["jupyter_lifecycle"] = meta
        nb.cells.append(code)
    if path is not None:
        nbformat.write(nb, Path(path).expanduser())
    return nb


# ---- diff --------------------------------------------------------------------


def _text(source: Any) -> str:
    return "".join(source) if isinstance(source, list) else str(source or "")


def _outputs_text(cell: Any) -> str:
    """A readable summary of a cell's outputs: text as is, other data by MIME type."""
    parts: list[str] = []
    for out in cell.get("outputs", []) or []:
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(_text(out.get("text")))
        elif kind == "error":
            parts.append(f"{out.get('ename')}: {out.get('evalue')}\n")
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            if "text/plain" in data:
                parts.append(_text(data["text/plain"]) + "\n")
            others = sorted(k for k in data if k != "text/plain")
            if others:
                parts.append(f"[{', '.join(others)}]\n")
    return "".join(parts)


def _outputs_key(cell: Any) -> str:
    # Compare outputs exactly (images included), without the volatile metadata.
    outs = [{k: v for k, v in o.items() if k != "metadata"} for o in cell.get("outputs", []) or []]
    return json.dumps(outs, sort_keys=True)


@dataclass(frozen=True)
class CellDiff:
    """How one cell differs between two revisions."""

    status: str
    """``added``, ``removed``, ``modified`` or ``unchanged``."""
    cell_type: str
    old_index: int | None
    new_index: int | None
    old_source: str = ""
    new_source: str = ""
    old_outputs: str = ""
    new_outputs: str = ""
    old_execution_count: int | None = None
    new_execution_count: int | None = None
    outputs_changed: bool = False

    @property
    def source_changed(self) -> bool:
        """Whether the cell's source differs."""
        return self.old_source != self.new_source

    @property
    def execution_count_changed(self) -> bool:
        """Whether the cell's execution count differs."""
        return self.old_execution_count != self.new_execution_count

    def source_diff(self) -> list[str]:
        """The source change as unified-diff lines (no file headers)."""
        lines = difflib.unified_diff(self.old_source.splitlines(), self.new_source.splitlines(), lineterm="", n=2)
        return [line for line in lines if not line.startswith(("---", "+++"))]

    def outputs_diff(self) -> list[str]:
        """The output change as unified-diff lines over a text summary of the outputs."""
        lines = difflib.unified_diff(self.old_outputs.splitlines(), self.new_outputs.splitlines(), lineterm="", n=1)
        return [line for line in lines if not line.startswith(("---", "+++", "@@"))]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (for the REST API)."""
        return {**self.__dict__, "source_diff": self.source_diff(), "outputs_diff": self.outputs_diff()}

    @property
    def label(self) -> str:
        """Where the cell is, e.g. ``cell 3`` or ``cell 2 → 4``."""
        if self.old_index is None:
            return f"cell {self.new_index}"
        if self.new_index is None or self.new_index == self.old_index:
            return f"cell {self.old_index}"
        return f"cell {self.old_index} → {self.new_index}"


@dataclass(frozen=True)
class NotebookDiff:
    """A cell-by-cell diff of two notebook revisions; renders as HTML in Jupyter and as text with ``str``."""

    old_id: str
    new_id: str
    cells: list[CellDiff] = field(default_factory=list)

    def _count(self, status: str) -> int:
        return sum(1 for c in self.cells if c.status == status)

    @property
    def changed(self) -> list[CellDiff]:
        """The cells that are not unchanged."""
        return [c for c in self.cells if c.status != "unchanged"]

    def summary(self) -> str:
        """One line: how many cells were modified, added, removed."""
        counts = [f"{self._count(s)} {s}" for s in ("modified", "added", "removed") if self._count(s)]
        return ", ".join(counts) or "no cell changes"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (for the REST API)."""
        return {"old_id": self.old_id, "new_id": self.new_id, "summary": self.summary(),
                "cells": [c.to_dict() for c in self.cells]}  # fmt: skip

    def __str__(self) -> str:
        out = [f"revision {self.old_id[:12]} → {self.new_id[:12]}: {self.summary()}"]
        for cell in self.changed:
            head = f"{cell.status} {cell.cell_type} {cell.label}"
            if cell.execution_count_changed and cell.status == "modified":
                head += f" (execution count {cell.old_execution_count} → {cell.new_execution_count})"
            out.append("")
            out.append(f"== {head}")
            if cell.status == "added":
                out += ["+" + line for line in cell.new_source.splitlines()]
            elif cell.status == "removed":
                out += ["-" + line for line in cell.old_source.splitlines()]
            else:
                out += cell.source_diff()
                if cell.outputs_changed:
                    out.append("-- outputs:")
                    out += cell.outputs_diff() or ["(outputs changed)"]
        return "\n".join(out)

    def __repr__(self) -> str:
        return f"<NotebookDiff {self.old_id[:12]} → {self.new_id[:12]}: {self.summary()}>"

    def _repr_html_(self) -> str:
        colors = {"added": "#1a7f37", "removed": "#cf222e", "modified": "#9a6700"}
        parts = [
            '<div style="font-family: var(--jp-ui-font-family, sans-serif); font-size: 13px">',
            f"<div><b>Notebook diff</b> <code>{self.old_id[:12]}</code> → <code>{self.new_id[:12]}</code>: "
            f"{html.escape(self.summary())}</div>",
        ]
        unchanged = 0
        for cell in self.cells:
            if cell.status == "unchanged":
                unchanged += 1
                continue
            if unchanged:
                parts.append(f'<div style="color:#777;margin:4px 0">… {unchanged} unchanged cell(s)</div>')
                unchanged = 0
            head = f"{cell.status} {cell.cell_type} {cell.label}"
            if cell.execution_count_changed and cell.status == "modified":
                head += f" · execution count [{cell.old_execution_count}] → [{cell.new_execution_count}]"
            parts.append(
                f'<div style="border-left:4px solid {colors[cell.status]};margin:6px 0;padding:2px 8px">'
                f'<div style="color:{colors[cell.status]};font-weight:bold">{html.escape(head)}</div>'
            )
            if cell.status == "added":
                lines = ["+" + line for line in cell.new_source.splitlines()]
            elif cell.status == "removed":
                lines = ["-" + line for line in cell.old_source.splitlines()]
            else:
                lines = cell.source_diff()
            if cell.outputs_changed:
                lines += ["@@ outputs"] + (cell.outputs_diff() or [" (outputs changed)"])
            parts.append(_html_lines(lines))
            parts.append("</div>")
        if unchanged:
            parts.append(f'<div style="color:#777;margin:4px 0">… {unchanged} unchanged cell(s)</div>')
        parts.append("</div>")
        return "".join(parts)


def _html_lines(lines: list[str]) -> str:
    rows = []
    for line in lines:
        style = ""
        if line.startswith("+"):
            style = "background:#e6ffec"
        elif line.startswith("-"):
            style = "background:#ffebe9"
        elif line.startswith("@@"):
            style = "color:#777"
        rows.append(f'<div style="{style};white-space:pre">{html.escape(line) or "&nbsp;"}</div>')
    return '<div style="font-family:var(--jp-code-font-family, monospace);font-size:12px">' + "".join(rows) + "</div>"


def _cell_key(cell: Any, use_ids: bool) -> str:
    return str(cell.get("id")) if use_ids else f"{cell.get('cell_type')}:{_text(cell.get('source'))}"


def _pair(a: Any, b: Any, i: int, j: int) -> CellDiff:
    old_src, new_src = _text(a.get("source")), _text(b.get("source"))
    outputs_changed = _outputs_key(a) != _outputs_key(b)
    old_count, new_count = a.get("execution_count"), b.get("execution_count")
    same = old_src == new_src and not outputs_changed and old_count == new_count and a.get("cell_type") == b.get("cell_type")
    return CellDiff(
        "unchanged" if same else "modified", b.get("cell_type", "code"), i, j, old_src, new_src,
        _outputs_text(a), _outputs_text(b), old_count, new_count, outputs_changed,
    )  # fmt: skip


def _single(cell: Any, index: int, status: str) -> CellDiff:
    src, outs, count = _text(cell.get("source")), _outputs_text(cell), cell.get("execution_count")
    if status == "added":
        return CellDiff(status, cell.get("cell_type", "code"), None, index, "", src, "", outs, None, count, bool(outs))
    return CellDiff(status, cell.get("cell_type", "code"), index, None, src, "", outs, "", count, None, bool(outs))


def diff_notebooks(old: Any, new: Any, old_id: str = "old", new_id: str = "new") -> NotebookDiff:
    """Diff two notebooks (``NotebookNode`` or dicts) cell by cell: source, outputs, execution counts.

    Cells are matched by their nbformat cell ids when both notebooks have
    them (so an edited cell is *modified*, not removed and added), else by
    content, pairing replaced cells in order.
    """
    a_cells, b_cells = list(old.get("cells", [])), list(new.get("cells", []))
    use_ids = all(c.get("id") for c in a_cells + b_cells)
    a_keys = [_cell_key(c, use_ids) for c in a_cells]
    b_keys = [_cell_key(c, use_ids) for c in b_cells]
    result: list[CellDiff] = []
    matcher = difflib.SequenceMatcher(None, a_keys, b_keys, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            result += [_pair(a_cells[i], b_cells[j], i, j) for i, j in zip(range(i1, i2), range(j1, j2), strict=True)]
            continue
        paired = min(i2 - i1, j2 - j1) if op == "replace" else 0
        result += [_pair(a_cells[i1 + k], b_cells[j1 + k], i1 + k, j1 + k) for k in range(paired)]
        result += [_single(a_cells[i], i, "removed") for i in range(i1 + paired, i2)]
        result += [_single(b_cells[j], j, "added") for j in range(j1 + paired, j2)]
    return NotebookDiff(old_id, new_id, result)


def diff_revisions(a: str, b: str, store: Store | None = None) -> NotebookDiff:
    """Diff revision ``a`` (older) against revision ``b`` (newer), cell by cell.

    The result renders as a colored diff inline in Jupyter, prints as text,
    and lists ``.cells`` (``CellDiff``) for code.
    """
    store = _store(store)
    old_id, new_id = store.capture.resolve_revision_id(a), store.capture.resolve_revision_id(b)
    return diff_notebooks(get_revision(old_id, store), get_revision(new_id, store), old_id, new_id)
