"""Pure numeric functions: how big is the change head/base, how sure are we, and what verdict.

Everything works on the ratio head/base in log space, so that a change and its reverse are
symmetric (x1.05 and /1.05) and multiplicative noise becomes additive. Distributions come from
scipy (``scipy.special``'s vectorised t and normal quantiles, fast enough for 10 000 rows).

Two functions carry the policy and are the ones to replace with a better rule:
:func:`estimate` (what we know about the change) and :func:`decide` (what we conclude from it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from scipy import special

from perfguard.models import Direction, Estimate, Kind, Measurement, Verdict

CONFIDENCE = 0.99
"""Two-sided confidence of every interval, paired or not (asv also reports 99 % intervals);
1 - CONFIDENCE is the family's false-alarm budget."""
POWER = 0.80
"""Probability with which the minimum detectable effect would be detected."""
MIN_SAMPLES = 3
"""Fewer raw samples than this on a side: fall back to asv's stored interval."""

# asv's stats_ci_99 is a 99 % interval of the median; its half-width in log space is z * se.
_Z_ASV_CI = float(special.ndtri(0.995))
# The median of n normal samples has a standard error sqrt(pi/2) ~ 1.2533 times the mean's.
_MEDIAN_SE_FACTOR = math.sqrt(math.pi / 2)
# For a normal distribution the interquartile range is 1.349 standard deviations.
_IQR_PER_SD = 1.349


@lru_cache(maxsize=4096)
def _t_quantile(p: float, df: int) -> float:
    """Student-t quantile, cached: Welch's df is floored to an integer (slightly conservative)."""
    return float(special.stdtrit(df, p))


def _z_quantile(p: float) -> float:
    return float(special.ndtri(p))


@dataclass(frozen=True, slots=True)
class _LogSide:
    """One side's location and squared standard error in log space."""

    location: float
    se2: float
    n: int | None
    """Number of samples when the spread came from raw samples (for Welch's df)."""


def _from_samples(samples: Sequence[float]) -> _LogSide:
    # Plain two-pass sums: log-samples are of one magnitude, so fsum's exactness buys nothing
    # here and costs a third of compare's time on 10 000 benchmarks.
    logs = list(map(math.log, samples))
    n = len(logs)
    mean = sum(logs) / n
    var = sum([(x - mean) * (x - mean) for x in logs]) / (n - 1)
    return _LogSide(mean, var / n, n)


def _from_summary(m: Measurement) -> _LogSide | None:
    """asv's stored 99 % interval of the median, else its quartiles; None without either.

    asv computes both from its pooled samples as if they were independent; samples from
    ``P`` processes are counted as ``P`` (:func:`_design_effect`)."""
    assert m.value is not None
    if m.ci_99 is not None and m.ci_99[0] > 0 and m.ci_99[1] >= m.ci_99[0]:
        half = (math.log(m.ci_99[1]) - math.log(m.ci_99[0])) / 2
        return _LogSide(math.log(m.value), (half / _Z_ASV_CI) ** 2 * _design_effect(m), None)
    if m.quartiles is not None and m.quartiles[0] > 0 and m.repeat:
        sd = (math.log(m.quartiles[1]) - math.log(m.quartiles[0])) / _IQR_PER_SD
        se = _MEDIAN_SE_FACTOR * sd / math.sqrt(m.repeat)
        return _LogSide(math.log(m.value), se * se * _design_effect(m), None)
    return None


def _design_effect(m: Measurement) -> float:
    """How much a variance computed from ``repeat`` pooled samples understates one from their
    processes: ``repeat / P`` (at most; as if the samples of one process were one)."""
    processes = processes_of(m)
    if processes is None or not m.repeat or m.repeat <= processes:
        return 1.0
    return m.repeat / processes


def _usable_samples(m: Measurement) -> bool:
    return m.samples is not None and len(m.samples) >= MIN_SAMPLES and min(m.samples) > 0


ASV_DEFAULT_PROCESSES = 2
"""asv's default ``rounds``: a time benchmark's samples come from this many processes."""


def processes_of(m: Measurement) -> int | None:
    """How many processes ``m``'s samples come from; None when they count as independent.

    asv runs a time benchmark in ``rounds`` processes (default 2) and pools their samples in
    process order; a rounds file has one process per value.
    """
    if m.processes is not None:
        return m.processes
    return ASV_DEFAULT_PROCESSES if m.kind is Kind.TIME else None


def _process_means(samples: Sequence[float], processes: int) -> list[float]:
    """Mean log-sample of each process: asv appends each process's samples in turn, so they are
    contiguous runs (of equal length unless a process hit asv's time limit)."""
    logs = list(map(math.log, samples))
    groups = min(processes, len(logs))
    size, extra = divmod(len(logs), groups)
    means, start = [], 0
    for g in range(groups):
        stop = start + size + (g < extra)
        means.append(sum(logs[start:stop]) / (stop - start))
        start = stop
    return means


