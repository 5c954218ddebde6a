"""Shared formatting: units, percentages, verdict notes, the worst-first order, the summary."""

from __future__ import annotations

import math

import pytest

from perfguard.models import VERDICT_ORDER, Direction, Kind, Status, Verdict
from perfguard.report import format as fmt
from tests.helpers.comparisons import budget, comparison, every_verdict, measurement, row


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (1.234e-9, "seconds", "1.23 ns"),
        (999e-9, "seconds", "999 ns"),
        (1.5e-6, "seconds", "1.50 us"),
        (12.34e-3, "seconds", "12.3 ms"),
        (0.5, "seconds", "500 ms"),
        (1.0, "seconds", "1.00 s"),
        (1234.0, "seconds", "1234 s"),
        (0.0, "seconds", "0 ns"),
        (512.0, "bytes", "512 B"),
        (1_500.0, "bytes", "1.50 KB"),
        (45_600_000.0, "bytes", "45.6 MB"),
        (2.5e9, "bytes", "2.50 GB"),
        (3e12, "bytes", "3.00 TB"),
        (12_300.0, "events/s", "12.3k events/s"),
        (999.0, "events/s", "999 events/s"),
        (4.2e6, "events/s", "4.20M events/s"),
        (7e9, "ops", "7.00G ops"),
        (11_234_567.0, "instructions", "11.2M instr"),
        (8e12, "ops", "8.00T ops"),
        (0.00123, "ratio", "0.00123 ratio"),
        (-12_300.0, "delta", "-12.3k delta"),
        (42.0, "unit", "42.0"),
        (42.0, "", "42.0"),
        (None, "seconds", "-"),
        (math.nan, "seconds", "nan"),
        (math.inf, "bytes", "inf"),
    ],
)
def test_format_value_picks_a_readable_unit(value: float | None, unit: str, expected: str) -> None:
    assert fmt.format_value(value, unit) == expected


def test_format_measurement_says_why_there_is_no_value() -> None:
    assert fmt.format_measurement(None) == "-"
    assert fmt.format_measurement(measurement(0.002)) == "2.00 ms"
    assert fmt.format_measurement(measurement(None, status=Status.FAILED)) == "failed"
    assert fmt.format_measurement(measurement(None, status=Status.SKIPPED)) == "skipped"


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [
        (0.123, "+12.3%"),
        (-0.04, "-4.0%"),
        (0.0, "+0.0%"),
        (0.999, "+99.9%"),
        (12.5, "+1250%"),
        (-1.0, "-100%"),
        (math.inf, "+inf%"),
    ],
)
def test_format_percent_is_signed(fraction: float, expected: str) -> None:
    assert fmt.format_percent(fraction) == expected


def test_thresholds_and_magnitudes() -> None:
    assert fmt.format_threshold(0.05) == "5%"
    assert fmt.format_threshold(0.025) == "2.5%"
    assert fmt.format_magnitude(0.1234) == "±12%"
    assert fmt.format_magnitude(-0.034) == "±3.4%"
    assert fmt.format_magnitude(math.inf) == "±inf%"


def test_change_and_interval_columns() -> None:
    r = row(Verdict.REGRESSED, ratio=1.3, low=1.031, high=1.09)
    assert fmt.format_change(r) == "+30.0%"
    assert fmt.format_interval(r) == "[+3.1%, +9.0%]"
    bare = row(Verdict.NEW, ratio=None, has_base=False)
    assert fmt.format_change(bare) == ""
    assert fmt.format_interval(bare) == ""


def test_inconclusive_rows_say_why_and_what_could_be_detected() -> None:
    # Within the threshold, but the data could only have seen a 12 % change.
    quiet = row(Verdict.INCONCLUSIVE, ratio=1.04, mde=0.12, reason="compare's long sentence")
    assert fmt.format_verdict(quiet) == "inconclusive (noise too large: could detect ±12%)"
    # Past the threshold (either way), but the interval includes no change.
    for ratio in (1.25, 0.8):
        moved = row(Verdict.INCONCLUSIVE, ratio=ratio, low=0.8, high=1.9, mde=0.761)
        assert fmt.format_verdict(moved) == "inconclusive (within the noise: could detect ±76%)"
    # The row's own threshold decides, not the default.
    strict = row(Verdict.INCONCLUSIVE, ratio=1.04, mde=0.031, threshold=0.02)
    assert fmt.format_verdict(strict) == "inconclusive (within the noise: could detect ±3.1%)"


def test_inconclusive_without_a_detectable_change_shows_compare_s_reason() -> None:
    r = row(Verdict.INCONCLUSIVE, ratio=None, reason="too few samples")
    assert fmt.format_verdict(r) == "inconclusive (too few samples)"
    no_mde = row(Verdict.INCONCLUSIVE, ratio=1.2, mde=None, reason="one sample each")
    assert fmt.format_verdict(no_mde) == "inconclusive (one sample each)"
    degenerate = row(Verdict.INCONCLUSIVE, ratio=0.0, low=0.0, high=0.0, mde=0.5)
    assert fmt.format_verdict(degenerate) == "inconclusive (noise too large: could detect ±50%)"


def test_direction_assumed_is_marked_and_clear_verdicts_carry_no_reason() -> None:
    r = row(
        Verdict.REGRESSED,
        kind=Kind.TRACK,
        unit="items",
        ratio=1.2,
        direction_assumed=True,
        reason="+20% is past the 5% threshold",
    )
    assert fmt.format_verdict(r) == "regressed (direction assumed)"
    assert fmt.format_verdict(row(Verdict.NEWLY_FAILING, ratio=None, reason="head failed")) == (
        "newly failing (head failed)"
    )
    assert fmt.format_verdict(row(Verdict.UNCHANGED, reason="within 5%")) == "unchanged"
    assert fmt.format_verdict(row(Verdict.SKIPPED, ratio=None)) == "skipped"


