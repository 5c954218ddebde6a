"""Deterministic side metrics for benchmark authors: allocations and peak memory via tracemalloc.

Timings wobble by percents from run to run; the number of memory blocks a piece of code leaves
allocated and the peak of traced memory while it runs repeat exactly for the same code and input
(RESEARCH.md, "Noise"), so a 5 % gate on them is never a false alarm. asv records them as
``track_`` benchmarks::

    from perfguard.tracking import tracemalloc_tracks

    def publish_1000():
        ...

    track_publish_1000_blocks, track_publish_1000_peak = tracemalloc_tracks(publish_1000)

``track_publish_1000_blocks`` returns the blocks still allocated after the call (unit
``blocks``), ``track_publish_1000_peak`` the peak traced bytes above the starting point (unit
``bytes``); both lower-is-better. With a ``setup`` callable, its result is passed to the
measured function and its own allocations are not counted.
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
    func: Callable[..., Any],
    setup: Callable[[], Any] | None = None,
    *,
    name: str | None = None,
) -> tuple[Track, Track]:
    """Two asv ``track_`` benchmarks for ``func``: net blocks allocated, and peak bytes.

    asv names a module-level benchmark after its function, so the two are named
    ``track_<name>_blocks`` and ``track_<name>_peak`` (``name`` defaults to ``func``'s name);
    assign them to module attributes of the same names.
    """

    def run() -> Allocations:
        if setup is None:
            return measure(func)
        return measure(func, setup())

    def blocks() -> int:
        return run().blocks

    def peak() -> int:
        return run().peak

    label = name or getattr(func, "__name__", "call")
    for track, metric, unit, doc in (
        (blocks, "blocks", "blocks", f"Memory blocks {label} leaves allocated (tracemalloc)."),
        (peak, "peak", "bytes", f"Peak traced bytes while {label} runs (tracemalloc)."),
    ):
        track.__name__ = track.__qualname__ = f"track_{label}_{metric}"
        track.unit = unit  # type: ignore[attr-defined]
        track.__doc__ = doc
    return blocks, peak  # type: ignore[return-value]