def _sum_squares(values: Sequence[float]) -> float:
    mean = sum(values) / len(values)
    return sum((x - mean) * (x - mean) for x in values)


def estimate(base: Measurement, head: Measurement, *, confidence: float = CONFIDENCE) -> Estimate:
    """Estimate ratio = head/base with a two-sided ``confidence`` interval, in log space.

    - Raw samples on both sides (asv ``--record-samples``): the ratio of asv's medians. asv
      pools the samples of its worker processes (``rounds``, 2 by default), and samples inside
      one process share its hash seed, memory layout and machine state: the process, not the
      sample, is the independent unit. The spread is therefore the process-to-process spread
      of the per-process mean log-samples (pooled over both sides, ``2 (P - 1)`` degrees of
      freedom), with a Student-t interval; with one process on a side it cannot be known and
      the estimate says so (:func:`unknown_spread`). Samples of unknown origin (a ``track_``
      benchmark's) are treated as independent.
    - Otherwise: each side's spread from asv's stored 99 % interval of the median (or, lacking
      it, from the quartiles), combined as independent normal errors on log values. asv
      computes them as if its pooled samples were independent: ``repeat`` samples from ``P``
      processes are counted as ``P`` (the variance times ``repeat / P``).
    - No spread at all: ``mem_``/``peakmem_`` sizes are compared exactly; so are identical
      values. A ``time_`` or ``track_`` value without spread is not exact: its noise is
      unknown (:func:`unknown_spread`).

    ``mde`` is the smallest relative change that a two-sided test at ``confidence`` would detect
    with probability :data:`POWER` at this noise.
    Both values must be positive (callers handle zero and negative values).
    """
    assert base.value is not None and head.value is not None
    if _usable_samples(base) and _usable_samples(head):
        return _from_both_samples(base, head, confidence)
    b_side, h_side = _from_summary(base), _from_summary(head)
    if b_side is None or h_side is None:
        return _no_spread(base, head, confidence)
    se = math.sqrt(b_side.se2 + h_side.se2)
    diff = h_side.location - b_side.location
    if se == 0.0:
        return _no_spread(base, head, confidence)
    alpha = 1.0 - confidence
    z = _z_quantile(1 - alpha / 2)
    return Estimate(
        ratio=math.exp(diff),
        low=math.exp(diff - z * se),
        high=math.exp(diff + z * se),
        confidence=confidence,
        mde=math.expm1((z + _z_quantile(POWER)) * se),
        method="asv-ci",
        p_value=float(2 * special.ndtr(-abs(diff) / se)),
        note="normal approximation from asv's stored 99 % intervals (or quartiles), each"
        " side's samples counted as its processes",
    )


def _from_both_samples(base: Measurement, head: Measurement, confidence: float) -> Estimate:
    assert base.samples is not None and head.samples is not None
    assert base.value is not None and head.value is not None
    procs = processes_of(base), processes_of(head)
    if procs[0] is None or procs[1] is None:
        return _independent_samples(base, head, confidence)
    b = _process_means(base.samples, procs[0])
    h = _process_means(head.samples, procs[1])
    described = f"{len(base.samples)}/{len(head.samples)} samples from {len(b)}/{len(h)} processes"
    if len(b) < 2 or len(h) < 2:
        if len(set(base.samples)) == 1 and base.samples == head.samples:
            return _exact(base.value, head.value, confidence)
        return unknown_spread(
            base.value,
            head.value,
            confidence,
            f"{described}: one process on a side, its process-to-process spread is unknown",
        )
    df = len(b) + len(h) - 2
    pooled = (_sum_squares(b) + _sum_squares(h)) / df
    if pooled == 0.0:
        return _exact(base.value, head.value, confidence)
    # Centred on asv's own medians, so the change agrees with the values a report shows; a
    # median's standard error is sqrt(pi/2) times the mean's for normal noise.
    se = _MEDIAN_SE_FACTOR * math.sqrt(pooled * (1 / len(b) + 1 / len(h)))
    return _t_estimate(
        math.log(head.value) - math.log(base.value),
        se,
        df,
        confidence,
        method="processes",
        note=f"median ratio; t over the process-to-process spread ({described})",
    )


def _independent_samples(base: Measurement, head: Measurement, confidence: float) -> Estimate:
    """Welch's t on log-samples that count as independent (not asv's pooled time samples)."""
    assert base.samples is not None and head.samples is not None
    assert base.value is not None and head.value is not None
    b, h = _from_samples(base.samples), _from_samples(head.samples)
    assert b.n is not None and h.n is not None
    se2 = b.se2 + h.se2
    if se2 == 0.0:
        return _exact(base.value, head.value, confidence)
    df_denominator = b.se2**2 / (b.n - 1) + h.se2**2 / (h.n - 1)
    df = max(1, int(se2**2 / df_denominator)) if df_denominator > 0 else b.n + h.n - 2
    return _t_estimate(
        math.log(head.value) - math.log(base.value),
        _MEDIAN_SE_FACTOR * math.sqrt(se2),
        df,
        confidence,
        method="samples",
        note=f"median ratio, Welch t on log samples ({b.n} base, {h.n} head)",
    )


