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
from typing import Any

from ..errors import InvalidInput
from .model import load_scoring_model
from .predict import DEFAULT_BATCH_SIZE, predict_frame, validate
from .tables import read_table, write_table

ENGINES = ("pandas", "dask")


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
