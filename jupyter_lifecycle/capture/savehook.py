"""A jupyter_server post-save hook that records a notebook revision on every save.

The package's server extension (``jupyter_lifecycle.server``) registers it
on every server it loads into. With the extension disabled, enable it in
``jupyter_server_config.py``::

    c.FileContentsManager.post_save_hook = "jupyter_lifecycle.capture.post_save_hook"

or on the command line: ``jupyter lab
--FileContentsManager.post_save_hook=jupyter_lifecycle.capture.post_save_hook``.
Revisions go to the store the server process resolves (``$JUPYTER_LIFECYCLE_HOME``,
the nearest ``.jupyter_lifecycle/`` from the server's working directory, or
``~/.jupyter_lifecycle``). This module imports no IPython.
"""

from __future__ import annotations

import logging
from typing import Any

from .revisions import record_revision

log = logging.getLogger(__name__)


def post_save_hook(model: dict[str, Any], os_path: str, contents_manager: Any = None, **kwargs: Any) -> None:
    """Record the saved notebook as a revision; other files are ignored, and a failure never blocks the save."""
    if (model or {}).get("type") != "notebook":
        return
    try:
        record_revision(os_path, trigger="save")
    except Exception as exc:  # the save already happened; losing a revision must not turn it into an error
        logger = getattr(contents_manager, "log", None) or log
        logger.warning("jupyter-lifecycle could not record a revision of %s: %s", os_path, exc)
