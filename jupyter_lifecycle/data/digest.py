"""Dataset digests: 8 hex characters that MLflow 3.17 computes the same way for the same data.

The digest hashes a sample (the first 10,000 rows, or elements of an array)
plus the full shape and column names, so it is fast on any size and equal
for equal content. The bytes hashed follow ``mlflow/data/digest_utils.py``:
for a DataFrame, the numeric columns and the columns holding only ``str``
values (others, such as lists or dicts, are left out, which is how an
unhashable column still gets a digest), the row count and every column name.
MLflow finds the string columns by mapping ``type`` over every cell (seconds
on a million rows); here pandas' C type inference answers the same question.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..errors import InvalidInput

SAMPLE_SIZE = 10_000
"""Rows of a DataFrame (elements of an array) that enter the digest, as MLflow's ``MAX_ROWS``."""


def _only_strings(column: Any) -> bool:
    """Whether every cell of ``column`` is a ``str`` (a missing value is not)."""
    import numpy as np
    import pandas as pd

    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind != "O":
        return False  # numbers, booleans, times: never str cells
    if isinstance(dtype, pd.StringDtype):
        return not bool(column.isna().any())
    values = column.to_numpy(dtype=object)
    return bool(pd.api.types.infer_dtype(values, skipna=False) == "string")


def pandas_digest(df: Any) -> str:
    """The digest of a DataFrame, equal to MLflow's ``mlflow.data.from_pandas(df).digest``."""
    import numpy as np
    import pandas as pd

    sample = df.head(SAMPLE_SIZE)
    strings = sample.columns[[_only_strings(df.iloc[:, i]) for i in range(df.shape[1])]]
    numbers = sample.select_dtypes(include=[np.number]).columns
    kept = sample[strings.union(numbers)]
    try:
        hashed = pd.util.hash_pandas_object(kept).values
    except TypeError as exc:  # e.g. a numeric-looking extension column pandas cannot hash
        raise InvalidInput(f"cannot compute a digest of this DataFrame ({exc}); pass digest=... yourself") from None
    return md5_digest([hashed, np.int64(len(df))] + [str(name).encode() for name in df.columns])


def numpy_digest(features: Any, targets: Any = None) -> str:
    """The digest of arrays (or dicts of arrays), equal to MLflow's ``mlflow.data.from_numpy(...).digest``."""
    import numpy as np
    import pandas as pd

    parts: list[Any] = []

    def add(array: Any) -> None:
        sample = np.asarray(array).ravel()[:SAMPLE_SIZE]
        try:
            parts.append(pd.util.hash_array(sample))
        except TypeError:  # cells pandas cannot hash: their count stands in, as in MLflow
            parts.append(np.int64(sample.size))
        parts.extend(np.int64(n) for n in np.shape(array))

    for item in (features, targets):
        if item is None:
            continue
        if isinstance(item, dict):
            for key in sorted(item):
                add(item[key])
        else:
            add(item)
    return md5_digest(parts)


def md5_digest(parts: list[Any]) -> str:
    """The first 8 hex characters of the MD5 of ``parts`` (bytes or buffers), MLflow's digest form."""
    if not parts:
        raise InvalidInput("nothing to compute a digest from: the dataset is empty of columns and arrays")
    md5 = hashlib.md5(usedforsecurity=False)
    for part in parts:
        md5.update(part)
    return md5.hexdigest()[:8]
