"""One side's worker for one round: imports once, forks one child per benchmark, samples.

``perfguard run`` starts two of these per round, one in the base commit's environment and one
in the head's, pinned to the same CPU, and asks them for samples in alternation. Two samples
taken milliseconds apart on the same CPU see the same machine, so their ratio cancels the slow
and fast phases of a shared machine that last for seconds.

A worker serves the whole round. For each benchmark it imports the module (cached in
``sys.modules`` for the round's later benchmarks: a library that takes seconds to import is
paid once per round and side, not once per benchmark), then forks a child that runs
``setup``, calibrates and answers the sample requests, tears down and exits. A child that
crashes (``os._exit``, a segfault) ends only its benchmark; the worker says how it ended and
takes the next request. ``setup_cache`` runs once per side and run, as asv runs it: in a
forked child, in its own directory, pickled there; every benchmark child that uses it loads
the pickle with that directory as its working directory.

This file runs under the *environment's* Python as a script: it imports only the standard
library and ``asv_runner`` (which asv installs into every environment), never perfguard.

Protocol: strictly one JSON line answers one request line (requests are read unbuffered, byte
by byte, so a forked child never inherits read-ahead of the parent's or the reverse). The
benchmark's own output goes to standard error.

- argv: ``BENCHMARK_DIR EXTRA_PARAMS_JSON CPU CACHE_ROOT [COUNTER]`` (``CPU`` empty: no
  pinning; ``CACHE_ROOT``: where ``setup_cache`` directories live, one per cache key, for the
  run; ``COUNTER``: ``perf`` or ``valgrind:OUT_DIR`` to count the instructions of ``time_``
  benchmarks instead of timing them, see :func:`count_sampler`);
- ``bench ID`` -> ``{"ready": KIND, "number": N, "paired": BOOL}``, ``{"skip": true}``,
  ``{"error": TEXT}``, ``{"ended": CODE}`` (the child died first) or ``{"error": TEXT,
  "ended": null}`` (the benchmark could not be loaded, no child); ``paired``: it answers every
  ``sample`` with a new value (``time_``, and ``track_`` unless ``once_per_process``), else
  only one ``sample`` is asked for;
- ``sample`` -> ``{"value": X}`` (seconds per call for ``time`` benchmarks, instructions per
  call when counting, else asv's value), ``{"skip": true}``, ``{"error": TEXT}`` or
  ``{"ended": CODE}``;
- ``end`` -> the child tears down and exits; the worker answers ``{"ended": CODE}``;
- ``quit`` (or end of input) -> the worker exits.

``CODE`` is the child's exit code, or minus the signal that killed it.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import importlib.util
import json
import math
import os
import pickle
import signal
import sys
import time
import timeit
import traceback
from collections.abc import Callable
from typing import Any, TextIO

if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]  # this file's directory (perfguard's package) must not shadow anything

from asv_runner.benchmarks._base import _get_first_attr
from asv_runner.benchmarks.mark import SkipNotImplemented
from asv_runner.discovery import disc_benchmarks, get_benchmark_from_name

WARMUP_SECONDS = 0.1
"""asv's own warm-up for CPython, spent while calibrating the number of calls per sample."""
ONCE_ATTRIBUTE = "once_per_process"
"""A ``track_`` benchmark with this attribute true gives one value per process (as asv does),
not one per paired sample."""
PR_SET_PDEATHSIG = 1
COUNT_CALLS = 5
"""Counted calls per sample when asv would calibrate ``number``; the sample is their least
count. A count needs no averaging (it does not jitter as a clock does), but the count of a body
that allocates follows the allocator's state, which each call leaves different: measured on
CPython 3.13 (tests/perfguard/test_run_instructions_aa.py's 3 000-step loop), consecutive calls
alternate between 2 375 370 and 2 388 324 instructions (+0.55 %), and a process can sit on the
higher count for several calls. One call per sample made 2 of 3 A/A runs inconclusive at a
0.5 % threshold; the least of 5 calls gave the lower count in 71 of 72 samples. It cannot help
a process whose every call sits higher (whole processes had floors of 2 385 272 to 2 398 213):
that noise is left to the rounds (docs/run.md, "Counting instructions")."""
COUNT_SECONDS = 0.5
"""No further calls in a sample once its calls took this long (under valgrind a call costs
about 50 times its native time): a body of a second is counted once per sample."""


