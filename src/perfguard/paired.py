"""The paired-rounds estimate: base and head measured back to back, round after round.

Within one round both commits share the machine's state (other load, frequency, thermal), so
the per-round log-ratio d_r = ln(head_r / base_r) cancels most of the drift that makes two
separate runs differ by several percent. The round, not the sample, is the independent unit:
samples inside one process share hash seeds and memory layout (RESEARCH.md, "Noise").

:func:`estimate` turns the rounds into an :class:`~perfguard.models.Estimate` (a t-interval on
the mean of d_r, its p-value and the minimum detectable effect), so that
:func:`perfguard.stats.decide` applies the one decision rule. The sign by metric direction is
applied there: the estimate is always head/base. :func:`family_significance` corrects the
p-values of many benchmarks (Holm by default) and returns the ``significant=`` override that
``decide`` accepts.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence

import numpy as np
from scipy import special

from perfguard.models import Estimate
from perfguard.stats import CONFIDENCE, POWER


class Correction(str, enum.Enum):
    """How p-values of many benchmarks are corrected for the family."""

    HOLM = "holm"
    """Holm's step-down: controls the chance of any false alarm (family-wise error rate)."""
    BH = "bh"
    """Benjamini-Hochberg: controls the expected share of false alarms among those flagged."""
    NONE = "none"
    """Each benchmark on its own: about benchmarks x alpha false alarms per run."""


def log_ratios(base: Sequence[float], head: Sequence[float]) -> list[float]:
    """d_r = ln(head_r / base_r) for every round where both sides have a positive value."""
    if len(base) != len(head):
        raise ValueError(f"base has {len(base)} rounds, head {len(head)}")
    return [math.log(h / b) for b, h in zip(base, head, strict=True) if b > 0 and h > 0]


def estimate(
    base: Sequence[float], head: Sequence[float], *, confidence: float = CONFIDENCE
) -> Estimate:
    """:func:`estimate_from` on the log-ratios of per-round values."""
    return estimate_from(log_ratios(base, head), confidence=confidence)


def _spread_percent(sd: float) -> str:
    return f"{sd * 100:.2f}%" if sd >= 1e-4 else f"{sd * 100:.2g}%"


def estimate_from(ratios: Sequence[float], *, confidence: float = CONFIDENCE) -> Estimate:
    """Mean paired log-ratio with a Student-t interval, p-value and minimum detectable effect.

    With one round there is no spread to speak of: the interval is the point and the minimum
    detectable effect infinite, so the rule says "inconclusive". With identical log-ratios in
    every round (deterministic metrics such as allocation counts) the change is exact.
    """
    d = np.asarray(ratios, dtype=float)
    n = len(d)
    if n == 0:
        raise ValueError("no round with positive values on both sides")
    mean = float(d.mean())
    alpha = 1.0 - confidence
    if n == 1:
        return Estimate(
            ratio=math.exp(mean),
            low=math.exp(mean),
            high=math.exp(mean),
            confidence=confidence,
            mde=math.inf,
            method="paired",
            p_value=1.0,
            note="1 paired round: no spread to judge the noise by",
        )
    sd = float(d.std(ddof=1))
    if sd == 0.0:
        return Estimate(
            ratio=math.exp(mean),
            low=math.exp(mean),
            high=math.exp(mean),
            confidence=confidence,
            mde=0.0,
            method="paired-exact",
            p_value=1.0 if mean == 0.0 else 0.0,
            note=f"{n} paired rounds with identical ratios",
        )
    se = sd / math.sqrt(n)
    df = n - 1
    t_crit = float(special.stdtrit(df, 1 - alpha / 2))
    t_power = float(special.stdtrit(df, POWER))
    half = t_crit * se
    return Estimate(
        ratio=math.exp(mean),
        low=math.exp(mean - half),
        high=math.exp(mean + half),
        confidence=confidence,
        mde=math.expm1((t_crit + t_power) * se),
        method="paired",
        p_value=float(2 * special.stdtr(df, -abs(mean) / se)),
        # two significant digits below 0.01 %: an instruction count's spread is not shown as 0
        note=f"paired t over {n} rounds, per-round spread {_spread_percent(sd)}",
    )


