"""The JSON report: every row and budget with its numbers, for scripts.

The format is versioned (:data:`SCHEMA_VERSION`) and described by ``schema.json`` next to this
module (JSON Schema draft 2020-12) and by ``docs/json-schema.md``. Adding a field keeps the
version; renaming, removing or retyping one bumps it.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import msgspec

from perfguard import __version__
from perfguard.models import BudgetCheck, Comparison, Measurement, Row, RunInfo, Verdict
from perfguard.report import format as fmt

SCHEMA_VERSION = 1


def render_json(comparison: Comparison, *, only_changed: bool = False) -> str:
    """The comparison as a JSON document (indented, ends with a newline).

    Rows come worst first, like the other reports; ``only_changed`` leaves out unchanged and
    skipped rows while ``summary`` still counts every row. Non-finite numbers become ``null``.
    """
    counts = fmt.verdict_counts(comparison.rows)
    summary: dict[str, Any] = {"total": len(comparison.rows)}
    summary.update((verdict.value, counts[verdict]) for verdict in Verdict)
    summary["budgets_broken"] = len(comparison.broken_budgets)
    summary["failed"] = comparison.failed
    document = {
        "schema_version": SCHEMA_VERSION,
        "perfguard_version": __version__,
        "threshold": comparison.threshold,
        "only_changed": only_changed,
        "base": _run(comparison.base),
        "head": _run(comparison.head),
        "warnings": list(comparison.warnings),
        "summary": summary,
        "rows": [_row(r) for r in fmt.visible_rows(comparison, only_changed=only_changed)],
        "budgets": [_budget(b) for b in comparison.budgets],
    }
    # msgspec writes NaN and infinities as null (JSON has no such numbers), enums as their
    # values, and is several times faster than the json module on 10 000 rows.
    return msgspec.json.format(msgspec.json.encode(document), indent=2).decode() + "\n"


def load_schema() -> dict[str, Any]:
    """The JSON Schema of :func:`render_json`'s output, as shipped in the package."""
    text = resources.files("perfguard.report").joinpath("schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _pair(pair: tuple[float, float] | None) -> list[float] | None:
    return None if pair is None else list(pair)


def _run(run: RunInfo) -> dict[str, Any]:
    return {
        "commit": run.commit,
        "machine": run.machine,
        "env": run.env,
        "source": run.source,
        "machine_info": dict(run.machine_info),
    }


def _side(measurement: Measurement | None) -> dict[str, Any] | None:
    if measurement is None:
        return None
    samples = measurement.samples
    return {
        "value": measurement.value,
        "status": measurement.status,
        "samples_count": None if samples is None else len(samples),
        "ci_99": _pair(measurement.ci_99),
        "quartiles": _pair(measurement.quartiles),
        "number": measurement.number,
        "repeat": measurement.repeat,
        "version": measurement.version,
    }


_NO_ESTIMATE: dict[str, Any] = dict.fromkeys(
    ("change", "ratio", "interval", "confidence", "mde", "method", "p_value"), None
) | {"note": ""}


def _row(row: Row) -> dict[str, Any]:
    # Enums go in as they are: msgspec writes their values.
    out = {
        "benchmark": row.benchmark,
        "params": dict(row.params),
        "label": row.label,
        "kind": row.kind,
        "unit": row.unit,
        "direction": row.direction,
        "direction_assumed": row.direction_assumed,
        "threshold": row.threshold,
        "verdict": row.verdict,
        "reason": row.reason,
        "base": _side(row.base),
        "head": _side(row.head),
    }
    est = row.estimate
    if est is None:
        out.update(_NO_ESTIMATE)
        return out
    out["change"] = est.ratio - 1.0
    out["ratio"] = est.ratio
    out["interval"] = [est.low - 1.0, est.high - 1.0]
    out["confidence"] = est.confidence
    out["mde"] = est.mde
    out["method"] = est.method
    out["p_value"] = est.p_value
    out["note"] = est.note
    return out


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
