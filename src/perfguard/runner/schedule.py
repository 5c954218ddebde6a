"""Rounds in random order, and adaptive effort: measure until decided, out of rounds or time.

Each round measures every benchmark for base and head together (benchmark by benchmark, the
two sides sampled in alternation by :mod:`.pairs`); the order is drawn per round from a
seeded generator (the seed is recorded, so the order can be replayed). After ``min_rounds``
only benchmarks that are still undecided run again, up to ``max_rounds`` and within the
wall-time limit (``--time-limit``).
"""

from __future__ import annotations

import datetime
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from perfguard.models import Key
from perfguard.rounds import RoundRecord, RoundsFile
from perfguard.runner.asvenv import PairOutcome
from perfguard.runner.progress import Display, Status

Measure = Callable[[str, tuple[str, str], random.Random], dict[Key, PairOutcome]]
"""Measure one benchmark, both sides, the round's order first; one outcome per combination."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Effort:
    """How much measuring a run may do."""

    min_rounds: int = 5
    max_rounds: int = 20
    time_limit: float | None = None
    """Wall-time limit in seconds for all rounds (builds not included)."""

    def __post_init__(self) -> None:
        if not 2 <= self.min_rounds <= self.max_rounds:
            raise ValueError("need 2 <= min_rounds <= max_rounds")


def draw_order(rng: random.Random) -> tuple[str, str]:
    return ("base", "head") if rng.random() < 0.5 else ("head", "base")


def record(data: RoundsFile, index: int, outcomes: dict[Key, PairOutcome]) -> None:
    """Append one round's values to every series it measured."""
    for series in data.series:
        outcome = outcomes.get(series.key)
        if outcome is None:
            continue
        series.rounds.append(index)
        series.base.append(outcome.base.value)
        series.head.append(outcome.head.value)
        series.d.append(outcome.log_ratio)


def run_rounds(
    data: RoundsFile,
    measure: Measure,
    *,
    effort: Effort,
    undecided: Callable[[RoundsFile], set[str]],
    display: Display,
    on_round: Callable[[RoundsFile], None] = lambda _: None,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Measure rounds into ``data``; returns why it stopped.

    A benchmark settles (gets no more rounds) once ``min_rounds`` are done and ``undecided``
    leaves it out; a settled benchmark is not taken up again, so the settled count the display
    shows only grows. Counts are of series (parameter combinations), as the report's rows.
    """
    rng = random.Random(data.seed)
    combinations = Counter(s.benchmark for s in data.series)
    names = sorted(combinations)
    active: list[str] = names
    start = clock()
    last = 0.0
    for index in range(1, effort.max_rounds + 1):
        if not active:
            return f"every benchmark settled after {index - 1} rounds"
        elapsed = clock() - start
        if effort.time_limit is not None and index > 1 and elapsed + last > effort.time_limit:
            return f"time limit of {effort.time_limit:.0f}s reached after {index - 1} rounds"
        order = draw_order(rng)
        started = datetime.datetime.now(datetime.timezone.utc)
        began = clock()
        outcomes: dict[Key, PairOutcome] = {}
        for name in active:
            outcomes.update(measure(name, order, rng))
        last = clock() - began
        record(data, index, outcomes)
        data.rounds.append(
            RoundRecord(
                index=index,
                order=order,
                started=started.isoformat(timespec="seconds"),
                seconds=round(last, 3),
                benchmarks=len(active),
            )
        )
        on_round(data)
        if index >= effort.min_rounds:
            still = undecided(data)
            active = [name for name in active if name in still]
        elapsed = clock() - start
        display.update(
            Status(
                round=index,
                max_rounds=effort.max_rounds,
                settled=len(data.series) - sum(combinations[name] for name in active),
                total=len(data.series),
                elapsed=elapsed,
                remaining=None
                if effort.time_limit is None
                else max(0.0, effort.time_limit - elapsed),
                order=order,
            )
        )
    return f"maximum of {effort.max_rounds} rounds reached"
