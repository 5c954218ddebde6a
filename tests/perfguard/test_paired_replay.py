"""Replay of real A/A rounds: false alarms at or below the nominal level, a monotone power curve.

tests/data/aa_rounds*.json were recorded once with ``perfguard run`` on this project's shared
2-core machine, comparing two commits with identical code (scripts/detector_fixture plus a
comment): ``aa_rounds.json`` with one process per side and round (the earlier measurement),
``aa_rounds_paired.json`` with paired workers (the A/A trials of the detector-quality run, their
rounds one after another). Each replicate draws a few of the recorded rounds' log-ratios, adds
a known shift and applies the real rule (:func:`perfguard.paired.estimate_from` +
:func:`perfguard.stats.decide`). The same draws serve every shift (common random numbers), so
the curve is comparable point by point.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from perfguard import paired, rounds, stats
from perfguard.models import Direction, Verdict

DATA = sorted((Path(__file__).resolve().parents[1] / "data").glob("aa_rounds*.json"))
SHIFTS = (0.0, 0.02, 0.05, 0.07, 0.10, 0.20, 0.50)
REPLICATES = 400
ROUNDS = 8
NOMINAL = 1 - stats.CONFIDENCE


def recorded_rounds() -> list[tuple[str, np.ndarray]]:
    out = []
    for path in DATA:
        data = rounds.read(path)
        for series in data.series:
            out.append((f"{path.name}:{series.benchmark}", np.array(series.log_ratios())))
    return out


def flagged_rates(d: np.ndarray, seed: int) -> dict[float, tuple[float, float]]:
    """Per shift: (share flagged regressed, share flagged regressed or improved)."""
    rng = np.random.default_rng(seed)
    draws = [rng.choice(len(d), size=ROUNDS, replace=False) for _ in range(REPLICATES)]
    rates = {}
    for shift in SHIFTS:
        regressed = either = 0
        for idx in draws:
            est = paired.estimate_from(d[idx] + math.log1p(shift))
            verdict, _ = stats.decide(est, threshold=0.05, direction=Direction.LOWER_IS_BETTER)
            regressed += verdict is Verdict.REGRESSED
            either += verdict in (Verdict.REGRESSED, Verdict.IMPROVED)
        rates[shift] = (regressed / REPLICATES, either / REPLICATES)
    return rates


def test_recorded_a_a_data_is_present() -> None:
    recorded = recorded_rounds()
    assert len(DATA) >= 2
    assert len(recorded) >= 4
    assert all(len(d) >= 2 * ROUNDS for _, d in recorded)


@pytest.mark.parametrize("case", recorded_rounds(), ids=lambda case: case[0])
def test_replayed_false_alarms_and_power(case: tuple[str, np.ndarray]) -> None:
    name, d = case
    rates = flagged_rates(d, seed=sum(map(ord, name)))
    # At 0 % every flag is a false alarm; the rule's nominal level is alpha = 1 %, checked
    # with a 3-sigma allowance for the finite number of replicates.
    allowance = 3 * math.sqrt(NOMINAL * (1 - NOMINAL) / REPLICATES)
    assert rates[0.0][1] <= NOMINAL + allowance, rates
    curve = [rates[s][0] for s in SHIFTS]
    assert curve == sorted(curve), rates
    # A change inside the indifference zone (2 %) is not called a regression.
    assert rates[0.02][0] <= NOMINAL + allowance, rates


def test_power_rises_where_the_recorded_noise_allows() -> None:
    """On the quietest recorded benchmark a 50 % slowdown is caught nearly always."""
    quietest = min(recorded_rounds(), key=lambda c: float(np.std(c[1])))
    rates = flagged_rates(quietest[1], seed=1)
    assert rates[0.5][0] >= 0.95, (quietest[0], rates)
    assert rates[0.5][0] > rates[0.0][0]


@pytest.mark.parametrize(
    "case",
    [c for c in recorded_rounds() if c[0].startswith("aa_rounds_paired")],
    ids=lambda case: case[0],
)
def test_paired_workers_noise_lets_eight_rounds_catch_7_and_10_percent(
    case: tuple[str, np.ndarray],
) -> None:
    """With the noise of paired workers (about 2 % per round), 8 rounds see past the zone."""
    name, d = case
    rates = flagged_rates(d, seed=sum(map(ord, name)))
    assert rates[0.07][0] >= 0.90, rates
    assert rates[0.10][0] >= 0.95, rates
