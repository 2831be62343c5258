"""How big stress-sized tests run: ``$LIFECYCLE_STRESS_SCALE`` is ``ci`` (the default, ``make test``) or ``full`` (``make stress``).

Property tests try a few hundred inputs each at ``ci`` and twenty times as
many at ``full``; ``tests/stress/`` picks its process and point counts from the
same name.
"""

from __future__ import annotations

import os

SCALE_ENV = "LIFECYCLE_STRESS_SCALE"
NAME = os.environ.get(SCALE_ENV) or "ci"
MULTIPLIERS = {"ci": 1, "full": 20}
if NAME not in MULTIPLIERS:
    raise RuntimeError(f"${SCALE_ENV}={NAME!r}: use ci or full")


def examples(count: int) -> int:
    """``count`` examples, times the stress scale (1 at ``ci``, 20 at ``full``)."""
    return count * MULTIPLIERS[NAME]
