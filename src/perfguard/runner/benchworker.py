"""One asv benchmark kept alive in asv's environment and sampled on request (a paired worker).

``perfguard run`` starts two of these per benchmark and round, one in the base commit's
environment and one in the head's, pinned to the same CPU, and asks them for samples in
alternation. Two samples taken milliseconds apart on the same CPU see the same machine, so their
ratio cancels the slow and fast phases of a shared machine that last for seconds.

This file runs under the *environment's* Python as a script: it imports only the standard
library and ``asv_runner`` (which asv installs into every environment), never perfguard.

Protocol, one JSON object per line on the original standard output (the benchmark's own output
is sent to standard error):

- argv: ``BENCHMARK_DIR BENCHMARK_ID EXTRA_PARAMS_JSON CPU`` (``CPU`` empty: no pinning);
- on start: ``{"ready": KIND, "number": N}``, ``{"skip": true}`` or ``{"error": TEXT}``;
- ``sample`` -> ``{"value": X}`` (seconds per call for ``time`` benchmarks, else asv's value);
- ``quit`` -> teardown and exit.
"""

from __future__ import annotations

import json
import math
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, TextIO

if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]  # this file's directory (perfguard's package) must not shadow anything

from asv_runner.benchmarks.mark import SkipNotImplemented
from asv_runner.discovery import get_benchmark_from_name

WARMUP_SECONDS = 0.1
"""asv's own warm-up for CPython, spent while calibrating the number of calls per sample."""


def time_sampler(bench: Any) -> tuple[Callable[[], float], int]:
    """asv's timer for this benchmark, calibrated as asv does; returns (one sample, number)."""
    params = bench._build_params()
    number = int(bench.number)
    isolate = bool(bench._setups) and bench._setup_isolates_timed_calls
    if isolate and number == 0:
        number = 1
    timer = (
        bench._get_interleaved_timer(*params)
        if isolate and number > 1
        else bench._get_timer(*params)
    )
    warmup = WARMUP_SECONDS if bench.warmup_time < 0 else float(bench.warmup_time)
    _, calibrated = bench.benchmark_timing(
        timer, 1, 1, max_time=0.0, warmup_time=warmup, number=number, min_run_count=1
    )
    number = int(calibrated)

    def sample() -> float:
        return float(timer.timeit(number)) / number

    return sample, number


def serve(bench: Any, cpu: str, out: TextIO) -> None:
    def say(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    if bench.do_setup():
        say({"skip": True})
        return
    try:
        if bench.type == "time":
            sample, number = time_sampler(bench)
        else:
            number = 1

            def sample() -> float:
                value = bench.do_run()
                return math.nan if value is None else float(value)

        if cpu:
            os.sched_setaffinity(0, {int(cpu)})
        say({"ready": bench.type, "number": number})
        for line in sys.stdin:
            command = line.strip()
            if command == "quit":
                break
            try:
                say({"value": sample()})
            except SkipNotImplemented:
                say({"skip": True})
                return
    finally:
        bench.do_teardown()


def main(argv: list[str]) -> int:
    benchmark_dir, benchmark_id, params_json, cpu = argv
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # the benchmark's prints must not corrupt the protocol
    try:
        extra = json.loads(params_json)
        bench = get_benchmark_from_name(benchmark_dir, benchmark_id, extra_params=extra)
        bench.set_cache(bench.do_setup_cache() if bench.setup_cache_key is not None else None)
        serve(bench, cpu, out)
    except BaseException:
        out.write(json.dumps({"error": traceback.format_exc()}) + "\n")
        out.flush()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
