"""How long the rounds of a run will take, said before round 1 and refined after every round.

A round costs a start (the round's workers) plus so much per parameter combination measured.
Before the first round the figures come from, in this order:

1. the newest earlier rounds file of the same suite in perfguard's own directory, taken with
   the same ``--pairs`` and ``--quick`` (the seconds it spent on each benchmark; from an older
   file, its rounds' seconds and the combinations each measured);
2. asv's own durations in the user's asv results for this machine (the ``duration`` each
   benchmark took there, per combination, scaled by :data:`ASV_SCALE`);
3. else a rule measured on this project's 2-core VM (:data:`RULE`).

After each round the run's own figures replace them: what every benchmark took in the rounds
so far, and what a round spent outside its benchmarks.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from perfguard import asvfiles, rounds
from perfguard.errors import InputError
from perfguard.runner import files


@dataclass(frozen=True, slots=True, kw_only=True)
class Cost:
    """Seconds one round costs: ``start`` plus, per benchmark, its seconds per combination."""

    start: float
    per_combination: float
    """For a benchmark without a figure of its own."""
    source: str
    """Where the figures come from, as the up-front line says it."""
    kind: str = "rule"
    """``earlier-run``, ``asv-durations``, ``rule`` or ``this-run``: recorded in the rounds
    file's settings, so that scripts/estimate_error.py can tell the sources apart."""
    per_benchmark: Mapping[str, float] = field(default_factory=dict)
    """Seconds per combination of the benchmarks that have a figure of their own."""

    def seconds(self, name: str, combinations: int) -> float:
        """One benchmark's ``combinations`` in one round, without the round's start."""
        return self.per_benchmark.get(name, self.per_combination) * combinations

    def round_seconds(self, counts: Mapping[str, int]) -> float:
        """One round measuring ``counts[name]`` combinations of each benchmark."""
        return self.start + sum(self.seconds(name, count) for name, count in counts.items())


RULE = Cost(
    start=0.3,
    per_combination=0.18,
    source="perfguard's rule for fast bodies, 0.3s a round + 0.18s per benchmark (no earlier"
    " run or asv durations)",
)
"""Round start and seconds per combination for bodies of microseconds with the default
``--pairs``: ``scripts/run_time.py --sizes 1 10 30 --rounds 3`` on this project's 2-core VM
(2026-12-02, load average 11.5: round = 0.31 s + N x 0.181 s). Slow bodies cost far more
(this repository's suite: 11 s per benchmark and round), which the first round's line shows;
README, "How long a run takes"."""
ASV_SCALE = 1.0
"""A perfguard round's seconds per combination over asv's recorded ``duration`` per
combination. Measured on this repository's 28 benchmarks (2026-12-02, load average 10-13,
``-a once_per_process=true``): median 0.96 per benchmark, but from 0.13 (fast ``track_``
bodies: asv pays an interpreter per process, perfguard a fork) to 11 (``fdatasync`` figures,
which follow the disk's load); the suite's total 1.7x. Without ``once_per_process`` a
``track_`` benchmark is called in ``--pairs`` pairs and costs up to that many times more."""
_NEWEST_FILES = 20
"""Earlier rounds files tried, newest first: a folder of many runs is not read whole."""


def from_rounds_file(
    data: rounds.RoundsFile, names: Iterable[str], *, source: str, rule: Cost = RULE
) -> Cost | None:
    """Figures from an earlier run; None if it measured none of ``names`` or has no rounds.

    With the seconds it spent on each benchmark (``RoundsFile.seconds``), per benchmark: those
    seconds over the combination-rounds it measured, and as round start what the rounds took
    beyond them. Without (an older file), the rounds' seconds per combination measured, with the
    rule's start.
    """
    wanted = set(names)
    if not wanted & {s.benchmark for s in data.series} or not data.rounds:
        return None
    measured = Counter(index for series in data.series for index in series.rounds)
    combinations = sum(measured[r.index] for r in data.rounds)
    if not combinations:
        return None
    done: Counter[str] = Counter()
    for series in data.series:
        done[series.benchmark] += len(series.rounds)
    own = {
        name: seconds / done[name]
        for name, seconds in data.seconds.items()
        if name in wanted and done[name]
    }
    if own:
        beyond = sum(r.seconds for r in data.rounds) - sum(data.seconds.values())
        return Cost(
            start=max(0.0, beyond / len(data.rounds)),
            per_combination=statistics.median(own.values()),
            per_benchmark=own,
            source=source,
            kind="earlier-run",
        )
    spent = sum(max(0.0, r.seconds - rule.start) for r in data.rounds)
    return Cost(
        start=rule.start,
        per_combination=spent / combinations,
        source=source,
        kind="earlier-run",
    )


