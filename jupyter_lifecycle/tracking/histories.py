"""Metric histories as pandas DataFrames, built from numpy columns with no Python object per point.

The bulk entry point for charts, ``compare`` and anything reading many
histories is ``Client.get_metric_histories(run_ids, keys)`` (built here by
``histories_frame``): one long DataFrame with the columns ``run_id`` and
``key`` (categoricals), ``step``, ``timestamp`` (int64) and ``value``
(float64), each run's series by step. ``get_metric_history(run_id, key,
as_frame=True)`` is the one-history case (``history_frame``). Both read
through ``TrackingStore.metric_arrays``: about 24 bytes a point, where the
list of ``Metric`` objects costs ~300 (issue #14).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from ..store.tracking import TrackingStore

HISTORY_COLUMNS = ("step", "timestamp", "value")


def history_frame(tracking: TrackingStore, run_id: str, key: str) -> pd.DataFrame:
    """One metric's history: columns ``step``, ``timestamp`` and ``value``, by step then time."""
    import pandas as pd

    _, steps, stamps, values = tracking.metric_arrays([run_id], [key])
    # copy=False keeps the three arrays as the frame's columns: a copy would double the peak memory.
    return pd.DataFrame(dict(zip(HISTORY_COLUMNS, (steps, stamps, values), strict=True)), copy=False)


def histories_frame(tracking: TrackingStore, run_ids: Sequence[str], keys: Sequence[str] | None = None) -> pd.DataFrame:
    """Every point of ``keys`` (all keys if ``None``) in ``run_ids``, as one long DataFrame.

    Columns ``run_id`` and ``key`` are categoricals (a small integer code per
    point, not a string), then ``step``, ``timestamp`` and ``value``. Rows are
    grouped by run in the order of ``run_ids``, then by key, each series by
    step then time; a run without a point of a key has no rows for it.
    ``frame.groupby(["run_id", "key"], observed=True)`` walks the series.
    """
    import numpy as np
    import pandas as pd

    series, steps, stamps, values = tracking.metric_arrays(run_ids, keys)
    counts = [n for _, _, n in series]
    run_names = list(dict.fromkeys(run_id for run_id, _, _ in series))
    key_names = sorted({key for _, key, _ in series})
    run_codes = np.repeat(np.array([run_names.index(r) for r, _, _ in series], dtype=np.int32), counts)
    key_codes = np.repeat(np.array([key_names.index(k) for _, k, _ in series], dtype=np.int32), counts)
    return pd.DataFrame(
        {
            "run_id": pd.Categorical.from_codes(run_codes, categories=run_names),
            "key": pd.Categorical.from_codes(key_codes, categories=key_names),
            "step": steps,
            "timestamp": stamps,
            "value": values,
        },
        copy=False,
    )
