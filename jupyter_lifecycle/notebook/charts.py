"""Altair charts over runs: metric histories, param against metric, parallel coordinates, final metrics.

Every function takes runs as ids, ``Run`` objects, a ``search_runs``
DataFrame or a filter string, and returns an ``alt.Chart`` whose data is
inlined (so it renders offline and saves with ``chart.save("x.png")``).
Long histories are downsampled here, in Python, to a bounded number of
points per line (min and max of each bucket, so spikes survive): a chart of
100 runs x 10,000 steps ships about ``config.CHART_MAX_POINTS`` points, not 1M.

Importing this module switches altair to its ``mimetype`` renderer when it is
still on altair's default: JupyterLab renders that vega-lite v5 output itself,
offline and even in an untrusted notebook (a CDN renderer would not).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import altair as alt
import numpy as np
import pandas as pd

from .. import config
from ..entities import Run
from ..errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from ..tracking.client import Client

__all__ = [
    "chart_data", "downsample", "enable_renderer", "final_metrics", "metric_history", "param_vs_metric",
    "parallel_coordinates", "params_diff", "resolve_runs", "run_labels",
]  # fmt: skip

RunsLike: TypeAlias = "str | Run | pd.DataFrame | Sequence[Any]"
"""Runs as one filter string or run id, a ``Run``, a ``search_runs`` DataFrame, or a list of ids/runs."""

AnyChart: TypeAlias = "alt.Chart | alt.LayerChart | alt.FacetChart"
"""What the chart functions return: a plain, layered or faceted altair chart."""

X_AXES = ("step", "time", "relative")
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


def enable_renderer() -> None:
    """Render charts with altair's ``mimetype`` renderer (vega-lite v5 JSON, drawn by JupyterLab offline).

    Leaves a renderer the user picked (``png``, ``svg``...) alone.
    """
    if alt.renderers.active in ("default", "mimetype"):
        alt.renderers.enable("mimetype")


enable_renderer()


# ---- which runs ------------------------------------------------------------


def _client(client: Client | None) -> Client:
    if client is not None:
        return client
    from ..tracking import fluent

    return fluent.client()


def resolve_runs(runs: RunsLike, client: Client | None = None, max_runs: int = 100) -> list[Run]:
    """The ``Run`` objects meant by ``runs``, in the order given (newest first for a filter).

    ``runs`` may be a run id, a ``Run`` (or ``ActiveRun``, or ``genai.evaluate``'s
    result), a list of those, a
    DataFrame with a ``run_id`` column (what ``search_runs`` returns), or a
    filter string searched across every active experiment (at most
    ``max_runs`` runs).
    """
    c = _client(client)
    c.flush()
    if isinstance(runs, pd.DataFrame):
        if "run_id" not in runs.columns:
            raise InvalidInput("a DataFrame of runs needs a 'run_id' column, as search_runs returns")
        items: list[Any] = list(runs["run_id"])
    elif isinstance(runs, str):
        if _RUN_ID.match(runs):
            items = [runs]
        else:
            ids = [e.experiment_id for e in c.search_experiments()]
            return list(c.search_runs(ids, runs, max_results=max_runs)) if ids else []
    elif isinstance(runs, Sequence):
        items = list(runs)
    else:
        items = [runs]
    found: list[Run] = []
    seen: set[str] = set()
    for item in items:
        run_id = item if isinstance(item, str) else getattr(getattr(item, "info", None), "run_id", None)
        if run_id is None and isinstance(getattr(item, "run_id", None), str):  # genai.evaluate's result
            run_id = item.run_id
        if run_id is None:
            raise InvalidInput(f"cannot tell which run {item!r} is: pass run ids, Run objects or a DataFrame")
        if run_id in seen:
            continue
        seen.add(run_id)
        try:
            found.append(c.get_run(run_id))
        except NotFound:
            raise NotFound(f"no run with id {run_id!r}: check the id, or search with lc.search_runs()") from None
    return found


def run_labels(runs: Sequence[Run]) -> dict[str, str]:
    """A readable, unique label per run id: the run name, plus a short id when names repeat."""
    names = [r.info.run_name or r.info.run_id[:8] for r in runs]
    counts = pd.Series(names).value_counts()
    return {
        r.info.run_id: name if counts[name] == 1 else f"{name} ({r.info.run_id[:7]})"
        for r, name in zip(runs, names, strict=True)
    }


# ---- downsampling ----------------------------------------------------------


def downsample(values: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` points of a series that keep its shape.

    The series is cut into equal buckets; each keeps its lowest and highest
    point (NaN counts as neither), and the first and last points are always
    kept, so spikes and the final value survive. Indices come back sorted.
    ``max_points`` below 4 counts as 4.
    """
    n = len(values)
    max_points = max(4, max_points)
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, (max_points - 2) // 2)
    bucket = np.arange(n) * buckets // n
    starts = np.searchsorted(bucket, np.arange(buckets))
    counts = np.diff(np.append(starts, n))
    nan = np.isnan(values)
    keep = [np.array([0, n - 1])]
    for fill, reduce in ((np.inf, np.minimum), (-np.inf, np.maximum)):
        filled = np.where(nan, fill, values)
        best = reduce.reduceat(filled, starts)
        hits = np.flatnonzero(filled == np.repeat(best, counts))
        _, first = np.unique(bucket[hits], return_index=True)
        keep.append(hits[first])
    return np.unique(np.concatenate(keep))


