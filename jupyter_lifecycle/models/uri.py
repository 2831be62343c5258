"""Model URIs and where they point on disk.

Built in: ``runs:/<run_id>/<path>``, ``file:///abs/path`` and plain paths.
Other schemes plug in with ``register_scheme``: the registry adds
``models:/<name>/<version>``, ``models:/<name>@<alias>``, ``models:/<name>/<stage>``
and ``models:/<name>/latest``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlparse

from ..errors import InvalidInput, NotFound

Resolver = Callable[[str], Path]
_SCHEMES: dict[str, Resolver] = {}

ACCEPTED_FORMS = (
    "runs:/<run_id>/<artifact_path>",
    "models:/<name>/<version>",
    "models:/<name>@<alias>",
    "models:/<name>/<stage>",
    "models:/<name>/latest",
    "file:///absolute/path",
    "a local folder path",
)


def register_scheme(scheme: str, resolver: Resolver) -> None:
    """Let ``resolver(uri) -> local folder`` handle URIs starting with ``<scheme>:``."""
    _SCHEMES[scheme] = resolver


def bad_uri(uri: str, why: str) -> InvalidInput:
    """An ``InvalidInput`` for a malformed model URI, listing the accepted forms."""
    forms = "\n  ".join(ACCEPTED_FORMS)
    return InvalidInput(f"invalid model URI {uri!r}: {why}. Accepted forms:\n  {forms}")


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # "File name too long" and the like: such a path names nothing
        return False


def parse_runs_uri(uri: str) -> tuple[str, str]:
    """Split ``runs:/<run_id>/<path>`` into ``(run_id, path)``."""
    rest = uri[len("runs:"):].lstrip("/")
    run_id, _, path = rest.partition("/")
    if not run_id:
        raise bad_uri(uri, "it names no run id")
    return run_id, path.strip("/")


def _resolve_runs(uri: str) -> Path:
    from ..store import open_store

    run_id, path = parse_runs_uri(uri)
    folder = open_store().tracking.artifact_dir(run_id) / path
    if not _exists(folder):
        raise NotFound(f"run {run_id} has no artifact {path!r} (from {uri!r})")
    return folder


register_scheme("runs", _resolve_runs)


def resolve_model_uri(uri: str | os.PathLike[str]) -> Path:
    """The local folder a model URI points to; ``InvalidInput`` lists the accepted forms."""
    text = os.fspath(uri)
    if not text:
        raise bad_uri(text, "it is empty")
    scheme, colon, _ = text.partition(":")
    if colon and len(scheme) > 1 and scheme != "file":  # one letter: a Windows drive
        resolver = _SCHEMES.get(scheme)
        if resolver is None:
            raise bad_uri(text, f"unknown scheme {scheme!r}")
        return resolver(text)
    try:
        path = Path(unquote(urlparse(text).path)) if scheme == "file" else Path(text).expanduser()
    except (ValueError, RuntimeError) as exc:  # "Invalid IPv6 URL" for file://[, no home directory for ~nobody
        raise bad_uri(text, str(exc)) from None
    if not _exists(path):
        raise NotFound(f"no model at {str(path)!r} (from {text!r})")
    return path.resolve()
