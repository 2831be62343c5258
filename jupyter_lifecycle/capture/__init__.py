"""Notebook capture: cell recording, notebook-path discovery, the save hook and notebook revisions.

``recorder`` holds the kernel's cell hooks (wired into IPython by
``jupyter_lifecycle.notebook.extension``), ``notebook_path`` finds the
notebook a kernel runs, ``revisions`` stores and diffs ``.ipynb`` revisions,
and ``savehook`` records one on every save from jupyter_server. Nothing here
imports IPython at import time, so the post-save hook loads in the server.
"""

from __future__ import annotations

from .savehook import post_save_hook

__all__ = ["post_save_hook"]
