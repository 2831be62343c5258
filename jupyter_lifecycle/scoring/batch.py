"""Batch scoring: a table in, the same rows with predictions out, on pandas or Dask.

``score(model_uri, input, output)`` is what the scoring notebook, ``%lifecycle
score`` and ``jupyter-lifecycle score`` run. Engines:

- ``pandas`` (default): the input is read into memory and predicted in
  batches of ``batch_size`` rows with a tqdm progress bar.
- ``dask``: for inputs larger than memory. The input is read lazily
  (CSV, Parquet, JSON lines), each partition is predicted by the model loaded
  once per worker process, on a ``dask.distributed`` cluster (``scheduler``
  address) or a local one. Workers must see the model folder (a local
  cluster always does) and have jupyter-lifecycle installed.
  ``pip install 'jupyter-lifecycle[dask]'``; imported only when used.

Formats go by extension: ``.csv``, ``.parquet``/``.pq``, ``.json`` (records),
``.jsonl``/``.ndjson`` (one record per line).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, SchemaMismatch
from .model import ScoringModel, load_scoring_model

ENGINES = ("pandas", "dask")
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
DEFAULT_BATCH_SIZE = 10_000
PREDICTION = "prediction"


def table_format(path: str | os.PathLike[str]) -> str:
    """``csv``, ``parquet``, ``json`` or ``jsonl`` from a file name; ``InvalidInput`` otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InvalidInput(f"cannot tell the format of {str(path)!r} from its extension {suffix!r}: "
                           f"use one of {', '.join(FORMATS)}")  # fmt: skip
    return FORMATS[suffix]


def read_table(path: str | os.PathLike[str]) -> Any:
    """Read a CSV, Parquet, JSON (records) or JSON-lines file into a pandas DataFrame."""
    import pandas as pd

    kind = table_format(path)
    if not Path(path).exists():
        raise InvalidInput(f"input file {str(path)!r} does not exist")
    if kind == "csv":
        return pd.read_csv(path)
    if kind == "parquet":
        return pd.read_parquet(path)
    return pd.read_json(path, orient="records", lines=kind == "jsonl")


def write_table(frame: Any, path: str | os.PathLike[str]) -> Path:
    """Write a DataFrame as CSV, Parquet, JSON (records) or JSON lines, by extension; return the path."""
    kind = table_format(path)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if kind == "csv":
        frame.to_csv(out, index=False)
    elif kind == "parquet":
        frame.to_parquet(out, index=False)
    else:
        frame.to_json(out, orient="records", lines=kind == "jsonl", date_format="iso")
    return out


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


def score(
    model_uri: str,
    input: Any,
    output: str | os.PathLike[str] | None = None,
    engine: str = "pandas",
    batch_size: int = DEFAULT_BATCH_SIZE,
    params: dict[str, Any] | None = None,
    scheduler: str | None = None,
    progress: bool = True,
) -> Any:
    """Score a table with a model and return it with predictions, or write it to ``output``.

    ``input`` is a DataFrame or a path (CSV, Parquet, JSON, JSON lines);
    ``output`` a path whose extension picks the format. Returns the scored
    pandas DataFrame when ``output`` is ``None``, else the output ``Path``.
    The input is checked against the signature first: ``SchemaMismatch``
    lists every mismatched column. ``engine="dask"`` scores on a
    ``dask.distributed`` cluster (``scheduler`` address, or a local one).
    """
    if engine not in ENGINES:
        raise InvalidInput(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    if engine == "dask":
        from .dask_engine import score_dask

        return score_dask(model_uri, input, output, batch_size=batch_size, params=params, scheduler=scheduler)
    model = load_scoring_model(model_uri)
    frame = input if not isinstance(input, (str, os.PathLike)) else read_table(input)
    validate(model, frame)
    scored = predict_frame(model, frame, batch_size, params, progress)
    return scored if output is None else write_table(scored, output)


def preview_table(path: str | os.PathLike[str], rows: int = 1000) -> Any:
    """The first ``rows`` rows of a table file, without reading the rest (for checks on big inputs)."""
    import pandas as pd

    kind = table_format(path)
    if not Path(path).exists():
        raise InvalidInput(f"input file {str(path)!r} does not exist")
    if kind == "csv":
        return pd.read_csv(path, nrows=rows)
    if kind == "parquet":  # a file, or the folder of parts the dask engine writes
        import pyarrow.dataset as ds

        return ds.dataset(path, format="parquet").head(rows).to_pandas()
    if kind == "jsonl":
        return pd.read_json(path, orient="records", lines=True, nrows=rows)
    return read_table(path).head(rows)


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
