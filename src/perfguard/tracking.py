"""Deterministic side metrics for benchmark authors: allocations and peak memory via tracemalloc.

Timings wobble by percents from run to run; the number of memory blocks a piece of code leaves
allocated and the peak of traced memory while it runs repeat exactly for the same code and input
(RESEARCH.md, "Noise"), so a 5 % gate on them is never a false alarm. asv records them as
``track_`` benchmarks::

    from perfguard.tracking import tracemalloc_tracks

    def publish_1000():
        ...

    track_publish_blocks, track_publish_peak = tracemalloc_tracks(publish_1000)

``track_publish_blocks`` returns the blocks still allocated after the call (unit ``blocks``),
``track_publish_peak`` the peak traced bytes above the starting point (unit ``bytes``); both
lower-is-better. With a ``setup`` callable, its result is passed to the measured function and
its own allocations are not counted.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Allocations:
    """What one call allocated, as tracemalloc saw it."""

    blocks: int
    """Memory blocks allocated during the call and still alive after it (net allocations)."""
    peak: int
    """Peak traced bytes during the call, above what was traced before it."""


class Track(Protocol):
    """An asv ``track_`` benchmark: a callable with a ``unit``."""

    unit: str

    def __call__(self) -> int: ...


def _blocks() -> int:
    snapshot = tracemalloc.take_snapshot()
    return sum(stat.count for stat in snapshot.statistics("filename"))


def measure(func: Callable[..., Any], *args: Any) -> Allocations:
    """Run ``func(*args)`` once under tracemalloc; garbage is collected before and after."""
    started_here = not tracemalloc.is_tracing()
    if started_here:
        tracemalloc.start()
    try:
        gc.collect()
        before_blocks = _blocks()
        before_bytes, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        result = func(*args)
        _, peak = tracemalloc.get_traced_memory()
        del result
        gc.collect()
        after_blocks = _blocks()
    finally:
        if started_here:
            tracemalloc.stop()
    return Allocations(blocks=after_blocks - before_blocks, peak=max(0, peak - before_bytes))


def tracemalloc_tracks(
    func: Callable[..., Any], setup: Callable[[], Any] | None = None
) -> tuple[Track, Track]:
    """Two asv ``track_`` benchmarks for ``func``: net blocks allocated, and peak bytes."""

    def run() -> Allocations:
        if setup is None:
            return measure(func)
        return measure(func, setup())

    def blocks() -> int:
        return run().blocks

    def peak() -> int:
        return run().peak

    blocks.unit = "blocks"  # type: ignore[attr-defined]
    peak.unit = "bytes"  # type: ignore[attr-defined]
    name = getattr(func, "__name__", "call")
    blocks.__doc__ = f"Memory blocks {name} leaves allocated (tracemalloc)."
    peak.__doc__ = f"Peak traced bytes while {name} runs (tracemalloc)."
    return blocks, peak  # type: ignore[return-value]
