"""The jupyter_server extension: a REST API over the store, for the JupyterLab sidebar.

Installing the package enables it (``jupyter-config/server-config/
jupyter_lifecycle.json`` goes to ``etc/jupyter/jupyter_server_config.d``);
``jupyter server extension disable jupyter_lifecycle`` turns it off. The
server uses the store its process resolves (``$JUPYTER_LIFECYCLE_HOME``, the
nearest ``.jupyter_lifecycle/`` from its working directory, or
``~/.jupyter_lifecycle``), and records a notebook revision on every save.
"""

from __future__ import annotations

from typing import Any


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Add the API routes and the revision-on-save hook to a starting server."""
    from ..capture.savehook import post_save_hook
    from ..client import Client
    from ..config import resolve_home
    from .handlers import PREFIX, setup_handlers

    setup_handlers(serverapp.web_app, Client)
    manager = serverapp.contents_manager
    # A hook the user configured stays and runs first; when it is already
    # ours, adding it again would record every save twice.
    if getattr(manager, "post_save_hook", None) is not post_save_hook and hasattr(manager, "register_post_save_hook"):
        manager.register_post_save_hook(post_save_hook)
    # resolve_home only names the store: opening it would create one just because a server started.
    serverapp.log.info(f"jupyter-lifecycle: REST API at {PREFIX}/, store {resolve_home()}")
