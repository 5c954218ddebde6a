"""Hand-built :class:`Comparison` objects for renderer tests (no asv, no compare.py needed).

Every factory takes keyword overrides so a test states only what it is about.
"""

from __future__ import annotations

import functools
from typing import Any

from perfguard.models import (
    BudgetCheck,
    Comparison,
    Direction,
    Estimate,
    Kind,
    Measurement,
    Params,
    Row,
    RunInfo,
    Status,
    Verdict,
)

UNITS = {Kind.TIME: "seconds", Kind.MEM: "bytes", Kind.PEAKMEM: "bytes", Kind.TRACK: "unit"}


def measurement(
    value: float | None = 0.001,
    *,
    benchmark: str = "bench.time_x",
    params: Params = (),
    kind: Kind = Kind.TIME,
    unit: str | None = None,
    status: Status = Status.OK,
    samples: tuple[float, ...] | None = None,
    **extra: Any,
) -> Measurement:
    """One side of a row; ``value=None`` with a non-OK status for failed or skipped runs."""
    return Measurement(
        benchmark=benchmark,
        params=params,
        kind=kind,
        unit=UNITS[kind] if unit is None else unit,
        status=status,
        value=value if status is Status.OK else None,
        samples=samples,
        **extra,
    )


def estimate(
    ratio: float,
    *,
    low: float | None = None,
    high: float | None = None,
    confidence: float = 0.99,
    mde: float | None = 0.02,
    method: str = "samples",
    p_value: float | None = 0.001,
    note: str = "",
) -> Estimate:
    """An estimate of head/base with an interval of ±2 % around it unless given."""
    return Estimate(
        ratio=ratio,
        low=ratio * 0.98 if low is None else low,
        high=ratio * 1.02 if high is None else high,
        confidence=confidence,
        mde=mde,
        method=method,
        p_value=p_value,
        note=note,
    )


def row(
    verdict: Verdict = Verdict.UNCHANGED,
    *,
    benchmark: str = "bench.time_x",
    params: Params = (),
    kind: Kind = Kind.TIME,
    unit: str | None = None,
    base: float | None = 0.001,
    ratio: float | None = 1.0,
    head: float | None = None,
    base_status: Status = Status.OK,
    head_status: Status = Status.OK,
    has_base: bool = True,
    has_head: bool = True,
    direction: Direction | None = None,
    direction_assumed: bool = False,
    threshold: float = 0.05,
    reason: str = "",
    est: Estimate | None = None,
    **est_extra: Any,
) -> Row:
    """A row whose head value is ``head``, or ``base * ratio`` (``base`` when ``ratio`` is None,
    which also means no estimate)."""
    unit = UNITS[kind] if unit is None else unit
    if direction is None:
        rate = kind is Kind.TRACK and unit.endswith("/s")
        direction = Direction.HIGHER_IS_BETTER if rate else Direction.LOWER_IS_BETTER
    common: dict[str, Any] = {"benchmark": benchmark, "params": params, "kind": kind, "unit": unit}
    head_value = head
    if head_value is None and base is not None:
        head_value = base if ratio is None else base * ratio
    base_m = measurement(base, status=base_status, **common) if has_base else None
    head_m = measurement(head_value, status=head_status, **common) if has_head else None
    if est is None and ratio is not None and has_base and has_head:
        est = estimate(ratio, **est_extra)
    return Row(
        benchmark=benchmark,
        params=params,
        kind=kind,
        unit=unit,
        direction=direction,
        direction_assumed=direction_assumed,
        threshold=threshold,
        base=base_m,
        head=head_m,
        estimate=est,
        verdict=verdict,
        reason=reason,
    )


def run_info(commit: str = "a" * 40, **overrides: Any) -> RunInfo:
    fields: dict[str, Any] = {
        "commit": commit,
        "machine": "ci-runner",
        "env": "virtualenv-py3.11",
        "source": f"results/ci-runner/{commit[:8]}-virtualenv-py3.11.json",
        "machine_info": {"machine": "ci-runner", "cpu": "Test CPU", "os": "Linux"},
    }
    fields.update(overrides)
    return RunInfo(**fields)


