"""Altair charts over runs: metric histories, param against metric, parallel coordinates, final metrics.

Every function takes runs as ids, ``Run`` objects, a ``search_runs``
DataFrame or a filter string, and returns an ``alt.Chart`` whose data is
inlined (so it renders offline and saves with ``chart.save("x.png")``).
Long histories are downsampled here, in Python, to a bounded number of
points per line (min and max of each bucket, so spikes survive): a chart of
100 runs x 10,000 steps ships about ``config.CHART_MAX_POINTS`` points, not 1M,
and so does a chart of 1,000 runs (#14).

Importing this module switches altair to its ``mimetype`` renderer when it is
still on altair's default: JupyterLab renders that vega-lite v5 output itself,
offline and even in an untrusted notebook (a CDN renderer would not).
"""

from __future__ import annotations

import html
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
    "RunList", "chart_data", "differing_cells", "downsample", "drift", "drift_frame", "enable_renderer",
    "final_metrics", "log_sampled", "metric_history", "param_vs_metric", "parallel_coordinates", "params_diff",
    "resolve_runs", "run_labels", "traffic_frame",
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


class RunList(list):  # type: ignore[type-arg]
    """Runs already read from the store: the chart functions take them as they are, without reading again."""


_FETCH_CHUNK = 500  # run ids per IN (...) query


def _fetch_runs(c: Client, run_ids: list[str]) -> dict[str, Run]:
    # One search per chunk of ids instead of one get_run each (1,000 runs: 1.5 s -> ~0.1 s).
    from ..entities import ViewType

    experiment_ids = [e.experiment_id for e in c.search_experiments(ViewType.ALL)]
    found: dict[str, Run] = {}
    for first in range(0, len(run_ids), _FETCH_CHUNK):
        chunk = run_ids[first:first + _FETCH_CHUNK]
        quoted = ", ".join(f"'{run_id}'" for run_id in chunk)  # checked as 32 hex digits by the caller
        for run in c.search_runs(experiment_ids, f"attributes.run_id IN ({quoted})", ViewType.ALL,
                                 max_results=len(chunk)):  # fmt: skip
            found[run.info.run_id] = run
    return found


def resolve_runs(runs: RunsLike, client: Client | None = None, max_runs: int = 100) -> RunList:
    """The ``Run`` objects meant by ``runs``, in the order given (newest first for a filter).

    ``runs`` may be a run id, a ``Run`` (or ``ActiveRun``, or ``genai.evaluate``'s
    result), a list of those, a
    DataFrame with a ``run_id`` column (what ``search_runs`` returns), or a
    filter string searched across every active experiment (at most
    ``max_runs`` runs). Runs are read again from the store (so they are
    current), except a ``RunList`` this function returned, which is passed through.
    """
    if isinstance(runs, RunList):
        return runs
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
            return RunList(c.search_runs(ids, runs, max_results=max_runs) if ids else [])
    elif isinstance(runs, Sequence):
        items = list(runs)
    else:
        items = [runs]
    wanted: list[str] = []
    for item in items:
        run_id = item if isinstance(item, str) else getattr(getattr(item, "info", None), "run_id", None)
        if run_id is None and isinstance(getattr(item, "run_id", None), str):  # genai.evaluate's result
            run_id = item.run_id
        if run_id is None:
            raise InvalidInput(f"cannot tell which run {item!r} is: pass run ids, Run objects or a DataFrame")
        if not _RUN_ID.match(run_id):
            raise NotFound(f"no run with id {run_id!r}: check the id, or search with lc.search_runs()")
        if run_id not in wanted:
            wanted.append(run_id)
    found = _fetch_runs(c, wanted)
    for run_id in wanted:
        if run_id not in found:
            raise NotFound(f"no run with id {run_id!r}: check the id, or search with lc.search_runs()")
    return RunList(found[run_id] for run_id in wanted)


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


