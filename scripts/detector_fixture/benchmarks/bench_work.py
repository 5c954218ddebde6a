"""Detector-quality fixture: the same work timed by wall clock and by CPU time.

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
