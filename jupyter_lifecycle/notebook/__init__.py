"""The notebook layer: everything a notebook user touches, on top of the pure API.

``extension`` wires ``%load_ext jupyter_lifecycle`` (cell recording from
``capture``, the magics, autolog); ``magics`` holds the framework and one
module per area; ``display`` gives entities their HTML reprs; ``charts``,
``comparison`` and ``widgets`` are the inline UI (altair, ipywidgets).
Modules here may import anything below them; nothing below imports them.
The package itself imports nothing, so ``display`` loads without IPython.
"""
