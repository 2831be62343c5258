"""ipywidgets for the notebook: ``browse()``, the run browser."""

from .browser import RunBrowser, browse

__all__ = ["RunBrowser", "browse"]