def _series_budget(series_count: int, max_points: int | None) -> tuple[int, int]:
    """Points per line and how many lines to draw, so that a chart ships at most ``CHART_MAX_POINTS`` points.

    Each line keeps at least 4 points (first, last, a low and a high); past
    ``CHART_MAX_POINTS / 4`` lines only the first ones are drawn (#14: the
    bound held up to 100 lines, and 1,000 runs shipped 200,000 points).
    An explicit ``max_points`` is a bound per line, chosen by the caller.
    """
    if max_points is not None:
        return max(4, int(max_points)), series_count
    per_series = min(config.CHART_SERIES_POINTS, config.CHART_MAX_POINTS // max(1, series_count))
    if per_series >= 4:
        return per_series, series_count
    return 4, config.CHART_MAX_POINTS // 4


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
    """The downsampled points ``metric_history`` draws: columns run, metric, x, value (and smoothed).

    ``frame.attrs["lines"]`` is the number of (run, metric) histories found,
    ``frame.attrs["drawn"]`` how many of them the frame holds (fewer only past
    ``CHART_MAX_POINTS / 4`` lines).
    """
    if x not in X_AXES:
        raise InvalidInput(f"x must be one of {', '.join(X_AXES)}, not {x!r}")
    if not 0 <= smoothing < 1:
        raise InvalidInput(f"smoothing must be in [0, 1) (0 = none, 0.9 = strong), not {smoothing!r}")
    c = _client(client)
    labels = run_labels(runs)
    starts = {r.info.run_id: r.info.start_time for r in runs}
    ids = [r.info.run_id for r in runs]
    # The one bulk read of histories (a columnar read path can replace it here).
    rows = c.store.tracking.metric_series(ids, list(keys), timestamps=x != "step") if runs and keys else []
    position = {r.info.run_id: i for i, r in enumerate(runs)}
    key_position = {k: i for i, k in enumerate(keys)}
    rows = sorted(rows, key=lambda row: (position[row[0]], key_position[row[1]]))  # as given, not by id
    budget, drawn = _series_budget(len(rows), max_points)
    run_parts, metric_parts, x_parts, value_parts, smooth_parts = [], [], [], [], []
    for run_id, key, _count, steps_text, times_text, values_text in rows[:drawn]:
        steps = np.fromstring(steps_text, sep=",", dtype=np.int64)
        times = np.fromstring(times_text, sep=",", dtype=np.int64) if times_text else np.zeros_like(steps)
        values = np.fromstring(values_text, sep=",")
        order = np.lexsort((times, steps))
        steps, times, values = steps[order], times[order], values[order]
        smoothed = _smooth(values, smoothing) if smoothing else None
        keep = downsample(values if smoothed is None else smoothed, budget)
        if x == "step":
            x_parts.append(steps[keep])
        elif x == "time":
            x_parts.append(times[keep])
        else:
            x_parts.append((times[keep] - starts[run_id]) / 1000.0)
        value_parts.append(values[keep])
        if smoothed is not None:
            smooth_parts.append(smoothed[keep])
        run_parts.append((labels[run_id], len(keep)))
        metric_parts.append((key, len(keep)))
    columns = ["run", "metric", x, "value"] + (["smoothed"] if smoothing else [])
    if not run_parts:
        frame = pd.DataFrame(columns=columns)
    else:
        data: dict[str, Any] = {
            "run": np.repeat([label for label, _ in run_parts], [n for _, n in run_parts]),
            "metric": np.repeat([key for key, _ in metric_parts], [n for _, n in metric_parts]),
            x: np.concatenate(x_parts),
            "value": np.concatenate(value_parts),
        }
        if smoothing:
            data["smoothed"] = np.concatenate(smooth_parts)
        frame = pd.DataFrame(data, columns=columns)
    frame.attrs["lines"] = len(rows)
    frame.attrs["drawn"] = min(drawn, len(rows))
    return frame


def _smooth(values: np.ndarray, weight: float) -> np.ndarray:
    # TensorBoard's and MLflow's debiased exponential moving average; pandas'
    # ewm(adjust=True) is exactly that.
    return pd.Series(values).ewm(alpha=1 - weight, adjust=True, ignore_na=True).mean().to_numpy()


# ---- charts ------------------------------------------------------------------


def _color(labels: Sequence[str]) -> alt.Color:
    # labelLimit=0: full run names in the legend (vega-lite cuts them at 160 px by default)
    return alt.Color("run:N", scale=alt.Scale(domain=list(labels)),
                     legend=alt.Legend(title="run", symbolLimit=30, symbolOpacity=1, labelLimit=0))  # fmt: skip


def _history_panel(
    key: str, x: str, smoothing: float, log_scale: bool, labels: Sequence[str], highlight: Any
) -> alt.LayerChart:
    """One metric's lines; a history of a single point is drawn as a point (a line needs two)."""
    x_type = {"step": "step:Q", "time": "time:T", "relative": "relative:Q"}[x]
    x_title = {"step": "step", "time": "time", "relative": "seconds since run start"}[x]
    y_scale = alt.Scale(type="log") if log_scale else alt.Scale(zero=False)
    shown = "smoothed" if smoothing else "value"
    base = alt.Chart().encode(
        x=alt.X(x_type, title=x_title),
        y=alt.Y(f"{shown}:Q", scale=y_scale, title=key),
        color=_color(labels),
        tooltip=["run:N", x_type, alt.Tooltip("value:Q", title=key, format=".6g")],
    )
    dimmed = alt.condition(highlight, alt.value(1.0), alt.value(0.15))
    layers = []
    if smoothing:
        layers.append(base.mark_line(opacity=0.25).encode(y=alt.Y("value:Q", scale=y_scale, title=key)))
    layers.append(base.mark_line().encode(opacity=dimmed))
    single = (base.mark_point(filled=True, size=60).encode(opacity=dimmed)
              .transform_joinaggregate(points="count()", groupby=["run"]).transform_filter("datum.points == 1"))  # fmt: skip
    layers.append(single)
    return alt.layer(*layers).transform_filter(alt.datum.metric == key)


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
    """A line per run of metric ``key`` (a list of keys gives one panel each, its y axis titled with the metric).

    ``x`` is ``"step"``, ``"time"`` (wall clock) or ``"relative"`` (seconds
    since the run started). ``smoothing`` in [0, 1) draws the debiased
    exponential moving average over the faint raw line, as TensorBoard and
    MLflow do. ``log_scale`` uses a log y axis (values <= 0 are left out).
    ``max_points`` caps the points per line (default: a share of
    ``config.CHART_MAX_POINTS``). A history of one point shows as a point.
    Click a legend entry to highlight a run.
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
    x_title = {"step": "step", "time": "time", "relative": "seconds since run start"}[x]
    keys = [k for k in keys if k in set(frame["metric"])]  # no empty panel for a metric nobody logged
    title = f"{', '.join(keys)} by {x_title}"
    if frame.attrs["drawn"] < frame.attrs["lines"]:
        title += f" (first {frame.attrs['drawn']:,} of {frame.attrs['lines']:,} lines)"
    highlight = alt.selection_point(fields=["run"], bind="legend")
    if len(keys) == 1:
        panel = _history_panel(keys[0], x, smoothing, log_scale, labels, highlight)
        return alt.layer(*panel.layer, data=_inline(frame)).add_params(highlight).properties(
            width=width, height=height, title=title
        )
    panels = [
        _history_panel(k, x, smoothing, log_scale, labels, highlight).properties(
            width=width // 2, height=height * 2 // 3, title=k
        )
        for k in keys
    ]
    panels[0] = panels[0].add_params(highlight)
    return alt.concat(*panels, columns=2, data=_inline(frame)).resolve_scale(color="shared").properties(title=title)


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


def log_sampled(values: Sequence[float | None]) -> bool:
    """Whether numbers look sampled on a log scale: all positive and spanning at least two decades."""
    present = [v for v in values if v is not None and math.isfinite(v)]
    return len(present) > 1 and min(present) > 0 and max(present) / min(present) >= 100


MAX_RUN_COLOURS = 10
"""Above this many runs, colouring by run repeats colours: points get one colour (or ``color=PARAM``)."""


def param_vs_metric(
    runs: RunsLike,
    param: str,
    metric: str,
    stat: str = "last",
    color: str | None = None,
    log_x: bool | None = None,
    log_y: bool = False,
    width: int = 420,
    height: int = 280,
    client: Client | None = None,
) -> AnyChart:
    """A point per run: param ``param`` on x (numeric when it parses as numbers), metric on y.

    ``stat`` picks the metric value: ``"last"`` (default), ``"min"`` or ``"max"``
    over the run's history. ``color`` names a param to colour the points by
    (default: by run up to ``MAX_RUN_COLOURS`` runs, else one colour). ``log_x``
    defaults to a log axis when the param looks log-sampled (all positive,
    two decades or more); ``log_y`` puts the metric on a log axis.
    """
    found = resolve_runs(runs, client)
    _check_param(found, param)
    _check_metric(found, metric)
    if color is not None:
        _check_param(found, color)
    labels = run_labels(found)
    xs, numeric = _param_column([r.data.params.get(param) for r in found])
    data: dict[str, Any] = {
        "run": [labels[r.info.run_id] for r in found],
        "param": xs,
        "metric": _metric_values(found, metric, stat, client),
    }
    colour_values, colour_numeric = ([], False) if color is None else _param_column(
        [r.data.params.get(color) for r in found])  # fmt: skip
    if color is not None:
        data["colour"] = colour_values
    frame = pd.DataFrame(data)
    frame = frame[frame["param"].notna() & frame["metric"].notna()]
    if log_x is None:
        log_x = numeric and log_sampled(list(frame["param"]))
    if log_x and not numeric:
        raise InvalidInput(f"param {param!r} is not numeric: it cannot go on a log axis (log_x=False)")
    x_scale = alt.Scale(type="log") if log_x else alt.Scale(zero=False)
    x = alt.X("param:Q" if numeric else "param:N", title=param + (" (log)" if log_x else ""),
              scale=x_scale if numeric else alt.Undefined)  # fmt: skip
    title = metric if stat == "last" else f"{stat}({metric})"
    y_scale = alt.Scale(type="log") if log_y else alt.Scale(zero=False)
    tooltip = ["run:N", alt.Tooltip("param:Q" if numeric else "param:N", title=param),
               alt.Tooltip("metric:Q", title=title, format=".6g")]  # fmt: skip
    encoding: dict[str, Any] = {"x": x, "y": alt.Y("metric:Q", title=title, scale=y_scale)}
    if color is not None:
        encoding["color"] = (alt.Color("colour:Q", title=color, scale=alt.Scale(scheme="viridis",
                                       type="log" if log_sampled(list(frame["colour"])) else "linear"))
                             if colour_numeric else alt.Color("colour:N", title=color))  # fmt: skip
        tooltip.append(alt.Tooltip("colour:Q" if colour_numeric else "colour:N", title=color))
    elif len(found) <= MAX_RUN_COLOURS:
        encoding["color"] = _color(list(labels.values()))
    return alt.Chart(_inline(frame)).mark_point(filled=True, size=80).encode(**encoding, tooltip=tooltip).properties(
        width=width, height=height, title=f"{title} by {param}" + (f", colour: {color}" if color else "")
    )


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round values between ``lo`` and ``hi`` for axis ticks (1, 2 or 5 times a power of ten apart)."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _axis_positions(raw: list[Any], log: bool) -> tuple[list[float | None], list[tuple[float, str]]]:
    """Each value's position in [0, 1] on its axis, and ``(position, label)`` ticks for the axis."""
    numbers, numeric = _param_column([None if v is None else str(v) for v in raw])
    if not numeric:
        levels = sorted({str(v) for v in raw if v is not None})
        spot = {v: (0.5 if len(levels) == 1 else i / (len(levels) - 1)) for i, v in enumerate(levels)}
        return [None if v is None else spot[str(v)] for v in raw], [(spot[v], v[:20]) for v in levels]
    present = [v for v in numbers if v is not None]
    if not present:
        return [None for _ in raw], []
    if log:
        numbers = [None if v is None else math.log10(v) for v in numbers]
        present = [math.log10(v) for v in present]
    lo, hi = min(present), max(present)
    if hi == lo:
        value = 10**lo if log else lo
        return [None if v is None else 0.5 for v in numbers], [(0.5, f"{value:.6g}")]
    positions: list[float | None] = [None if v is None else (v - lo) / (hi - lo) for v in numbers]
    if log:
        decades = range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1)
        ticks = [((d - lo) / (hi - lo), f"{10.0 ** d:g}") for d in decades]
    else:
        ticks = [((t - lo) / (hi - lo), f"{t:.6g}") for t in _nice_ticks(lo, hi)]
    return positions, ticks


