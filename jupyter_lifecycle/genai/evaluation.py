"""``genai.evaluate``: run an app over rows, judge each row with scorers, log it all (MLflow 3's).

For each row: ``predict_fn(**inputs)`` runs traced (or the row's trace, or a
trace made from its inputs and outputs, is used); every scorer judges it; its
feedback is logged on the row's trace (a scorer that raises gives an error
feedback there, and evaluation goes on); the data's expectations are logged
too. The aggregates (``<scorer>/mean``...) are logged as metrics of a run:
the active one, or a new one.
"""

from __future__ import annotations

import contextvars
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput
from ..tracing import Expectation, Feedback, Trace
from ..tracing import spans as tracing_spans
from ..tracing.assessments import SOURCE_RUN_ID, Assessment
from ..tracing.feedback import log_assessments
from ..tracing.queries import _store
from ..tracking import fluent as tracking
from .datasets import EvaluationDataset
from .scorers.base import AGGREGATIONS, Scorer

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EvaluationResult", "evaluate"]

MAX_SHOWN_ROWS = 20
"""Rows of the results table shown inline; ``tables["eval_results"]`` holds them all."""
PROGRESS_MIN_ROWS = 10
"""Evaluations of at least this many rows show a progress bar (tqdm)."""


@dataclass
class EvaluationResult:
    """What ``evaluate`` returns: the run, the aggregate metrics and one row of results per data row."""

    run_id: str
    metrics: dict[str, float]
    result_df: pd.DataFrame

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """``{"eval_results": result_df}``, as MLflow names it."""
        return {"eval_results": self.result_df}

    def __repr__(self) -> str:
        metrics = ", ".join(f"{k}={v:.3g}" for k, v in self.metrics.items())
        return f"EvaluationResult(run_id={self.run_id!r}, metrics={{{metrics}}}, rows={len(self.result_df)})"

    def _repr_html_(self) -> str:
        """In a notebook: the metrics, then each row's inputs, outputs and scorer values (escaped)."""
        import html

        metrics = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:.4g}</td></tr>" for k, v in self.metrics.items())
        shown = [c for c in self.result_df.columns
                 if c in ("trace_id", "inputs", "outputs", "error_message") or c.endswith("/value")]  # fmt: skip
        rows = self.result_df[shown].head(MAX_SHOWN_ROWS).to_html(index=False, escape=True, na_rep="")
        more = len(self.result_df) - MAX_SHOWN_ROWS
        tail = f"<div>... {more} more rows in <code>tables['eval_results']</code></div>" if more > 0 else ""
        return (
            f'<div class="lc-evaluation"><b>Evaluation</b> run <code>{html.escape(self.run_id)}</code>, '
            f"{len(self.result_df)} rows<table>{metrics}</table>{rows}{tail}</div>"
        )


@dataclass
class _Row:
    inputs: Any = None
    outputs: Any = None
    expectations: dict[str, Any] = field(default_factory=dict)
    trace: Trace | None = None
    tags: dict[str, Any] | None = None
    error_message: str | None = None
    feedbacks: list[Feedback] = field(default_factory=list)
    new_expectations: list[Assessment] = field(default_factory=list)


