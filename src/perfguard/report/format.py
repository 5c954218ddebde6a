"""Value, unit and change formatting plus the worst-first row order, shared by every renderer.

Keeping these in one place means the terminal table, the PR comment and the summary line can never
disagree on how a number or a verdict reads.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from perfguard.models import (
    UNSUITED,
    VERDICT_ORDER,
    BudgetCheck,
    Comparison,
    Direction,
    Kind,
    Measurement,
    Params,
    Row,
    Status,
    Verdict,
)

MISSING = "-"
"""Shown where one side has no measurement (a new or removed benchmark)."""

_VERDICT_RANK = {verdict: rank for rank, verdict in enumerate(VERDICT_ORDER)}
_BEST_FIRST = frozenset({Verdict.IMPROVED, Verdict.FIXED})

_CHANGED_OUT = frozenset({Verdict.UNCHANGED, Verdict.SKIPPED})
"""Verdicts that ``only_changed`` hides."""

_REASON_SHOWN = frozenset(
    {
        Verdict.INCONCLUSIVE,
        Verdict.INCOMPARABLE,
        Verdict.NEWLY_FAILING,
        Verdict.FIXED,
        Verdict.SKIPPED,
    }
)
"""Verdicts whose reason the reader needs; for the others the numbers say it all."""

# The order of the summary line; the first four always appear so the line reads the same each run.
_SUMMARY_ALWAYS = (Verdict.REGRESSED, Verdict.IMPROVED, Verdict.INCONCLUSIVE, Verdict.UNCHANGED)
_SUMMARY_ORDER = (
    Verdict.REGRESSED,
    Verdict.NEWLY_FAILING,
    Verdict.IMPROVED,
    Verdict.FIXED,
    Verdict.INCONCLUSIVE,
    Verdict.INCOMPARABLE,
    Verdict.NEW,
    Verdict.REMOVED,
    Verdict.UNCHANGED,
    Verdict.SKIPPED,
)

_SECONDS = ((1e-6, 1e9, "ns"), (1e-3, 1e6, "us"), (1.0, 1e3, "ms"))
_BYTES = ((1e3, 1.0, "B"), (1e6, 1e-3, "KB"), (1e9, 1e-6, "MB"), (1e12, 1e-9, "GB"))
_SI = ((1e3, 1.0, ""), (1e6, 1e-3, "k"), (1e9, 1e-6, "M"), (1e12, 1e-9, "G"))
_SHORT_UNITS = {"instructions": "instr"}
"""Units shown shorter than their name: ``11.2M instructions`` made the table's value
columns wrap onto a second line at a terminal's width (the footnote names the unit)."""


def _digits(value: float) -> str:
    """Three significant digits without exponent notation: 1.23, 12.3, 123, 1234."""
    size = abs(value)
    if size >= 100 or size == 0:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def format_value(value: float | None, unit: str) -> str:
    """A number with a readable unit: ``12.3 ms``, ``45.6 MB``, ``12.3k events/s``."""
    if value is None:
        return MISSING
    if not math.isfinite(value):
        return str(value)
    size = abs(value)
    if unit == "seconds":
        for below, scale, suffix in _SECONDS:
            if size < below:
                return f"{_digits(value * scale)} {suffix}"
        return f"{_digits(value)} s"
    if unit == "bytes":
        for below, scale, suffix in _BYTES:
            if size < below:
                return f"{_digits(value * scale)} {suffix}"
        return f"{_digits(value * 1e-12)} TB"
    shown = f"{_digits(value * 1e-12)}T"
    for below, scale, prefix in _SI:
        if size < below:
            shown = f"{_digits(value * scale)}{prefix}"
            break
    return shown if unit in ("", "unit") else f"{shown} {_SHORT_UNITS.get(unit, unit)}"


def format_limit(value: float, unit: str) -> str:
    """A configured limit as a person wrote it: ``1 ms``, ``2.5 ms``, ``10k events/s``.

    Like :func:`format_value`, but without trailing zeros (a limit is exact, not measured).
    """
    shown = format_value(value, unit)
    number, sep, rest = shown.partition(" ")
    digits = number.rstrip("kMGT")
    if "." in digits:
        trimmed = digits.rstrip("0").rstrip(".")
        shown = f"{trimmed}{number[len(digits) :]}{sep}{rest}"
    return shown