def _series_budget(series_count: int, max_points: int | None) -> int:
    if max_points is not None:
        return max(4, int(max_points))
    per_series = config.CHART_MAX_POINTS // max(1, series_count)
    return max(config.CHART_MIN_SERIES_POINTS, min(config.CHART_SERIES_POINTS, per_series))


def _inline(frame: pd.DataFrame) -> alt.InlineData:
    # Inline CSV text, not records: altair validates a list of records one
    # item at a time (seconds for 10,000 rows) and never checks a string, so
    # its 5,000-row limit cannot fire either (the bound is ours: downsampling).
    # CSV is also about a third of the size of JSON records.
    clean = frame.replace([np.inf, -np.inf], np.nan)
    parse = {c: "number" if pd.api.types.is_numeric_dtype(clean[c]) else "string" for c in clean.columns}
    text = clean.to_csv(index=False, float_format="%.8g", lineterminator="\n")
    return alt.InlineData(values=text, format=alt.DataFormat(type="csv", parse=parse))


def chart_data(chart: alt.TopLevelMixin | dict[str, Any]) -> pd.DataFrame:
    """The points a chart (or its vega-lite spec) ships inline, as a DataFrame (NaN for null)."""
    import io

    spec = chart if isinstance(chart, dict) else chart.to_dict()
    datasets = spec.get("datasets", {})
    found = None
    for data in [spec.get("data")] + [layer.get("data") for layer in spec.get("layer", [])]:
        # altair moves inline values into top-level "datasets" when it renders
        values = (data or {}).get("values", datasets.get((data or {}).get("name")))
        if isinstance(values, str):
            found = (data, values)
            break
    if found is None:
        raise InvalidInput("this chart has no inline CSV data (was it made by jupyter_lifecycle.charts?)")
    parse = (found[0] or {}).get("format", {}).get("parse", {})
    return pd.read_csv(io.StringIO(found[1]), dtype={k: str for k, v in parse.items() if v == "string"},
                       keep_default_na=False, na_values={k: [""] for k, v in parse.items() if v == "number"})


