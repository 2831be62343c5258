"""Notebook capture: cell recording, notebook path discovery, revisions at run start/end and on save.

The IPython side (``recorder``, ``extension``) is imported lazily, so the
jupyter_server post-save hook (``post_save_hook``) loads without IPython.
"""

from __future__ import annotations

from typing import Any

from .savehook import post_save_hook

__all__ = ["get_recorder", "load", "post_save_hook", "unload"]


def load(shell: Any) -> Any:
    """``%load_ext jupyter_lifecycle``: start recording in ``shell`` (see ``extension.load``)."""
    from .extension import load as _load

    return _load(shell)


def unload(shell: Any) -> None:
    """``%unload_ext jupyter_lifecycle``: remove every hook (see ``extension.unload``)."""
    from .extension import unload as _unload

    _unload(shell)


def get_recorder(shell: Any = None) -> Any:
    """The ``CellRecorder`` of a shell, or ``None`` when the extension is not loaded there."""
    from .extension import recorder as _recorder

    return _recorder(shell)
