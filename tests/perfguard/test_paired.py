"""The paired estimate, the family correction and the decision rule on paired rounds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from perfguard import paired, stats
from perfguard.models import Direction, Verdict


def test_log_ratios_skip_rounds_without_positive_values() -> None:
    assert paired.log_ratios([1.0, 2.0, 0.0], [2.0, 2.0, 1.0]) == [math.log(2.0), 0.0]


def test_log_ratios_refuse_unequal_lengths() -> None:
    with pytest.raises(ValueError, match="3 rounds, head 2"):
        paired.log_ratios([1.0, 1.0, 1.0], [1.0, 1.0])


def test_estimate_matches_scipy_paired_t_test() -> None:
    base = [10.0, 10.4, 9.8, 10.1, 10.3, 9.9]
    head = [10.6, 11.0, 10.2, 10.9, 10.8, 10.5]
    est = paired.estimate(base, head)
    d = np.log(np.asarray(head) / np.asarray(base))
    reference = scipy_stats.ttest_rel(np.log(head), np.log(base))
    interval = reference.confidence_interval(confidence_level=0.99)
    assert est.ratio == pytest.approx(math.exp(d.mean()))
    assert est.p_value == pytest.approx(reference.pvalue)
    assert est.low == pytest.approx(math.exp(interval.low))
    assert est.high == pytest.approx(math.exp(interval.high))
    assert est.method == "paired"
    assert "6 rounds" in est.note
    assert est.mde is not None and 0 < est.mde < 0.2


def test_one_round_cannot_be_judged() -> None:
    est = paired.estimate([1.0], [1.2])
    assert est.mde == math.inf
    assert est.p_value == 1.0
    (significant,) = paired.family_significance([est.p_value])
    verdict, _ = stats.decide(
        est, threshold=0.05, direction=Direction.LOWER_IS_BETTER, significant=significant
    )
    assert verdict is Verdict.INCONCLUSIVE


def test_identical_ratios_are_exact() -> None:
    changed = paired.estimate([100.0, 200.0, 300.0], [110.0, 220.0, 330.0])
    same = paired.estimate([100.0, 200.0], [100.0, 200.0])
    assert (changed.method, changed.p_value, changed.mde) == ("paired-exact", 0.0, 0.0)
    assert changed.ratio == pytest.approx(1.1)
    assert same.p_value == 1.0
    verdict, _ = stats.decide(changed, threshold=0.05, direction=Direction.LOWER_IS_BETTER)
    assert verdict is Verdict.REGRESSED


def test_estimate_needs_one_usable_round() -> None:
    with pytest.raises(ValueError, match="no round"):
        paired.estimate([0.0], [1.0])


def test_holm_matches_the_step_down_by_hand() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.06
    assert paired.adjust(p, paired.Correction.HOLM) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_bh_is_scipys() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    expected = scipy_stats.false_discovery_control(p, method="bh")
    assert paired.adjust(p, paired.Correction.BH) == pytest.approx(list(expected))


def test_no_correction_and_single_values_pass_through() -> None:
    assert paired.adjust([0.2, 0.001], paired.Correction.NONE) == [0.2, 0.001]
    assert paired.adjust([0.3], paired.Correction.HOLM) == [0.3]


def test_family_significance_keeps_missing_p_values_missing() -> None:
    result = paired.family_significance([0.001, None, 0.004, 0.5])
    assert result == [True, None, True, False]  # Holm: 3 x 0.001, 2 x 0.004 < 0.01 < 0.5
    assert paired.family_significance([0.004], correction=paired.Correction.NONE) == [True]


def _decide_all(base: np.ndarray, head: np.ndarray, correction: paired.Correction) -> list[Verdict]:
    estimates = [paired.estimate(b, h) for b, h in zip(base, head, strict=True)]
    significant = paired.family_significance([e.p_value for e in estimates], correction=correction)
    return [
        stats.decide(e, threshold=0.05, direction=Direction.LOWER_IS_BETTER, significant=s)[0]
        for e, s in zip(estimates, significant, strict=True)
    ]


def _drifting_rounds(
    rng: np.random.Generator, replicates: int, rounds: int, shift: float
) -> tuple[np.ndarray, np.ndarray]:
    """Base and head per round under a machine whose speed drifts from round to round.

    The drift (a random walk of 3 % steps, common to both sides of a round) is far larger than
    the 1.5 % noise of one process; pairing must cancel it.
    """
    drift = np.exp(np.cumsum(rng.normal(0, 0.03, size=(replicates, rounds)), axis=1))
    base = drift * np.exp(rng.normal(0, 0.015, size=(replicates, rounds)))
    head = drift * np.exp(rng.normal(math.log1p(shift), 0.015, size=(replicates, rounds)))
    return base, head


def test_paired_p_values_are_calibrated_under_drift() -> None:
    rng = np.random.default_rng(20261121)
    base, head = _drifting_rounds(rng, 4000, 6, 0.0)
    p = np.array([paired.estimate(b, h).p_value for b, h in zip(base, head, strict=True)])
    # Under no change, P(p < a) = a: check at three levels within 3.5 binomial sd.
    for level in (0.01, 0.05, 0.2):
        sd = math.sqrt(level * (1 - level) / len(p))
        assert abs((p < level).mean() - level) < 3.5 * sd


def test_unpaired_estimate_would_raise_false_alarms_under_the_same_drift() -> None:
    """Why pairing: the same data judged as two independent samples flags many A/A pairs."""
    rng = np.random.default_rng(7)
    base, head = _drifting_rounds(rng, 400, 6, 0.0)
    unpaired = [
        scipy_stats.ttest_ind(np.log(h), np.log(b), equal_var=False).pvalue
        for b, h in zip(base, head, strict=True)
    ]
    paired_p = [paired.estimate(b, h).p_value for b, h in zip(base, head, strict=True)]
    # Welch is not wrong here in itself; but drift inflates each side's spread, so it cannot
    # see what pairing sees: at a true 6 % change pairing is significant, Welch mostly not.
    base4, head4 = _drifting_rounds(rng, 400, 6, 0.06)
    welch_power = np.mean(
        [
            scipy_stats.ttest_ind(np.log(h), np.log(b), equal_var=False).pvalue < 0.01
            for b, h in zip(base4, head4, strict=True)
        ]
    )
    paired_power = np.mean(
        [paired.estimate(b, h).p_value < 0.01 for b, h in zip(base4, head4, strict=True)]
    )
    assert np.mean(np.asarray(paired_p) < 0.01) < 0.03
    assert np.mean(np.asarray(unpaired) < 0.01) < 0.03
    assert paired_power > 0.9
    assert welch_power < paired_power - 0.25


def test_rule_false_alarms_and_power_under_drift() -> None:
    rng = np.random.default_rng(11)
    flagged = {}
    for shift in (0.0, 0.02, 0.05, 0.07, 0.10):
        base, head = _drifting_rounds(rng, 1000, 6, shift)
        verdicts = _decide_all(base, head, paired.Correction.NONE)
        flagged[shift] = np.mean([v is Verdict.REGRESSED for v in verdicts])
        if shift == 0.0:
            improved = np.mean([v is Verdict.IMPROVED for v in verdicts])
            assert flagged[shift] + improved <= 0.01
    assert flagged[0.02] <= 0.01  # inside the indifference zone: not a regression
    assert 0.3 < flagged[0.05] < 0.7  # at the threshold: about half (indifference zone)
    assert flagged[0.07] >= 0.95
    assert flagged[0.10] >= 0.99


def test_holm_bounds_family_false_alarms_with_many_benchmarks() -> None:
    """20 unchanged benchmarks per run: any-false-alarm rate stays under alpha with Holm."""
    rng = np.random.default_rng(3)
    runs_with_alarm = {paired.Correction.HOLM: 0, paired.Correction.NONE: 0}
    runs = 300
    for _ in range(runs):
        base, head = _drifting_rounds(rng, 20, 5, 0.0)
        for correction in runs_with_alarm:
            estimates = [paired.estimate(b, h) for b, h in zip(base, head, strict=True)]
            significant = paired.family_significance(
                [e.p_value for e in estimates], correction=correction
            )
            runs_with_alarm[correction] += any(significant)
    assert runs_with_alarm[paired.Correction.HOLM] / runs <= 0.01 + 3 * math.sqrt(0.01 / runs)
    assert runs_with_alarm[paired.Correction.NONE] > runs_with_alarm[paired.Correction.HOLM]


def test_detection_probability_describes_the_indifference_zone() -> None:
    curve = [
        paired.detection_probability(c, spread=0.02, rounds=5, threshold=0.05)
        for c in (0.0, 0.02, 0.04, 0.05, 0.06, 0.08, 0.10)
    ]
    assert curve == sorted(curve)
    assert curve[0] < 0.001
    assert 0.35 < curve[3] < 0.6
    assert curve[-1] > 0.99
    assert paired.detection_probability(0.2, spread=0.02, rounds=1, threshold=0.05) == 0.0


def test_promising_spends_rounds_only_where_they_can_decide() -> None:
    quiet = [0.01, -0.01, 0.02, 0.0]  # within 5 %, spread ~1.3 %: more rounds will settle it
    loud = [0.3, -0.25, 0.4, -0.35]  # spread ~35 %: 20 rounds cannot reach 5 %
    past = [0.12, 0.02, 0.2, 0.05]  # past 5 % but not yet significant: worth more rounds
    assert paired.promising(quiet, threshold=0.05, max_rounds=20)
    assert not paired.promising(loud, threshold=0.05, max_rounds=20)
    assert paired.promising(past, threshold=0.05, max_rounds=20)
    assert not paired.promising(past, threshold=0.05, max_rounds=4)  # no rounds left
    assert paired.promising([0.5], threshold=0.05, max_rounds=20)  # one round: unknown noise


def test_one_wild_round_does_not_end_the_measuring() -> None:
    """An A/A row of scripts/scale_fixture: four rounds within 13 %, one at +47 % (a process
    whose pandas frame landed badly). Its standard deviation (23 %) says hopeless at 20 rounds;
    the other rounds say 20 rounds dilute the wild one enough to call it unchanged."""
    wild = [-0.02, -0.13, -0.01, 0.47, -0.02]
    assert paired.promising(wild, threshold=0.05, max_rounds=20)
    assert not paired.promising(wild, threshold=0.05, max_rounds=5)  # no rounds left
    steady_loud = [0.25, -0.2, 0.22, -0.3, 0.18]  # loud in every round: still hopeless
    assert not paired.promising(steady_loud, threshold=0.05, max_rounds=20)


@pytest.mark.parametrize("correction", [paired.Correction.HOLM, paired.Correction.BH])
def test_absent_family_members_count_as_p_one(correction: paired.Correction) -> None:
    """A shard's rows corrected within the whole suite: the same as padding the family with
    p = 1 for the other shards' rows, without building that list."""
    rng = np.random.default_rng(5)
    for size, absent in [(1, 1), (3, 7), (12, 40), (5, 0)]:
        p = [float(x) for x in rng.uniform(0, 0.05, size)]
        padded = paired.adjust([*p, *([1.0] * absent)], correction)[:size]
        assert paired.adjust(p, correction, absent=absent) == pytest.approx(padded)
    assert paired.family_significance([1e-9, None], absent=10**12) == [False, None]
    assert paired.family_significance([1e-9, None], absent=10**6) == [True, None]
