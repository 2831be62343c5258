"""The magics of ``%load_ext jupyter_lifecycle``: the framework (``base``) and one module per area.

Importing this package registers every ``%lifecycle`` subcommand; a new area
adds a module beside these and a line below.
"""

from . import core, deployment, lab, registry, scoring, sync, tracing, ui  # noqa: F401  (each registers its subcommands)
from .base import SUBCOMMANDS, LifecycleMagics, Lines, Subcommand, subcommand

__all__ = ["SUBCOMMANDS", "LifecycleMagics", "Lines", "Subcommand", "subcommand"]
