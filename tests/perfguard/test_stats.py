"""The estimate and the decision rule: every verdict and every direction case."""

from __future__ import annotations

import math

import numpy as np
import pytest

from perfguard import stats
from perfguard.models import Direction, Estimate, Kind, Verdict
from tests.helpers.measurements import measurement, noisy

LOWER = Direction.LOWER_IS_BETTER
HIGHER = Direction.HIGHER_IS_BETTER


def est(ratio: float, low: float, high: float, mde: float | None = 0.01) -> Estimate:
    return Estimate(ratio=ratio, low=low, high=high, confidence=0.99, mde=mde, method="test")


@pytest.mark.parametrize(
    ("estimate", "direction", "verdict"),
    [
        (est(1.10, 1.08, 1.12), LOWER, Verdict.REGRESSED),
        (est(1.10, 1.08, 1.12), HIGHER, Verdict.IMPROVED),
        (est(0.90, 0.88, 0.92), LOWER, Verdict.IMPROVED),
        (est(0.70, 0.68, 0.72), HIGHER, Verdict.REGRESSED),
        (est(1.10, 0.95, 1.30), LOWER, Verdict.INCONCLUSIVE),
        (est(0.90, 0.70, 1.02), HIGHER, Verdict.INCONCLUSIVE),
        (est(1.02, 1.01, 1.03), LOWER, Verdict.UNCHANGED),
        (est(1.00, 0.99, 1.01), HIGHER, Verdict.UNCHANGED),
        (est(1.01, 0.80, 1.25, mde=0.30), LOWER, Verdict.INCONCLUSIVE),
    ],
)
def test_decide_covers_every_case(
    estimate: Estimate, direction: Direction, verdict: Verdict
) -> None:
    assert stats.decide(estimate, threshold=0.05, direction=direction)[0] is verdict


def test_threshold_is_symmetric_in_log_space() -> None:
    # 1/1.06 is a 6 % improvement in log terms: beyond a 5 % threshold.
    r = 1 / 1.06
    assert stats.decide(est(r, r, r), threshold=0.05, direction=LOWER)[0] is Verdict.IMPROVED
    r = 1 / 1.04
    assert stats.decide(est(r, r, r), threshold=0.05, direction=LOWER)[0] is Verdict.UNCHANGED


def test_reason_names_the_detectable_change_when_too_noisy() -> None:
    verdict, reason = stats.decide(est(1.0, 0.8, 1.25, mde=0.31), threshold=0.05, direction=LOWER)
    assert verdict is Verdict.INCONCLUSIVE
    assert "31.0%" in reason


def test_significance_override_for_family_correction() -> None:
    e = est(1.10, 1.08, 1.12)
    assert stats.decide(e, threshold=0.05, direction=LOWER, significant=False)[0] is (
        Verdict.INCONCLUSIVE
    )


def test_samples_estimate_finds_a_real_shift() -> None:
    base = noisy("b", 1.0, sd=0.01, seed=1)
    head = noisy("b", 1.10, sd=0.01, seed=2)
    e = stats.estimate(base, head)
    # A time benchmark's samples come from asv's 2 processes (its default rounds).
    assert e.method == "processes"
    assert "20/20 samples from 2/2 processes" in e.note
    assert e.low < e.ratio < e.high
    assert e.low > 1.05
    assert 1.08 < e.ratio < 1.12
    assert e.p_value is not None and e.p_value < 1e-3


def test_samples_from_independent_processes_use_welch() -> None:
    base = noisy("b", 1.0, sd=0.01, seed=1, processes=20)
    head = noisy("b", 1.10, sd=0.01, seed=2, processes=20)
    e = stats.estimate(base, head)
    assert e.method == "processes"
    assert "from 20/20 processes" in e.note
    assert e.low > 1.05
    assert e.p_value is not None and e.p_value < 1e-6


def test_process_to_process_spread_widens_the_interval() -> None:
    """asv's pooled samples: two processes per side, each with its own offset (the machine's
    state, the hash seed, the memory layout). Samples-as-independent would call the offset a
    change; the process spread does not."""
    rng = np.random.default_rng(3)

    def side(offsets: tuple[float, float]) -> list[float]:
        return [float(math.exp(o + rng.normal(0, 0.002))) for o in offsets for _ in range(5)]

    base = measurement(value=1.0, samples=side((0.0, 0.04)))
    head = measurement(value=1.0, samples=side((0.09, 0.05)))
    base = measurement(value=float(np.median(base.samples)), samples=base.samples)
    head = measurement(value=float(np.median(head.samples)), samples=head.samples)
    pooled = stats.estimate(base, head)
    assert pooled.method == "processes"
    assert pooled.low < 1.0 < pooled.high
    naive = stats.estimate(
        measurement(value=base.value, samples=base.samples, kind=Kind.TRACK),
        measurement(value=head.value, samples=head.samples, kind=Kind.TRACK),
    )
    assert naive.method == "samples" and naive.low > 1.0  # what compare said before