def parallel_coordinates(
    runs: RunsLike,
    params: Sequence[str] | None = None,
    metric: str | None = None,
    log_axes: Sequence[str] | None = None,
    width: int = 620,
    height: int = 300,
    client: Client | None = None,
) -> AnyChart:
    """A line per run across one vertical axis per param, then the metric; colour is the metric.

    Each axis is scaled to its own range with round tick values (text params
    are spaced evenly in sorted order). ``log_axes`` names the axes drawn on
    a log scale (default: the numeric ones that look log-sampled, all positive
    over two decades or more). Each axis has its own brush: drag up or down
    along an axis to keep the runs whose value there lies inside the band; a
    run stays bright while it is inside every brush set, the others fade;
    double-click an axis to clear its brush. ``params`` defaults to the params
    whose values differ between the runs.
    """
    found = resolve_runs(runs, client)
    if params is None:
        params = [k for k, differs in _param_differs(found).items() if differs]
    params = list(params)
    for p in params:
        _check_param(found, p)
    if metric is not None:
        _check_metric(found, metric)
    axes = params + ([metric] if metric and metric not in params else [])
    if not axes:
        raise InvalidInput("parallel_coordinates needs params (these runs' params do not differ) or a metric")
    labels = run_labels(found)
    records = []
    ticks = []
    logs = []
    for index, axis in enumerate(axes):
        is_metric = metric is not None and axis == metric and axis not in params
        raw = [r.data.metrics.get(axis) if is_metric else r.data.params.get(axis) for r in found]
        numbers, numeric = _param_column([None if v is None else str(v) for v in raw])
        log = (axis in log_axes) if log_axes is not None else (numeric and log_sampled(numbers))
        if log and not (numeric and all(v is None or v > 0 for v in numbers)):
            raise InvalidInput(f"axis {axis!r} has values that are not positive numbers: it cannot be on a log scale")
        if log:
            logs.append(axis)
        positions, axis_ticks = _axis_positions(raw, log)
        ticks += [{"i": index, "pos": pos, "label": label} for pos, label in axis_ticks]
        for run, value, pos in zip(found, raw, positions, strict=True):
            records.append({"run": labels[run.info.run_id], "axis": axis, "i": index, "pos": pos,
                            "raw": None if value is None else f"{value:.6g}" if isinstance(value, float) else str(value),
                            "metric": run.data.metrics.get(metric) if metric else None})  # fmt: skip
    frame = pd.DataFrame(records)
    names = [a + (" (log)" if a in logs else "") for a in axes]
    label_expr = "[" + ", ".join(_js_string(n) for n in names) + "][datum.value]"
    x_scale = alt.Scale(domain=[-0.15, len(axes) - 0.5], nice=False, zero=False)
    # A margin above and below the extremes: a brush started at an axis's end can take in its end value.
    y_scale = alt.Scale(domain=[-0.04, 1.04], nice=False)
    x = alt.X("i:Q", title=None, scale=x_scale,
              axis=alt.Axis(values=list(range(len(axes))), labelExpr=label_expr, orient="top", grid=False,
                            domain=False, ticks=False, labelPadding=14, labelFontWeight="bold",
                            labelAngle=0, labelLimit=160))  # fmt: skip
    y = alt.Y("pos:Q", axis=None, scale=y_scale)
    brushes = _axis_brushes(len(axes), width)
    colour: Any = (alt.Color("metric:Q", title=metric, scale=alt.Scale(scheme="viridis"))
                   if metric else _color(list(labels.values())))  # fmt: skip
    # A run is kept when, for every brush set, its point on that brush's axis is inside it.
    kept = " && ".join(f"(!length(data('brush_{k}_store')) || datum.hits_{k} > 0)" for k in range(len(axes)))
    lines = alt.Chart().mark_line(strokeWidth=1.5).encode(
        x=x, y=y, detail="run:N", color=colour,
        opacity=alt.condition(kept, alt.value(0.85), alt.value(0.08)),
        tooltip=["run:N", "axis:N", alt.Tooltip("raw:N", title="value")],
    )  # fmt: skip
    for k in range(len(axes)):
        lines = lines.transform_calculate(**{f"hit_{k}": f"datum.i == {k} && vlSelectionTest('brush_{k}_store', datum) ? 1 : 0"})
    lines = lines.transform_joinaggregate(
        [alt.AggregatedFieldDef(op="sum", field=f"hit_{k}", **{"as": f"hits_{k}"}) for k in range(len(axes))],
        groupby=["run"],
    )
    points = alt.Chart().mark_circle(size=18, color="#555", opacity=0.6).encode(x=x, y=y).add_params(*brushes)
    rules = alt.Chart(alt.Data(values=[{"i": i} for i in range(len(axes))])).mark_rule(color="#999").encode(x=x)
    text = alt.Chart(alt.Data(values=ticks)).mark_text(align="left", dx=4, fontSize=10, color="#555").encode(
        x=x, y=y, text="label:N"
    )
    # The selections' own marks span the whole width; each brush is drawn as a band on its axis instead.
    band_of = " : ".join(f"datum.i == {k} ? brush_{k}" for k in range(len(axes))) + " : {}"
    bands = alt.Chart(alt.Data(values=[{"i": i} for i in range(len(axes))])).mark_rect(
        color="#4c78a8", opacity=0.25, stroke="#4c78a8"
    ).transform_calculate(band=band_of).transform_filter("isValid(datum.band.pos)").transform_calculate(
        lo="datum.band.pos[0]", hi="datum.band.pos[1]", left="datum.i - 0.06", right="datum.i + 0.06"
    ).encode(x=alt.X("left:Q", scale=x_scale), x2="right:Q", y=alt.Y("lo:Q", scale=y_scale, axis=None), y2="hi:Q")  # fmt: skip
    return alt.layer(rules, lines, points, bands, text, data=_inline(frame)).properties(
        width=width, height=height,
        title="parallel coordinates" + (f" (colour: {metric})" if metric else "") + " · drag along an axis to brush",
    )  # fmt: skip