def history_frame(
    runs: Sequence[Run],
    keys: Sequence[str],
    x: str = "step",
    smoothing: float = 0.0,
    max_points: int | None = None,
    client: Client | None = None,
) -> pd.DataFrame:
    """The downsampled points ``metric_history`` draws: columns run, metric, x, value (and smoothed)."""
    if x not in X_AXES:
        raise InvalidInput(f"x must be one of {', '.join(X_AXES)}, not {x!r}")
    if not 0 <= smoothing < 1:
        raise InvalidInput(f"smoothing must be in [0, 1) (0 = none, 0.9 = strong), not {smoothing!r}")
    c = _client(client)
    labels = run_labels(runs)
    starts = {r.info.run_id: r.info.start_time for r in runs}
    ids = [r.info.run_id for r in runs]
    rows = c.store.tracking.metric_series(ids, list(keys), timestamps=x != "step") if runs and keys else []
    position = {r.info.run_id: i for i, r in enumerate(runs)}
    rows = sorted(rows, key=lambda row: (position[row[0]], list(keys).index(row[1])))  # as given, not by id
    budget = _series_budget(len(rows), max_points)
    parts = []
    for run_id, key, _count, steps_text, times_text, values_text in rows:
        steps = np.fromstring(steps_text, sep=",", dtype=np.int64)
        times = np.fromstring(times_text, sep=",", dtype=np.int64) if times_text else np.zeros_like(steps)
        values = np.fromstring(values_text, sep=",")
        order = np.lexsort((times, steps))
        steps, times, values = steps[order], times[order], values[order]
        smoothed = _smooth(values, smoothing) if smoothing else None
        keep = downsample(values if smoothed is None else smoothed, budget)
        if x == "step":
            xs: np.ndarray = steps[keep]
        elif x == "time":
            xs = times[keep]
        else:
            xs = (times[keep] - starts[run_id]) / 1000.0
        part = {"run": labels[run_id], "metric": key, x: xs, "value": values[keep]}
        if smoothed is not None:
            part["smoothed"] = smoothed[keep]
        parts.append(pd.DataFrame(part))
    columns = ["run", "metric", x, "value"] + (["smoothed"] if smoothing else [])
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def _smooth(values: np.ndarray, weight: float) -> np.ndarray:
    # TensorBoard's and MLflow's debiased exponential moving average; pandas'
    # ewm(adjust=True) is exactly that.
    return pd.Series(values).ewm(alpha=1 - weight, adjust=True, ignore_na=True).mean().to_numpy()


# ---- charts ------------------------------------------------------------------


def _color(labels: Sequence[str]) -> alt.Color:
    return alt.Color("run:N", scale=alt.Scale(domain=list(labels)), legend=alt.Legend(title="run", symbolLimit=30, symbolOpacity=1))


