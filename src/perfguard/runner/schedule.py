"""Rounds in random order, and adaptive effort: measure until decided, out of rounds or time.

Each round measures every benchmark for base and head together (benchmark by benchmark, the
two sides sampled in alternation by :mod:`.pairs`, in one pair of workers per round that
``round_scope`` opens); the order is drawn per round from a seeded generator (the seed is
recorded, so the order can be replayed). After ``min_rounds`` only the parameter combinations
that are still undecided run again, up to ``max_rounds`` and within the wall-time limit
(``--time-limit``, :data:`DEFAULT_TIME_LIMIT` unless given).

Progress: a line after every round, with what is left as :mod:`.estimate` expects it, and
within a round a beat at its start and after every benchmark, from which the plain display
prints a line whenever a minute passed since the last one (its watcher thread also when one
long benchmark keeps the round silent), so a log without a terminal shows the run is alive.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from perfguard.models import Key, Params
from perfguard.rounds import RoundRecord, RoundsFile
from perfguard.runner import estimate
from perfguard.runner.asvenv import PairOutcome
from perfguard.runner.estimate import format_seconds
from perfguard.runner.progress import Beat, Display, Status

Measure = Callable[
    [str, tuple[Params, ...], tuple[str, str], random.Random], dict[Key, PairOutcome]
]
"""Measure the given combinations of one benchmark, both sides, the round's order first; one
outcome per combination."""
RoundScope = Callable[[random.Random], contextlib.AbstractContextManager[object]]
"""Opens a round (its workers) before its first benchmark and closes it after its last."""


def no_scope(rng: random.Random) -> contextlib.AbstractContextManager[object]:
    return contextlib.nullcontext()


DEFAULT_TIME_LIMIT = 600.0
"""Seconds of rounds (builds not counted) a run takes at most unless told otherwise: a pull
request job that waits longer is not waited for. ``--time-limit none`` lifts it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Effort:
    """How much measuring a run may do."""

    min_rounds: int = 5
    max_rounds: int = 20
    time_limit: float | None = DEFAULT_TIME_LIMIT
    """Wall-time limit in seconds for all rounds (builds not included); None: no limit."""

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


def _time_limit_reached(effort: Effort, done: int, display: Display) -> str:
    """Why the rounds stopped; a warning first when they stopped short of ``min_rounds``."""
    if done < effort.min_rounds:
        display.message(
            f"warning: the time limit stopped the rounds after {done} of the {effort.min_rounds}"
            " every benchmark gets, so most stay inconclusive: raise --time-limit (none lifts"
            " it) or select fewer benchmarks with -b"
        )
    return f"time limit of {format_seconds(effort.time_limit or 0.0)} reached after {done} rounds"


def run_rounds(
    data: RoundsFile,
    measure: Measure,
    *,
    effort: Effort,
    undecided: Callable[[RoundsFile], set[Key]],
    display: Display,
    on_round: Callable[[RoundsFile], None] = lambda _: None,
    clock: Callable[[], float] = time.monotonic,
    cost: estimate.Cost = estimate.RULE,
    round_scope: RoundScope = no_scope,
) -> str:
    """Measure rounds into ``data``; returns why it stopped.

    A combination settles (gets no more rounds) once ``min_rounds`` are done and ``undecided``
    leaves it out; a settled one is not taken up again, so the settled count the display shows
    only grows. Counts are of series (parameter combinations), as the report's rows, and only
    the unsettled combinations of a benchmark are measured again.
    ``cost`` is the expectation before round 1; each round's own timings then replace it.
    """
    rng = random.Random(data.seed)
    active: list[Key] = sorted(dict.fromkeys(s.key for s in data.series))
    observed = estimate.Observed(prior=cost)
    start = clock()
    limit = effort.time_limit

    def counts() -> dict[str, int]:
        return dict(Counter(name for name, _ in active))

    for index in range(1, effort.max_rounds + 1):
        if not active:
            return f"every benchmark settled after {index - 1} rounds"
        elapsed = clock() - start
        expected = observed.cost().round_seconds(counts())
        if limit is not None and index > 1 and elapsed + expected > limit:
            return _time_limit_reached(effort, index - 1, display)
        order = draw_order(rng)
        started = datetime.datetime.now(datetime.timezone.utc)
        began = clock()
        outcomes: dict[Key, PairOutcome] = {}
        in_round = sum(counts().values())
        done = 0
        in_benchmarks = 0.0
        display.within(
            Beat(
                round=index,
                max_rounds=effort.max_rounds,
                measured=0,
                total=in_round,
                elapsed=began - start,
                left=expected,
            )
        )
        groups = [
            (name, tuple(params for _, params in keys))
            for name, keys in itertools.groupby(active, key=lambda key: key[0])
        ]
        with round_scope(rng):
            for position, (name, combos) in enumerate(groups):
                before = clock()
                measured = measure(name, combos, order, rng)
                spent = clock() - before
                outcomes.update(measured)
                count = len(measured) or len(combos)
                observed.add(name, spent, count)
                in_benchmarks += spent
                done += count
                now = observed.cost()
                display.within(
                    Beat(
                        round=index,
                        max_rounds=effort.max_rounds,
                        measured=min(done, in_round),
                        total=in_round,
                        elapsed=clock() - start,
                        left=sum(
                            now.seconds(other, len(rest)) for other, rest in groups[position + 1 :]
                        ),
                    )
                )
        last = clock() - began
        observed.end_round(last, in_benchmarks)
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
            active = [key for key in active if key in still]
        elapsed = clock() - start
        next_round = observed.cost().round_seconds(counts()) if active else 0.0
        time_left = None if limit is None else max(0.0, limit - elapsed)
        at_most = next_round * (effort.max_rounds - index)
        display.update(
            Status(
                round=index,
                max_rounds=effort.max_rounds,
                min_rounds=effort.min_rounds,
                settled=len(data.series) - len(active),
                total=len(data.series),
                elapsed=elapsed,
                remaining=time_left,
                to_min=next_round * max(0, effort.min_rounds - index),
                at_most=at_most if time_left is None else min(at_most, time_left),
                order=order,
            )
        )
    return f"maximum of {effort.max_rounds} rounds reached"