def _t_estimate(
    diff: float, se: float, df: int, confidence: float, *, method: str, note: str
) -> Estimate:
    alpha = 1.0 - confidence
    t = _t_quantile(1 - alpha / 2, df)
    half = t * se
    return Estimate(
        ratio=math.exp(diff),
        low=math.exp(diff - half),
        high=math.exp(diff + half),
        confidence=confidence,
        mde=math.expm1((t + _t_quantile(POWER, df)) * se),
        method=method,
        p_value=float(2 * special.stdtr(df, -abs(diff) / se)),
        note=note,
        df=df,
    )


def _no_spread(base: Measurement, head: Measurement, confidence: float) -> Estimate:
    """No spread recorded: exact for sizes and for identical values, otherwise unknown noise."""
    assert base.value is not None and head.value is not None
    if base.kind in (Kind.MEM, Kind.PEAKMEM) or base.value == head.value:
        return _exact(base.value, head.value, confidence)
    return unknown_spread(
        base.value,
        head.value,
        confidence,
        f"no spread recorded for this {base.kind.value}_ benchmark: record samples"
        " (asv run --record-samples) or measure with perfguard run",
    )


def unknown_spread(base: float, head: float, confidence: float, note: str) -> Estimate:
    """A change whose noise is unknown: any interval, no detectable effect, no p-value.

    :func:`decide` calls such a change inconclusive when it is past the threshold (and
    unchanged within it): a value without a spread is not an exact measurement.
    """
    return Estimate(
        ratio=head / base,
        low=0.0,
        high=math.inf,
        confidence=confidence,
        mde=None,
        method="no-spread",
        p_value=None,
        note=note,
    )


def has_known_spread(est: Estimate) -> bool:
    """False for :func:`unknown_spread`'s estimates (an interval that says nothing)."""
    return est.low > 0.0 and math.isfinite(est.high)


def _exact(base: float, head: float, confidence: float) -> Estimate:
    ratio = head / base
    return Estimate(
        ratio=ratio,
        low=ratio,
        high=ratio,
        confidence=confidence,
        mde=0.0,
        method="exact",
        p_value=None,
        note="no spread recorded: values compared as exact",
    )


def decide(
    est: Estimate,
    *,
    threshold: float,
    direction: Direction,
    significant: bool | None = None,
) -> tuple[Verdict, str]:
    """The decision rule: a verdict and a one-sentence reason for one benchmark.

    In log space, with T = ln(1 + threshold) and the change signed so that positive is worse
    (time up, or throughput down):

    - regressed: the estimate is worse than +T and the interval excludes no change;
    - improved: the estimate is better than -T and the interval excludes no change;
    - inconclusive: the estimate is past ±T but the interval includes no change
      (cannot be told from noise), or the estimate is within ±T but the minimum detectable
      effect is larger than T (the noise is too large to decide);
    - unchanged: otherwise (within ±T and precise enough to have seen a threshold-sized change).

    ``significant`` overrides "the interval excludes no change", for callers that correct
    for many comparisons (e.g. Holm) and decide significance themselves.
    """
    sign = 1.0 if direction is Direction.LOWER_IS_BETTER else -1.0
    worse = sign * math.log(est.ratio)
    limit = math.log1p(threshold)
    pct = f"{threshold * 100:g}%"
    shown = f"{(est.ratio - 1) * 100:+.1f}%"
    if not has_known_spread(est):
        if abs(worse) > limit:
            return (
                Verdict.INCONCLUSIVE,
                f"{shown} is past the {pct} threshold but its noise is unknown ({est.note})",
            )
        return Verdict.UNCHANGED, f"{shown} is within the {pct} threshold (noise unknown)"
    lo, hi = sorted((sign * math.log(est.low), sign * math.log(est.high)))
    excludes_zero = lo > 0 or hi < 0 if significant is None else significant
    interval = f"[{(est.low - 1) * 100:+.1f}%, {(est.high - 1) * 100:+.1f}%]"
    if abs(worse) > limit:
        if excludes_zero:
            word = Verdict.REGRESSED if worse > 0 else Verdict.IMPROVED
            return word, f"{shown} is past the {pct} threshold and outside the noise {interval}"
        return (
            Verdict.INCONCLUSIVE,
            f"{shown} is past the {pct} threshold but within the noise {interval}",
        )
    if est.mde is not None and est.mde > threshold:
        return (
            Verdict.INCONCLUSIVE,
            f"noise too large to decide at {pct}: could detect about ±{est.mde * 100:.1f}%",
        )
    return Verdict.UNCHANGED, f"{shown} is within the {pct} threshold"