def metric_history(
    runs: RunsLike,
    key: str | Sequence[str],
    x: str = "step",
    smoothing: float = 0.0,
    log_scale: bool = False,
    max_points: int | None = None,
    width: int = 560,
    height: int = 280,
    client: Client | None = None,
) -> AnyChart:
    """A line per run of metric ``key`` (a list of keys gives one panel each).

    ``x`` is ``"step"``, ``"time"`` (wall clock) or ``"relative"`` (seconds
    since the run started). ``smoothing`` in [0, 1) draws the debiased
    exponential moving average over the faint raw line, as TensorBoard and
    MLflow do. ``log_scale`` uses a log y axis (values <= 0 are left out).
    ``max_points`` caps the points per line (default: a share of
    ``config.CHART_MAX_POINTS``). Click a legend entry to highlight a run.
    """
    found = resolve_runs(runs, client)
    keys = [key] if isinstance(key, str) else list(key)
    if not keys:
        raise InvalidInput("metric_history needs at least one metric key")
    frame = history_frame(found, keys, x, smoothing, max_points, client)
    if frame.empty:
        known = sorted({k for r in found for k in r.data.metrics})
        raise InvalidInput(
            f"none of these {len(found)} runs logged metric {', '.join(map(repr, keys))}; "
            f"they have: {', '.join(known) or 'no metrics'}"
        )
    if log_scale:
        for column in ("value", "smoothed"):
            if column in frame:
                frame.loc[frame[column] <= 0, column] = np.nan
    labels = list(run_labels(found).values())
    x_type = {"step": "step:Q", "time": "time:T", "relative": "relative:Q"}[x]
    x_title = {"step": "step", "time": "time", "relative": "seconds since run start"}[x]
    y_scale = alt.Scale(type="log") if log_scale else alt.Scale(zero=False)
    highlight = alt.selection_point(fields=["run"], bind="legend")
    base = alt.Chart(_inline(frame)).encode(
        x=alt.X(x_type, title=x_title),
        color=_color(labels),
        tooltip=["run:N", "metric:N", x_type, alt.Tooltip("value:Q", format=".6g")],
    )
    value_title = keys[0] if len(keys) == 1 else "value"
    if smoothing:
        raw = base.mark_line(opacity=0.25).encode(y=alt.Y("value:Q", scale=y_scale, title=value_title))
        line = base.mark_line().encode(
            y=alt.Y("smoothed:Q", scale=y_scale, title=value_title),
            opacity=alt.condition(highlight, alt.value(1.0), alt.value(0.15)),
        )
        chart: Any = alt.layer(raw, line.add_params(highlight))
    else:
        chart = base.mark_line().encode(
            y=alt.Y("value:Q", scale=y_scale, title=value_title),
            opacity=alt.condition(highlight, alt.value(1.0), alt.value(0.15)),
        ).add_params(highlight)
    if len(keys) > 1:
        chart = chart.properties(width=width // 2, height=height * 2 // 3).facet(
            facet=alt.Facet("metric:N", sort=keys, title=None), columns=2
        ).resolve_scale(y="independent")
        return chart.properties(title=f"{', '.join(keys)} by {x_title}")
    return chart.properties(width=width, height=height, title=f"{keys[0]} by {x_title}")


def _param_column(values: Sequence[str | None]) -> tuple[list[Any], bool]:
    """Params as numbers when every present value parses as one, else as text."""
    numbers: list[float | None] = []
    for value in values:
        if value is None:
            numbers.append(None)
            continue
        try:
            number = float(value)
        except ValueError:
            return list(values), False
        numbers.append(number if math.isfinite(number) else None)
    return numbers, True


def _metric_values(runs: Sequence[Run], metric: str, stat: str, client: Client | None) -> list[float | None]:
    if stat == "last":
        return [r.data.metrics.get(metric) for r in runs]
    if stat not in ("min", "max"):
        raise InvalidInput(f"stat must be 'last', 'min' or 'max', not {stat!r}")
    column = 3 if stat == "min" else 4
    rows = _client(client).store.tracking.metric_summaries([r.info.run_id for r in runs])
    found = {row[0]: row[column] for row in rows if row[1] == metric}
    return [found.get(r.info.run_id) for r in runs]


def _check_metric(runs: Sequence[Run], metric: str) -> None:
    if not any(metric in r.data.metrics for r in runs):
        known = sorted({k for r in runs for k in r.data.metrics})
        raise InvalidInput(f"no run here logged metric {metric!r}; they have: {', '.join(known) or 'no metrics'}")


def _check_param(runs: Sequence[Run], param: str) -> None:
    if not any(param in r.data.params for r in runs):
        known = sorted({k for r in runs for k in r.data.params})
        raise InvalidInput(f"no run here logged param {param!r}; they have: {', '.join(known) or 'no params'}")


