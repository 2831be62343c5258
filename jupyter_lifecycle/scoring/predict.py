"""Predicting a DataFrame with a ``ScoringModel``: signature checks, batches, prediction columns.

Shared by the pandas engine (``batch``), the Dask engine and the scoring notebook.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import InvalidInput, SchemaMismatch
from .model import ScoringModel

DEFAULT_BATCH_SIZE = 10_000
PREDICTION = "prediction"


def with_predictions(frame: Any, predictions: Any) -> Any:
    """``frame`` with the predictions appended as ``prediction`` (or ``prediction_<i>``/their own) columns."""
    import numpy as np
    import pandas as pd

    if isinstance(predictions, pd.DataFrame):
        extra = predictions.set_axis(frame.index[: len(predictions)], axis=0)
        extra.columns = [f"{PREDICTION}_{c}" if c in frame.columns else c for c in extra.columns]
    elif isinstance(predictions, pd.Series):
        extra = pd.DataFrame({predictions.name if predictions.name not in (None, *frame.columns) else PREDICTION:
                              predictions.to_numpy()}, index=frame.index)  # fmt: skip
    else:
        values = np.asarray(predictions)
        if values.ndim == 2 and values.shape[1] > 1:
            extra = pd.DataFrame(values, columns=[f"{PREDICTION}_{i}" for i in range(values.shape[1])], index=frame.index)
        else:
            extra = pd.DataFrame({PREDICTION: list(values.reshape(len(frame), -1)[:, 0]) if values.ndim > 1
                                  else values}, index=frame.index)  # fmt: skip
    return pd.concat([frame, extra], axis=1)


def batches(frame: Any, batch_size: int) -> Iterator[Any]:
    """Consecutive row slices of ``frame`` of at most ``batch_size`` rows."""
    for start in range(0, len(frame), batch_size):
        yield frame.iloc[start : start + batch_size]


def predict_frame(model: ScoringModel, frame: Any, batch_size: int = DEFAULT_BATCH_SIZE,
                  params: dict[str, Any] | None = None, progress: bool = True) -> Any:  # fmt: skip
    """Predict ``frame`` in batches (with a tqdm bar) and return it with the prediction columns."""
    import pandas as pd

    if batch_size < 1:
        raise InvalidInput(f"batch_size must be at least 1, not {batch_size}")
    parts = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(frame), unit="rows", desc="scoring")
    try:
        for part in batches(frame, batch_size):
            parts.append(with_predictions(part, model.predict(model.conform(part.copy()), params)))
            if bar is not None:
                bar.update(len(part))
    finally:
        if bar is not None:
            bar.close()
    return pd.concat(parts) if parts else frame.assign(**{PREDICTION: pd.Series(dtype="float64")})


def validate(model: ScoringModel, frame: Any) -> None:
    """Raise ``SchemaMismatch`` listing every way ``frame`` does not fit the signature."""
    report = check_input(model, frame)
    if not report:
        raise SchemaMismatch(repr(report))


class SignatureReport:
    """The scoring notebook's validation result: shows as a Markdown table in Jupyter, as text elsewhere."""

    def __init__(self, model: ScoringModel, problems: list[str]) -> None:
        self.model = model
        self.problems = problems

    def __bool__(self) -> bool:
        return not self.problems

    def __repr__(self) -> str:
        if not self.problems:
            return f"The input matches the signature of {self.model.uri}."
        lines = [f"The input does NOT match the signature of {self.model.uri}; nothing was scored:"]
        return "\n  - ".join(lines + self.problems)

    def _repr_markdown_(self) -> str:
        if not self.problems:
            return f"✅ The input matches the signature of `{self.model.uri}` ({len(self.model.columns)} columns)."
        rows = "\n".join(f"| {i} | {p.replace('|', '/')} |" for i, p in enumerate(self.problems, 1))
        return (f"### ❌ The input does not match the model's signature\n\n"
                f"Nothing was scored. Fix the input (or score with another model) and run the notebook again.\n\n"
                f"| # | problem |\n|---|---|\n{rows}\n")  # fmt: skip


def check_input(model: ScoringModel, frame: Any) -> SignatureReport:
    """Every mismatch between ``frame`` and the model's signature, as a report (truthy when it fits)."""
    return SignatureReport(model, model.check(model.conform(frame.copy())))
