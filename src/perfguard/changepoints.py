"""Change points on a branch's results history: the commits where a benchmark's level moved.

A PR gate sees what one PR changes; a creeping slowdown, a dependency bump or a runner image
change shows only over many commits of main. This module finds, per benchmark and parameter
combination, where the level of its series changed, how much (with an interval), and which
commit range to bisect.

Not to be confused with :mod:`perfguard.history` (noise floors a comparison learns from a
history): both read the same history (:func:`perfguard.results.load_results_history`).

The method (docs/changepoints.md says why):

1. Each result's **runner effect** is removed first (:func:`runner_effects`): on hosted CI
   runners one run on a slower CPU moves every time benchmark at once, each by its own factor;
   that is the runner, not the code. Its directions and their robust per-result fit are
   history mode's (:func:`perfguard.history.runner_directions`,
   :func:`perfguard.history.huber_fit`).
2. **PELT** (Killick, Fearnhead & Eckley 2012, the implementation in ``ruptures``) segments the
   log values with a least-squares cost and the penalty :data:`PENALTY` * s^2 * ln n, s the
   noise estimated robustly from neighbour differences, segments at least
   :data:`MIN_SEGMENT` results long.
3. Each candidate is **tested** like Apache Otava tests its E-divisive candidates: a Student-t
   (Welch) test of the log values in the two segments beside it (at most :data:`WINDOW`
   results each); it is kept when p < :data:`ALPHA` and the change is at least the benchmark's
   threshold. The size's interval is the Welch interval at :data:`perfguard.stats.CONFIDENCE`.

A series is only analysed within one benchmark code version (asv's ``version``): levels of two
versions of a benchmark are not comparable.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

from perfguard import stats
from perfguard.errors import DependencyError
from perfguard.history import (
    BENCHMARKS_PER_FACTOR,
    SHIFT_MIN_BENCHMARKS,
    huber_fit,
    runner_directions,
)
from perfguard.models import Direction, Key, Kind, Params, ResultSet, Status, Verdict, format_label
from perfguard.policy import Policy

Vector = npt.NDArray[np.float64]

ALPHA = 0.001
"""Significance level of the Welch test each candidate must pass (Otava's default p-value)."""
PENALTY = 8.0
"""PELT's penalty per change point, in units of s^2 * ln n (s: the series' noise)."""
MIN_SEGMENT = 5
"""Fewest results between two change points (and before the first, after the last)."""
WINDOW = 30
"""At most this many results on either side are tested: a change is judged locally."""
_MAD_TO_SD = 1.4826
SCHEMA_VERSION = 1
"""Version of the JSON document of a history analysis (``history-schema.json``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangePoint:
    """One commit range where a benchmark's level changed for good."""

    id: str
    """Stable for the same history, benchmark and first bad commit: what an alert keys on."""
    benchmark: str
    params: Params = ()
    kind: Kind
    unit: str
    direction: Direction
    direction_assumed: bool
    threshold: float
    position: int
    """Index of the first bad result in the history (oldest is 0)."""
    last_good: str
    """The newest commit before the change with a result of this benchmark."""
    first_bad: str
    """The oldest commit after the change (its result has the new level)."""
    before: float
    """Level before (geometric mean of the segment, runner effect removed), in ``unit``."""
    after: float
    """Level after, the same way."""
    change: float
    """after / before - 1."""
    low: float
    high: float
    """The interval of ``change`` at ``confidence``."""
    confidence: float
    p_value: float
    points_before: int
    points_after: int

    @property
    def label(self) -> str:
        return format_label(self.benchmark, self.params)

    @property
    def regression(self) -> bool:
        """True when the new level is worse, in the benchmark's direction."""
        worse_up = self.direction is Direction.LOWER_IS_BETTER
        return (self.change > 0) == worse_up

    @property
    def verdict(self) -> Verdict:
        return Verdict.REGRESSED if self.regression else Verdict.IMPROVED

    @property
    def bisect(self) -> str:
        """The asv command that pins the culprit inside the range (asv looks for an increase;
        ``--invert`` for a decrease)."""
        invert = "--invert " if self.change < 0 else ""
        return f"asv find {invert}{self.last_good[:8]}..{self.first_bad[:8]} {self.benchmark}"

    @property
    def paired_bisect(self) -> str | None:
        """The ``perfguard bisect`` command for a regression's range (paired runs per step);
        None for an improvement, which it does not look for."""
        if not self.regression:
            return None
        pattern = "^" + re.escape(self.benchmark) + "$"
        return f"perfguard bisect {self.last_good[:8]} {self.first_bad[:8]} -b '{pattern}'"


@dataclass(frozen=True, slots=True, kw_only=True)
class Analysis:
    """Every change point of one machine and environment's history."""

    machine: str
    env: str
    order: str
    """How the results were ordered: ``git`` (ancestry) or ``date`` (asv's commit dates)."""
    commits: tuple[str, ...]
    """The history's commits, oldest first."""
    threshold: float
    alpha: float
    suite_shift_removed: bool
    series: int
    """How many benchmark series (benchmark, parameters, version) were analysed."""
    change_points: tuple[ChangePoint, ...]
    """Newest first."""
    warnings: tuple[str, ...] = ()

    @property
    def regressions(self) -> tuple[ChangePoint, ...]:
        return tuple(c for c in self.change_points if c.regression)

    def regressions_since(self, position: int) -> tuple[ChangePoint, ...]:
        """Regression change points whose first bad result is at ``position`` or later."""
        return tuple(c for c in self.regressions if c.position >= position)


def _ruptures() -> Any:
    """ruptures, the optional dependency (``perfguard[history]``)."""
    try:
        import ruptures  # optional: only perfguard history needs it
    except ImportError as exc:
        raise DependencyError(
            "perfguard history needs the ruptures package, an optional dependency: install"
            " it with pip install 'perfguard[history]'"
        ) from exc
    return ruptures


@dataclass(frozen=True, slots=True)
class _Series:
    key: Key
    kind: Kind
    unit: str
    positions: tuple[int, ...]
    logs: Vector


def _series(results: Sequence[ResultSet]) -> list[_Series]:
    """Per benchmark, parameters and code version: the positive values' logs in order."""
    found: dict[tuple[Key, str | None], tuple[Kind, str, list[int], list[float]]] = {}
    for position, result in enumerate(results):
        for m in result.measurements:
            if m.status is not Status.OK or m.value is None or m.value <= 0:
                continue
            entry = found.setdefault((m.key, m.version), (m.kind, m.unit, [], []))
            entry[2].append(position)
            entry[3].append(math.log(m.value))
    return [
        _Series(key, kind, unit, tuple(positions), np.array(logs))
        for (key, _), (kind, unit, positions, logs) in found.items()
    ]


RUNNER_FACTORS = 4
"""Runner-effect directions removed at most (as history mode's
:data:`~perfguard.history.FACTORS`)."""


def runner_effects(series: Sequence[_Series], count: int) -> dict[int, Vector]:
    """Per time series (by index in ``series``), the log change the runner explains in each of
    its results.

    The runner moves every time benchmark, each by its own factor. As in history mode, the
    main directions of the neighbour-to-neighbour changes across benchmarks (an SVD:
    :func:`perfguard.history.runner_directions`) are the runner's; each result's deviations
    from the benchmarks' own median levels are fitted on them robustly
    (:func:`perfguard.history.huber_fit`), so the few benchmarks that really changed hardly
    move the fit. A suite too small for one direction per
    :data:`~perfguard.history.BENCHMARKS_PER_FACTOR` benchmarks gets one direction that loads
    every benchmark alike (compare's suite shift). Results with fewer than
    :data:`~perfguard.history.SHIFT_MIN_BENCHMARKS` time benchmarks get none.
    """
    timed = [(i, s) for i, s in enumerate(series) if s.kind is Kind.TIME]
    if not timed:
        return {}
    deviations = np.full((count, len(timed)), np.nan)
    for j, (_, s) in enumerate(timed):
        deviations[list(s.positions), j] = s.logs - np.median(s.logs)
    factors = min(RUNNER_FACTORS, len(timed) // BENCHMARKS_PER_FACTOR, (count - 1) // 2)
    if factors > 0:
        directions = runner_directions(np.diff(deviations, axis=0), factors)
    else:
        directions = np.ones((len(timed), 1))
    coef, _ = huber_fit(directions, deviations)
    explained = coef @ directions.T
    explained[(~np.isnan(deviations)).sum(axis=1) < SHIFT_MIN_BENCHMARKS] = 0.0
    return {i: explained[list(s.positions), j] for j, (i, s) in enumerate(timed)}


def adjusted_series(results: Sequence[ResultSet]) -> list[tuple[str, tuple[int, ...], Vector]]:
    """Each series as the detection sees it: label, positions in ``results`` and log values
    with the runner effect removed (for comparing other detectors on the same input)."""
    series = _series(results)
    effects = runner_effects(series, len(results))
    return [
        (format_label(*s.key), s.positions, s.logs - effects.get(i, 0.0))
        for i, s in enumerate(series)
    ]


def _noise(logs: Vector) -> float:
    """The noise (standard deviation) of one series, from its neighbour differences: robust
    to its steps and outliers."""
    return _MAD_TO_SD * float(np.median(np.abs(np.diff(logs)))) / math.sqrt(2)


def candidates(logs: Vector) -> list[int]:
    """PELT's change points of one series: indices where a new segment starts."""
    n = len(logs)
    if n < 2 * MIN_SEGMENT:
        return []
    sigma = _noise(logs)
    if sigma == 0.0:  # exact values (sizes): any real step is far above a tiny penalty
        sigma = 1e-9
    # KernelCPD with the linear kernel is PELT on the least-squares cost, in ruptures' C code
    # (its Pelt class gives the same change points in Python, a thousand times slower).
    algo = _ruptures().KernelCPD(kernel="linear", min_size=MIN_SEGMENT, jump=1)
    breaks = algo.fit(logs.reshape(-1, 1)).predict(pen=PENALTY * sigma**2 * math.log(n))
    return [int(b) for b in breaks[:-1]]


@dataclass(frozen=True, slots=True)
class _Step:
    at: int
    before: Vector
    after: Vector


def _tested(step: _Step, confidence: float) -> tuple[float, float, float, float] | None:
    """Welch's test of a step: (log change, low, high, p), or None when it cannot be told."""
    left, right = step.before, step.after
    diff = float(np.mean(right) - np.mean(left))
    va, vb = float(np.var(left, ddof=1)) / len(left), float(np.var(right, ddof=1)) / len(right)
    se = math.sqrt(va + vb)
    if se == 0.0:
        return (diff, diff, diff, 0.0) if diff != 0.0 else None
    df = (va + vb) ** 2 / (va**2 / (len(left) - 1) + vb**2 / (len(right) - 1))
    p = float(2 * special.stdtr(df, -abs(diff) / se))
    half = float(special.stdtrit(df, 0.5 + confidence / 2)) * se
    return diff, diff - half, diff + half, p


def _steps(logs: Vector, breaks: Sequence[int]) -> list[_Step]:
    edges = [0, *breaks, len(logs)]
    return [
        _Step(b, logs[max(a, b - WINDOW) : b], logs[b : min(c, b + WINDOW)])
        for a, b, c in zip(edges, edges[1:], edges[2:], strict=False)
    ]


def change_id(machine: str, env: str, label: str, first_bad: str) -> str:
    """A change point's stable id: the same history, benchmark and first bad commit give the
    same id on every run, so an alerting step can update what it raised before."""
    text = "\0".join((machine, env, label, first_bad))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def analyse(
    results: Sequence[ResultSet],
    policy: Policy,
    *,
    order: str,
    remove_suite_shift: bool = True,
    alpha: float = ALPHA,
    confidence: float = stats.CONFIDENCE,
) -> Analysis:
    """The change points of ``results`` (one machine and environment, oldest first)."""
    if not results:
        raise ValueError("analyse needs at least one result")
    commits = tuple(r.commit for r in results)
    series = _series(results)
    effects = runner_effects(series, len(results)) if remove_suite_shift else {}
    found: list[ChangePoint] = []
    warnings: list[str] = []
    if len(results) < 2 * MIN_SEGMENT:
        warnings.append(
            f"the history has {len(results)} results; a change point needs at least"
            f" {MIN_SEGMENT} on either side, so none can be found yet"
        )
    analysed = 0
    for index, s in enumerate(series):
        benchmark, params = s.key
        label = format_label(benchmark, params)
        resolved = policy.resolve(benchmark, label, s.kind, s.unit)
        if resolved.ignore:
            continue
        analysed += 1
        positions = list(s.positions)
        logs = s.logs - effects.get(index, 0.0)
        for step in _steps(logs, candidates(logs)):
            tested = _tested(step, confidence)
            if tested is None:
                continue
            diff, low, high, p = tested
            if p >= alpha or abs(diff) < math.log1p(resolved.threshold):
                continue
            first_bad, last_good = commits[positions[step.at]], commits[positions[step.at - 1]]
            found.append(
                ChangePoint(
                    id=change_id(results[0].machine, results[0].env, label, first_bad),
                    benchmark=benchmark,
                    params=params,
                    kind=s.kind,
                    unit=s.unit,
                    direction=resolved.direction,
                    direction_assumed=resolved.direction_assumed,
                    threshold=resolved.threshold,
                    position=positions[step.at],
                    last_good=last_good,
                    first_bad=first_bad,
                    before=math.exp(float(np.mean(step.before)) + _level(s.logs, logs)),
                    after=math.exp(float(np.mean(step.after)) + _level(s.logs, logs)),
                    change=math.expm1(diff),
                    low=math.expm1(low),
                    high=math.expm1(high),
                    confidence=confidence,
                    p_value=p,
                    points_before=len(step.before),
                    points_after=len(step.after),
                )
            )
    found.sort(key=lambda c: (-c.position, not c.regression, c.label))
    return Analysis(
        machine=results[0].machine,
        env=results[0].env,
        order=order,
        commits=commits,
        threshold=policy.threshold,
        alpha=alpha,
        suite_shift_removed=remove_suite_shift,
        series=analysed,
        change_points=tuple(found),
        warnings=tuple(warnings),
    )


def _level(raw: Vector, adjusted: Vector) -> float:
    """What the shift removal took off the series on average (0 when nothing was removed), so
    levels stay on the benchmark's own scale."""
    return float(np.mean(raw - adjusted))


def position_of(analysis: Analysis, commit: str) -> int | None:
    """Where ``commit`` (a full hash or a prefix of at least 4 digits) is in the history."""
    wanted = commit.lower()
    if len(wanted) < 4:
        return None
    matches = [i for i, c in enumerate(analysis.commits) if c.lower().startswith(wanted)]
    return matches[0] if len({analysis.commits[i] for i in matches}) == 1 else None


def counts(analysis: Analysis) -> Mapping[str, int]:
    """Change points per verdict, the one count every report uses."""
    regressed = len(analysis.regressions)
    return {"regressed": regressed, "improved": len(analysis.change_points) - regressed}