def format_measurement(measurement: Measurement | None) -> str:
    """A side of a row: its value, or why there is none (failed, skipped, missing)."""
    if measurement is None:
        return MISSING
    if measurement.status is Status.OK:
        return format_value(measurement.value, measurement.unit)
    return str(measurement.status.value)


def format_percent(fraction: float) -> str:
    """A signed relative change: ``+12.3%``, ``-4.0%``; whole percents from 100 % up (``+250%``)."""
    if not math.isfinite(fraction):
        return f"{fraction * 100:+}%"
    return f"{fraction * 100:+.0f}%" if abs(fraction) >= 1 else f"{fraction * 100:+.1f}%"


def format_threshold(fraction: float) -> str:
    """An unsigned threshold as configured: ``5%``, ``2.5%``."""
    return f"{fraction * 100:g}%"


def format_magnitude(fraction: float) -> str:
    """An effect size either way: ``±12%``, ``±3.4%``."""
    pct = abs(fraction) * 100
    return f"±{pct:.0f}%" if pct >= 10 or not math.isfinite(pct) else f"±{pct:.1f}%"


SHIFT_MARK = "*"
"""After a change from which a shift shared by the whole suite was removed."""


def shift_removed(row: Row) -> bool:
    """True when the row's change is not head/base: a suite (or runner) shift was removed."""
    return row.estimate is not None and row.estimate.shift != 0.0


def is_paired(row: Row) -> bool:
    """True when the change is the paired estimate over rounds, not the ratio of the values."""
    return row.estimate is not None and row.estimate.method.startswith("paired")


def values_change(row: Row) -> float | None:
    """head/base - 1 of the values the base and head columns show (None without both)."""
    b, h = row.base, row.head
    if b is None or h is None or b.status is not Status.OK or h.status is not Status.OK:
        return None
    if b.value is None or h.value is None or b.value <= 0 or h.value <= 0:
        return None
    return h.value / b.value - 1.0


def footnotes(rows: Iterable[Row], counted_by: str = "") -> list[str]:
    """What a table must say when its change column is not head/base of its value columns,
    and what counted its ``instructions`` rows."""
    rows = list(rows)
    notes = []
    if any(r.kind is Kind.INSTRUCTIONS for r in rows):
        notes.append(
            "NAME:instructions rows: instructions (instr) executed per call of the benchmark"
            " (base, head: each side's median over the rounds)"
            + (f", counted by {counted_by}." if counted_by else ".")
        )
    if any(shift_removed(r) for r in rows):
        notes.append(
            f"{SHIFT_MARK} change and interval with the shift the whole suite shares removed"
            " (see the warning): they differ from head/base."
        )
    if any(is_paired(r) for r in rows):
        notes.append(
            "base, head: each side's median over the rounds of its fastest sample; change:"
            " the paired estimate (mean over rounds of the median head/base of sample pairs"
            " taken a millisecond apart), which can differ from head/base."
        )
    return notes


def format_change(row: Row) -> str:
    """The change column: head/base - 1 as a percentage, or nothing when not estimated; marked
    with :data:`SHIFT_MARK` when a suite shift was removed from it."""
    change = row.change
    if change is None:
        return ""
    return format_percent(change) + (SHIFT_MARK if shift_removed(row) else "")


def format_interval(row: Row) -> str:
    """The interval on the change, ``[+3.1%, +9.0%]``, ``unknown`` without a recorded spread, or
    nothing when not estimated."""
    if row.estimate is None:
        return ""
    if not (row.estimate.low > 0 and math.isfinite(row.estimate.high)):
        return "unknown"
    low = format_percent(row.estimate.low - 1.0)
    high = format_percent(row.estimate.high - 1.0)
    return f"[{low}, {high}]"


def verdict_label(verdict: Verdict) -> str:
    """The verdict as a reader says it: ``newly failing`` rather than ``newly-failing``."""
    return verdict.value.replace("-", " ")


def verdict_note(row: Row) -> str:
    """What to add after the verdict: the assumed direction and, where it matters, the reason.

    An inconclusive row with an estimate gets a short reason that says how large a change the
    data could have detected (``noise too large: could detect ±12%``); the numbers behind it are
    in the change and interval columns, and compare's full sentence stays in the JSON report.
    """
    notes = []
    if row.direction_assumed:
        notes.append("direction assumed")
    if row.verdict in _REASON_SHOWN:
        reason = row.reason
        est = row.estimate
        if row.reason.startswith(UNSUITED):
            pass  # the reason says it: not noise too large, a count that is not repeatable
        elif row.verdict is Verdict.INCONCLUSIVE and est is not None and est.mde is not None:
            reason = f"{_inconclusive_because(row)}: could detect {format_magnitude(est.mde)}"
        elif (
            row.verdict is Verdict.INCONCLUSIVE
            and est is not None
            and est.method.startswith("no-spread")
        ):
            single = "one process on a side" in est.note
            reason = f"noise unknown: {'one process on a side' if single else 'no spread recorded'}"
        if reason:
            notes.append(reason)
    return "; ".join(notes)


