"""compare(): pairing, every verdict, directions, budgets and machine warnings."""

from __future__ import annotations

import pytest

from perfguard.compare import compare
from perfguard.models import Direction, Kind, Status, Verdict
from perfguard.policy import Budget, Policy, Rule
from tests.helpers.measurements import measurement, noisy, result_set


def verdicts(base: list, head: list, policy: Policy | None = None) -> dict[str, Verdict]:
    comparison = compare(result_set(*base), result_set(*head), policy or Policy())
    return {row.label: row.verdict for row in comparison.rows}


def test_every_status_verdict() -> None:
    base = [
        measurement("gone"),
        measurement("breaks"),
        measurement("heals", None, status=Status.FAILED),
        measurement("both_fail", None, status=Status.FAILED),
        measurement("skip", float("nan"), status=Status.SKIPPED),
        measurement("rewritten", version="v1"),
        measurement("ignored"),
    ]
    head = [
        measurement("fresh"),
        measurement("breaks", None, status=Status.FAILED),
        measurement("heals"),
        measurement("both_fail", None, status=Status.FAILED),
        measurement("skip"),
        measurement("rewritten", version="v2"),
        measurement("ignored", 5.0),
    ]
    policy = Policy(rules=(Rule(pattern="ignored", ignore=True),))
    assert verdicts(base, head, policy) == {
        "gone": Verdict.REMOVED,
        "fresh": Verdict.NEW,
        "breaks": Verdict.NEWLY_FAILING,
        "heals": Verdict.FIXED,
        "both_fail": Verdict.SKIPPED,
        "skip": Verdict.SKIPPED,
        "rewritten": Verdict.INCOMPARABLE,
        "ignored": Verdict.SKIPPED,
    }


def test_timing_verdicts_from_samples() -> None:
    base = [
        noisy("slow", 1.0, seed=1),
        noisy("fast", 1.0, seed=3),
        noisy("same", 1.0, seed=5),
        noisy("noisy", 1.0, sd=0.3, n=5, seed=7),
    ]
    head = [
        noisy("slow", 1.3, seed=2),
        noisy("fast", 0.7, seed=4),
        noisy("same", 1.0, seed=6),
        noisy("noisy", 1.0, sd=0.3, n=5, seed=8),
    ]
    assert verdicts(base, head) == {
        "slow": Verdict.REGRESSED,
        "fast": Verdict.IMPROVED,
        "same": Verdict.UNCHANGED,
        "noisy": Verdict.INCONCLUSIVE,
    }


def throughput(value: float, seed: int) -> object:
    m = noisy("bus.track_publish_rate", value, seed=seed)
    return measurement(m.benchmark, m.value, kind=Kind.TRACK, unit="events/s", samples=m.samples)


def test_throughput_drop_is_a_regression_and_rise_an_improvement() -> None:
    # The case asv gets wrong: higher is better for a rate.
    assert verdicts([throughput(100_000, 1)], [throughput(70_000, 2)]) == {
        "bus.track_publish_rate": Verdict.REGRESSED
    }
    assert verdicts([throughput(100_000, 1)], [throughput(130_000, 2)]) == {
        "bus.track_publish_rate": Verdict.IMPROVED
    }


def test_untyped_track_is_compared_with_direction_assumed() -> None:
    # With samples: a track_ value without spread is inconclusive past the threshold (issue 10).
    base = [measurement("score", 10.0, kind=Kind.TRACK, unit="points", samples=[10.0, 10.1, 9.9])]
    head = [measurement("score", 12.0, kind=Kind.TRACK, unit="points", samples=[12.0, 12.1, 11.9])]
    (row,) = compare(result_set(*base), result_set(*head), Policy()).rows
    assert row.direction_assumed
    assert row.verdict is Verdict.REGRESSED
    policy = Policy(rules=(Rule(pattern="score", direction=Direction.HIGHER_IS_BETTER),))
    (row,) = compare(result_set(*base), result_set(*head), policy).rows
    assert not row.direction_assumed
    assert row.verdict is Verdict.IMPROVED


def test_per_benchmark_threshold() -> None:
    base, head = [measurement("m", 100.0, kind=Kind.MEM)], [measurement("m", 108.0, kind=Kind.MEM)]
    assert verdicts(base, head)["m"] is Verdict.REGRESSED
    assert verdicts(base, head, Policy(rules=(Rule(pattern="m", threshold=0.1),)))["m"] is (
        Verdict.UNCHANGED
    )


