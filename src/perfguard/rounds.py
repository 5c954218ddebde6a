"""perfguard's own results file for paired rounds: what ``perfguard run`` measured, kept paired.

asv's result files pool samples per commit and lose which base value ran next to which head
value; this file keeps the pairing (one value per side per round), the random order of every
round, its seed and the machine's fingerprint. It is versioned (``format``) and written
atomically; :func:`to_comparison` turns it into a :class:`~perfguard.models.Comparison` through
:mod:`perfguard.compare`, with the paired estimate and a family correction in place of the
unpaired one.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import msgspec

from perfguard import paired, stats
from perfguard.atomicfile import write_atomic
from perfguard.compare import compare, unmatched_rules
from perfguard.errors import InputError
from perfguard.fingerprint import Fingerprint
from perfguard.models import (
    UNSUITED,
    Comparison,
    Kind,
    Measurement,
    ResultSet,
    Row,
    ShardPlacement,
    Status,
    Verdict,
)
from perfguard.policy import Policy

FORMAT = 1
"""Version of the rounds file layout; readers refuse other versions."""
FILE_KIND = "perfguard-rounds"


class Side(msgspec.Struct, frozen=True, kw_only=True):
    """One commit of the pair."""

    ref: str
    commit: str


class RoundRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One round: which side ran first, when, how long, and how many benchmarks it measured."""

    index: int
    order: tuple[str, str]
    """``("base", "head")`` or ``("head", "base")``, drawn at random per round."""
    started: str
    seconds: float
    benchmarks: int


