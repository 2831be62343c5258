"""``browse()``: an ipywidgets run browser over the store.

Pick an experiment, type a filter (MLflow's grammar; a parse error shows
under the box), sort, tick runs in the table: the comparison below follows
the selection. Buttons register the selected run's model and generate a
scoring notebook for it (under ``scoring/``, linked once written). While a shown run is RUNNING, a background thread
polls the store (at most every ``interval`` seconds, and only redraws when
the store changed) so its metrics update live.

Everything is driven through traits and ``.click()``, so tests need no
browser (as ipywidgets' own tests do).
"""

from __future__ import annotations

import html
import os
import threading
from pathlib import Path
from typing import Any

import ipywidgets as W

from ..entities import Run, ViewType
from ..errors import LifecycleError
from ..tracking.client import Client
from . import charts
from .comparison import compare
from .display import column_digits, fmt_time, fmt_value, run_label_html

__all__ = ["RunBrowser", "browse"]

ALL = "__all__"
SORTS = {
    "start time": "attributes.start_time",
    "name": "attributes.run_name",
    "status": "attributes.status",
}
SCORING_DIR = "scoring"
"""Where the Scoring button writes notebooks, under the working directory (the notebook's folder)."""

_CSS = """<style>
.jl-runs { font-size: 12px; max-height: 320px; overflow: auto; align-items: center; }
.jl-runs .widget-html-content { white-space: nowrap; line-height: 1.3; }
.jl-runs .widget-checkbox { width: 28px; }
</style>"""


def _free_path(target: Path) -> Path:
    """``target``, or ``stem-2.ipynb``, ``stem-3.ipynb``... whichever does not exist yet: never overwrite."""
    candidate, number = target, 1
    while candidate.exists():
        number += 1
        candidate = target.with_name(f"{target.stem}-{number}{target.suffix}")
    return candidate