def param_vs_metric(
    runs: RunsLike,
    param: str,
    metric: str,
    stat: str = "last",
    width: int = 420,
    height: int = 280,
    client: Client | None = None,
) -> AnyChart:
    """A point per run: param ``param`` on x (numeric when it parses as numbers), metric on y.

    ``stat`` picks the metric value: ``"last"`` (default), ``"min"`` or ``"max"``
    over the run's history.
    """
    found = resolve_runs(runs, client)
    _check_param(found, param)
    _check_metric(found, metric)
    labels = run_labels(found)
    xs, numeric = _param_column([r.data.params.get(param) for r in found])
    frame = pd.DataFrame({
        "run": [labels[r.info.run_id] for r in found],
        "param": xs,
        "metric": _metric_values(found, metric, stat, client),
    })
    frame = frame[frame["param"].notna() & frame["metric"].notna()]
    x = alt.X("param:Q" if numeric else "param:N", title=param, scale=alt.Scale(zero=False) if numeric else alt.Undefined)
    title = metric if stat == "last" else f"{stat}({metric})"
    return alt.Chart(_inline(frame)).mark_point(filled=True, size=80).encode(
        x=x,
        y=alt.Y("metric:Q", title=title, scale=alt.Scale(zero=False)),
        color=_color(list(labels.values())),
        tooltip=["run:N", alt.Tooltip("param:Q" if numeric else "param:N", title=param),
                 alt.Tooltip("metric:Q", title=title, format=".6g")],
    ).properties(width=width, height=height, title=f"{title} by {param}")  # fmt: skip


def parallel_coordinates(
    runs: RunsLike,
    params: Sequence[str] | None = None,
    metric: str | None = None,
    width: int = 620,
    height: int = 300,
    client: Client | None = None,
) -> AnyChart:
    """A line per run across one vertical axis per param, then the metric; colour is the metric.

    Each axis is scaled to its own min..max (text params are spaced evenly in
    sorted order); the axis labels show the real extremes. ``params``
    defaults to the params whose values differ between the runs.
    """
    found = resolve_runs(runs, client)
    if params is None:
        params = [k for k, differs in _param_differs(found).items() if differs]
    params = list(params)
    for p in params:
        _check_param(found, p)
    if metric is not None:
        _check_metric(found, metric)
    axes = params + ([metric] if metric else [])
    if not axes:
        raise InvalidInput("parallel_coordinates needs params (these runs' params do not differ) or a metric")
    labels = run_labels(found)
    records = []
    ticks = []
    for axis in axes:
        is_metric = metric is not None and axis == metric and axis not in params
        raw = [r.data.metrics.get(axis) if is_metric else r.data.params.get(axis) for r in found]
        numbers, numeric = _param_column([None if v is None else str(v) for v in raw])
        if numeric:
            present = [v for v in numbers if v is not None]
            lo, hi = (min(present), max(present)) if present else (0.0, 1.0)
            scaled = [None if v is None else (0.5 if hi == lo else (v - lo) / (hi - lo)) for v in numbers]
            ticks += [{"axis": axis, "pos": 0.0 if hi != lo else 0.5, "label": f"{lo:.6g}"},
                      {"axis": axis, "pos": 1.0, "label": f"{hi:.6g}"}][: 1 if hi == lo else 2]  # fmt: skip
        else:
            levels = sorted({v for v in raw if v is not None})
            spot = {v: (0.5 if len(levels) == 1 else i / (len(levels) - 1)) for i, v in enumerate(levels)}
            scaled = [None if v is None else spot[v] for v in raw]
            ticks += [{"axis": axis, "pos": spot[v], "label": str(v)[:20]} for v in levels]
        for run, value, pos in zip(found, raw, scaled, strict=True):
            records.append({"run": labels[run.info.run_id], "axis": axis, "pos": pos,
                            "raw": None if value is None else f"{value:.6g}" if isinstance(value, float) else str(value),
                            "metric": run.data.metrics.get(metric) if metric else None})  # fmt: skip
    frame = pd.DataFrame(records)
    x = alt.X("axis:N", sort=axes, title=None, axis=alt.Axis(labelAngle=0, domain=False, ticks=False, orient="top"))
    y = alt.Y("pos:Q", axis=None, scale=alt.Scale(domain=[0, 1]))
    color: Any = (alt.Color("metric:Q", title=metric, scale=alt.Scale(scheme="viridis"))
                  if metric else _color(list(labels.values())))  # fmt: skip
    lines = alt.Chart(_inline(frame)).mark_line(opacity=0.7).encode(
        x=x, y=y, detail="run:N", color=color,
        tooltip=["run:N", "axis:N", alt.Tooltip("raw:N", title="value")],
    )  # fmt: skip
    rules = alt.Chart(alt.Data(values=[{"axis": a} for a in axes])).mark_rule(color="#999").encode(x=x)
    text = alt.Chart(alt.Data(values=ticks)).mark_text(align="left", dx=3, fontSize=10, color="#555").encode(
        x=x, y=y, text="label:N"
    )
    return alt.layer(rules, lines, text).properties(
        width=width, height=height, title="parallel coordinates" + (f" (colour: {metric})" if metric else "")
    )