def _rows(data: Any) -> list[_Row]:
    """The data as rows: a DataFrame, list of dicts or traces, ``search_traces()``'s DataFrame, or a dataset."""
    import pandas as pd

    if isinstance(data, EvaluationDataset):
        return [_Row(r["inputs"], r["outputs"], dict(r["expectations"] or {}), tags=r["tags"]) for r in data.records]
    if isinstance(data, pd.DataFrame):
        if "trace" in data.columns:  # search_traces' DataFrame: its other columns are the trace's own
            keep = [k for k in ("trace", "inputs", "outputs", "expectations", "tags") if k in data.columns]
            data = data[keep]
        data = [{k: v for k, v in row.items() if _present(v)} for row in data.to_dict("records")]
    if isinstance(data, (dict, str)) or not isinstance(data, Sequence) or not len(data):
        raise InvalidInput(
            "data must be a non-empty DataFrame, list of dicts (inputs, outputs, expectations, trace), "
            f"list of traces or evaluation dataset, got {type(data).__name__}"
        )
    rows = []
    for index, item in enumerate(data):
        if isinstance(item, Trace):
            item = {"trace": item}
        if not isinstance(item, dict):
            raise InvalidInput(f"row {index} must be a dict or a Trace, got {item!r}")
        unknown = set(item) - {"inputs", "outputs", "expectations", "trace", "tags"}
        if unknown:
            raise InvalidInput(
                f"row {index} has unknown column(s) {', '.join(sorted(unknown))}: "
                "use inputs, outputs, expectations, trace, tags"
            )
        trace = item.get("trace")
        if isinstance(trace, (str, dict)):
            trace = Trace.from_json(trace) if isinstance(trace, str) else Trace.from_dict(trace)
        row = _Row(item.get("inputs"), item.get("outputs"), dict(item.get("expectations") or {}), trace,
                   item.get("tags"))  # fmt: skip
        if trace is not None:
            root = trace.data._root()
            if row.inputs is None and root is not None:
                row.inputs = root.inputs
            if row.outputs is None and root is not None:
                row.outputs = root.outputs
            known = {a.name: a.value for a in trace.info.assessments if isinstance(a, Expectation)}
            row.expectations = {**known, **row.expectations}
        rows.append(row)
    return rows


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _score(value: Any) -> float | None:
    """A feedback value as a number to aggregate: bools and numbers, ``yes``/``no``; else ``None``."""
    if isinstance(value, bool | int | float) and not (isinstance(value, float) and math.isnan(value)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("yes", "no"):
        return float(value.strip().lower() == "yes")
    return None


def _check_scorers(scorers: Any) -> list[Scorer]:
    if isinstance(scorers, Scorer):
        scorers = [scorers]
    if not scorers or not isinstance(scorers, Sequence):
        raise InvalidInput("evaluate needs scorers=[...]: @scorer functions or built-in scorers")
    for item in scorers:
        if not isinstance(item, Scorer):
            hint = " (decorate the function with @genai.scorer)" if callable(item) else ""
            raise InvalidInput(f"{item!r} is not a scorer{hint}")
    names = [s.name for s in scorers]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InvalidInput(f"two scorers are named {duplicated[0]!r}: give one another name (name=...)")
    return list(scorers)


def evaluate(
    data: Any,
    scorers: Sequence[Scorer] | Scorer,
    predict_fn: Callable[..., Any] | None = None,
    model_id: str | None = None,
) -> EvaluationResult:
    """Evaluate an app (``predict_fn``) or recorded outputs on ``data`` with ``scorers``; MLflow 3's ``evaluate``.

    ``data``: a DataFrame or list of dicts with ``inputs`` (a dict of the
    app's arguments), ``outputs``, ``expectations`` (e.g. ``expected_response``,
    ``expected_facts``, ``guidelines``) and ``trace`` columns; a list of traces;
    ``search_traces()``'s DataFrame; or an evaluation dataset. With
    ``predict_fn`` each row's outputs come from ``predict_fn(**inputs)``, traced.
    Metrics are logged on the active run, or on a new run ended afterwards.
    ``model_id`` links the new traces to a logged model.
    """
    chosen = _check_scorers(scorers)
    rows = _rows(data)
    for index, row in enumerate(rows):
        if predict_fn is not None and not isinstance(row.inputs, dict):
            raise InvalidInput(f"row {index} needs 'inputs' as a dict of predict_fn's arguments, got {row.inputs!r}")
        if predict_fn is None and row.trace is None and row.outputs is None:
            raise InvalidInput(f"row {index} has no outputs and no trace: give outputs, a trace, or predict_fn")
    if predict_fn is not None and not callable(predict_fn):
        raise InvalidInput(f"predict_fn must be a function, got {predict_fn!r}")
    if inspect.iscoroutinefunction(predict_fn) or inspect.isasyncgenfunction(predict_fn):
        raise InvalidInput(
            f"predict_fn {getattr(predict_fn, '__name__', predict_fn)!r} is async: rows run one after another, so "
            "pass a plain function, e.g. predict_fn=lambda **inputs: asyncio.run(app(**inputs))"
        )

    given = [row.trace.info.trace_id for row in rows if row.trace is not None and predict_fn is None]
    missing = _store().assessments.missing_traces(given) if given else []
    if missing:
        raise InvalidInput(
            f"trace {missing[0]!r} given in data is not in this store: evaluate traces recorded here "
            "(lc.search_traces()), or give inputs and outputs instead"
        )

    model_context = _active_model(model_id)  # before the run: an unknown model leaves no run behind
    started = tracking.active_run() is None
    run = tracking.start_run() if started else tracking.active_run()
    assert run is not None
    run_id = run.info.run_id
    finished: dict[str, Trace] = {}

    def collect(trace: Trace) -> None:
        finished[trace.info.trace_id] = trace

    tracing_spans.TRACE_END_HOOKS.append(collect)
    try:
        try:
            _run_rows(rows, chosen, predict_fn, run_id, finished)
        finally:
            if model_context is not None:
                model_context.__exit__(None, None, None)
        tracing_spans.TRACE_END_HOOKS.remove(collect)
        _store().trace_writer.flush()
        logged = [a for row in rows for a in (*row.new_expectations, *row.feedbacks)]
        log_assessments(logged)
        metrics = _aggregate(rows, chosen)
        if metrics:
            tracking.log_metrics(metrics)
        result = EvaluationResult(run_id, metrics, _frame(rows))
    except BaseException:
        if collect in tracing_spans.TRACE_END_HOOKS:
            tracing_spans.TRACE_END_HOOKS.remove(collect)
        if started:
            tracking.end_run("FAILED")
        raise
    if started:
        tracking.end_run()
    return result


def _active_model(model_id: str | None) -> Any:
    """The logged model made active for the evaluation (``NotFound`` for an unknown id); exit to restore."""
    if model_id is None:
        return None
    from ..models.logged import set_active_model

    return set_active_model(model_id=model_id).__enter__()


def _progress(total: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="Evaluating", unit="row", disable=total < PROGRESS_MIN_ROWS)


def _run_rows(
    rows: list[_Row], scorers: list[Scorer], predict_fn: Callable[..., Any] | None, run_id: str,
    finished: dict[str, Trace],
) -> None:  # fmt: skip
    name = getattr(predict_fn, "__name__", "predict")
    metadata = {SOURCE_RUN_ID: run_id}
    with _progress(len(rows)) as bar:
        for row in rows:
            if predict_fn is not None:
                # In a context of its own: each row is a new trace even if evaluate runs inside a span.
                trace_id = contextvars.copy_context().run(_predict, predict_fn, name, row)
                row.trace = finished.get(trace_id)
            elif row.trace is None:
                span = tracing_spans.start_span_no_context("evaluation_row", span_type="CHAIN", inputs=row.inputs)
                span.end(outputs=row.outputs)
                row.trace = finished.get(span.trace_id)
            assert row.trace is not None, "the row's trace was not recorded"
            trace_id = row.trace.info.trace_id
            have = {a.name for a in row.trace.info.assessments if isinstance(a, Expectation)}
            row.new_expectations = [
                Expectation(name, value, trace_id=trace_id, metadata=metadata)
                for name, value in row.expectations.items() if name not in have and value is not None
            ]  # fmt: skip
            for scorer in scorers:
                try:
                    made = scorer.run(inputs=row.inputs, outputs=row.outputs, expectations=row.expectations,
                                      trace=row.trace)  # fmt: skip
                except Exception as exc:  # recorded on the row; the evaluation goes on
                    made = [Feedback(scorer.name, error=exc, source=scorer.source)]
                for feedback in made:
                    feedback.trace_id = trace_id
                    feedback.metadata = {**(feedback.metadata or {}), **metadata}
                row.feedbacks.extend(made)
            bar.update(1)


def _predict(predict_fn: Callable[..., Any], name: str, row: _Row) -> str:
    """Call ``predict_fn(**inputs)`` under a new trace; an exception is recorded on it and on the row."""
    tracing_spans._current.set(None)
    try:
        with tracing_spans.start_span(name, span_type="CHAIN") as span:
            span.set_inputs(row.inputs)
            row.outputs = predict_fn(**row.inputs)
            span.set_outputs(row.outputs)
    except Exception as exc:  # the span records it; the row is still scored
        row.error_message = f"{type(exc).__name__}: {exc}"
    return span.trace_id


def _aggregate(rows: list[_Row], scorers: list[Scorer]) -> dict[str, float]:
    """``<feedback name>/<aggregation>`` over the rows (errors and non-numeric values left out)."""
    wanted = {s.name: s.aggregations or ["mean"] for s in scorers}
    values: dict[str, list[float]] = {}
    for row in rows:
        for feedback in row.feedbacks:
            number = None if feedback.error is not None else _score(feedback.value)
            if number is not None:
                values.setdefault(feedback.name, []).append(number)
    metrics: dict[str, float] = {}
    for name, numbers in values.items():
        for aggregation in wanted.get(name, ["mean"]):
            if isinstance(aggregation, str):
                metrics[f"{name}/{aggregation}"] = float(AGGREGATIONS[aggregation](numbers))
            else:
                metrics[f"{name}/{aggregation.__name__}"] = float(aggregation(numbers))
    return metrics


def _frame(rows: list[_Row]) -> pd.DataFrame:
    """One result row per data row: MLflow's ``eval_results`` columns."""
    import pandas as pd

    records = []
    for row in rows:
        assert row.trace is not None
        trace = row.trace
        trace.info.assessments = [*trace.info.assessments, *row.new_expectations, *row.feedbacks]
        record: dict[str, Any] = {
            "trace_id": trace.info.trace_id, "inputs": row.inputs, "outputs": row.outputs,
            "expectations": row.expectations, "trace": trace.to_json(), "tags": row.tags,
            "error_message": row.error_message,
        }  # fmt: skip
        for feedback in row.feedbacks:
            record[f"{feedback.name}/value"] = feedback.value
            record[f"{feedback.name}/rationale"] = feedback.rationale
            record[f"{feedback.name}/error_message"] = feedback.error_message
            record[f"{feedback.name}/error_code"] = feedback.error_code
        records.append(record)
    return pd.DataFrame(records)
