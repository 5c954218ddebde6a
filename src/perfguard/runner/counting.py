"""Which metrics a run measures, and which instruction counter this machine offers.

``--metric time,instructions`` gives every ``time_`` benchmark a second series, named
``NAME:instructions`` (:func:`counted_name`), of kind ``instructions``: its own row in every
report, matched by rules like any benchmark name (``match = "*:instructions"``), kept apart
from the time row everywhere a row is identified by (benchmark, parameters).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from perfguard.errors import ConfigError, NoCounterError
from perfguard.runner import instructions
from perfguard.runner.pairs import Counting

SUFFIX = ":instructions"
"""What an instructions series adds to its benchmark's name."""
UNIT = "instructions"


class Metric(str, enum.Enum):
    """What ``perfguard run`` measures of a ``time_`` benchmark."""

    TIME = "time"
    INSTRUCTIONS = "instructions"


def parse_metrics(text: str, where: str = "--metric") -> tuple[Metric, ...]:
    """``time``, ``instructions`` or ``time,instructions`` -> the metrics, in that order."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    try:
        metrics = {Metric(name) for name in names}
    except ValueError as exc:
        raise ConfigError(f"{where} {text!r}: use time, instructions or time,instructions") from exc
    if not metrics:
        raise ConfigError(f"{where} is empty: use time, instructions or time,instructions")
    return tuple(m for m in Metric if m in metrics)


def counted_name(benchmark: str) -> str:
    return benchmark + SUFFIX


def measured_name(name: str) -> tuple[str, bool]:
    """A series' benchmark name -> (asv's benchmark name, whether its instructions are
    counted)."""
    if name.endswith(SUFFIX):
        return name[: -len(SUFFIX)], True
    return name, False


def choose(choice: str, metrics: Iterable[Metric]) -> Counting | None:
    """The counter for this run (None when no instructions are measured), or one line on why
    there is none (exit 2).

    ``auto``: hardware counters where ``perf_event_open`` works (probed once, here), else
    valgrind where it is on PATH.
    """
    if Metric.INSTRUCTIONS not in set(metrics):
        return None
    why_not_perf = ""
    if choice in (instructions.AUTO, instructions.PERF):
        why_not_perf = instructions.perf_available()
        if not why_not_perf:
            return Counting(counter=instructions.PERF)
        if choice == instructions.PERF:
            raise NoCounterError(f"--counter perf: {why_not_perf}")
    valgrind = instructions.valgrind_path()
    if valgrind is not None:
        return Counting(counter=instructions.VALGRIND, valgrind=valgrind)
    if choice == instructions.VALGRIND:
        raise NoCounterError(
            "--counter valgrind: valgrind is not on PATH (install it: sudo apt-get install"
            " valgrind)"
        )
    raise NoCounterError(
        f"no instruction counter here: {why_not_perf}, and valgrind is not on PATH (install"
        " it: sudo apt-get install valgrind)"
    )


def describe(counting: Counting) -> str:
    """What the report says counted the instructions."""
    if counting.counter == instructions.PERF:
        return "hardware counters (perf_event_open, user-space instructions)"
    return "valgrind (callgrind, instructions executed in user space)"
