"""The JSON report: every row and budget with its numbers, for scripts.

The format is versioned (:data:`SCHEMA_VERSION`) and described by ``schema.json`` next to this
module (JSON Schema draft 2020-12) and by ``docs/json-schema.md``. Adding a field keeps the
version; renaming, removing or retyping one bumps it.
"""

from __future__ import annotations

import json
import math
from importlib import resources
from typing import Any

import msgspec

from perfguard import __version__
from perfguard.models import (
    BudgetCheck,
    Comparison,
    Direction,
    Kind,
    Measurement,
    Row,
    RunInfo,
    ShardPlacement,
    Status,
    SuiteShift,
    Verdict,
)
from perfguard.report import format as fmt

SCHEMA_VERSION = 1


class _Side(msgspec.Struct, gc=False):
    """One side of a row (see docs/json-schema.md, "Side"); field order is output order."""

    value: float | None
    status: Status
    samples_count: int | None
    ci_99: tuple[float, float] | None
    quartiles: tuple[float, float] | None
    number: int | None
    repeat: int | None
    version: str | None


class _Row(msgspec.Struct, gc=False):
    """One row (see docs/json-schema.md, "Row").

    Structs rather than dicts: 10 000 rows build in a third of the time, mostly because the
    garbage collector does not track them.
    """

    benchmark: str
    params: dict[str, str]
    label: str
    kind: Kind
    unit: str
    direction: Direction
    direction_assumed: bool
    threshold: float
    verdict: Verdict
    reason: str
    base: _Side | None
    head: _Side | None
    change: float | None
    ratio: float | None
    interval: tuple[float, float] | None
    confidence: float | None
    mde: float | None
    method: str | None
    p_value: float | None
    note: str
    values_change: float | None
    shift_removed: float | None
    shard: int | None = None
    """K of the shard that measured the row (a merged ``perfguard run --shard`` run)."""
    machine: str | None = None
    """The machine that shard ran on."""


def render_json(
    comparison: Comparison, *, only_changed: bool = False, fail_on: str = "regression"
) -> str:
    """The comparison as a JSON document (indented, ends with a newline).

    Rows come worst first, like the other reports; ``only_changed`` leaves out unchanged and
    skipped rows while ``summary`` still counts every row. Non-finite numbers become ``null``.
    ``fail_on`` is the gate's setting the comparison was decided under (``never``: warn only),
    so a later reader (the comment workflow's commit status) says what the gate decided.
    """
    counts = comparison.verdict_counts()
    where = {name: p for p in comparison.shards for name in p.benchmarks}
    summary: dict[str, Any] = {"total": len(comparison.rows)}
    summary.update((verdict.value, counts[verdict]) for verdict in Verdict)
    summary["budgets_broken"] = len(comparison.broken_budgets)
    summary["failed"] = comparison.failed
    document = {
        "schema_version": SCHEMA_VERSION,
        "perfguard_version": __version__,
        "threshold": comparison.threshold,
        "only_changed": only_changed,
        "fail_on": fail_on,
        "base": _run(comparison.base),
        "head": _run(comparison.head),
        "warnings": list(comparison.warnings),
        "summary": summary,
        "shift": _shift(comparison.shift),
        "rows": [
            _placed(_row(r), where.get(r.benchmark))
            for r in fmt.visible_rows(comparison, only_changed=only_changed)
        ],
        "budgets": [_budget(b) for b in comparison.budgets],
        "shards": [_shard(p) for p in comparison.shards],
    }
    if comparison.counted_by:
        document["counted_by"] = comparison.counted_by
    # msgspec writes NaN and infinities as null (JSON has no such numbers), enums as their
    # values, and is several times faster than the json module on 10 000 rows.
    try:
        encoded = msgspec.json.encode(document)
    except UnicodeEncodeError:
        # A lone surrogate in a name read from JSON: UTF-8 cannot carry it.
        encoded = msgspec.json.encode(_scrub(msgspec.to_builtins(document)))
    return msgspec.json.format(encoded, indent=2).decode() + "\n"


def _scrub(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings replaced by U+FFFD."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {_scrub(key): _scrub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    return value


def load_schema() -> dict[str, Any]:
    """The JSON Schema of :func:`render_json`'s output, as shipped in the package."""
    text = resources.files("perfguard.report").joinpath("schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _run(run: RunInfo) -> dict[str, Any]:
    return {
        "commit": run.commit,
        "machine": run.machine,
        "env": run.env,
        "source": run.source,
        "machine_info": dict(run.machine_info),
    }


def _side(m: Measurement | None) -> _Side | None:
    if m is None:
        return None
    count = None if m.samples is None else len(m.samples)
    return _Side(m.value, m.status, count, m.ci_99, m.quartiles, m.number, m.repeat, m.version)


def _row(row: Row) -> _Row:
    est = row.estimate
    fixed = (
        row.benchmark,
        dict(row.params),
        row.label,
        row.kind,
        row.unit,
        row.direction,
        row.direction_assumed,
        row.threshold,
        row.verdict,
        row.reason,
        _side(row.base),
        _side(row.head),
    )
    values = fmt.values_change(row)
    if est is None:
        return _Row(*fixed, None, None, None, None, None, None, None, "", values, None)
    interval = (est.low - 1.0, est.high - 1.0)
    return _Row(
        *fixed,
        est.ratio - 1.0,
        est.ratio,
        interval,
        est.confidence,
        est.mde,
        est.method,
        est.p_value,
        est.note,
        values,
        math.expm1(est.shift) if est.shift else None,
    )


def _placed(row: _Row, placement: ShardPlacement | None) -> _Row:
    if placement is not None:
        row.shard, row.machine = placement.index, placement.machine
    return row


def _shard(placement: ShardPlacement) -> dict[str, Any]:
    return {
        "index": placement.index,
        "count": placement.count,
        "machine": placement.machine,
        "benchmarks": list(placement.benchmarks),
    }


def _shift(shift: SuiteShift | None) -> dict[str, Any] | None:
    if shift is None:
        return None
    return {
        "ratio": shift.ratio,
        "change": shift.ratio - 1.0,
        "interval": (shift.low - 1.0, shift.high - 1.0),
        "confidence": shift.confidence,
        "benchmarks": shift.benchmarks,
        "agreeing": shift.agreeing,
        "spread": shift.spread,
        "removed": shift.removed,
    }


def _budget(budget: BudgetCheck) -> dict[str, Any]:
    return {
        "benchmark": budget.benchmark,
        "pattern": budget.pattern,
        "bound": budget.bound,
        "limit": budget.limit,
        "value": budget.value,
        "unit": budget.unit,
        "ok": budget.ok,
        "reason": budget.reason,
    }
