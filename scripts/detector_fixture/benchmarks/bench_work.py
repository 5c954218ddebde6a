"""Detector-quality fixture: the same work timed by wall clock, by CPU time, and as a rate.

Wall-clock time (asv's default) includes every moment another process held the CPU; CPU time
(``timer = time.process_time``) does not, which matters on a shared machine.
"""

import time

import workload


def time_arithmetic():
    workload.arithmetic()


def time_arithmetic_cpu():
    workload.arithmetic()


time_arithmetic_cpu.timer = time.process_time


def track_rate():
    """Throughput of the same work, calls/s (higher is better), as asv users measure rates.

    One figure per call: as many calls as fit in about 50 ms, divided by their wall time.
    """
    calls = 0
    started = time.perf_counter()
    while True:
        workload.arithmetic()
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= 0.05:
            return calls / elapsed


track_rate.unit = "calls/s"
