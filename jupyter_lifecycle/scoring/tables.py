"""Table files for scoring: CSV, Parquet, JSON (records) and JSON lines, by extension."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import InvalidInput

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}


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