def _axis_brushes(count: int, width: int) -> list[Any]:
    """One interval selection on ``pos`` per axis, started only by a drag near that axis.

    The x scale maps axis ``i`` to ``(i + 0.15) / (count - 0.35)`` of the width
    (its domain is ``[-0.15, count - 0.5]``); a drag starting within half the
    gap to the next axis (at most 20 px) belongs to that axis.
    """
    gap = width / (count - 0.35)
    reach = min(20.0, gap / 2)
    brushes = []
    for k in range(count):
        centre = (k + 0.15) * gap
        near = f"x() >= {centre - reach:.1f} && x() <= {centre + reach:.1f}"
        brushes.append(alt.selection_interval(
            name=f"brush_{k}", encodings=["y"], translate=False, zoom=False,
            on=f"[mousedown[{near}], window:mouseup] > window:mousemove!", clear=f"dblclick[{near}]",
            mark=alt.BrushConfig(fillOpacity=0, strokeOpacity=0),
        ))  # fmt: skip
    return brushes


def _js_string(text: str) -> str:
    import json

    return json.dumps(text)


def _bar_scale(values: Sequence[float | None]) -> alt.Scale:
    """A bar axis from 0, unless the bars differ by under 20% of their size: then zoomed on them.

    0.95 against 0.96 on an axis from 0 look equal; zoomed, the difference shows.
    """
    present = [v for v in values if v is not None and math.isfinite(v)]
    if len(present) < 2:
        return alt.Scale(zero=True)
    lo, hi = min(present), max(present)
    size = max(abs(lo), abs(hi))
    if size == 0 or (hi - lo) >= 0.2 * size or (lo < 0 < hi):
        return alt.Scale(zero=True)
    pad = (hi - lo) * 0.5 or size * 0.01
    return alt.Scale(zero=False, domain=[lo - pad, hi + pad], clamp=True)


