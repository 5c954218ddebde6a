"""The source of a clock that counts work, for asv's ``timer`` hook in real-asv tests.

On this shared 2-core VM wall-clock timings of identical work move by tens of percent, so a test
that says "a 30 % slowdown is flagged, untouched code is not" times its benchmarks with this
clock: ``work(scale)`` really loops ``iterations * scale`` times and advances the clock by that
count (with a 1 % jitter per call, seeded per process), so a verdict can fail only for the
right reason. A benchmark uses it as ``time_x.timer = package.clock``.
"""

from __future__ import annotations

_SOURCE = """
import os
import random

# Counted work, not wall time (see the benchmarks' `timer`): a 1 % jitter per call.
_jitter = random.Random(os.getpid())
elapsed = 0.0


def clock():
    return elapsed


def work(scale):
    global elapsed
    n = int({iterations} * scale)
    total = 0
    for i in range(n):
        total += i % 7
    elapsed += n * 5e-8 * _jitter.lognormvariate(0.0, 0.01)
    return total
"""


def counted_clock_source(iterations: int) -> str:
    """Module source defining ``clock()`` and ``work(scale)`` (``iterations`` loops at 1.0)."""
    return _SOURCE.format(iterations=iterations)