def _inconclusive_because(row: Row) -> str:
    """``within the noise`` when the estimate is past the threshold, else ``noise too large``."""
    ratio = row.estimate.ratio if row.estimate is not None else 1.0
    past = 0.0 < ratio < math.inf and abs(math.log(ratio)) > math.log1p(row.threshold)
    return "within the noise" if past else "noise too large"


def format_verdict(row: Row) -> str:
    """The verdict column: ``regressed`` or ``inconclusive (noise too large: ...)``."""
    note = verdict_note(row)
    label = verdict_label(row.verdict)
    return f"{label} ({note})" if note else label


def format_bound(budget: BudgetCheck) -> str:
    """A budget's limit as a reader says it: ``>= 10k events/s``, ``<= 10.0 ms``."""
    sign = ">=" if budget.bound == "min" else "<="
    return f"{sign} {format_limit(budget.limit, budget.unit)}"


def budget_status(budget: BudgetCheck) -> str:
    """``ok`` or ``BROKEN``: loud on purpose, a broken budget fails the gate."""
    return "ok" if budget.ok else "BROKEN"


def badness(row: Row) -> float:
    """How far the row moved in its bad direction, in log space (negative: it got better)."""
    est = row.estimate
    if est is None or not 0.0 < est.ratio < math.inf:
        return 0.0
    moved = math.log(est.ratio)
    return moved if row.direction is Direction.LOWER_IS_BETTER else -moved


def _sort_key(row: Row) -> tuple[int, float, str, Params]:
    bad = badness(row)
    # Improvements read best first; every other group reads worst first.
    size = bad if row.verdict in _BEST_FIRST else -bad
    return (_VERDICT_RANK[row.verdict], size, row.benchmark, row.params)


def worst_first(rows: Iterable[Row]) -> list[Row]:
    """Rows in report order: by :data:`VERDICT_ORDER`, then the largest bad move first.

    Improvements come largest improvement first; ties fall back to the label so the order is
    stable across runs.
    """
    return sorted(rows, key=_sort_key)


def is_changed(row: Row) -> bool:
    """Whether ``only_changed`` keeps the row (it hides unchanged and skipped rows)."""
    return row.verdict not in _CHANGED_OUT


def visible_rows(comparison: Comparison, *, only_changed: bool) -> list[Row]:
    """The rows a report shows, worst first."""
    rows = comparison.rows
    return worst_first(r for r in rows if is_changed(r)) if only_changed else worst_first(rows)


def summary_line(comparison: Comparison) -> str:
    """``2 regressed, 1 improved, 3 inconclusive, 40 unchanged (threshold 5%)``.

    Counts all rows, whatever a report hides, plus broken budgets when there are any, and names
    a suite shift that was removed (``...; suite shift +45.0% removed)``).
    """
    counts = comparison.verdict_counts()
    parts = [
        f"{counts[v]} {verdict_label(v)}"
        for v in _SUMMARY_ORDER
        if counts[v] or v in _SUMMARY_ALWAYS
    ]
    broken = len(comparison.broken_budgets)
    if broken:
        parts.append(f"{broken} budget{'s' if broken != 1 else ''} broken")
    extra = ""
    if comparison.shift is not None:
        extra = f"; suite shift {format_percent(comparison.shift.ratio - 1)} removed"
    return f"{', '.join(parts)} (threshold {format_threshold(comparison.threshold)}{extra})"


def shard_lines(comparison: Comparison) -> list[str]:
    """Which shard measured which benchmarks on which machine (a merged sharded run).

    ``shard 1/3 on runner-a: 4 benchmarks (bench.a, bench.b, ...)``, one line per shard.
    """
    lines = []
    for placement in comparison.shards:
        count = placement.rows
        names = ", ".join(placement.benchmarks)
        lines.append(
            f"shard {placement.index}/{placement.count} on {placement.machine}: {count}"
            f" benchmark{'s' if count != 1 else ''}{f' ({names})' if names else ''}"
        )
    return lines