def budget(
    benchmark: str = "bus.Publish.track_throughput",
    *,
    bound: str = "min",
    limit: float = 10_000.0,
    value: float | None = 12_345.0,
    unit: str = "events/s",
    ok: bool | None = None,
    reason: str = "",
) -> BudgetCheck:
    """A budget check; ``ok`` follows from bound/limit/value unless given."""
    if ok is None:
        ok = value is not None and (value >= limit if bound == "min" else value <= limit)
    return BudgetCheck(
        benchmark=benchmark,
        pattern=benchmark,
        bound=bound,
        limit=limit,
        value=value,
        unit=unit,
        ok=ok,
        reason=reason,
    )


def comparison(
    rows: tuple[Row, ...] | list[Row] = (),
    *,
    threshold: float = 0.05,
    budgets: tuple[BudgetCheck, ...] | list[BudgetCheck] = (),
    warnings: tuple[str, ...] | list[str] = (),
    base: RunInfo | None = None,
    head: RunInfo | None = None,
) -> Comparison:
    return Comparison(
        base=run_info("1" * 40) if base is None else base,
        head=run_info("2" * 40) if head is None else head,
        threshold=threshold,
        rows=tuple(rows),
        budgets=tuple(budgets),
        warnings=tuple(warnings),
    )


def every_verdict() -> Comparison:
    """One row per verdict, each in the shape compare.py gives it, plus a throughput row."""
    return comparison(
        [
            row(Verdict.REGRESSED, benchmark="bench.time_slow", ratio=1.30, base=0.002),
            row(
                Verdict.IMPROVED,
                benchmark="bus.track_rate",
                kind=Kind.TRACK,
                unit="events/s",
                base=12_300.0,
                ratio=1.25,
            ),
            row(
                Verdict.UNCHANGED,
                benchmark="bench.mem_list",
                kind=Kind.MEM,
                base=45_600_000.0,
                ratio=1.01,
            ),
            row(
                Verdict.INCONCLUSIVE,
                benchmark="bench.time_noisy",
                ratio=1.04,
                low=0.9,
                high=1.2,
                mde=0.12,
                reason="noise too large to decide at 5%",
            ),
            row(Verdict.NEW, benchmark="bench.time_new", has_base=False, ratio=None),
            row(Verdict.REMOVED, benchmark="bench.time_gone", has_head=False, ratio=None),
            row(
                Verdict.NEWLY_FAILING,
                benchmark="bench.time_broken",
                head_status=Status.FAILED,
                ratio=None,
                reason="head failed",
            ),
            row(
                Verdict.FIXED,
                benchmark="bench.time_fixed",
                base_status=Status.FAILED,
                ratio=None,
                reason="base failed",
            ),
            row(
                Verdict.INCOMPARABLE,
                benchmark="bench.time_edited",
                ratio=None,
                reason="benchmark version changed",
            ),
            row(
                Verdict.SKIPPED,
                benchmark="bench.time_skip",
                base_status=Status.SKIPPED,
                head_status=Status.SKIPPED,
                ratio=None,
                reason="skipped on both sides",
            ),
        ],
        budgets=[
            budget(),
            budget("bus.Command.time_p99", bound="max", limit=0.010, value=0.0123, unit="seconds"),
        ],
    )


@functools.lru_cache(maxsize=8)
def many_rows(count: int, *, changed_every: int = 50) -> Comparison:
    """A large comparison: mostly unchanged rows, every ``changed_every``-th one regressed,
    improved or inconclusive, with parameterized names like a real suite (cached: it is frozen)."""
    rows = []
    cycle = (Verdict.REGRESSED, Verdict.IMPROVED, Verdict.INCONCLUSIVE)
    for i in range(count):
        params: Params = (("n", str(i % 100)), ("kind", f"'k{i % 7}'"))
        name = f"suite{i % 13}.Class{i % 17}.time_case_{i}"
        if i % changed_every == 0:
            verdict = cycle[(i // changed_every) % 3]
            ratio = {Verdict.REGRESSED: 1.3, Verdict.IMPROVED: 0.7}.get(verdict, 1.04)
        else:
            verdict, ratio = Verdict.UNCHANGED, 1.0 + (i % 9) / 1000
        rows.append(
            row(verdict, benchmark=name, params=params, base=1e-4 * (1 + i % 5), ratio=ratio)
        )
    return comparison(rows)