def final_metrics(
    runs: RunsLike,
    metrics: Sequence[str] | None = None,
    width: int = 260,
    height: int = 200,
    client: Client | None = None,
) -> AnyChart:
    """Bars of each run's final (latest) value, one panel per metric (default: every metric logged)."""
    found = resolve_runs(runs, client)
    keys = list(metrics) if metrics is not None else sorted({k for r in found for k in r.data.metrics})
    for key in keys:
        _check_metric(found, key)
    if not keys:
        raise InvalidInput("these runs logged no metrics to compare")
    labels = run_labels(found)
    frame = pd.DataFrame(
        [{"run": labels[r.info.run_id], "metric": k, "value": r.data.metrics.get(k)} for k in keys for r in found]
    )
    order = list(labels.values())
    bars = alt.Chart().mark_bar().encode(
        x=alt.X("run:N", sort=order, title=None, axis=alt.Axis(labelAngle=-40, labelLimit=90)),
        y=alt.Y("value:Q", title=None),
        color=_color(order),
        tooltip=["run:N", "metric:N", alt.Tooltip("value:Q", format=".6g")],
    ).properties(width=width, height=height)  # fmt: skip
    return alt.FacetChart(
        data=_inline(frame), spec=bars, facet=alt.Facet("metric:N", sort=keys, title=None),
        columns=min(3, len(keys)),
    ).resolve_scale(y="independent").properties(title="final metrics")  # fmt: skip


# ---- params table --------------------------------------------------------------


def _param_differs(runs: Sequence[Run]) -> dict[str, bool]:
    keys = sorted({k for r in runs for k in r.data.params})
    return {k: len({r.data.params.get(k) for r in runs}) > 1 for k in keys}


@dataclass(frozen=True)
class ParamsDiff:
    """Params side by side (a row per param, a column per run); ``differs`` marks rows that differ.

    Displays as an HTML table whose differing values are highlighted.
    """

    frame: pd.DataFrame
    differs: dict[str, bool]

    def _repr_html_(self) -> str:
        from .display import html_table

        if self.frame.empty:
            return "<p><i>no params</i></p>"
        rows = [[key, *[("" if pd.isna(v) else str(v)) for v in self.frame.loc[key]]] for key in self.frame.index]
        marked = {i for i, key in enumerate(self.frame.index) if self.differs.get(key)}
        return html_table(["param", *map(str, self.frame.columns)], rows, highlight_rows=marked,
                          caption="params (highlighted: differ between runs)")  # fmt: skip


def params_diff(runs: RunsLike, only_differences: bool = False, client: Client | None = None) -> ParamsDiff:
    """Every param of these runs side by side, the differing ones highlighted (or only those)."""
    found = resolve_runs(runs, client)
    differs = _param_differs(found)
    keys = [k for k, d in differs.items() if d or not only_differences]
    labels = run_labels(found)
    frame = pd.DataFrame(
        {labels[r.info.run_id]: [r.data.params.get(k) for k in keys] for r in found}, index=pd.Index(keys, name="param")
    )
    return ParamsDiff(frame, {k: differs[k] for k in keys})
