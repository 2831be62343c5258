"""Registry entities as pandas DataFrames, for the fluent API, the CLI and magics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..entities import ModelVersion, RegisteredModel, RegistryActivity

if TYPE_CHECKING:
    import pandas as pd


TABLE_KIND = "jupyter_lifecycle.table"
"""``DataFrame.attrs`` key naming what a frame holds, for displays that format it (``"activity"``)."""


def _times(values: Sequence[int | None]) -> pd.Series:
    import pandas as pd

    return pd.Series(pd.to_datetime(list(values), unit="ms", utc=True), dtype="datetime64[ms, UTC]")


def _with_tags(base: pd.DataFrame, tags: Sequence[dict[str, str]]) -> pd.DataFrame:
    import pandas as pd

    part = pd.DataFrame(list(tags), index=base.index)
    part = part[sorted(part.columns)]
    part.columns = [f"tags.{c}" for c in part.columns]
    return pd.concat([base, part], axis=1)


def versions_frame(versions: Sequence[ModelVersion]) -> pd.DataFrame:
    """One row per version: name, version, aliases, current_stage, status, run_id, model_id, source, times, tags.<key>."""
    import pandas as pd

    base = pd.DataFrame(
        {
            "name": pd.Series([v.name for v in versions], dtype=object),
            "version": pd.Series([v.version for v in versions], dtype="int64"),
            "aliases": pd.Series([list(v.aliases) for v in versions], dtype=object),
            "current_stage": pd.Series([v.current_stage for v in versions], dtype=object),
            "status": pd.Series([v.status for v in versions], dtype=object),
            "run_id": pd.Series([v.run_id for v in versions], dtype=object),
            "model_id": pd.Series([v.model_id for v in versions], dtype=object),
            "source": pd.Series([v.source for v in versions], dtype=object),
            "description": pd.Series([v.description for v in versions], dtype=object),
            "user_id": pd.Series([v.user_id for v in versions], dtype=object),
            "creation_timestamp": _times([v.creation_timestamp for v in versions]),
            "last_updated_timestamp": _times([v.last_updated_timestamp for v in versions]),
        }
    )
    return _with_tags(base, [v.tags for v in versions])


def models_frame(models: Sequence[RegisteredModel]) -> pd.DataFrame:
    """One row per registered model: name, latest_version, aliases, description, times, tags.<key>."""
    import pandas as pd

    latest = [max((v.version for v in m.latest_versions), default=None) for m in models]
    base = pd.DataFrame(
        {
            "name": pd.Series([m.name for m in models], dtype=object),
            "latest_version": pd.Series(latest, dtype="Int64"),
            "aliases": pd.Series([dict(m.aliases) for m in models], dtype=object),
            "stages": pd.Series(
                [{v.current_stage: v.version for v in m.latest_versions if v.current_stage != "None"} for m in models],
                dtype=object,
            ),
            "description": pd.Series([m.description for m in models], dtype=object),
            "creation_timestamp": _times([m.creation_timestamp for m in models]),
            "last_updated_timestamp": _times([m.last_updated_timestamp for m in models]),
        }
    )
    return _with_tags(base, [m.tags for m in models])


def activity_frame(entries: Sequence[RegistryActivity]) -> pd.DataFrame:
    """One row per activity: timestamp, activity_type, user_id, name, version, stages, comment, details."""
    import pandas as pd

    frame = pd.DataFrame(
        {
            "timestamp": _times([a.timestamp for a in entries]),
            "activity_type": pd.Series([a.activity_type for a in entries], dtype=object),
            "user_id": pd.Series([a.user_id for a in entries], dtype=object),
            "name": pd.Series([a.name for a in entries], dtype=object),
            "version": pd.Series([a.version for a in entries], dtype="Int64"),
            "from_stage": pd.Series([a.from_stage for a in entries], dtype=object),
            "to_stage": pd.Series([a.to_stage for a in entries], dtype=object),
            "comment": pd.Series([a.comment for a in entries], dtype=object),
            "details": pd.Series([a.details for a in entries], dtype=object),
        }
    )
    frame.attrs[TABLE_KIND] = "activity"  # the notebook layer shows it as a table for people
    return frame
