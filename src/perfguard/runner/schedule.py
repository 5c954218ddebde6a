"""Rounds in random order, and adaptive effort: measure until decided, out of rounds or time.

Each round measures every benchmark for base and head together (benchmark by benchmark, the
two sides sampled in alternation by :mod:`.pairs`); the order is drawn per round from a
seeded generator (the seed is recorded, so the order can be replayed). After ``min_rounds``
only benchmarks that are still undecided run again, up to ``max_rounds`` and within the
wall-time budget.
"""

from __future__ import annotations

import datetime
import random
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from perfguard.models import Params
from perfguard.rounds import RoundRecord, RoundsFile
from perfguard.runner.asvenv import PairOutcome
from perfguard.runner.progress import Display, Status

Key = tuple[str, Params]
Measure = Callable[[str, tuple[str, str], random.Random], dict[Key, PairOutcome]]
"""Measure one benchmark, both sides, the round's order first; one outcome per combination."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Effort:
    """How much measuring a run may do."""

    min_rounds: int = 5
    max_rounds: int = 20
    budget: float | None = None
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
    """Measure rounds into ``data``; returns why it stopped."""
    rng = random.Random(data.seed)
    names = sorted({s.benchmark for s in data.series})
    active: Collection[str] = names
    start = clock()
    last = 0.0
    for index in range(1, effort.max_rounds + 1):
        if index > effort.min_rounds:
            active = sorted(undecided(data))
            if not active:
                return "all benchmarks decided"
        elapsed = clock() - start
        if effort.budget is not None and index > 1 and elapsed + last > effort.budget:
            return f"time budget of {effort.budget:.0f}s reached after {index - 1} rounds"
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
        still = undecided(data)
        elapsed = clock() - start
        display.update(
            Status(
                round=index,
                max_rounds=effort.max_rounds,
                decided=len(names) - len(still),
                total=len(names),
                elapsed=elapsed,
                remaining=None if effort.budget is None else max(0.0, effort.budget - elapsed),
                order=order,
            )
        )
    return f"maximum of {effort.max_rounds} rounds reached"