def final_metrics(
    runs: RunsLike,
    metrics: Sequence[str] | None = None,
    width: int = 260,
    height: int = 200,
    client: Client | None = None,
) -> AnyChart:
    """Bars of each run's final (latest) value, one panel per metric (default: every metric logged).

    Each panel's y axis is titled with its metric and starts at 0 unless the
    values are too close for that to show their differences (then it is zoomed).
    """
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
    panels = []
    for key in keys:
        scale = _bar_scale([r.data.metrics.get(key) for r in found])
        panels.append(alt.Chart().mark_bar().encode(
            x=alt.X("run:N", sort=order, title=None, axis=alt.Axis(labelAngle=-40, labelLimit=200)),
            y=alt.Y("value:Q", title=key, scale=scale),
            color=_color(order),
            tooltip=["run:N", alt.Tooltip("value:Q", title=key, format=".6g")],
        ).transform_filter(alt.datum.metric == key).properties(width=width, height=height, title=key))  # fmt: skip
    return alt.concat(*panels, columns=min(3, len(keys)), data=_inline(frame)).properties(title="final metrics")


# ---- params table --------------------------------------------------------------


def _param_differs(runs: Sequence[Run]) -> dict[str, bool]:
    keys = sorted({k for r in runs for k in r.data.params})
    return {k: len({r.data.params.get(k) for r in runs}) > 1 for k in keys}