def test_one_process_per_side_has_unknown_spread() -> None:
    base = noisy("b", 1.0, sd=0.01, seed=1, processes=1)
    head = noisy("b", 1.2, sd=0.01, seed=2, processes=1)
    e = stats.estimate(base, head)
    assert e.method == "no-spread"
    assert "one process on a side" in e.note
    assert stats.decide(e, threshold=0.05, direction=LOWER)[0] is Verdict.INCONCLUSIVE


def test_samples_interval_covers_the_truth_at_roughly_nominal_rate() -> None:
    rng = np.random.default_rng(7)
    covered = 0
    trials = 400
    for i in range(trials):
        base = noisy("b", 1.0, sd=0.03, n=10, seed=int(rng.integers(1 << 30)))
        head = noisy("b", 1.0, sd=0.03, n=10, seed=int(rng.integers(1 << 30)) + i)
        e = stats.estimate(base, head, confidence=0.95)
        covered += e.low <= 1.0 <= e.high
    assert covered / trials >= 0.92


def test_mde_shrinks_with_less_noise() -> None:
    quiet = stats.estimate(noisy("b", 1, sd=0.005, seed=1), noisy("b", 1, sd=0.005, seed=2))
    loud = stats.estimate(noisy("b", 1, sd=0.05, seed=1), noisy("b", 1, sd=0.05, seed=2))
    assert quiet.mde is not None and loud.mde is not None
    assert quiet.mde < loud.mde


def test_estimate_from_asv_ci_without_samples() -> None:
    base = measurement(value=1.0, ci_99=(0.99, 1.01))
    head = measurement(value=1.2, ci_99=(1.19, 1.21))
    e = stats.estimate(base, head)
    assert e.method == "asv-ci"
    assert math.isclose(e.ratio, 1.2)
    assert 1.15 < e.low < 1.2 < e.high < 1.25


def test_estimate_from_quartiles_when_no_ci() -> None:
    base = measurement(value=1.0, quartiles=(0.98, 1.02), repeat=10)
    head = measurement(value=1.0, quartiles=(0.98, 1.02), repeat=10)
    e = stats.estimate(base, head)
    assert e.method == "asv-ci"
    assert e.low < 1.0 < e.high


def test_exact_comparison_of_sizes_without_spread() -> None:
    e = stats.estimate(measurement(value=100.0, kind=Kind.MEM), measurement(value=120.0))
    assert e.method == "exact"
    assert e.low == e.ratio == e.high == pytest.approx(1.2)
    assert e.mde == 0.0


@pytest.mark.parametrize("kind", [Kind.TRACK, Kind.TIME])
def test_a_value_without_spread_is_not_exact(kind: Kind) -> None:
    """Issue 10: a track_ value with no spread recorded past the threshold is inconclusive,
    not regressed with a zero-width interval; within the threshold it is unchanged."""
    e = stats.estimate(measurement(value=100.0, kind=kind), measurement(value=120.0, kind=kind))
    assert e.method == "no-spread"
    assert not stats.has_known_spread(e)
    assert e.ratio == pytest.approx(1.2)
    verdict, reason = stats.decide(e, threshold=0.05, direction=LOWER)
    assert verdict is Verdict.INCONCLUSIVE
    assert "noise is unknown" in reason
    near = stats.estimate(measurement(value=100.0, kind=kind), measurement(value=102.0, kind=kind))
    assert stats.decide(near, threshold=0.05, direction=LOWER)[0] is Verdict.UNCHANGED
    same = stats.estimate(measurement(value=7.0, kind=kind), measurement(value=7.0, kind=kind))
    assert same.method == "exact"


def test_identical_samples_are_exact() -> None:
    m = measurement(value=1.0, samples=[1.0, 1.0, 1.0, 1.0])
    assert stats.estimate(m, m).method == "exact"


def test_too_few_samples_fall_back_to_summary() -> None:
    base = measurement(value=1.0, samples=[1.0, 1.01], ci_99=(0.99, 1.01))
    head = measurement(value=1.0, samples=[1.0, 1.01, 0.99], ci_99=(0.99, 1.01))
    assert stats.estimate(base, head).method == "asv-ci"


def test_asv_stored_interval_counts_samples_as_their_processes() -> None:
    """asv's stored interval treats its pooled samples as independent: 10 samples from 2
    processes count as 2, so the interval is sqrt(10 / 2) times wider."""
    ci = {"ci_99": (0.98, 1.02), "repeat": 10}
    base, head = measurement(value=1.0, **ci), measurement(value=1.1, **ci)
    naive = stats.estimate(
        measurement(value=1.0, kind=Kind.TRACK, **ci), measurement(value=1.1, kind=Kind.TRACK, **ci)
    )
    widened = stats.estimate(base, head)
    assert widened.method == naive.method == "asv-ci"
    half = math.log(widened.high / widened.low) / 2
    assert half == pytest.approx(math.sqrt(5) * math.log(naive.high / naive.low) / 2)
    assert "counted as its processes" in widened.note
    one_each = stats.estimate(measurement(value=1.0, ci_99=(0.98, 1.02), repeat=2), head)
    assert one_each.low > widened.low  # 2 samples from 2 processes: nothing to correct on base
