"""The records that flow between perfguard's layers.

``results`` makes :class:`Measurement`; ``compare`` makes :class:`Row` and :class:`Comparison`;
``report`` renders a :class:`Comparison`. Everything here is frozen so a layer cannot change what
another layer computed.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class Kind(str, enum.Enum):
    """asv's benchmark types (``benchmarks.json`` ``type``)."""

    TIME = "time"
    MEM = "mem"
    PEAKMEM = "peakmem"
    TRACK = "track"
    INSTRUCTIONS = "instructions"
    """Not asv's: ``perfguard run --metric instructions``, a ``time_`` benchmark's
    instructions per call."""


UNSUITED = "unsuited for instruction counting"
"""How the reason of an ``instructions`` row whose count is not repeatable begins."""


class Direction(str, enum.Enum):
    """Which way is better for a metric."""

    LOWER_IS_BETTER = "lower"
    HIGHER_IS_BETTER = "higher"


class Status(str, enum.Enum):
    """One benchmark run's outcome as asv stores it: a number, ``null`` (failed), NaN (skipped)."""

    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


class Verdict(str, enum.Enum):
    """What a comparison concludes for one benchmark (and parameter combination)."""

    REGRESSED = "regressed"
    IMPROVED = "improved"
    UNCHANGED = "unchanged"
    INCONCLUSIVE = "inconclusive"
    NEW = "new"
    REMOVED = "removed"
    NEWLY_FAILING = "newly-failing"
    FIXED = "fixed"
    INCOMPARABLE = "incomparable"
    SKIPPED = "skipped"


# Worst first: the order reports use.
VERDICT_ORDER: tuple[Verdict, ...] = (
    Verdict.REGRESSED,
    Verdict.NEWLY_FAILING,
    Verdict.INCONCLUSIVE,
    Verdict.INCOMPARABLE,
    Verdict.IMPROVED,
    Verdict.FIXED,
    Verdict.NEW,
    Verdict.REMOVED,
    Verdict.UNCHANGED,
    Verdict.SKIPPED,
)

Params = tuple[tuple[str, str], ...]
"""One parameter combination: ``(name, value repr)`` pairs, ``()`` when not parameterized."""
Key = tuple[str, Params]
"""A benchmark and parameter combination, as :attr:`Measurement.key`."""


def format_label(benchmark: str, params: Params) -> str:
    """A readable row label: ``suite.Class.time_x(n=100, kind='a')``."""
    if not params:
        return benchmark
    return f"{benchmark}({', '.join(f'{name}={value}' for name, value in params)})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """One benchmark (one parameter combination) measured on one commit, as asv stored it."""

    benchmark: str
    params: Params = ()
    kind: Kind
    unit: str
    status: Status
    value: float | None
    """asv's ``result`` (the median for time benchmarks); ``None`` unless status is OK."""
    samples: tuple[float, ...] | None = None
    """Raw samples (``--record-samples``), pooled by asv across its worker processes."""
    ci_99: tuple[float, float] | None = None
    quartiles: tuple[float, float] | None = None
    number: int | None = None
    repeat: int | None = None
    version: str | None = None
    """Benchmark code version hash; a change makes base and head incomparable."""
    processes: int | None = None
    """How many processes the samples came from (asv's ``rounds``; one per round in a rounds
    file), when known. Samples inside one process are not independent."""

    @property
    def key(self) -> Key:
        return (self.benchmark, self.params)

    @property
    def label(self) -> str:
        return format_label(self.benchmark, self.params)


@dataclass(frozen=True, slots=True, kw_only=True)
class ResultSet:
    """All measurements of one commit on one machine and environment."""

    commit: str
    machine: str
    env: str
    source: str
    """Where it was read from (a file path), for messages."""
    machine_info: Mapping[str, str] = field(default_factory=dict)
    """asv's machine params (``machine``, ``cpu``, ``os``, ``arch``, ``ram``, ``python``...)."""
    measurements: tuple[Measurement, ...] = ()
    date: int | None = None
    """The commit date asv stored (ms since the epoch), for ordering a history without git."""

    def by_key(self) -> dict[tuple[str, Params], Measurement]:
        return {m.key: m for m in self.measurements}


