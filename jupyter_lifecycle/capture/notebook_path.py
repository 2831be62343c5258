"""Which notebook is this kernel running? Found from what the kernel is told.

In order: ``$JUPYTER_LIFECYCLE_NOTEBOOK`` (set it for papermill/nbclient
runs), VS Code's ``__vsc_ipynb_file__``, ipykernel's ``__session__`` and
``$JPY_SESSION_NAME`` (set by jupyter_server when it starts the kernel), then
the running Jupyter servers' sessions API, asked which session owns this
kernel. The server is asked too when the path the kernel was told no longer
exists (the notebook was renamed after the kernel started).
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .. import config

SERVER_TIMEOUT_SECONDS = 1.0


def _candidates(user_ns: Mapping[str, Any]) -> list[tuple[str, str]]:
    found = [
        (config.NOTEBOOK_ENV, os.environ.get(config.NOTEBOOK_ENV)),
        ("__vsc_ipynb_file__", user_ns.get("__vsc_ipynb_file__")),
        ("__session__", user_ns.get("__session__")),
        ("JPY_SESSION_NAME", os.environ.get("JPY_SESSION_NAME")),
    ]
    return [(how, str(value)) for how, value in found if value and isinstance(value, (str, os.PathLike))]


def _absolute(path: str) -> str:
    return str(Path(path).expanduser().resolve())


def find_notebook_path(
    user_ns: Mapping[str, Any] | None = None, ask_servers: bool = True
) -> tuple[str | None, str]:
    """``(absolute notebook path or None, how it was found)``.

    The explicit environment variable wins even if the file does not exist
    yet; other hints must point to an existing file, else the servers are
    asked, else the first hint is returned as given.
    """
    candidates = _candidates(user_ns or {})
    for how, value in candidates:
        if how == config.NOTEBOOK_ENV or Path(value).expanduser().is_file():
            return _absolute(value), how
    if ask_servers:
        try:
            path = path_from_servers(kernel_id())
        except Exception:  # a broken server listing must not stop the kernel
            path = None
        if path:
            return _absolute(path), "jupyter server sessions API"
    if candidates:
        how, value = candidates[0]
        return _absolute(value), f"{how} (file not found)"
    return None, "not found"


def kernel_id() -> str | None:
    """This kernel's id, from its connection file name (``kernel-<id>.json``)."""
    try:
        from ipykernel.connect import get_connection_file

        stem = Path(get_connection_file()).stem
    except Exception:  # not in a kernel
        return None
    return stem[len("kernel-"):] if stem.startswith("kernel-") else None


def path_from_servers(kernel: str | None, servers: Iterable[dict[str, Any]] | None = None) -> str | None:
    """The notebook path of the session owning ``kernel`` on a running Jupyter server, or ``None``.

    ``servers`` defaults to ``jupyter_server``'s list of running servers
    (their ``jpserver-*.json`` files); each is asked ``GET /api/sessions``
    with its token.
    """
    if not kernel:
        return None
    if servers is None:
        from jupyter_server.serverapp import list_running_servers

        servers = list_running_servers()
    for server in servers:
        request = urllib.request.Request(server["url"].rstrip("/") + "/api/sessions")
        if server.get("token"):
            request.add_header("Authorization", f"token {server['token']}")
        try:
            with urllib.request.urlopen(request, timeout=SERVER_TIMEOUT_SECONDS) as response:
                sessions = json.load(response)
        except (OSError, ValueError):
            continue
        for session in sessions:
            if (session.get("kernel") or {}).get("id") == kernel:
                relative = session.get("path") or (session.get("notebook") or {}).get("path")
                root = server.get("root_dir") or server.get("notebook_dir") or ""
                return os.path.join(root, relative) if relative else None
    return None