def differing_cells(row: Sequence[Any]) -> list[int]:
    """Positions in ``row`` whose value differs from the row's most common one (ties: the first value seen).

    In a sweep only the runs that changed a param are marked, not the whole row.
    """
    text = ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in row]
    counts = pd.Series(text).value_counts(sort=False)
    common = max(counts.index, key=lambda v: (counts[v], -text.index(v)))
    return [i for i, v in enumerate(text) if v != common]


@dataclass(frozen=True)
class ParamsDiff:
    """Params side by side (a row per param, a column per run); ``differs`` marks rows that differ.

    Displays as an HTML table where a differing row's name is bold and the
    values that differ from the row's most common value are highlighted.
    """

    frame: pd.DataFrame
    differs: dict[str, bool]

    def _repr_html_(self) -> str:
        from .display import Html, html_table

        if self.frame.empty:
            return "<p><i>no params</i></p>"
        rows: list[list[Any]] = []
        cells: list[tuple[int, int]] = []
        for i, key in enumerate(self.frame.index):
            values = ["" if pd.isna(v) else str(v) for v in self.frame.loc[key]]
            differs = self.differs.get(key, False)
            rows.append([Html(f"<b>{html.escape(key)}</b>") if differs else key, *values])
            if differs:
                cells += [(i, j + 1) for j in differing_cells(values)]
        return html_table(["param", *map(str, self.frame.columns)], rows, highlight_cells=cells,
                          caption="params (bold: differ between runs; highlighted: values that differ from the rest)")  # fmt: skip


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