@dataclass(frozen=True, slots=True, kw_only=True)
class Estimate:
    """The change head/base with its interval, from :func:`perfguard.stats.estimate`."""

    ratio: float
    """Point estimate of head/base."""
    low: float
    """Lower end of the interval on head/base."""
    high: float
    """Upper end of the interval on head/base."""
    confidence: float
    """Confidence level of [low, high], e.g. 0.99."""
    mde: float | None
    """Smallest relative change (0.03 = 3 %) this data would detect; ``None`` if unknown."""
    method: str
    """How it was estimated: ``samples``, ``asv-ci``, ``quartiles`` or ``exact``."""
    p_value: float | None = None
    note: str = ""
    """Caveats, e.g. how many processes the samples came from."""
    df: float | None = None
    """Degrees of freedom of a Student-t interval; ``None`` for a normal one (or none)."""
    shift: float = 0.0
    """Log change removed from head/base before ``ratio`` as a shift shared by the whole suite
    (history's runner effect, or a cross-run comparison's common shift); 0 when none was."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One benchmark (one parameter combination) compared between base and head."""

    benchmark: str
    params: Params = ()
    kind: Kind
    unit: str
    direction: Direction
    direction_assumed: bool = False
    """True for a ``track_`` benchmark whose direction no rule or unit states."""
    threshold: float
    base: Measurement | None
    head: Measurement | None
    estimate: Estimate | None = None
    verdict: Verdict
    reason: str = ""
    """One human sentence behind the verdict."""
    round_ratios: tuple[float, ...] = ()
    """head / base of each paired round, in round order (``perfguard run``); empty for a
    comparison of asv results, which keep no pairing. The report's per-round picture."""

    @property
    def label(self) -> str:
        return format_label(self.benchmark, self.params)

    @property
    def change(self) -> float | None:
        """Relative change head/base - 1, or ``None`` when there is no estimate."""
        return None if self.estimate is None else self.estimate.ratio - 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetCheck:
    """An absolute limit from the configuration, checked on head."""

    benchmark: str
    """The row label the budget applied to."""
    pattern: str
    """The glob from the configuration."""
    bound: str
    """``min`` or ``max``."""
    limit: float
    value: float | None
    unit: str
    ok: bool
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SuiteShift:
    """A change that most benchmarks of a cross-run comparison share (see
    :func:`perfguard.history.suite_shift`): the machine's state, or a change to the whole suite."""

    ratio: float
    """The common head/base, fitted robustly over the benchmarks it was estimated from."""
    low: float
    high: float
    """Its interval (at ``confidence``)."""
    confidence: float
    benchmarks: int
    """How many benchmarks it was estimated from (time benchmarks measured on both sides)."""
    agreeing: int
    """How many of them moved the same way as the shift."""
    spread: float
    """Robust standard deviation (log) of the benchmarks' own changes around the shift."""
    removed: bool
    """True when the rows' estimates have it removed (and their intervals widened by it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInfo:
    """Which commit, machine and environment one side of a comparison came from."""

    commit: str
    machine: str
    env: str
    source: str
    machine_info: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ShardPlacement:
    """Where one shard of a merged ``perfguard run --shard`` ran, and what it measured."""

    index: int
    count: int
    machine: str
    benchmarks: tuple[str, ...]
    """Benchmark names (every selected parameter combination of each)."""
    rows: int
    """How many rows (parameter combinations) they make."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """The whole outcome of comparing head against base: what every report renders."""

    base: RunInfo
    head: RunInfo
    threshold: float
    rows: tuple[Row, ...]
    budgets: tuple[BudgetCheck, ...] = ()
    warnings: tuple[str, ...] = ()
    """Loud caveats every output format must show (e.g. different machines)."""
    shift: SuiteShift | None = None
    """The common shift of a cross-run comparison, when most benchmarks moved together."""
    notices: tuple[str, ...] = ()
    """Warnings about the configuration (a rule or budget that matched nothing): said once on
    stderr by the commands, not part of the report."""
    shards: tuple[ShardPlacement, ...] = ()
    """For a merged sharded run, which shard (and machine) measured which benchmarks."""
    counted_by: str = ""
    """What counted the ``instructions`` rows (``perfguard run --metric instructions``)."""

    def verdict_counts(self) -> dict[Verdict, int]:
        """How many rows have each verdict (every verdict present, zero if none).

        The one count every report and summary uses, so they never disagree.
        """
        counts = dict.fromkeys(Verdict, 0)
        for row in self.rows:
            counts[row.verdict] += 1
        return counts

    def count(self, verdict: Verdict) -> int:
        return self.verdict_counts()[verdict]

    @property
    def regressions(self) -> tuple[Row, ...]:
        failing = (Verdict.REGRESSED, Verdict.NEWLY_FAILING)
        return tuple(r for r in self.rows if r.verdict in failing)

    @property
    def broken_budgets(self) -> tuple[BudgetCheck, ...]:
        return tuple(b for b in self.budgets if not b.ok)

    @property
    def failed(self) -> bool:
        """True when the gate fails: a regression, a newly failing benchmark, a broken budget."""
        return bool(self.regressions or self.broken_budgets)
