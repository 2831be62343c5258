"""Artifact previews for the REST API: one file of a run, its kind detected, never a file outside the run's artifacts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..client import Client
from ..errors import InvalidInput, NotFound
from .api import json_ready

PREVIEW_BYTES = 2_000_000
PREVIEW_ROWS = 500
_IMAGES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
           ".webp": "image/webp", ".svg": "image/svg+xml"}  # fmt: skip


def artifact_file(client: Client, run_id: str, path: Any) -> Path:
    """The local file of a run's artifact, refused unless it lies inside the run's artifact folder.

    The cleaned relative path cannot climb out, and resolving it (symlinks
    included) must land below the resolved folder: a link out of the store
    is refused like ``..``.
    """
    from ..tracking.artifacts import clean_artifact_path

    if not isinstance(path, str) or not path:
        raise InvalidInput("give the artifact: artifact?path=<path inside the run's artifacts>")
    root = client.artifact_dir(run_id).resolve()
    target = (root / clean_artifact_path(path)).resolve()
    if not target.is_relative_to(root):
        raise InvalidInput(f"artifact path {path!r} leads outside the run's artifacts: refused")
    if not target.exists():
        raise NotFound(f"run {run_id} has no artifact {path!r}; GET runs/{run_id}/artifacts lists them")
    if target.is_dir():
        raise InvalidInput(f"artifact {path!r} is a folder: list it with GET runs/{run_id}/artifacts?path={path}")
    return target


def artifact_preview(client: Client, run_id: str, path: Any) -> dict[str, Any]:
    """An artifact's content for a preview, with its kind detected from its name and content.

    Kinds: ``json``, ``yaml`` and ``mlmodel`` (parsed), ``text``, ``table``
    (CSV/Parquet/TSV, the first 500 rows), ``image`` (base64, SVG as text),
    ``notebook`` (its cells), ``binary`` (size only). Files over 2 MB other
    than tables are cut (``truncated``).
    """
    import base64

    import yaml

    target = artifact_file(client, run_id, path)
    suffix, size = target.suffix.lower(), target.stat().st_size
    answer: dict[str, Any] = {"path": path, "file_size": size, "truncated": False}
    if suffix in (".csv", ".tsv", ".parquet") or (suffix == ".json" and _is_table(target)):
        import pandas as pd

        if suffix == ".parquet":
            frame = pd.read_parquet(target)
        elif suffix == ".json":
            frame = pd.read_json(target, orient="split")
        else:
            frame = pd.read_csv(target, sep="\t" if suffix == ".tsv" else ",", nrows=PREVIEW_ROWS + 1)
        shown_rows = frame.head(PREVIEW_ROWS)
        return answer | {"kind": "table", "columns": [str(c) for c in frame.columns],
                         "rows": json_ready(shown_rows.astype(object).where(shown_rows.notna(), None).values.tolist()),
                         "truncated": len(frame) > PREVIEW_ROWS}  # fmt: skip
    if suffix in _IMAGES:
        if size > PREVIEW_BYTES:
            return answer | {"kind": "binary", "mime": _IMAGES[suffix], "truncated": True}
        data = target.read_bytes()
        if suffix == ".svg":
            return answer | {"kind": "image", "mime": _IMAGES[suffix], "text": data.decode(errors="replace")}
        return answer | {"kind": "image", "mime": _IMAGES[suffix], "base64": base64.b64encode(data).decode()}
    with target.open("rb") as handle:
        data = handle.read(PREVIEW_BYTES)
    answer["truncated"] = size > PREVIEW_BYTES
    try:
        text = data.decode()
    except UnicodeDecodeError:
        if not answer["truncated"]:
            return answer | {"kind": "binary"}
        text = data.decode(errors="ignore")  # cut inside a character
    if "\0" in text:
        return answer | {"kind": "binary"}
    if not answer["truncated"]:
        try:
            if target.name == "MLmodel":
                return answer | {"kind": "mlmodel", "text": text, "data": json_ready(yaml.safe_load(text))}
            if suffix == ".ipynb":
                notebook = json.loads(text)
                cells = [{"cell_type": c.get("cell_type"), "source": "".join(c.get("source") or []),
                          "outputs": [_output_text(o) for o in c.get("outputs") or []]}
                         for c in notebook.get("cells", [])]  # fmt: skip
                return answer | {"kind": "notebook", "cells": cells}
            if suffix == ".json":
                return answer | {"kind": "json", "text": text, "data": json_ready(json.loads(text))}
            if suffix in (".yaml", ".yml"):
                return answer | {"kind": "yaml", "text": text, "data": json_ready(yaml.safe_load(text))}
        except (ValueError, yaml.YAMLError, AttributeError, TypeError):
            pass  # not what its name says: shown as text
    return answer | {"kind": "text", "text": text}


def _is_table(target: Path) -> bool:
    """Whether a JSON file is a table as ``log_table`` writes it (pandas' ``split`` orient)."""
    if target.stat().st_size > 50 * PREVIEW_BYTES:
        return False
    try:
        value = json.loads(target.read_text())
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(value, dict) and {"columns", "data"} <= set(value)


def _output_text(output: dict[str, Any]) -> str:
    """A notebook output as text (its plain-text form; images are named, not shown)."""
    if output.get("output_type") == "stream":
        return "".join(output.get("text") or [])
    if output.get("output_type") == "error":
        return f"{output.get('ename')}: {output.get('evalue')}"
    data = output.get("data") or {}
    if "text/plain" in data:
        text = data["text/plain"]
        return "".join(text) if isinstance(text, list) else str(text)
    return f"[{', '.join(sorted(data))}]"