# ---- drift and traffic of a served model (issue #16, part 4) -------------------------------------

DRIFT_BINS = 20
DRIFT_TOP_CATEGORIES = 20


def _training_frame(model_name: str, version: str | None, training: Any) -> tuple[pd.DataFrame | None, str]:
    """The training data to compare with, and what it is: given, or the version's logged training dataset."""
    if training is not None:
        frame = getattr(training, "df", training)  # a PandasDataset or a DataFrame
        if not isinstance(frame, pd.DataFrame):
            raise InvalidInput(f"training must be a DataFrame or an lc.data.from_pandas dataset, not {type(training).__name__}")
        return frame, "training (given)"
    if version is None:
        return None, "no version served"
    import json
    from pathlib import Path

    from ..client import Client

    client = Client()
    run_id = client.get_model_version(model_name, version).run_id
    if not run_id:
        return None, f"version {version} has no run"
    for item in client.get_run(run_id).inputs.dataset_inputs:
        context = {t.key: t.value for t in item.tags}.get("mlflow.data.context")
        if context not in ("training", "train"):
            continue
        uri = json.loads(item.dataset.source or "{}").get("uri") if item.dataset.source_type == "local" else None
        path = Path(uri.removeprefix("file://")) if uri else None
        if path is not None and path.is_file() and path.suffix in (".csv", ".parquet", ".pq"):
            data = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
            return data, f"training ({item.dataset.name}, {path.name})"
        return None, (f"training dataset {item.dataset.name!r} of version {version} is not a CSV or Parquet file "
                      "here: pass training=")  # fmt: skip
    return None, f"version {version}'s run logged no training dataset (lc.log_input(..., context='training'))"


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two share vectors (0: same; > 0.2 is commonly read as drift)."""
    e, a = np.clip(expected, 1e-4, None), np.clip(actual, 1e-4, None)
    return float(np.sum((a - e) * np.log(a / e)))


def drift_frame(served: pd.DataFrame, training: pd.DataFrame | None,
                features: Sequence[str] | None = None) -> pd.DataFrame:  # fmt: skip
    """Per-feature distributions (share of rows per bin or category) of served inputs and training data.

    Columns: feature, bin (label), x (bin middle, NaN for categories), share,
    data (``served`` or ``training``), psi (per feature, when training is given).
    Numeric features share bin edges over both sides.
    """
    columns = list(features) if features is not None else [c for c in served.columns]
    missing = [c for c in columns if c not in served.columns]
    if missing:
        raise InvalidInput(f"no served input column {missing[0]!r}; the served columns: {', '.join(map(str, served.columns))}")
    rows: list[dict[str, Any]] = []
    for column in columns:
        sides = {"served": served[column].dropna()}
        if training is not None and column in training.columns:
            sides["training"] = training[column].dropna()
        numeric = all(pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) for s in sides.values())
        shares: dict[str, np.ndarray] = {}
        if numeric:
            values = np.concatenate([s.to_numpy(dtype=float) for s in sides.values()])
            low, high = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
            edges = np.linspace(low, high if high > low else low + 1, DRIFT_BINS + 1)
            middles = (edges[:-1] + edges[1:]) / 2
            labels = [f"{a:.4g}–{b:.4g}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
            for name, side in sides.items():
                counts, _ = np.histogram(side.to_numpy(dtype=float), bins=edges)
                shares[name] = counts / max(1, counts.sum())
        else:
            top = pd.concat(list(sides.values())).astype(str).value_counts().index[:DRIFT_TOP_CATEGORIES].tolist()
            labels, middles = top, np.full(len(top), np.nan)
            for name, side in sides.items():
                counts = side.astype(str).value_counts().reindex(top, fill_value=0).to_numpy()
                shares[name] = counts / max(1, len(side))
        psi = _psi(shares["training"], shares["served"]) if "training" in shares else np.nan
        for name, share in shares.items():
            rows += [{"feature": str(column), "bin": label, "x": x, "share": float(s), "data": name, "psi": psi}
                     for label, x, s in zip(labels, middles, share, strict=True)]  # fmt: skip
    return pd.DataFrame(rows, columns=["feature", "bin", "x", "share", "data", "psi"])


def traffic_frame(log: pd.DataFrame, buckets: int = 50) -> pd.DataFrame:
    """Requests per time bucket: start, requests, errors (status >= 400), latency p50 and p99 (ms)."""
    if log.empty:
        return pd.DataFrame(columns=["start", "requests", "errors", "latency_p50_ms", "latency_p99_ms"])
    span = (log.timestamp.max() - log.timestamp.min()).total_seconds()
    width = pd.Timedelta(seconds=max(1.0, math.ceil(span / buckets)))
    grouped = log.groupby(log.timestamp.dt.floor(width))
    frame = pd.DataFrame({
        "requests": grouped.size(),
        "errors": grouped.status_code.apply(lambda s: int((s >= 400).sum())),
        "latency_p50_ms": grouped.latency_ms.quantile(0.5),
        "latency_p99_ms": grouped.latency_ms.quantile(0.99),
    })  # fmt: skip
    frame.index.name = "start"
    return frame.reset_index()


def drift(model: str, version: str | int | None = None, training: Any = None, since: Any = None,
          features: Sequence[str] | None = None) -> alt.VConcatChart:  # fmt: skip
    """A served model's inputs against its training data, and its traffic: one inline chart.

    Top: per feature, the distribution of the inputs the endpoints served
    (``lc.inference_log``) against the training data, with the population
    stability index in the title (> 0.2 is commonly read as drift). The
    training data is ``training`` (a DataFrame or an ``lc.data`` dataset) or
    else the dataset the version's run logged with context ``training`` when
    its source is a CSV or Parquet file. Below: requests and errors over
    time, and latency p50/p99. ``model`` is a registered model name or an
    endpoint id; ``version`` defaults to the newest version served.
    """
    from ..serving import inference_log

    log = inference_log(model, version=version, since=since)
    if log.empty:
        raise NotFound(f"no logged requests for {model!r}{f' version {version}' if version is not None else ''}: "
                       "serve it with lc.serve(..., log_requests=True) and send requests")  # fmt: skip
    served_version = str(version) if version is not None else str(log.model_version.dropna().iloc[-1])
    name = str(log.model_name.dropna().iloc[-1]) if log.model_name.notna().any() else model
    ok = log[log.status_code < 400]
    served = pd.concat(list(ok.inputs), ignore_index=True) if len(ok) else pd.DataFrame()
    reference, described = _training_frame(name, served_version, training)
    frame = drift_frame(served, reference, features)
    frame["panel"] = [f"{f} (PSI {p:.2f})" if not np.isnan(p) else f for f, p in zip(frame.feature, frame.psi, strict=True)]
    base = alt.Chart(_inline(frame)).properties(width=180, height=110)
    numeric = base.mark_line(interpolate="step-after", point=False).encode(
        x=alt.X("bin:N", sort=None, title=None, axis=alt.Axis(labels=False, ticks=False)),
        y=alt.Y("share:Q", title="share of rows"),
        color=alt.Color("data:N", title=None, scale=alt.Scale(domain=["served", "training"])),
        tooltip=["feature:N", "bin:N", "data:N", alt.Tooltip("share:Q", format=".1%")],
    )
    distributions = (
        numeric.facet(facet=alt.Facet("panel:N", title=None), columns=3)
        .resolve_scale(x="independent")
        .properties(title=f"{name} v{served_version}: served inputs ({len(served)} rows) against {described}")
    )
    traffic = traffic_frame(log)
    when = alt.X("start:T", title="time (UTC)")
    volume = alt.Chart(_inline(traffic)).mark_bar().encode(
        x=when, y=alt.Y("requests:Q", title="requests"), tooltip=["start:T", "requests:Q", "errors:Q"]
    ).properties(width=560, height=100, title="volume")
    latency_data = traffic.melt(id_vars=["start"], value_vars=["latency_p50_ms", "latency_p99_ms"], var_name="quantile",
                                value_name="ms")  # fmt: skip
    latency = alt.Chart(_inline(latency_data)).mark_line(point=True).encode(
        x=when, y=alt.Y("ms:Q", title="latency (ms)"), color=alt.Color("quantile:N", title=None)
    ).properties(width=560, height=100, title="latency")
    return alt.vconcat(distributions, volume, latency)
