"""The magics in a real kernel (nbclient): filters typed unquoted, readable run tables, ``%lifecycle show``."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow

VEGALITE = "application/vnd.vegalite.v5+json"

SETUP = """\
%load_ext jupyter_lifecycle
import jupyter_lifecycle as lc
lc.set_experiment('kernel-magics')
for i, (model, acc) in enumerate([('rf', 0.95), ('rf', 0.91), ('gb', 0.97), ('rf', 0.96)]):
    run = lc.start_run(run_name=f'k{i}')
    lc.log_params({'model': model, 'depth': i})
    lc.log_metric('accuracy', acc)
    for step in range(5):
        lc.log_metric('loss', 1 / (step + 1) + i, step=step)
    lc.log_text('hello', 'notes/readme.txt')
    lc.end_run('FAILED' if i == 3 else 'FINISHED')
last_id = run.info.run_id
"""


def html_of(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs)


def test_magics_in_a_real_kernel(home: Path, tmp_path: Path) -> None:
    cells = [
        SETUP,
        "%lifecycle runs metrics.accuracy > 0.93 and params.model = 'rf'",
        "%lifecycle runs -n 1 params.model = 'rf' -o \"metrics.accuracy DESC\"",
        "%lifecycle runs \"params.model = 'gb'\"",  # the old, quoted way still works
        "%lifecycle show $last_id",
        "%lifecycle compare params.model = 'rf' and metrics.accuracy > 0.9 --metric loss",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(notebook, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()  # fmt: skip
    errors = [o for cell in notebook.cells for o in cell.outputs if o.output_type == "error"]
    assert not errors, errors

    filtered = html_of(notebook.cells[1])
    assert ">k0</td>" in filtered and "k3 <b" in filtered and "✗ FAILED" in filtered  # failed run marked
    assert "k1" not in filtered and "k2" not in filtered
    assert filtered.index("<th") < filtered.index(">run</th>") < filtered.index(">accuracy</th>")
    body = filtered.split("<tbody>")[1]
    assert not any(len(word) == 32 for word in body.replace("<", " ").replace(">", " ").split())  # no full ids
    one = html_of(notebook.cells[2])
    assert one.split("<tbody>")[1].count("<tr>") == 1 and "k3 <b" in one  # 0.96: the best rf run
    assert "k2</td>" in html_of(notebook.cells[3])

    show = notebook.cells[4].outputs
    page = show[0]["data"]["text/html"]
    assert "kernel-magics (" in page  # the experiment's name, not only its id
    assert "notes/" in page and ">Artifacts<" in page
    assert VEGALITE in show[1]["data"]  # the loss history as a chart
    compare = html_of(notebook.cells[5])
    assert "Comparing 3 runs" in compare
