"""Model URIs and where they point on disk.

Built in: ``runs:/<run_id>/<path>``, ``models:/m-<32 hex>`` (a logged model),
``file:///abs/path`` and plain paths.
Other schemes plug in with ``register_scheme``: the registry adds
``models:/<name>/<version>``, ``models:/<name>@<alias>``, ``models:/<name>/<stage>``
and ``models:/<name>/latest``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlparse

from ..errors import InvalidInput, InvalidState, NotFound
from .model import MLMODEL, file_matches

Resolver = Callable[[str], Path]
_SCHEMES: dict[str, Resolver] = {}

ACCEPTED_FORMS = (
    "runs:/<run_id>/<artifact_path>",
    "models:/<model_id> (a logged model, m-<32 hex>)",
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
    tracking = open_store().tracking
    folder = tracking.artifact_dir(run_id) / path
    if not _exists(folder):
        raise NotFound(f"run {run_id} has no artifact {path!r} (from {uri!r})")
    mlmodel = f"{path}/{MLMODEL}" if path else MLMODEL
    recorded = next((digest for rel, _, digest in tracking.artifact_records(run_id) if rel == mlmodel), None)
    if recorded is not None:
        check_logged_mlmodel(uri, folder / MLMODEL, recorded)
    return folder


def check_logged_mlmodel(uri: str, file: Path, recorded: str) -> None:
    """Refuse a logged model whose ``MLmodel`` differs from the sha256 the store recorded when it was logged.

    ``MLmodel`` holds the hashes of every other file, which loading checks
    (``verify_model``): so this one check extends the store's record to the
    whole model, and a deleted or rewritten hash block is caught before
    anything is unpickled (issue #12, defect 2).
    """
    if not file.is_file() or not file_matches(file, recorded):
        state = "is missing" if not file.is_file() else "changed"
        raise InvalidState(
            f"refusing to load {uri!r}: its MLmodel {state} since the model was logged (the store recorded its "
            "sha256 then), so its files may have been tampered with. Nothing was loaded. Log the model again "
            "from a source you trust."
        )


register_scheme("runs", _resolve_runs)

LOGGED_MODEL_URI = re.compile(r"^models:/(m-[0-9a-f]{32})/?$")
"""``models:/<model_id>``: MLflow 3's URI of a logged model (a registered name never has this form here)."""


def logged_model_id(uri: str) -> str | None:
    """The ``m-...`` id of a ``models:/<model_id>`` URI, else ``None``."""
    found = LOGGED_MODEL_URI.match(uri)
    return found.group(1) if found else None


def current_experiment_id(home: Path) -> str | None:
    """The experiment the fluent API would use in store ``home``, without creating it (``None`` if it does not exist yet)."""
    from .. import config
    from ..store import open_store
    from ..store.tracking import DEFAULT_EXPERIMENT
    from ..tracking import fluent

    found = fluent._experiment.get(config.db_path(home))
    if found is not None:
        return found
    experiment = open_store(home).tracking.get_experiment_by_name(os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT)
    return experiment.experiment_id if experiment is not None else None


def _resolve_logged(model_id: str) -> Path:
    from ..store import open_store

    store = open_store()
    if not store.models.exists(model_id):
        raise store.models.not_found(model_id, current_experiment_id(store.home))
    folder = store.models.folder(model_id)
    if not (folder / "MLmodel").is_file():
        model = store.models.get(model_id)
        raise NotFound(f"logged model {model_id} ({model.name!r}) has no files yet (status {model.status}): "
                       "log_model(..., model_id=...) writes them")  # fmt: skip
    recorded = store.models.mlmodel_sha256(model_id)
    if recorded is not None:  # MLmodel holds the other files' hashes: checking it extends the store's record to all
        check_logged_mlmodel(f"models:/{model_id}", folder / MLMODEL, recorded)
    return folder


def resolve_model_uri(uri: str | os.PathLike[str]) -> Path:
    """The local folder a model URI points to; ``InvalidInput`` lists the accepted forms."""
    text = os.fspath(uri)
    if not text:
        raise bad_uri(text, "it is empty")
    model_id = logged_model_id(text) if text.startswith("models:/m-") else None
    if model_id is not None:
        return _resolve_logged(model_id)
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
