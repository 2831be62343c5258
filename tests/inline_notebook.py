"""A notebook that displays every part of the inline UI, executed headless with nbclient.

Shared by ``test_inline_notebook.py`` (nbval) and the browser tests (it is
opened in JupyterLab). Run it with ``JUPYTER_LIFECYCLE_HOME`` naming an empty
store folder: every execution then prints the same outputs.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

CELLS = [
    # (source, nbval marker or None)
    ("%load_ext jupyter_lifecycle\n"
     "import jupyter_lifecycle as lc\n"
     "lc.set_experiment('inline-ui')\n"
     "ids = []\n"
     "for i, (model, lr) in enumerate([('rf', 0.1), ('rf', 0.3), ('gb', 0.2)]):\n"
     "    with lc.start_run(run_name=f'run-{i}') as run:\n"
     "        lc.log_params({'model': model, 'lr': lr, 'seed': 42})\n"
     "        for step in range(200):\n"
     "            lc.log_metric('loss', 1 / (step + 1) + i / 10, step=step)\n"
     "        lc.log_metric('accuracy', 0.8 + i / 20)\n"
     "        ids.append(run.info.run_id)", None),
    ("lc.charts.metric_history(ids, 'loss', smoothing=0.6)", None),
    ("lc.charts.param_vs_metric(ids, 'lr', 'accuracy')", None),
    ("lc.charts.parallel_coordinates(ids, params=['model', 'lr'], metric='accuracy')", None),
    ("lc.charts.final_metrics(ids)", None),
    ("lc.charts.params_diff(ids)", None),
    ("lc.compare(ids)", None),
    ("%lifecycle compare \"params.model = 'rf'\" --metric loss", None),
    ("lc.get_run(ids[2])", None),
    ("lc.get_experiment_by_name('inline-ui')", None),
    ("import os, pandas as pd\n"
     "from sklearn.linear_model import LogisticRegression\n"
     "from jupyter_lifecycle import sklearn as lc_sklearn\n"
     "X = pd.DataFrame({'a': [0.0, 1.0, 2.0, 3.0]})\n"
     "with lc.start_run(run_name='with-model') as model_run:\n"
     "    lc_sklearn.log_model(LogisticRegression().fit(X, [0, 0, 1, 1]), name='model')\n"
     "version = lc.register_model(f'runs:/{model_run.info.run_id}/model', 'inline-model')\n"
     "version", None),
    ("lc.Client().get_registered_model('inline-model')", None),
    ("lc.lineage('models:/inline-model/1')", None),
    ("import nbformat\n"
     "from jupyter_lifecycle.capture.revisions import diff_notebooks\n"
     "old = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('x = 1', id='a')])\n"
     "new = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('x = 2', id='a')])\n"
     "diff_notebooks(old, new)", None),
    ("# NBVAL_IGNORE_OUTPUT\n"
     "browser = lc.browse('inline-ui', live=False)\n"
     "browser.select(ids[:2])\n"
     "browser", "ignore"),
]  # fmt: skip

SANITIZE = r"""[run ids]
regex: [0-9a-f]{32}
replace: RUN_ID

[short ids]
regex: \([0-9a-f]{7}\)
replace: (SHORT_ID)

[times]
regex: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d
replace: TIME

[epoch milliseconds]
regex: \b1\d{12}\b
replace: EPOCH_MS

[execution counts in lineage]
regex: <small>\[\d+\]
replace: <small>[N]

[durations]
regex: \d+(\.\d+)?s<
replace: DURATION<

[paths]
regex: file://[^<"']*
replace: PATH

[tmp paths]
regex: /tmp/[^<"']*
replace: PATH
"""


def build() -> nbformat.NotebookNode:
    """The notebook, unexecuted."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source, _ in CELLS]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def execute(folder: Path, name: str = "inline_ui.ipynb") -> Path:
    """Build the notebook, execute it in ``folder`` with widget state stored, and write it there."""
    notebook = build()
    NotebookClient(notebook, timeout=180, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(folder)}}).execute()  # fmt: skip
    nbformat.validate(notebook)
    target = folder / name
    nbformat.write(notebook, str(target))
    return target