def test_budget_cells() -> None:
    low = budget(limit=10_000.0, value=9_000.0)
    assert fmt.format_bound(low) == ">= 10k events/s"
    assert fmt.budget_status(low) == "BROKEN"
    high = budget("x.time_p99", bound="max", limit=0.01, value=0.005, unit="seconds")
    assert fmt.format_bound(high) == "<= 10 ms"
    assert fmt.budget_status(high) == "ok"


def test_worst_first_follows_verdict_order() -> None:
    rows = list(reversed(every_verdict().rows))
    assert [r.verdict for r in fmt.worst_first(rows)] == list(VERDICT_ORDER)


def test_worst_first_puts_the_largest_bad_move_first_whatever_the_direction() -> None:
    rows = [
        row(Verdict.REGRESSED, benchmark="a.time_small", ratio=1.1),
        row(Verdict.REGRESSED, benchmark="b.time_big", ratio=1.5),
        # Throughput halved: log(2) worse, the worst of all.
        row(Verdict.REGRESSED, benchmark="c.track_rate", kind=Kind.TRACK, unit="ev/s", ratio=0.5),
        row(Verdict.IMPROVED, benchmark="d.time_little", ratio=0.9),
        row(Verdict.IMPROVED, benchmark="e.time_lots", ratio=0.5),
        row(Verdict.INCONCLUSIVE, benchmark="f.time_better", ratio=0.97),
        row(Verdict.INCONCLUSIVE, benchmark="g.time_worse", ratio=1.04),
        row(Verdict.UNCHANGED, benchmark="h.time_same", ratio=None),
    ]
    order = [r.benchmark for r in fmt.worst_first(rows)]
    assert order == [
        "c.track_rate",
        "b.time_big",
        "a.time_small",
        "g.time_worse",
        "f.time_better",
        "e.time_lots",
        "d.time_little",
        "h.time_same",
    ]


def test_worst_first_breaks_ties_by_name_and_params() -> None:
    rows = [
        row(benchmark="b", params=(("n", "2"),)),
        row(benchmark="b", params=(("n", "1"),)),
        row(benchmark="a"),
    ]
    assert [r.label for r in fmt.worst_first(rows)] == ["a", "b(n=1)", "b(n=2)"]


def test_badness_of_degenerate_ratios_is_zero() -> None:
    assert fmt.badness(row(ratio=0.0)) == 0.0
    assert fmt.badness(row(ratio=math.inf)) == 0.0
    assert fmt.badness(row(ratio=math.nan)) == 0.0
    higher = row(kind=Kind.TRACK, unit="ev/s", ratio=2.0)
    assert higher.direction is Direction.HIGHER_IS_BETTER
    assert fmt.badness(higher) == pytest.approx(-math.log(2.0))


def test_visible_rows_only_changed_hides_unchanged_and_skipped() -> None:
    c = every_verdict()
    shown = {r.verdict for r in fmt.visible_rows(c, only_changed=True)}
    assert shown == set(Verdict) - {Verdict.UNCHANGED, Verdict.SKIPPED}
    assert len(fmt.visible_rows(c, only_changed=False)) == len(c.rows)


def test_summary_line_counts_every_row() -> None:
    c = comparison(
        [row(Verdict.REGRESSED)] * 2
        + [row(Verdict.IMPROVED)]
        + [row(Verdict.INCONCLUSIVE)] * 3
        + [row(Verdict.UNCHANGED)] * 40
    )
    assert (
        fmt.summary_line(c)
        == "2 regressed, 1 improved, 3 inconclusive, 40 unchanged (threshold 5%)"
    )


def test_summary_line_names_rarer_verdicts_and_broken_budgets_only_when_present() -> None:
    assert fmt.summary_line(every_verdict()) == (
        "1 regressed, 1 newly failing, 1 improved, 1 fixed, 1 inconclusive, 1 incomparable, "
        "1 new, 1 removed, 1 unchanged, 1 skipped, 1 budget broken (threshold 5%)"
    )
    two_broken = comparison(budgets=[budget(value=1.0), budget(value=2.0)], threshold=0.025)
    assert fmt.summary_line(two_broken) == (
        "0 regressed, 0 improved, 0 inconclusive, 0 unchanged, 2 budgets broken (threshold 2.5%)"
    )


def test_a_value_without_spread_reads_noise_unknown() -> None:
    from perfguard import stats

    est = stats.unknown_spread(1.0, 1.2, 0.99, "no spread recorded for this track_ benchmark")
    r = row(Verdict.INCONCLUSIVE, est=est, kind=Kind.TRACK, unit="items", base=10.0, head=12.0)
    assert fmt.format_interval(r) == "unknown"
    assert fmt.format_verdict(r) == "inconclusive (noise unknown: no spread recorded)"
    single = stats.unknown_spread(
        1.0, 1.2, 0.99, "10/1 samples from 2/1 processes: one process on a side, ..."
    )
    r = row(Verdict.INCONCLUSIVE, est=single, base=1.0, head=1.2)
    assert fmt.format_verdict(r) == "inconclusive (noise unknown: one process on a side)"
    assert fmt.values_change(r) == pytest.approx(0.2)
