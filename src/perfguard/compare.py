"""Pair base and head measurements and turn each pair into a verdict.

This is where asv's outcomes (failed, skipped, changed benchmark code) meet the statistics:
:func:`compare` applies :mod:`perfguard.policy` and :mod:`perfguard.stats` and returns a
:class:`~perfguard.models.Comparison` that every report renders.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from perfguard import stats
from perfguard.fingerprint import asv_machine_warning
from perfguard.models import (
    BudgetCheck,
    Comparison,
    Estimate,
    Key,
    Kind,
    Measurement,
    Params,
    ResultSet,
    Row,
    RunInfo,
    Status,
    SuiteShift,
    Verdict,
    format_label,
)
from perfguard.policy import Budget, Policy, Resolved, Rule, matches
from perfguard.report import format as fmt

Adjust = Callable[[Key, Estimate], Estimate]
"""A hook that revises each estimate before the decision (history mode's noise floors, a
suite shift's removal)."""


def run_info(results: ResultSet) -> RunInfo:
    return RunInfo(
        commit=results.commit,
        machine=results.machine,
        env=results.env,
        source=results.source,
        machine_info=dict(results.machine_info),
    )


def machine_warnings(base: ResultSet, head: ResultSet) -> list[str]:
    """Loud caveats when base and head were not measured under the same conditions."""
    warnings = []
    machines = asv_machine_warning(base, head)
    if machines:
        warnings.append(machines)
    if base.env != head.env:
        warnings.append(
            f"base and head ran in different environments ({base.env!r} vs {head.env!r})"
        )
    return warnings


def _status_verdict(base: Measurement, head: Measurement) -> tuple[Verdict, str] | None:
    """Verdicts decided by asv's outcome alone, before any statistics."""
    if base.version and head.version and base.version != head.version:
        return Verdict.INCOMPARABLE, "benchmark code changed (asv version hash differs)"
    if head.status is Status.FAILED:
        if base.status is Status.FAILED:
            return Verdict.SKIPPED, "fails on both base and head"
        return Verdict.NEWLY_FAILING, "ran on base, fails on head"
    if base.status is Status.FAILED:
        return Verdict.FIXED, "failed on base, runs on head"
    if Status.SKIPPED in (base.status, head.status):
        side = "base" if base.status is Status.SKIPPED else "head"
        return Verdict.SKIPPED, f"skipped on {side} (asv SkipNotImplemented)"
    return None


def _nonpositive(base: float, head: float) -> tuple[Verdict, str, Estimate | None]:
    """Values that have no logarithm: only equality or a plain ratio can be said."""
    if base == head:
        return Verdict.UNCHANGED, "identical values", None
    return (
        Verdict.INCOMPARABLE,
        f"non-positive values ({base:g} -> {head:g}) cannot be compared as a ratio",
        None,
    )


def compare_pair(
    base: Measurement, head: Measurement, settings: Resolved, adjust: Adjust | None = None
) -> tuple[Verdict, str, Estimate | None]:
    """The verdict for one benchmark present on both sides."""
    decided = _status_verdict(base, head)
    if decided is not None:
        return decided[0], decided[1], None
    assert base.value is not None and head.value is not None
    if base.value <= 0 or head.value <= 0:
        return _nonpositive(base.value, head.value)
    est = stats.estimate(base, head)
    if adjust is not None:
        est = adjust(base.key, est)
    verdict, reason = stats.decide(est, threshold=settings.threshold, direction=settings.direction)
    if est.shift:
        raw = fmt.format_percent(head.value / base.value - 1)
        shift = fmt.format_percent(math.expm1(est.shift))
        reason = f"{reason} (head/base {raw}, minus a {shift} shift of the whole suite)"
    return verdict, reason, est


def _row(
    key: tuple[str, Params],
    base: Measurement | None,
    head: Measurement | None,
    policy: Policy,
    adjust: Adjust | None = None,
) -> Row:
    either = head if head is not None else base
    assert either is not None
    name, params = key
    settings = policy.resolve(name, format_label(name, params), either.kind, either.unit)
    estimate: Estimate | None = None
    if settings.ignore:
        verdict, reason = Verdict.SKIPPED, "ignored by configuration"
    elif base is None:
        verdict, reason = Verdict.NEW, "only on head"
    elif head is None:
        verdict, reason = Verdict.REMOVED, "only on base"
    else:
        verdict, reason, estimate = compare_pair(base, head, settings, adjust)
    return Row(
        benchmark=name,
        params=params,
        kind=either.kind,
        unit=either.unit,
        direction=settings.direction,
        direction_assumed=settings.direction_assumed,
        threshold=settings.threshold,
        base=base,
        head=head,
        estimate=estimate,
        verdict=verdict,
        reason=reason,
    )


def check_budgets(
    budgets: Iterable[Budget], head: ResultSet
) -> tuple[list[BudgetCheck], list[str]]:
    """Check every budget on every head measurement it matches; warn on budgets matching none."""
    checks: list[BudgetCheck] = []
    warnings: list[str] = []
    for budget in budgets:
        matched = [m for m in head.measurements if matches(budget.pattern, m.benchmark, m.label)]
        if not matched:
            warnings.append(
                f"budget match {budget.pattern!r} matched no benchmark on head: check the"
                " pattern (a glob on the benchmark name, e.g. 'bench_bus.*')"
            )
        for m in matched:
            for bound, limit in (("min", budget.min), ("max", budget.max)):
                if limit is None:
                    continue
                checks.append(_check(m, budget.pattern, bound, limit))
    return checks, warnings


def unmatched_rules(rules: Iterable[Rule], *sides: ResultSet) -> list[str]:
    """One warning per rule whose ``match`` hits no benchmark on either side (a typo, or a
    benchmark renamed): such a rule silently does nothing."""
    labels = {(m.benchmark, m.label) for side in sides for m in side.measurements}
    return [
        f"rule match {rule.pattern!r} matched no benchmark: check the pattern (a glob on the"
        " benchmark name, e.g. 'bench_bus.*')"
        for rule in rules
        if not any(matches(rule.pattern, name, label) for name, label in labels)
    ]


def _check(m: Measurement, pattern: str, bound: str, limit: float) -> BudgetCheck:
    shown = fmt.format_value(m.value, m.unit)
    if m.status is not Status.OK or m.value is None:
        ok, reason = False, f"no value on head ({m.status.value})"
    elif bound == "min":
        ok = m.value >= limit
        reason = "" if ok else f"{shown} is below the minimum {fmt.format_limit(limit, m.unit)}"
    else:
        ok = m.value <= limit
        reason = "" if ok else f"{shown} is above the maximum {fmt.format_limit(limit, m.unit)}"
    return BudgetCheck(
        benchmark=m.label,
        pattern=pattern,
        bound=bound,
        limit=limit,
        value=m.value,
        unit=m.unit,
        ok=ok,
        reason=reason,
    )


def compare(
    base: ResultSet,
    head: ResultSet,
    policy: Policy,
    *,
    adjust: Adjust | None = None,
    cross_run: bool = False,
) -> Comparison:
    """Compare head against base under ``policy``: one Row per benchmark and parameter set.

    ``adjust`` (e.g. :meth:`perfguard.history.NoiseModel.adjuster`) revises every estimate
    before the decision rule sees it. ``cross_run`` says base and head are two separate runs
    (two asv result files): when most time benchmarks moved together, that common shift
    (:func:`perfguard.history.suite_shift`) is removed from them, reported on the comparison
    and in its warnings; ``adjust`` (history mode's own runner shift) takes precedence.
    """
    base_by_key = base.by_key()
    head_by_key = head.by_key()
    keys = list(base_by_key)
    keys.extend(k for k in head_by_key if k not in base_by_key)
    shift = None
    shift_warnings: list[str] = []
    if cross_run and adjust is None:
        from perfguard import history  # numpy: only for cross-run comparisons

        shift = history.suite_shift(base, head, threshold=policy.threshold)
        if shift is not None:
            time_keys = [m.key for m in base.measurements if m.kind is Kind.TIME]
            adjust = history.shift_adjuster(shift, time_keys)
            shift_warnings.append(shift_warning(shift))
    rows = tuple(_row(k, base_by_key.get(k), head_by_key.get(k), policy, adjust) for k in keys)
    budgets, budget_warnings = check_budgets(policy.budgets, head)
    return Comparison(
        base=run_info(base),
        head=run_info(head),
        threshold=policy.threshold,
        rows=rows,
        budgets=tuple(budgets),
        warnings=tuple(machine_warnings(base, head) + shift_warnings),
        shift=shift,
        notices=tuple(unmatched_rules(policy.rules, base, head) + budget_warnings),
    )


def shift_warning(shift: SuiteShift) -> str:
    """What every report says about a common shift: what it is, what was done, what to do.

    Short enough for a markdown cell (the PR comment clips longer text)."""
    return (
        f"{shift.agreeing} of {shift.benchmarks} time benchmarks moved together: a suite shift"
        f" of {fmt.format_percent(shift.ratio - 1)} [{fmt.format_percent(shift.low - 1)},"
        f" {fmt.format_percent(shift.high - 1)}]. Across two runs the machine's state (load, CPU)"
        f" and a change that makes the whole suite {'slower' if shift.ratio > 1 else 'faster'}"
        " look alike; changes marked * have the shift removed. To decide, measure both commits"
        " in one job: perfguard run"
    )
