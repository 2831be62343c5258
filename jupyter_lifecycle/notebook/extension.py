"""``%load_ext jupyter_lifecycle``: wire the cell recorder and the magics into one IPython shell.

Loading twice is harmless; unloading removes every hook it added (cell
events, run hooks, magics, autolog patches), so ``%reload_ext`` is clean.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..autologging import sklearn as sklearn_autolog
from ..capture.recorder import RECORDERS, CellRecorder
from ..tracking import fluent
from .charts import enable_renderer
from .display import dataframe_html
from .magics import LifecycleMagics
from .traces import CellTraces

_CELL_TRACES: dict[int, CellTraces] = {}  # shell id -> the traces its cells produce


def load(shell: Any) -> CellRecorder:
    """Start recording cells and revisions in ``shell``, register the magics and the offline chart renderer."""
    # altair's default renderer loads vega from a CDN (blank offline): use the
    # mimetype renderer, which JupyterLab draws itself, for every chart here.
    enable_renderer()
    existing = RECORDERS.get(id(shell))
    if existing is not None:
        return existing
    rec = CellRecorder(shell)
    shell.events.register("pre_run_cell", rec.pre_run_cell)
    shell.events.register("post_run_cell", rec.post_run_cell)
    fluent.RUN_START_HOOKS.append(rec.on_run_start)
    fluent.RUN_END_HOOKS.append(rec.on_run_end)
    shell.register_magics(LifecycleMagics)
    RECORDERS[id(shell)] = rec
    cell_traces = _CELL_TRACES[id(shell)] = CellTraces()
    cell_traces.register(shell)
    _html_formatter(shell).for_type(pd.DataFrame, dataframe_html)
    if rec.notebook_path is None:
        print(
            "jupyter-lifecycle: recording cells; the notebook file is unknown, so no notebook revisions "
            "(set $JUPYTER_LIFECYCLE_NOTEBOOK to its path to keep them)."
        )
    return rec


def _html_formatter(shell: Any) -> Any:
    return shell.display_formatter.formatters["text/html"]


def unload(shell: Any) -> None:
    """Remove everything ``load`` added to ``shell`` (and switch scikit-learn autolog off)."""
    rec = RECORDERS.pop(id(shell), None)
    if rec is None:
        return
    rec.defer_checkpoints(False)
    shell.events.unregister("pre_run_cell", rec.pre_run_cell)
    shell.events.unregister("post_run_cell", rec.post_run_cell)
    fluent.RUN_START_HOOKS.remove(rec.on_run_start)
    fluent.RUN_END_HOOKS.remove(rec.on_run_end)
    cell_traces = _CELL_TRACES.pop(id(shell), None)
    if cell_traces is not None:
        cell_traces.unregister(shell)
    _html_formatter(shell).pop(pd.DataFrame, None)
    manager = shell.magics_manager
    for kind, names in LifecycleMagics.magics.items():
        for name in names:
            manager.magics[kind].pop(name, None)
    manager.registry.pop(LifecycleMagics.__name__, None)
    sklearn_autolog.disable()