def test_nonpositive_values() -> None:
    base = [measurement("zero", 0.0, kind=Kind.TRACK), measurement("neg", -1.0, kind=Kind.TRACK)]
    head = [measurement("zero", 0.0, kind=Kind.TRACK), measurement("neg", 2.0, kind=Kind.TRACK)]
    assert verdicts(base, head) == {"zero": Verdict.UNCHANGED, "neg": Verdict.INCOMPARABLE}


def test_parameterized_rows_are_separate() -> None:
    params_a, params_b = (("n", "10"),), (("n", "1000"),)
    # mem_ sizes: exact without a spread (a time_ value without one is not, see test_stats).
    base = [measurement("p", 1.0, params=params_a, kind=Kind.MEM)]
    base.append(measurement("p", 1.0, params=params_b, kind=Kind.MEM))
    head = [measurement("p", 1.0, params=params_a, kind=Kind.MEM)]
    head.append(measurement("p", 2.0, params=params_b, kind=Kind.MEM))
    assert verdicts(base, head) == {"p(n=10)": Verdict.UNCHANGED, "p(n=1000)": Verdict.REGRESSED}


def test_budgets_checked_on_head_and_fail_the_gate() -> None:
    head = result_set(
        measurement("rate", 9_000.0, kind=Kind.TRACK, unit="events/s"),
        measurement("p99", 0.002, kind=Kind.TRACK, unit="seconds"),
        measurement("broken", None, status=Status.FAILED),
    )
    policy = Policy(
        budgets=(
            Budget(pattern="rate", min=10_000),
            Budget(pattern="p99", max=0.010),
            Budget(pattern="broken", max=1.0),
            Budget(pattern="nothing*", max=1.0),
        )
    )
    comparison = compare(head, head, policy)
    outcome = {(b.benchmark, b.bound): b.ok for b in comparison.budgets}
    assert outcome == {("rate", "min"): False, ("p99", "max"): True, ("broken", "max"): False}
    assert not comparison.regressions
    assert comparison.failed
    # A budget matching nothing is said once on stderr (a notice), not in the report.
    assert any("nothing*" in w for w in comparison.notices)
    assert not any("nothing*" in w for w in comparison.warnings)


def test_a_rule_or_budget_matching_nothing_is_a_notice_with_its_pattern() -> None:
    policy = Policy(
        rules=(Rule(pattern="bench.*"), Rule(pattern="typo.*", threshold=0.1)),
        budgets=(Budget(pattern="gone.*", max=1.0),),
    )
    base = result_set(measurement("bench.time_x"))
    comparison = compare(base, base, policy)
    assert comparison.notices == (
        "rule match 'typo.*' matched no benchmark: check the pattern (a glob on the benchmark"
        " name, e.g. 'bench_bus.*')",
        "budget match 'gone.*' matched no benchmark on head: check the pattern (a glob on the"
        " benchmark name, e.g. 'bench_bus.*')",
    )


def test_broken_budgets_say_it_in_human_units() -> None:
    policy = Policy(budgets=(Budget(pattern="*time_p99", max=0.001),))
    head = result_set(measurement("bench.time_p99", 0.00149855))
    (check,) = compare(head, head, policy).budgets
    assert check.reason == "1.50 ms is above the maximum 1 ms"
    rate = Policy(budgets=(Budget(pattern="*rate", min=10_000.0),))
    head = result_set(measurement("bus.track_rate", 9_512.0, kind=Kind.TRACK, unit="events/s"))
    (check,) = compare(head, head, rate).budgets
    assert check.reason == "9.51k events/s is below the minimum 10k events/s"


def test_clean_comparison_does_not_fail() -> None:
    rs = result_set(measurement("a"))
    comparison = compare(rs, rs, Policy())
    assert not comparison.failed
    assert comparison.warnings == ()
    assert comparison.count(Verdict.UNCHANGED) == 1


@pytest.mark.parametrize(
    ("base_kw", "head_kw", "needle"),
    [
        ({"machine": "a"}, {"machine": "b"}, "different machines"),
        (
            {"machine_info": {"machine": "box", "cpu": "Xeon"}},
            {"machine_info": {"machine": "box", "cpu": "EPYC"}},
            "cpu: Xeon vs EPYC",
        ),
        ({"env": "py3.11"}, {"env": "py3.12"}, "different environments"),
    ],
)
def test_machine_warnings(base_kw: dict, head_kw: dict, needle: str) -> None:
    comparison = compare(
        result_set(measurement("a"), **base_kw), result_set(measurement("a"), **head_kw), Policy()
    )
    assert any(needle in w for w in comparison.warnings)