class Series(msgspec.Struct, frozen=True, kw_only=True):
    """One benchmark (one parameter combination): its value per round on each side.

    ``rounds[i]`` is the round index of ``base[i]`` and ``head[i]``; a benchmark decided early
    has fewer rounds than the run. ``None`` is a round without a value (failed or skipped).
    """

    benchmark: str
    params: tuple[tuple[str, str], ...] = ()
    kind: Kind
    unit: str
    version: str | None = None
    rounds: list[int] = msgspec.field(default_factory=list)
    base: list[float | None] = msgspec.field(default_factory=list)
    head: list[float | None] = msgspec.field(default_factory=list)
    base_status: Status = Status.OK
    head_status: Status = Status.OK
    d: list[float | None] = msgspec.field(default_factory=list)
    """Per round, the paired ln(head / base): the median over the round's alternating sample
    pairs. Empty in files from runs that measured each side in its own process."""

    @property
    def key(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        return (self.benchmark, self.params)

    def pairs(self) -> tuple[list[float], list[float]]:
        """The rounds where both sides have a positive value, as two aligned lists."""
        both = [
            (b, h)
            for b, h in zip(self.base, self.head, strict=True)
            if b is not None and h is not None and b > 0 and h > 0
        ]
        return [b for b, _ in both], [h for _, h in both]

    def log_ratios(self) -> list[float]:
        """d_r of every round that has one: measured in pairs, else from the round's values."""
        if len(self.d) == len(self.base):
            return [x for x in self.d if x is not None and math.isfinite(x)]
        return paired.log_ratios(*self.pairs())


class Shard(msgspec.Struct, frozen=True, kw_only=True):
    """The share of the suite one ``perfguard run --shard K/N`` measured, and what decided it.

    ``perfguard merge`` checks the N shards of one run against each other with these: the same
    ``count``, ``suite`` and ``partition``, every ``index`` once, every benchmark in one share.
    """

    index: int
    count: int
    benchmarks: tuple[str, ...]
    """The benchmark names of this share (all their selected parameter combinations)."""
    suite: str
    """Hash of the whole selected suite: benchmark names, versions and combinations."""
    partition: str
    """Hash of the partition's inputs (suite, N, costs): shards that disagree differ here."""
    costs: str
    """Where the expected costs came from (a file, asv's durations, or a count)."""
    suite_rows: int = 0
    """Rows (parameter combinations) of the whole selected suite: the family a shard's p-values
    are corrected in, as the merge corrects them."""


class ShardRun(msgspec.Struct, frozen=True, kw_only=True):
    """One shard of a merged rounds file: what it measured, where and when."""

    shard: Shard
    machine: str
    fingerprint: Fingerprint
    seed: int
    created: str
    source: str
    """The shard rounds file it was merged from."""
    settings: dict[str, str | int | float | bool] = msgspec.field(default_factory=dict)
    rounds: list[RoundRecord] = msgspec.field(default_factory=list)


class RoundsFile(msgspec.Struct, kw_only=True):
    """Everything one ``perfguard run`` measured."""

    kind: Literal["perfguard-rounds"] = "perfguard-rounds"
    format: int = FORMAT
    perfguard_version: str
    created: str
    seed: int
    base: Side
    head: Side
    machine: str
    env: str
    fingerprint: Fingerprint
    settings: dict[str, str | int | float | bool] = msgspec.field(default_factory=dict)
    rounds: list[RoundRecord] = msgspec.field(default_factory=list)
    series: list[Series] = msgspec.field(default_factory=list)
    seconds: dict[str, float] = msgspec.field(default_factory=dict)
    """Wall seconds spent measuring each benchmark (both sides, every round): the expected
    costs a later sharded run can balance on (``--shard-costs``)."""
    shard: Shard | None = None
    """Set by ``perfguard run --shard K/N``: this file holds one share of the suite."""
    shards: list[ShardRun] = msgspec.field(default_factory=list)
    """Set by ``perfguard merge``: the shards this file was merged from, one per share."""


class _Header(msgspec.Struct):
    kind: str = ""
    format: int = 0


def write(path: Path, data: RoundsFile) -> None:
    """Write atomically (:func:`~perfguard.atomicfile.write_atomic`), making the folder."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, msgspec.json.format(msgspec.json.encode(data)) + b"\n")
    except OSError as exc:
        raise InputError(f"cannot write rounds file {path}: {exc.strerror or exc}") from exc


def is_rounds_file(path: Path) -> bool:
    """True for a readable JSON file that says it is a perfguard rounds file."""
    try:
        header = msgspec.json.decode(path.read_bytes(), type=_Header)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return False
    return header.kind == FILE_KIND


def read(path: Path) -> RoundsFile:
    """Read and check a rounds file; every way it can fail is one :class:`InputError` line."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise InputError(f"rounds file {path} does not exist") from exc
    except OSError as exc:
        raise InputError(f"cannot read rounds file {path}: {exc.strerror or exc}") from exc
    try:
        header = msgspec.json.decode(raw, type=_Header)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InputError(f"rounds file {path} is not valid JSON: {exc}") from exc
    if header.kind != FILE_KIND:
        raise InputError(f"{path} is not a perfguard rounds file (kind {header.kind!r})")
    if header.format != FORMAT:
        raise InputError(
            f"rounds file {path} has format {header.format}, this perfguard reads format "
            f"{FORMAT}: re-run `perfguard run` or use a matching perfguard version"
        )
    try:
        return msgspec.json.decode(raw, type=RoundsFile)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InputError(f"rounds file {path} is malformed: {exc}") from exc


def _measurement(series: Series, side: str) -> Measurement:
    values = [v for v in (series.base if side == "base" else series.head) if v is not None]
    status = series.base_status if side == "base" else series.head_status
    if status is Status.OK and not values:
        status = Status.FAILED
    return Measurement(
        benchmark=series.benchmark,
        params=series.params,
        kind=series.kind,
        unit=series.unit,
        status=status,
        value=statistics.median(values) if status is Status.OK else None,
        samples=tuple(values) if status is Status.OK else None,
        repeat=len(values),
        version=series.version,
        processes=len(values),  # one worker process per round: the values are independent
    )


def result_set(data: RoundsFile, side: str, source: str) -> ResultSet:
    """One side of a rounds file as asv-like results: per benchmark the median over rounds.

    The per-round values are independent processes, so they are honest ``samples`` for the
    unpaired comparison of two different runs.
    """
    commit = data.base.commit if side == "base" else data.head.commit
    return ResultSet(
        commit=commit,
        machine=data.machine,
        env=data.env,
        source=source,
        machine_info=dict(data.fingerprint.machine),
        measurements=tuple(_measurement(s, side) for s in data.series),
    )


UNSUITED_SPREAD = 0.01
"""Spread across rounds (standard deviation of the log counts; 1 %) above which an
``instructions`` row is called unsuited for counting instead of decided (:func:`unsuited`).
Measured (tests/perfguard/test_run_instructions.py, scripts/instruction_trials.py, and
docs/run.md): deterministic bodies spread 0.0001-0.004 % across rounds on CPython 3.11 (the
round's hash seed and layout move a count by a few dozen instructions), but a loop that
allocates ints took 2 375 370 to 2 401 261 instructions per call on CPython 3.13 as the
allocator's state differed (a spread of up to 0.55 %): above that, and far below what a body
whose work follows the hash seed spreads (80 %: 5 944 to 34 081 instructions per call over 4
rounds)."""


def unsuited(series: Series) -> float | None:
    """The spread across rounds of an ``instructions`` series too variable to gate on, else
    None.

    The spread of each side's own counts (standard deviation of their logarithms), not of
    ln(head / base): both sides of a round share its hash seed, so a count that follows the
    seed moves on both sides together and its ratio hides it, yet another seed (another
    machine, another run) gives another count.
    """
    if series.kind is not Kind.INSTRUCTIONS:
        return None
    spreads = []
    for values in series.pairs():
        logs = [math.log(v) for v in values]
        if len(logs) >= 2:
            spreads.append(statistics.stdev(logs))
    spread = max(spreads, default=0.0)
    return spread if spread > UNSUITED_SPREAD else None


def paired_row(row: Row, series: Series, significant: bool | None) -> Row:
    """Replace a row's unpaired estimate by the paired one and decide again."""
    d = series.log_ratios()
    est = paired.estimate_from(d)
    verdict, reason = stats.decide(
        est, threshold=row.threshold, direction=row.direction, significant=significant
    )
    spread = unsuited(series)
    if spread is not None:
        verdict = Verdict.INCONCLUSIVE
        reason = (
            f"{UNSUITED}: the count varies by {spread * 100:.2f}% across rounds (above"
            f" {UNSUITED_SPREAD * 100:g}%; hash randomisation, I/O, sleeping or threads):"
            " gate it on time"
        )
    if len(d) < 2:
        verdict, reason = Verdict.INCONCLUSIVE, f"only {len(d)} paired round: re-run"
    ratios = tuple(math.exp(x) for x in d)
    return dataclasses.replace(
        row, estimate=est, verdict=verdict, reason=reason, round_ratios=ratios
    )


def decidable(row: Row) -> bool:
    """Rows whose verdict comes from the numbers (not from asv's status or configuration)."""
    return row.estimate is not None


def to_comparison(
    data: RoundsFile,
    policy: Policy,
    *,
    source: str = "",
    correction: paired.Correction = paired.Correction.HOLM,
) -> Comparison:
    """The paired comparison of one run: compare's rows, re-decided on the paired rounds."""
    base = result_set(data, "base", source)
    head = result_set(data, "head", source)
    unpaired = compare(base, head, policy)
    by_key = {s.key: s for s in data.series}
    candidates = [
        i
        for i, row in enumerate(unpaired.rows)
        if decidable(row) and by_key[(row.benchmark, row.params)].log_ratios()
    ]
    estimates = [
        paired.estimate_from(
            by_key[(unpaired.rows[i].benchmark, unpaired.rows[i].params)].log_ratios()
        )
        for i in candidates
    ]
    # A shard is judged within the whole suite's family (the rows of the other shards count
    # as p = 1): its own stopping decisions and report then ask what the merge will.
    significance = paired.family_significance(
        [e.p_value for e in estimates], correction=correction, absent=others_in_family(data)
    )
    rows = list(unpaired.rows)
    for i, significant in zip(candidates, significance, strict=True):
        rows[i] = paired_row(rows[i], by_key[(rows[i].benchmark, rows[i].params)], significant)
    warnings, notices = unpaired.warnings, unpaired.notices
    if data.shard is not None:
        warnings = (*warnings, lone_shard_warning(data.shard, len(data.series)))
        # A rule may match only other shards' benchmarks: the merged run says if one matches
        # none of the suite.
        unmatched = set(unmatched_rules(policy.rules, base, head))
        notices = tuple(n for n in notices if n not in unmatched)
    return dataclasses.replace(
        unpaired,
        rows=tuple(rows),
        warnings=warnings,
        notices=notices,
        shards=placements(data),
        counted_by=str(data.settings.get("counted_by", "")),
    )


def others_in_family(data: RoundsFile) -> int:
    """Rows of the suite that a shard file does not hold (0 for any other rounds file)."""
    return 0 if data.shard is None else max(0, data.shard.suite_rows - len(data.series))


def lone_shard_warning(shard: Shard, count: int) -> str:
    """What a report of one shard must say: the gate sees only part of the suite (``count``
    rows)."""
    return (
        f"shard {shard.index}/{shard.count} only: {count} benchmark{'s' if count != 1 else ''}"
        f" of the suite; merge all {shard.count} shards with `perfguard merge` to gate the"
        " whole suite"
    )


def placements(data: RoundsFile) -> tuple[ShardPlacement, ...]:
    """Which shard ran which benchmarks on which machine (a merged file; else nothing)."""
    return tuple(
        ShardPlacement(
            index=run.shard.index,
            count=run.shard.count,
            machine=run.machine,
            benchmarks=run.shard.benchmarks,
            rows=sum(s.benchmark in run.shard.benchmarks for s in data.series),
        )
        for run in data.shards
    )


def undecided(
    comparison: Comparison, data: RoundsFile, max_rounds: int
) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    """Inconclusive benchmarks that more rounds, up to ``max_rounds``, could still decide."""
    by_key = {s.key: s for s in data.series}
    out = set()
    for row in comparison.rows:
        if row.verdict is not Verdict.INCONCLUSIVE or row.estimate is None:
            continue
        if row.estimate.method == "paired-exact":  # deterministic: more rounds say the same
            continue
        if unsuited(by_key[(row.benchmark, row.params)]) is not None:  # stays unsuited
            continue
        d = by_key[(row.benchmark, row.params)].log_ratios()
        if paired.promising(d, threshold=row.threshold, max_rounds=max_rounds):
            out.add((row.benchmark, row.params))
    return out


def load_side(spec: str, load: Callable[[str], ResultSet]) -> tuple[ResultSet, Fingerprint | None]:
    """One side for ``perfguard compare``: a rounds file's head side, else what ``load`` reads."""
    path = Path(spec)
    if path.is_file() and is_rounds_file(path):
        data = read(path)
        return result_set(data, "head", spec), data.fingerprint
    return load(spec), None
