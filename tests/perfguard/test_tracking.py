"""tracemalloc side metrics: exact repeats, real growth seen, setup excluded."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

from perfguard.tracking import Allocations, measure, tracemalloc_tracks

KEPT: list[object] = []


def build(n: int) -> list[bytearray]:
    return [bytearray(1000) for _ in range(n)]


def test_a_call_is_measured_with_its_peak_and_no_leftovers() -> None:
    measure(build, 50)  # a first call may allocate caches (and coverage's own records)
    result = measure(build, 50)
    assert result.blocks <= 5  # the result is freed: only interpreter bookkeeping stays
    assert 50_000 <= result.peak < 60_000


def test_more_work_is_seen_exactly() -> None:
    small, large = measure(build, 50), measure(build, 100)
    assert large.peak - small.peak >= 50 * 1000


def test_blocks_count_what_the_call_leaves_behind() -> None:
    def leak() -> None:
        KEPT.extend(object() for _ in range(10))

    KEPT.clear()
    KEPT.extend([None] * 64)  # room in the list, so only the objects count
    KEPT.clear()
    assert measure(leak).blocks >= 10
    KEPT.clear()


def test_tracks_are_asv_track_benchmarks_with_units() -> None:
    blocks, peak = tracemalloc_tracks(build, setup=lambda: 20)
    assert (blocks.unit, peak.unit) == ("blocks", "bytes")
    blocks()  # warm-up, as above
    assert 0 <= blocks() <= 5
    assert 20_000 <= peak() < 30_000
    assert "build" in (blocks.__doc__ or "")
    # asv names a module-level benchmark after its function's __name__
    assert (blocks.__name__, peak.__name__) == ("track_build_blocks", "track_build_peak")
    named, _ = tracemalloc_tracks(build, name="grow")
    assert named.__name__ == named.__qualname__ == "track_grow_blocks"


def test_setup_allocations_are_not_counted() -> None:
    big_setup = measure(lambda data: len(data), bytearray(10**6))
    assert big_setup.peak < 10_000
    _, peak = tracemalloc_tracks(len, setup=lambda: bytearray(10**6))
    assert peak() < 10_000


def test_an_outer_trace_is_left_running() -> None:
    tracemalloc.start()
    try:
        assert isinstance(measure(build, 5), Allocations)
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()


def test_fresh_processes_agree_exactly() -> None:
    """asv calls a track_ benchmark once per fresh process: those must repeat exactly.

    (Fresh processes, not this one: tracemalloc sees every thread, and other tests leave some.)
    """
    code = (
        "from perfguard.tracking import measure\n"
        "keep = []\n"
        "work = lambda: keep.append([bytearray(100) for _ in range(300)])\n"
        "print(measure(work), measure(work), measure(work))"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(3)
    }
    assert len(runs) == 1
    assert "Allocations(blocks=" in runs.pop()