def _instructions() -> Any:
    """perfguard's counting module (``instructions.py`` beside this file), loaded by path:
    this worker never imports perfguard."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "instructions.py")
    spec = importlib.util.spec_from_file_location("_perfguard_instructions", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_line(fd: int = 0) -> str:
    """One request line, read byte by byte: nothing beyond it is taken from the pipe."""
    chunks: list[bytes] = []
    while True:
        byte = os.read(fd, 1)
        if not byte:
            return ""
        if byte == b"\n":
            return b"".join(chunks).decode()
        chunks.append(byte)


def time_sampler(bench: Any) -> tuple[Callable[[], float], int]:
    """asv's timer for this benchmark, calibrated; returns (one sample, number).

    ``number`` not set (0): calibrated to about ``sample_time`` of calls and ``setup`` is not
    run between them or between samples (asv's documented ``number`` rule: the child ran
    ``setup`` once). ``number`` set: asv_runner's own rule, ``setup`` before every sample
    (``number = 1``) or between the calls of one (``number > 1``; asv#966).
    """
    params = bench._build_params()
    number = int(bench.number)
    if type(bench).__name__ == "TimerawBenchmark":
        timer = bench._get_timer(*params)  # one subprocess per sample, its own timer and setup
    elif number == 0:
        func = functools.partial(bench.func, *params) if params else bench.func
        timer = timeit.Timer(stmt=func, timer=bench.timer)  # no setup between samples
    elif bench._setups and number > 1 and hasattr(bench, "_get_interleaved_timer"):
        timer = bench._get_interleaved_timer(*params)  # asv_runner >= 0.3: setup between calls
    else:
        timer = bench._get_timer(*params)  # setup before every sample
    warmup = WARMUP_SECONDS if bench.warmup_time < 0 else float(bench.warmup_time)
    _, calibrated = bench.benchmark_timing(
        timer, 1, 1, max_time=0.0, warmup_time=warmup, number=number, min_run_count=1
    )
    number = int(calibrated)

    def sample() -> float:
        return float(timer.timeit(number)) / number

    return sample, number


def count_sampler(bench: Any, counter: str) -> tuple[Callable[[], float], int]:
    """Instructions per call of this ``time_`` benchmark; returns (one sample, number).

    asv's own ``number`` and setup rule where it sets ``number`` (setup before every sample,
    and between the calls of one when there are setup hooks, asv#966; the sample is their
    mean); else the least count of up to :data:`COUNT_CALLS` calls (:data:`COUNT_SECONDS`)
    after one uncounted warm-up call (setup ran once, in the child). Only the calls are
    counted: each call is its own counted region, the setups run between regions.
    """
    if type(bench).__name__ == "TimerawBenchmark":
        raise ValueError("timeraw_ benchmarks run in a subprocess of their own: not counted")
    params = bench._build_params()
    func = functools.partial(bench.func, *params) if params else bench.func
    region = _instructions().Region(counter)
    asv_number = int(bench.number)
    between = bool(asv_number > 1 and bench._setups)

    def mean_of_number() -> float:
        total = 0
        for call in range(asv_number):
            if call == 0 or between:
                bench.redo_setup()
            total += region.count(func)
        return total / asv_number

    def least_of_calls() -> float:
        start = time.perf_counter()
        least = region.count(func)
        for _ in range(COUNT_CALLS - 1):
            if time.perf_counter() - start >= COUNT_SECONDS:
                break
            least = min(least, region.count(func))
        return float(least)

    if asv_number:
        return mean_of_number, asv_number
    func()  # warm-up: first-call costs (caches, lazy imports) are not the benchmark's
    return least_of_calls, 1


class Channel:
    """The protocol's output: one JSON object per line, flushed."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def say(self, message: dict[str, Any]) -> None:
        self.out.write(json.dumps(message) + "\n")
        self.out.flush()


def _die_with_parent() -> None:
    with contextlib.suppress(AttributeError, OSError):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _exit_code(status: int) -> int:
    return os.waitstatus_to_exitcode(status)


def child(bench: Any, where: str | None, cpu: str, channel: Channel, counter: str = "") -> int:
    """The forked child's life: setup, calibration, samples on request, teardown at ``end``.

    Returns the exit code: 0, or 1 if teardown failed (its traceback goes to stderr).
    """
    try:
        if where is not None:
            os.chdir(where)
            with open("cache.pickle", "rb") as fd:
                bench.set_cache(pickle.load(fd))
        else:
            bench.set_cache(None)
        if bench.do_setup():
            channel.say({"skip": True})
            _wait_for_end()
            return 0
        once = bool(_get_first_attr(bench._attr_sources, ONCE_ATTRIBUTE, False))
        paired = bench.type == "time" or (bench.type == "track" and not once)
        if bench.type == "time" and counter:
            sample, number = count_sampler(bench, counter)
        elif bench.type == "time":
            sample, number = time_sampler(bench)
        else:
            number = 1

            def sample() -> float:
                value = bench.do_run()
                return math.nan if value is None else float(value)

        if cpu:
            os.sched_setaffinity(0, {int(cpu)})
    except Exception:
        channel.say({"error": traceback.format_exc()})
        _wait_for_end()
        return 0
    channel.say({"ready": bench.type, "number": number, "paired": paired})
    while read_line() == "sample":
        try:
            value = sample()
        except SkipNotImplemented:
            channel.say({"skip": True})
            _wait_for_end()
            break
        except Exception:
            channel.say({"error": traceback.format_exc()})
            _wait_for_end()
            break
        channel.say({"value": value})
    try:
        bench.do_teardown()
    except Exception:
        traceback.print_exc()
        return 1
    return 0


