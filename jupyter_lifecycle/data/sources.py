"""Where a dataset came from: MLflow's dataset sources, as a type and a small JSON object.

``source="data/train.csv"`` or ``"file:///..."`` is a ``local`` source,
``"https://..."`` an ``http`` one, ``"s3://..."`` (any ``scheme://``) a source
of that scheme; with no source, the code that built the dataset (a ``code``
source naming the notebook or script), as MLflow does.
"""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from ..errors import InvalidInput
from ..tracking.fluent import _source_tags


@dataclass(frozen=True)
class DatasetSource:
    """A dataset's source: ``source_type`` (local, http, s3, code...) and its JSON fields."""

    source_type: str
    fields: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The source's fields (``{"uri": ...}``, ``{"url": ...}`` or ``{"tags": {...}}``)."""
        return dict(self.fields)

    def to_json(self) -> str:
        """The source as MLflow stores it."""
        return json.dumps(self.fields)

    def _get_source_type(self) -> str:
        """MLflow's name for ``source_type``."""
        return self.source_type

    @property
    def uri(self) -> str | None:
        """The location, for file, object-store and HTTP sources."""
        return self.fields.get("uri") or self.fields.get("url")


def code_source() -> DatasetSource:
    """The code running now (notebook or script) as the source, with MLflow's context tags."""
    return DatasetSource("code", {"tags": {"mlflow.user": getpass.getuser(), **_source_tags()}})


def resolve_source(source: Any) -> DatasetSource:
    """A ``DatasetSource`` for what the user passed as ``source=``."""
    if source is None:
        return code_source()
    if isinstance(source, DatasetSource):
        return source
    if isinstance(source, os.PathLike):
        return DatasetSource("local", {"uri": os.fspath(source)})
    if not isinstance(source, str) or not source:
        raise InvalidInput(
            f"source must be a path or URI string (such as 'data/train.csv' or 's3://bucket/train.csv'), "
            f"not {type(source).__name__} {source!r}"
        )
    scheme = urlparse(source).scheme
    if scheme in ("http", "https"):
        return DatasetSource("http", {"url": source})
    # One letter is a Windows drive (C:\data.csv), not a scheme.
    if scheme in ("", "file") or len(scheme) == 1:
        return DatasetSource("local", {"uri": source})
    return DatasetSource(scheme, {"uri": source})
