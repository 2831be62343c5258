"""How many examples property tests try: a few seconds each in ``make test``, more with ``LIFECYCLE_STRESS_SCALE``.

``LIFECYCLE_STRESS_SCALE=20 pytest tests/test_properties.py`` tries twenty
times as many inputs (``make stress`` sets it).
"""

from __future__ import annotations

import os

SCALE = max(1, int(os.environ.get("LIFECYCLE_STRESS_SCALE", "1") or 1))


def examples(count: int) -> int:
    """``count`` examples, times the stress scale."""
    return count * SCALE