def adjust(p_values: Sequence[float], correction: Correction, *, absent: int = 0) -> list[float]:
    """Family-corrected p-values, in the input order.

    ``absent`` members of the family are not given and count as p = 1 (a shard's view of the
    other shards' rows): the family is ``len(p_values) + absent`` large.
    """
    m = len(p_values) + absent
    if correction is Correction.NONE or m <= 1:
        return list(p_values)
    p = np.asarray(p_values, dtype=float)
    if correction is Correction.BH and not absent:
        from scipy import stats  # half a second to import: only when asked for

        return [float(x) for x in stats.false_discovery_control(p, method="bh")]
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if correction is Correction.BH:  # absent ones rank last and only ever adjust to 1
        stepped = np.minimum.accumulate((m * ranked / np.arange(1, len(p) + 1))[::-1])[::-1]
    else:  # Holm: absent ones rank last and cannot raise an earlier step
        stepped = np.maximum.accumulate((m - np.arange(len(p))) * ranked)
    adjusted = np.empty(len(p))
    adjusted[order] = np.minimum(stepped, 1.0)
    return [float(x) for x in adjusted]


def family_significance(
    p_values: Sequence[float | None],
    *,
    correction: Correction = Correction.HOLM,
    confidence: float = CONFIDENCE,
    absent: int = 0,
) -> list[bool | None]:
    """``significant=`` for :func:`perfguard.stats.decide`, per benchmark; None where no p-value.

    ``absent``: family members not given, as p = 1 (see :func:`adjust`).
    """
    known = [(i, p) for i, p in enumerate(p_values) if p is not None]
    adjusted = adjust([p for _, p in known], correction, absent=absent)
    result: list[bool | None] = [None] * len(p_values)
    for (i, _), q in zip(known, adjusted, strict=True):
        result[i] = q < 1.0 - confidence
    return result


def detection_probability(
    change: float,
    *,
    spread: float,
    rounds: int,
    threshold: float,
    confidence: float = CONFIDENCE,
    replicates: int = 20_000,
    seed: int = 0,
) -> float:
    """How often the rule flags a true ``change`` (0.07 = 7 % worse) as a regression.

    Simulated: ``rounds`` normal log-ratios with per-round standard deviation ``spread`` (log
    units), flagged when the mean is past ln(1 + threshold) and the t-test is significant,
    exactly as :func:`estimate` + :func:`perfguard.stats.decide` do for one benchmark.
    """
    if rounds < 2:
        return 0.0
    rng = np.random.default_rng(seed)
    d = rng.normal(math.log1p(change), spread, size=(replicates, rounds))
    mean = d.mean(axis=1)
    se = d.std(axis=1, ddof=1) / math.sqrt(rounds)
    t_crit = float(special.stdtrit(rounds - 1, 1 - (1 - confidence) / 2))
    flagged = (mean > math.log1p(threshold)) & (mean > t_crit * se)
    return float(flagged.mean())


def promising(
    d: Sequence[float],
    *,
    threshold: float,
    max_rounds: int,
    confidence: float = CONFIDENCE,
) -> bool:
    """Could more rounds, up to ``max_rounds``, still decide this benchmark at today's noise?

    A futility check for adaptive effort: rounds are spent only where the projected interval
    at ``max_rounds`` would either exclude no change (for an estimate past the threshold) or
    be narrow enough to call the benchmark unchanged. One round says nothing about the noise.
    """
    n = len(d)
    if n >= max_rounds:
        return False
    if n < 2:
        return True
    values = np.asarray(d, dtype=float)
    # Optimistic about the noise: the lower end of a 80 % interval of the spread, so that a few
    # unlucky rounds do not end the measuring of a benchmark that could be decided. From five
    # rounds on (the default minimum), the spread is that of the rounds without the one farthest
    # from their median when that is smaller: one wild round (a process whose pandas frame
    # landed badly: +47 % in an A/A pair of scripts/scale_fixture, the other rounds within 13 %)
    # must not end the measuring of a row that more rounds would dilute it in.
    spread = float(values.std(ddof=1))
    if n >= 5:
        wild = int(np.argmax(np.abs(values - np.median(values))))
        spread = min(spread, float(np.delete(values, wild).std(ddof=1)))
    sd = spread * math.sqrt((n - 1) / float(special.chdtri(n - 1, 0.1)))
    se = sd / math.sqrt(max_rounds)
    df = max_rounds - 1
    t_crit = float(special.stdtrit(df, 1 - (1 - confidence) / 2))
    mean = abs(float(values.mean()))
    if mean > math.log1p(threshold):
        return t_crit * se < mean
    return math.expm1((t_crit + float(special.stdtrit(df, POWER))) * se) <= threshold