def _wait_for_end() -> None:
    while read_line() not in ("end", ""):
        pass


def _cache_dir(cache_root: str, key: str) -> str:
    return os.path.join(cache_root, hashlib.sha256(key.encode()).hexdigest()[:16])


def _wait_until(pid: int, deadline: float) -> int | None:
    """The child's wait status, or None after killing it at ``deadline`` (monotonic)."""
    pause = 0.001
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.05)


def ensure_setup_cache(bench: Any, cache_root: str) -> str:
    """The directory holding this benchmark's ``setup_cache`` pickle, made once per run.

    Made in a forked child (``setup_cache`` must not change this worker's state), in the
    directory, as asv does. A failed ``setup_cache`` leaves its traceback there, so later
    rounds report it without running it again. So does one that runs over its timeout
    (``setup_cache``'s own ``timeout`` attribute, else the benchmark's, as asv has it): this
    worker kills it at the deadline, before ``perfguard run`` would give up on the worker.
    """
    where = _cache_dir(cache_root, str(bench.setup_cache_key))
    done = os.path.join(where, "setup_cache.done")  # written after the pickle is complete
    failed = os.path.join(where, "setup_cache.failed")
    if not os.path.exists(done) and not os.path.exists(failed):
        os.makedirs(where, exist_ok=True)
        timeout = float(getattr(bench, "setup_cache_timeout", None) or bench.timeout or 60.0)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                _die_with_parent()
                os.chdir(where)
                cache = bench.do_setup_cache()
                with open("cache.pickle", "wb") as fd:
                    pickle.dump(cache, fd)
                with open("setup_cache.done", "w", encoding="utf-8"):
                    pass
                code = 0
            except BaseException:
                with open("setup_cache.failed", "w", encoding="utf-8") as fd:
                    fd.write(traceback.format_exc())
            finally:
                os._exit(code)
        status = _wait_until(pid, time.monotonic() + timeout)
        if status is None:
            with open(failed, "w", encoding="utf-8") as fd:
                fd.write(f"setup_cache timed out after {timeout:g}s (asv timeout)")
        elif not os.path.exists(done) and not os.path.exists(failed):
            with open(failed, "w", encoding="utf-8") as fd:
                fd.write(f"setup_cache's process ended with code {_exit_code(status)}")
    if os.path.exists(failed):
        with open(failed, encoding="utf-8") as fd:
            raise RuntimeError(f"setup_cache failed:\n{fd.read()}")
    return where


def import_suite(benchmark_dir: str) -> None:
    """Import every benchmark module, as asv's forkserver does before it forks a benchmark.

    A forked child's peak RSS starts at this worker's size, so a ``peakmem_`` child forked
    after the whole suite is imported reads what asv reads for the same commit, whatever
    benchmarks this round measured before it (their modules stay imported for the round)."""
    for _ in disc_benchmarks(benchmark_dir, ignore_import_errors=True):
        pass


def serve(
    benchmark_dir: str,
    extra: dict[str, Any],
    cpu: str,
    cache_root: str,
    out: TextIO,
    counter: str = "",
) -> None:
    """The worker's loop: one benchmark at a time, each in a forked child."""
    channel = Channel(out)
    suite_imported = False
    while True:
        command = read_line()
        if command in ("quit", ""):
            return
        verb, _, benchmark_id = command.partition(" ")
        if verb != "bench" or not benchmark_id:
            channel.say({"error": f"unknown request {command[:100]!r}"})
            continue
        try:
            bench = get_benchmark_from_name(benchmark_dir, benchmark_id, extra_params=extra)
            where = (
                ensure_setup_cache(bench, cache_root) if bench.setup_cache_key is not None else None
            )
            if bench.type == "peakmemory" and not suite_imported:
                import_suite(benchmark_dir)
                suite_imported = True
        except Exception:
            channel.say({"error": traceback.format_exc(), "ended": None})  # no child started
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                _die_with_parent()
                code = child(bench, where, cpu, channel, counter)
            except BaseException:
                traceback.print_exc()
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                finally:
                    os._exit(code)
        _, status = os.waitpid(pid, 0)
        channel.say({"ended": _exit_code(status)})


def main(argv: list[str]) -> int:
    benchmark_dir, params_json, cpu, cache_root, *rest = argv
    counter = rest[0] if rest else ""
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # the benchmark's prints must not corrupt the protocol
    try:
        extra = json.loads(params_json)
        serve(benchmark_dir, extra, cpu, cache_root, out, counter)
    except BaseException:
        out.write(json.dumps({"error": traceback.format_exc()}) + "\n")
        out.flush()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
