"""The ``dask`` scoring engine: map partitions with the model, on a ``dask.distributed`` cluster.

Dask is an optional extra (``pip install 'jupyter-lifecycle[dask]'``),
imported only here. The model is loaded once per worker process (cached by
folder), not shipped with every task: workers read the model folder, so on
a remote cluster it must sit on a shared filesystem.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from .model import ScoringModel, load_scoring_model
from .predict import predict_frame, validate, with_predictions
from .tables import read_table, table_format

_models: dict[str, ScoringModel] = {}
_lock = threading.Lock()


def _worker_model(path: str) -> ScoringModel:
    with _lock:
        model = _models.get(path)
        if model is None:
            model = _models[path] = load_scoring_model(path)
        return model


def _predict_partition(part: Any, path: str, params: dict[str, Any] | None, batch_size: int) -> Any:
    return predict_frame(_worker_model(path), part, batch_size, params, progress=False)


def _import_dask() -> tuple[Any, Any]:
    try:
        import dask.dataframe as dd
        import distributed
    except ImportError as exc:
        raise InvalidInput("the dask engine needs dask: pip install 'jupyter-lifecycle[dask]'") from exc
    return dd, distributed


def _read(dd: Any, input: Any, blocksize: str) -> Any:
    if not isinstance(input, (str, os.PathLike)):
        return dd.from_pandas(input, npartitions=max(1, os.cpu_count() or 1))
    kind = table_format(input)
    if not Path(input).exists():
        raise InvalidInput(f"input file {str(input)!r} does not exist")
    if kind == "csv":
        return dd.read_csv(str(input), blocksize=blocksize)
    if kind == "parquet":
        return dd.read_parquet(str(input))
    if kind == "jsonl":
        return dd.read_json(str(input), lines=True, blocksize=blocksize)
    return dd.from_pandas(read_table(input), npartitions=max(1, os.cpu_count() or 1))


def score_dask(
    model_uri: str,
    input: Any,
    output: str | os.PathLike[str] | None = None,
    batch_size: int = 10_000,
    params: dict[str, Any] | None = None,
    scheduler: str | None = None,
    blocksize: str = "64MB",
) -> Any:
    """Score ``input`` partition by partition on Dask; see ``batch.score``.

    Writes CSV as one file; Parquet as a folder of part files (what
    ``pd.read_parquet`` reads back as one table); JSON after gathering the result. Returns the output
    path, or the scored pandas DataFrame when ``output`` is ``None``.
    """
    dd, distributed = _import_dask()
    model = load_scoring_model(model_uri)
    path = str(model.path)
    frame = _read(dd, input, blocksize)
    sample = frame.head(5, npartitions=-1)
    validate(model, sample)
    meta = with_predictions(sample.iloc[:1], model.predict(model.conform(sample.iloc[:1].copy()), params)).iloc[:0]
    scored = frame.map_partitions(_predict_partition, path, params, batch_size, meta=meta)
    if scheduler:
        client = distributed.Client(scheduler)
        cluster = None
    else:
        # Threads in this process: the model is loaded once, nothing is pickled.
        cluster = distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=os.cpu_count() or 1,
                                           dashboard_address=None)  # fmt: skip
        client = distributed.Client(cluster)
    try:
        if output is None:
            return scored.compute()
        kind = table_format(output)
        out = Path(output)
        out.parent.mkdir(parents=True, exist_ok=True)
        if kind == "csv":
            scored.to_csv(str(out), single_file=True, index=False)
        elif kind == "parquet":
            scored.to_parquet(str(out), write_index=False)
        else:  # JSON has no parallel single-file writer: gather, then write
            scored.compute().to_json(out, orient="records", lines=kind == "jsonl", date_format="iso")
        return out
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