def from_previous_run(
    results_dir: str | Path,
    names: Iterable[str],
    settings: Mapping[str, object],
    *,
    exclude: Path | None = None,
) -> Cost | None:
    """The newest earlier rounds file in perfguard's directory with the same ``pairs`` and
    ``quick`` settings that measured one of ``names``; None if there is none."""
    folder = files.perfguard_dir(results_dir)
    try:
        candidates = sorted(
            (p for p in folder.glob(f"*{files.ROUNDS_SUFFIX}") if p != exclude),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
    except OSError:
        return None
    wanted = list(names)
    for path in candidates[:_NEWEST_FILES]:
        try:
            data = rounds.read(path)
        except (InputError, OSError):
            continue
        if any(data.settings.get(k) != settings.get(k) for k in ("pairs", "quick")):
            continue
        cost = from_rounds_file(
            data, wanted, source=f"the earlier run {path} ({len(data.rounds)} rounds)"
        )
        if cost is not None:
            return cost
    return None


def from_asv_durations(
    results_dir: str | Path, machine: str, combinations: Mapping[str, int]
) -> Cost | None:
    """Figures from asv's ``duration`` per benchmark in the newest asv result file of this
    machine that has durations for some of ``combinations``; None without one."""
    folder = Path(results_dir) / machine
    try:
        candidates = sorted(
            (p for p in folder.glob("*.json") if p.name != "machine.json"),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
    except OSError:
        return None
    for path in candidates[:_NEWEST_FILES]:
        durations = asvfiles.load_durations(path)
        own = {
            name: ASV_SCALE * durations[name] / count
            for name, count in combinations.items()
            if count and name in durations
        }
        if own:
            return Cost(
                start=RULE.start,
                per_combination=statistics.median(own.values()),
                per_benchmark=own,
                kind="asv-durations",
                source=f"asv's durations in {path} ({len(own)} of {len(combinations)} benchmarks)",
            )
    return None


def initial(
    results_dir: str | Path,
    machine: str,
    combinations: Mapping[str, int],
    settings: Mapping[str, object],
    *,
    exclude: Path | None = None,
) -> Cost:
    """The best figures there are before round 1 (see the module's docstring)."""
    return (
        from_previous_run(results_dir, combinations, settings, exclude=exclude)
        or from_asv_durations(results_dir, machine, combinations)
        or RULE
    )


@dataclass(slots=True)
class Observed:
    """What this run's rounds took so far: per benchmark and per round start."""

    prior: Cost
    seconds: dict[str, list[float]] = field(default_factory=dict)
    """Per benchmark, seconds per combination in each round that measured it."""
    starts: list[float] = field(default_factory=list)
    """Per round, the seconds spent outside its benchmarks."""

    def add(self, name: str, seconds: float, combinations: int) -> None:
        if combinations:
            self.seconds.setdefault(name, []).append(seconds / combinations)

    def end_round(self, round_seconds: float, in_benchmarks: float) -> None:
        self.starts.append(max(0.0, round_seconds - in_benchmarks))

    def cost(self) -> Cost:
        """The prior until a benchmark is measured, then this run's own figures. A benchmark
        not measured yet costs its prior figure, scaled by how this run's measured benchmarks
        compare with theirs, else the median of those measured."""
        if not self.seconds:
            return self.prior
        own = {name: statistics.mean(values) for name, values in self.seconds.items()}
        known = [name for name in own if name in self.prior.per_benchmark]
        prior_known = sum(self.prior.per_benchmark[name] for name in known)
        scale = sum(own[name] for name in known) / prior_known if prior_known > 0 else 1.0
        figures = {
            **{name: scale * value for name, value in self.prior.per_benchmark.items()},
            **own,
        }
        return Cost(
            start=statistics.mean(self.starts) if self.starts else self.prior.start,
            per_combination=statistics.median(own.values()),
            per_benchmark=figures,
            source="this run's rounds",
            kind="this-run",
        )


def format_seconds(seconds: float) -> str:
    """``45s``, ``4m10s``, ``1h02m``: what a person reads in a log."""
    if not math.isfinite(seconds):
        return "?"
    total = max(0, round(seconds))
    if total < 60:
        return f"{total}s"
    if total < 3600:
        minutes, rest = divmod(total, 60)
        return f"{minutes}m{rest:02d}s" if rest else f"{minutes}m"
    hours, rest = divmod(total, 3600)
    return f"{hours}h{rest // 60:02d}m"


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """The up-front expectation: one round, ``min_rounds``, and at most ``max_rounds``."""

    per_round: float
    at_min: float
    at_most: float
    rounds_in_limit: int | None
    """Full rounds the time limit allows (None without a limit)."""


def plan(
    cost: Cost,
    combinations: Mapping[str, int],
    *,
    min_rounds: int,
    max_rounds: int,
    time_limit: float | None,
) -> Plan:
    """Every benchmark in every round is the upper end: adaptive effort only stops early."""
    per_round = cost.round_seconds(combinations)
    at_most = per_round * max_rounds
    fits = None
    if time_limit is not None:
        fits = max(1, math.floor(time_limit / per_round)) if per_round > 0 else max_rounds
        at_most = min(at_most, time_limit)
    return Plan(
        per_round=per_round,
        at_min=per_round * min_rounds if fits is None else per_round * min(min_rounds, fits),
        at_most=at_most,
        rounds_in_limit=fits,
    )


def describe_plan(
    expected: Plan,
    cost: Cost,
    *,
    benchmarks: int,
    min_rounds: int,
    max_rounds: int,
    time_limit: float | None,
) -> list[str]:
    """The lines said before round 1: the expectation, and a warning when the time limit
    cannot hold the rounds every benchmark needs."""
    limit = (
        "no time limit"
        if time_limit is None
        else f"capped by the time limit of {format_seconds(time_limit)}"
    )
    first = min(min_rounds, expected.rounds_in_limit or min_rounds)
    lines = [
        f"expect ~{format_seconds(expected.per_round)} per round of {benchmarks} benchmarks: "
        f"~{format_seconds(expected.at_min)} for {first} rounds, at most "
        f"~{format_seconds(expected.at_most)} for up to {max_rounds} ({limit}); "
        f"estimated from {cost.source}"
    ]
    if expected.rounds_in_limit is not None and expected.rounds_in_limit < min_rounds:
        lines.append(
            f"warning: the time limit of {format_seconds(time_limit or 0)} holds about "
            f"{expected.rounds_in_limit} of the {min_rounds} rounds every benchmark gets: many "
            "may stay inconclusive; raise --time-limit (none lifts it) or select fewer with -b"
        )
    return lines
