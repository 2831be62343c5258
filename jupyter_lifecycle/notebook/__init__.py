"""The notebook layer: everything a notebook user touches, on top of the pure API.

``extension`` wires ``%load_ext jupyter_lifecycle`` (cell recording from
``capture``, the magics, autolog); ``magics`` holds the framework and one
module per area; ``display`` gives entities their HTML reprs; ``charts``,
``comparison`` and ``widgets`` are the inline UI (altair, ipywidgets).
Modules here may import anything below them; nothing below imports them.
The package itself imports only jsonschema (see below), so ``display`` loads without IPython.
"""

import sys


def _import_jsonschema_without_iri_grammars() -> None:
    # altair imports jsonschema, whose format checkers import the optional
    # rfc3987_syntax when it is installed (jupyter_events pulls it in); that
    # module compiles ~40 lark grammars at import: about 1.3 s, the fixed cost
    # of the first chart in a kernel (#14). Altair never checks the "iri"
    # formats those grammars serve, so jsonschema is imported here without
    # them when nothing imported it yet; a process that did (a Jupyter
    # server) is left as it is, and a later `import rfc3987_syntax` works.
    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        return
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # its import fails, as if not installed
    try:
        import jsonschema  # noqa: F401
    except ImportError:  # no jsonschema: altair (which needs it) reports that itself
        pass
    finally:
        del sys.modules["rfc3987_syntax"]


_import_jsonschema_without_iri_grammars()
