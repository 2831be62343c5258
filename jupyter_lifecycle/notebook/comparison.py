"""``compare(runs)``: params that differ, final/min/max of every metric, and the metric histories, in one display."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..entities import Run
from ..errors import InvalidInput
from . import charts
from .display import html_table, run_label_html

if TYPE_CHECKING:
    import altair as alt

    from ..tracking.client import Client

__all__ = ["Comparison", "compare"]

MAX_CHART_METRICS = 6
"""Metric histories drawn by default (the table still lists every metric)."""


class Comparison:
    """Several runs side by side; shows as tables and a chart when displayed in a notebook.

    ``params`` is the params table (differing rows highlighted), ``metrics`` a
    DataFrame indexed by run with ``(metric, last|min|max|steps)`` columns, and
    ``chart`` the metric-history chart (``None`` when no metric was logged).
    """

    def __init__(
        self,
        runs: list[Run],
        params: charts.ParamsDiff,
        metrics: pd.DataFrame,
        chart: alt.TopLevelMixin | None,
    ) -> None:
        self.runs = runs
        self.params = params
        self.metrics = metrics
        self.chart = chart

    def metrics_html(self) -> str:
        """The metrics table as HTML: one column per metric, or last/min/max where those differ."""
        if self.metrics.empty:
            return "<p><i>no metrics logged</i></p>"
        header = ["run"]
        columns: list[tuple[str, str]] = []
        for key in dict.fromkeys(k for k, _ in self.metrics.columns):
            stats = self.metrics[key]
            same = all(((stats["last"] == stats[s]) | (stats["last"].isna() & stats[s].isna())).all()
                       for s in ("min", "max"))  # fmt: skip
            if same:  # a single value, or a history that never moved: last/min/max would repeat it
                header.append(key)
                columns.append((key, "last"))
            else:
                header += [f"{key} · {stat}" for stat in ("last", "min", "max")]
                columns += [(key, stat) for stat in ("last", "min", "max")]
        rows = [[run_label_html(label, run.info.status), *[self.metrics.loc[label, c] for c in columns]]
                for label, run in zip(self.metrics.index, self.runs, strict=True)]  # fmt: skip
        return html_table(header, rows, caption="metrics (last, min and max over the history where they differ)")

    def _repr_html_(self) -> str:
        title = f"<b>Comparing {len(self.runs)} run{'s' if len(self.runs) != 1 else ''}</b>"
        return f'<div class="jl-compare">{title}{self.params._repr_html_()}{self.metrics_html()}</div>'

    def outputs(self) -> list[dict[str, Any]]:
        """The mime bundles this comparison displays as: the tables, then the chart."""
        bundles: list[dict[str, Any]] = [{"text/html": self._repr_html_(), "text/plain": repr(self)}]
        if self.chart is not None:
            import altair as alt

            if alt.renderers.active == "mimetype":
                # What altair's mimetype renderer emits, minus its validation of the finished spec
                # against vega-lite's JSON schema (a second per 1,000 runs): the parts were
                # validated as they were built.
                spec = self.chart.to_dict(validate=False)
                bundles.append({"application/vnd.vegalite.v5+json": spec, "text/plain": "<VegaLite 5 object>"})
            else:  # a renderer the user chose (png, svg...)
                bundle: Any = self.chart._repr_mimebundle_()
                bundles.append(bundle[0] if isinstance(bundle, tuple) else bundle)
        return bundles

    def _ipython_display_(self) -> None:
        from IPython.display import display

        for bundle in self.outputs():
            display(bundle, raw=True)

    def __repr__(self) -> str:
        names = ", ".join(r.info.run_name or r.info.run_id for r in self.runs[:5])
        more = f" and {len(self.runs) - 5} more" if len(self.runs) > 5 else ""
        return f"<Comparison of {len(self.runs)} runs: {names}{more}>"


def metric_table(runs: Sequence[Run], client: Client | None = None) -> pd.DataFrame:
    """Last, min and max of every metric of every run (index: run label; columns: (metric, stat)).

    ``frame.attrs["points"]`` maps each metric to the most points any of the runs logged for it.
    """
    labels = charts.run_labels(runs)
    c = charts._client(client)
    rows = c.store.tracking.metric_summaries([r.info.run_id for r in runs]) if runs else []
    keys = sorted({row[1] for row in rows})
    found = {(row[0], row[1]): row for row in rows}
    data: dict[tuple[str, str], list[Any]] = {}
    for key in keys:
        for stat, column in (("last", 2), ("min", 3), ("max", 4)):
            data[(key, stat)] = [
                None if (r.info.run_id, key) not in found else found[(r.info.run_id, key)][column] for r in runs
            ]
    frame = pd.DataFrame(data, index=pd.Index([labels[r.info.run_id] for r in runs], name="run"))
    if keys:
        frame.columns = pd.MultiIndex.from_tuples(list(data), names=["metric", "stat"])
    frame = frame.astype("float64")
    points: dict[str, int] = {}
    for row in rows:
        points[row[1]] = max(points.get(row[1], 0), int(row[5]))
    frame.attrs["points"] = points
    return frame


def compare(
    runs: charts.RunsLike,
    metrics: Sequence[str] | None = None,
    x: str = "step",
    smoothing: float = 0.0,
    log_scale: bool = False,
    client: Client | None = None,
) -> Comparison:
    """Compare runs (ids, ``Run`` objects, a ``search_runs`` DataFrame or a filter string).

    The result displays the params that differ, the last/min/max of each
    metric, and the metric histories: ``metrics`` picks which to chart; by
    default those logged over several steps (up to six, alphabetically), or
    bars of the final values when every metric is a single value.
    """
    found = charts.resolve_runs(runs, client)
    if not found:
        raise InvalidInput(f"no runs to compare: {runs!r} matched nothing")
    table = metric_table(found, client)
    points: dict[str, int] = table.attrs["points"]
    logged = sorted(points)
    if metrics is not None:
        keys = list(metrics)
        missing = [k for k in keys if k not in points]
        if missing:
            raise InvalidInput(
                f"metric {missing[0]!r} was not logged by these runs; they have: {', '.join(logged) or 'none'}"
            )
    else:
        keys = [k for k in logged if points[k] > 1][:MAX_CHART_METRICS]
    chart: alt.TopLevelMixin | None = None
    if keys:
        chart = charts.metric_history(found, keys, x=x, smoothing=smoothing, log_scale=log_scale, client=client)
    elif logged and metrics is None:
        chart = charts.final_metrics(found, logged[:MAX_CHART_METRICS], client=client)
    return Comparison(found, charts.params_diff(found, only_differences=len(found) > 1, client=client), table, chart)