class RunBrowser(W.VBox):
    """The run browser widget; ``browse()`` builds one on the current store."""

    def __init__(
        self,
        experiment: str | None = None,
        filter_string: str = "",
        client: Client | None = None,
        max_runs: int = 200,
        live: bool = True,
        interval: float = 2.0,
    ) -> None:
        self.client = client or charts._client(None)
        self.max_runs = max_runs
        self.interval = interval
        self._runs: list[Run] = []
        self._signature: tuple[Any, ...] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy = threading.RLock()
        self._quiet = False

        experiments = self.client.search_experiments()
        options = [("all experiments", ALL)] + [(e.name, e.experiment_id) for e in experiments]
        chosen = ALL
        for e in experiments:
            if experiment in (e.name, e.experiment_id):
                chosen = e.experiment_id
        self.experiment = W.Dropdown(options=options, value=chosen, description="experiment")
        self.filter = W.Text(value=filter_string, placeholder="metrics.acc > 0.9 and params.model = 'rf'",
                             description="filter", continuous_update=False,
                             layout=W.Layout(width="420px"))  # fmt: skip
        self.error = W.HTML()
        self.sort_by = W.Dropdown(options=list(SORTS), value="start time", description="sort by")
        self.descending = W.ToggleButton(value=True, description="descending", icon="sort-amount-desc")
        self.table = W.GridBox(layout=W.Layout(width="100%"))
        self.table.add_class("jl-runs")
        self._checks: dict[str, W.Checkbox] = {}
        self.metric = W.Dropdown(options=[], description="metric")
        self.chart = W.Output()
        self.model_name = W.Text(placeholder="registered model name", description="model")
        self.register = W.Button(description="Register model", icon="archive",
                                 tooltip="register the selected run's model under this name")  # fmt: skip
        self.scoring = W.Button(description="Scoring notebook", icon="file-code-o",
                                tooltip="generate a scoring notebook for the selected run's model")  # fmt: skip
        self.refresh_button = W.Button(description="Refresh", icon="refresh")
        self.status = W.HTML()

        super().__init__([
            W.HTML(_CSS),
            W.HBox([self.experiment, self.filter]),
            self.error,
            W.HBox([self.sort_by, self.descending, self.refresh_button]),
            self.table,
            self.metric,
            self.chart,
            W.HBox([self.model_name, self.register, self.scoring]),
            self.status,
        ])  # fmt: skip

        for widget in (self.experiment, self.filter, self.sort_by, self.descending):
            widget.observe(lambda _change: self.refresh(), names="value")
        self.metric.observe(lambda _change: self.update_chart(), names="value")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.register.on_click(lambda _b: self.register_selected())
        self.scoring.on_click(lambda _b: self.generate_scoring())
        self.refresh()
        if live:
            self.start_live()

    # ---- table ---------------------------------------------------------------

    def _experiment_ids(self) -> list[str]:
        if self.experiment.value == ALL:
            return [e.experiment_id for e in self.client.search_experiments(ViewType.ACTIVE_ONLY)]
        return [self.experiment.value]

    def _sort_options(self) -> list[str]:
        metrics = sorted({k for r in self._runs for k in r.data.metrics})
        params = sorted({k for r in self._runs for k in r.data.params})
        return list(SORTS) + [f"metrics.{k}" for k in metrics] + [f"params.{k}" for k in params]

    def refresh(self) -> None:
        """Search the store again with the current experiment, filter and sort; keep the selection."""
        if self._quiet:
            return
        with self._busy:
            if self.sort_by.value in SORTS:
                order = SORTS[self.sort_by.value]
            else:
                kind, key = self.sort_by.value.split(".", 1)
                order = f"{kind}.`{key}`"
            order += " DESC" if self.descending.value else " ASC"
            try:
                ids = self._experiment_ids()
                runs = list(self.client.search_runs(ids, self.filter.value, max_results=self.max_runs,
                                                    order_by=[order])) if ids else []  # fmt: skip
            except LifecycleError as exc:
                self.error.value = f'<span style="color:#c00">{html.escape(str(exc))}</span>'
                return
            self.error.value = ""
            self._runs = runs
            self._signature = self._store_signature()
            self._render_table()

    def _columns(self) -> tuple[list[str], list[str]]:
        metrics = sorted({k for r in self._runs for k in r.data.metrics})[:4]
        differing = [k for k in sorted({k for r in self._runs for k in r.data.params})
                     if len({r.data.params.get(k) for r in self._runs}) > 1][:3]  # fmt: skip
        return metrics, differing

    def _check(self, run_id: str) -> W.Checkbox:
        """The run's checkbox, kept across redraws so a tick survives a refresh."""
        box = self._checks.get(run_id)
        if box is None:
            box = self._checks[run_id] = W.Checkbox(value=False, indent=False, layout=W.Layout(width="28px"))
            box.observe(lambda _change: self.update_chart(), names="value")
        return box

    def _render_table(self) -> None:
        metrics, params = self._columns()
        titles = ["", "run", "status", "started (UTC)", *metrics, *params]
        digits = {k: column_digits(r.data.metrics.get(k) for r in self._runs) for k in metrics}
        cells: list[W.Widget] = [W.HTML(f"<b>{html.escape(t)}</b>") for t in titles]
        for run in self._runs:
            texts = [run_label_html(run.info.run_name or run.info.run_id[:8], run.info.status),
                     html.escape(run.info.status), fmt_time(run.info.start_time)]  # fmt: skip
            texts += [fmt_value(run.data.metrics.get(k), digits[k]) for k in metrics]
            texts += [html.escape(run.data.params.get(k, "")) for k in params]
            cells.append(self._check(run.info.run_id))
            cells += [W.HTML(text, layout=W.Layout(padding="0 10px 0 0")) for text in texts]
        self._quiet = True
        try:
            shown = {r.info.run_id for r in self._runs}
            for run_id in [k for k in self._checks if k not in shown]:
                self._checks.pop(run_id).close()  # a run filtered out is deselected
            self.table.layout.grid_template_columns = f"28px repeat({len(titles) - 1}, max-content)"
            self.table.children = cells
        finally:
            self._quiet = False
        current = self.sort_by.value
        options = self._sort_options()
        if options != list(self.sort_by.options):
            self._quiet = True  # new options must not trigger another search
            try:
                self.sort_by.options = options
                self.sort_by.value = current if current in options else "start time"
            finally:
                self._quiet = False
        self.status.value = f"{len(self._runs)} run{'s' if len(self._runs) != 1 else ''}"
        self.update_chart()

    def rows(self) -> list[list[str]]:
        """The table as text, a list of cells per run in table order (header first), for scripts and tests."""
        import re

        width = 4 + len(self._columns()[0]) + len(self._columns()[1])
        texts = [re.sub("<[^>]+>", "", c.value) if isinstance(c, W.HTML) else ("[x]" if c.value else "[ ]")
                 for c in self.table.children]  # fmt: skip
        return [[html.unescape(t) for t in texts[i:i + width]] for i in range(0, len(texts), width)]

    def select(self, run_ids: list[str] | tuple[str, ...]) -> None:
        """Tick exactly these runs (ids of runs in the table); the comparison follows once."""
        unknown = [i for i in run_ids if i not in self._checks]
        if unknown:
            raise LifecycleError(f"run {unknown[0]!r} is not in the table: clear the filter or pick another experiment")
        self._quiet = True
        try:
            for run_id, box in self._checks.items():
                box.value = run_id in run_ids
        finally:
            self._quiet = False
        self.update_chart()

    # ---- comparison ------------------------------------------------------------

    @property
    def selected(self) -> list[Run]:
        """The ticked runs, in table order."""
        return [r for r in self._runs if r.info.run_id in self._checks and self._checks[r.info.run_id].value]

    def update_chart(self) -> None:
        """Show the comparison of the selected runs (the first run's metric history for one run)."""
        runs = self.selected
        keys = sorted({k for r in runs for k in r.data.metrics})
        if self._quiet:
            return
        if list(self.metric.options) != keys:
            previous = self.metric.value
            self._quiet = True
            try:
                self.metric.options = keys
                self.metric.value = previous if previous in keys else self._default_metric(runs, keys)
            finally:
                self._quiet = False
        if not runs:
            self.chart.outputs = ()
            return
        try:
            shown = compare(runs, metrics=[self.metric.value] if self.metric.value else [], client=self.client)
            bundles = shown.outputs()
        except LifecycleError as exc:
            bundles = [{"text/plain": str(exc)}]
        self.chart.outputs = tuple({"output_type": "display_data", "data": b, "metadata": {}} for b in bundles)

    def _default_metric(self, runs: list[Run], keys: list[str]) -> str | None:
        # The metric with the longest history: a curve says more than one point.
        if not keys:
            return None
        rows = self.client.store.tracking.metric_summaries([r.info.run_id for r in runs])
        points: dict[str, int] = {}
        for row in rows:
            points[row[1]] = max(points.get(row[1], 0), int(row[5]))
        return max(keys, key=lambda k: (points.get(k, 0), -keys.index(k)))

    # ---- actions -----------------------------------------------------------------

    def _one_selected(self, action: str) -> Run | None:
        runs = self.selected
        if len(runs) != 1:
            self._say(f"select exactly one run to {action} (now {len(runs)})", error=True)
            return None
        return runs[0]

    def _say(self, message: str, error: bool = False) -> None:
        color = "#c00" if error else "#070"
        self.status.value = f'<span style="color:{color}">{html.escape(message)}</span>'

    def model_uri(self, run: Run) -> str:
        """``runs:/<id>/<path>`` of the model the run logged (``NotFound``/``InvalidInput`` say what it has)."""
        from ..registry.client import run_model_uri

        return run_model_uri(self.client.store, run.info.run_id)

    def register_selected(self) -> Any:
        """Register the selected run's model under the name typed in ``model_name``."""
        run = self._one_selected("register its model")
        if run is None:
            return None
        name = self.model_name.value.strip()
        if not name:
            self._say("type a registered model name in the 'model' box first", error=True)
            return None
        try:
            from ..registry.fluent import register_model

            uri = self.model_uri(run)
            version = register_model(uri, name)
        except LifecycleError as exc:
            self._say(str(exc), error=True)
            return None
        self._say(f"registered {uri} as {version.name} version {version.version}")
        return version

    def generate_scoring(self) -> Any:
        """Write a scoring notebook for the selected run's model under ``scoring/`` and link to it."""
        run = self._one_selected("generate a scoring notebook")
        if run is None:
            return None
        try:
            from ..scoring import generate_scoring_notebook

            uri = self.model_uri(run)
            name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in run.info.run_name or run.info.run_id)
            target = _free_path(Path(SCORING_DIR) / f"score_{name}.ipynb")
            path = generate_scoring_notebook(uri, notebook_path=target)
        except LifecycleError as exc:
            self._say(str(exc), error=True)
            return None
        link = path.as_posix()  # relative to the notebook's folder: JupyterLab opens it on click
        self.status.value = (f'<span style="color:#070">wrote scoring notebook '
                             f'<a href="{html.escape(link)}" target="_blank" style="text-decoration:underline">'
                             f"{html.escape(link)}</a> for {html.escape(uri)}</span>")  # fmt: skip
        return Path(os.path.abspath(path))

    # ---- live updates ----------------------------------------------------------------

    def _store_signature(self) -> tuple[Any, ...]:
        # Cheap reads (the metrics rowid, small tables, primary keys): enough to
        # tell that something was logged, or a run started or ended.
        ids = [r.info.run_id for r in self._runs]
        marks = ", ".join("?" for _ in ids)
        return tuple(self.client.store.db.query(
            "SELECT (SELECT max(rowid) FROM metrics), (SELECT count(*) FROM runs),"
            " (SELECT count(*) FROM runs WHERE status = 'RUNNING'),"
            f" (SELECT count(*) FROM params WHERE run_id IN ({marks})),"
            f" (SELECT count(*) FROM tags WHERE run_id IN ({marks}))",
            ids * 2,
        )[0])  # fmt: skip

    def poll(self) -> bool:
        """Refresh if a shown run is RUNNING and the store changed since the last look; say whether it did."""
        if not any(r.info.status == "RUNNING" for r in self._runs):
            return False
        self.client.flush()
        if self._store_signature() == self._signature:
            return False
        self.refresh()
        return True

    def start_live(self) -> None:
        """Poll the store every ``interval`` seconds in a daemon thread (until ``stop_live`` or ``close``)."""
        if self._thread is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(self.interval):
                try:
                    self.poll()
                except Exception as exc:  # a failed poll must not kill live updates for good
                    self.status.value = f'<span style="color:#c00">live update failed: {html.escape(str(exc))}</span>'

        self._thread = threading.Thread(target=loop, name="jupyter-lifecycle-browse", daemon=True)
        self._thread.start()

    def stop_live(self) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def close(self) -> None:
        """Stop polling and close the widgets."""
        self.stop_live()
        for child in list(self.children):
            child.close()
        super().close()


def browse(
    experiment: str | None = None,
    filter_string: str = "",
    max_runs: int = 200,
    live: bool = True,
    interval: float = 2.0,
) -> RunBrowser:
    """A run browser on the current store: filter, sort, select to compare, register, score.

    ``experiment`` (a name or id) preselects an experiment; ``live`` polls the
    store every ``interval`` seconds while a shown run is RUNNING.
    """
    return RunBrowser(experiment, filter_string, max_runs=max_runs, live=live, interval=interval)

