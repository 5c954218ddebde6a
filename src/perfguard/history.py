"""History mode: how far each benchmark moves between runs when the code does not.

A stored baseline was measured in another CI job, often on another runner. Between two such runs
a benchmark moves for two reasons besides the code:

- the runner: a hosted pool such as GitHub's ``ubuntu-latest`` mixes CPU types, and a run on a
  slower one shifts *all* benchmarks at once, each by its own factor (database-heavy ones more
  than pure-Python ones). In the Django corpus these shifts reach 20-60 %.
- run-to-run noise of each benchmark on top of that.

From a results history (many commits of one machine name and environment, in commit order) this
module learns both:

1. the common runner effect: the main directions (``factors``) of the neighbour-to-neighbour log
   changes across all benchmarks, by a singular value decomposition. For a new comparison the
   shift along those directions is fitted robustly (Huber) over all benchmarks, so one
   benchmark's real change hardly moves it, and removed from every benchmark's change;
2. per benchmark (and parameter combination) a noise *floor*: a high quantile of what is left
   of its past neighbour-to-neighbour changes.

:func:`apply_floor` then widens a comparison's interval by the floor (the floor's between-run
part combined with the estimate's within-run part), so :func:`perfguard.stats.decide` calls a
change inside the floor inconclusive (or unchanged) instead of regressed.

What it cannot do: a change of the code that slows every benchmark alike looks exactly like a
slower runner and is absorbed; paired rounds in one job (``perfguard run``) do not have this
blind spot.

Without a history, the same robust fit with one direction that loads every benchmark alike
gives a cross-run comparison's common shift (:func:`suite_shift`, removed by
:func:`shift_adjuster`): two runs made at different times differ by the machine's state.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import special

from perfguard import asvproject, stats
from perfguard.compare import Adjust
from perfguard.errors import InputError
from perfguard.models import (
    Estimate,
    Key,
    Kind,
    Measurement,
    ResultSet,
    Status,
    SuiteShift,
)
from perfguard.results import load_results_history

Matrix = npt.NDArray[np.float64]

QUANTILE = 0.99
"""Share of past neighbour changes (after the runner effect) that the floor covers."""
FACTORS = 4
"""Runner-effect directions removed; fewer when the suite is small (see :func:`_factor_count`)."""
BENCHMARKS_PER_FACTOR = 10
"""A factor is only fitted with at least this many benchmarks per factor."""
MIN_CHANGES = 10
"""Past neighbour changes a benchmark needs before it gets a floor."""
HUBER_K = 1.345
"""Huber's tuning constant (95 % efficiency under normal errors)."""
_HUBER_ROUNDS = 30
_MAD_TO_SD = 1.4826
_RIDGE = 1e-9


@dataclass(frozen=True, slots=True, kw_only=True)
class Floor:
    """How far one benchmark moves between runs of unchanged code, in log space."""

    spread: float
    """The :data:`QUANTILE` quantile of |past neighbour log change| after the runner effect."""
    within: float
    """Typical half-width of one comparison's own interval (median over the past pairs)."""
    changes: int
    """How many past neighbour changes it was learned from."""
    quantile: float = QUANTILE

    @property
    def between(self) -> float:
        """The half-width the floor adds on top of a comparison's own: spread minus within."""
        return math.sqrt(max(0.0, self.spread**2 - self.within**2))


@dataclass(frozen=True, slots=True, kw_only=True)
class Changes:
    """Neighbour-to-neighbour log changes of a history: one row per pair, one column per key."""

    keys: tuple[Key, ...]
    log_change: Matrix
    """ln(next / previous); NaN where either side has no positive value or versions differ."""
    half_width: Matrix
    """Half-width (log) of :func:`perfguard.stats.estimate`'s interval for that pair."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NoiseModel:
    """Runner-effect directions and per-benchmark floors learned from one results history."""

    floors: Mapping[Key, Floor]
    loadings: Mapping[Key, tuple[float, ...]] = field(default_factory=dict)
    """Each benchmark's weight on each runner-effect direction (empty: no runner effect)."""
    commits: int = 0
    """How many results the history held."""

    @property
    def factors(self) -> int:
        return len(next(iter(self.loadings.values()), ()))

    def runner_shift(self, base: ResultSet, head: ResultSet) -> dict[Key, float]:
        """Per benchmark, the log change that the runner effect explains between base and head."""
        if not self.factors:
            return {}
        changes = _pair_changes(base.by_key(), head.by_key())
        keys = [k for k in self.loadings if k in changes]
        if len(keys) < self.factors * BENCHMARKS_PER_FACTOR:
            return {}
        loadings = np.array([self.loadings[k] for k in keys])
        coef, _ = huber_fit(loadings, np.array([[changes[k] for k in keys]]))
        return {k: float(np.dot(w, coef[0])) for k, w in self.loadings.items()}

    def adjuster(self, base: ResultSet, head: ResultSet) -> Adjust:
        """The hook for :func:`perfguard.compare.compare`: remove the runner shift, apply floors."""
        shifts = self.runner_shift(base, head)

        def adjust(key: Key, est: Estimate) -> Estimate:
            floor = self.floors.get(key)
            if floor is None:
                return replace(est, note=_join(est.note, "no noise floor: too little history"))
            return apply_floor(est, floor, shift=shifts.get(key, 0.0))

        return adjust


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def _positive(m: Measurement | None) -> float | None:
    if m is None or m.status is not Status.OK or m.value is None or m.value <= 0:
        return None
    return m.value


def _pair_changes(
    before: Mapping[Key, Measurement], after: Mapping[Key, Measurement]
) -> dict[Key, float]:
    """ln(after / before) for every benchmark with positive values and the same code version."""
    out = {}
    for key, b in before.items():
        a = after.get(key)
        vb, va = _positive(b), _positive(a)
        if vb is not None and va is not None and a is not None and a.version == b.version:
            out[key] = math.log(va / vb)
    return out


def _half_width(est: Estimate) -> float:
    """Half-width (log) of ``est``'s interval as a normal one: a Student-t interval with few
    degrees of freedom (asv's 2 processes per side) is converted to its standard error times
    z, because the history's empirical floor, not the t quantile, calibrates between-run
    noise. An estimate without a known spread has none (0)."""
    if not stats.has_known_spread(est):
        return 0.0
    half = (math.log(est.high) - math.log(est.low)) / 2
    if est.df is None:
        return half
    tail = 0.5 + est.confidence / 2
    return half * float(special.ndtri(tail)) / float(special.stdtrit(est.df, tail))


def neighbour_changes(results: Sequence[ResultSet]) -> Changes:
    """Log change and interval half-width of every benchmark between neighbouring results."""
    keys = tuple(dict.fromkeys(m.key for r in results for m in r.measurements))
    column = {k: j for j, k in enumerate(keys)}
    pairs = max(0, len(results) - 1)
    log_change = np.full((pairs, len(keys)), np.nan)
    half_width = np.full((pairs, len(keys)), np.nan)
    by_key = [r.by_key() for r in results]
    for i in range(pairs):
        before, after = by_key[i], by_key[i + 1]
        for key, change in _pair_changes(before, after).items():
            j = column[key]
            log_change[i, j] = change
            half_width[i, j] = _half_width(stats.estimate(before[key], after[key]))
    return Changes(keys=keys, log_change=log_change, half_width=half_width)


def _row_medians(values: Matrix, seen: npt.NDArray[np.bool_]) -> Matrix:
    """Median of each row over its ``seen`` entries (0 for a row with none).

    np.nanmedian goes through masked arrays and is about 10x slower on many short rows.
    """
    if values.shape[1] == 0:
        return np.zeros(len(values))
    ordered = np.sort(np.where(seen, values, np.inf), axis=1)
    count = seen.sum(axis=1)
    rows = np.arange(len(values))
    low = ordered[rows, np.maximum((count - 1) // 2, 0)]
    high = ordered[rows, np.minimum(count // 2, values.shape[1] - 1)]
    medians: Matrix = np.where(count > 0, (low + high) / 2, 0.0)
    return medians


def huber_fit(x: Matrix, y: Matrix) -> tuple[Matrix, Matrix]:
    """Robust linear fits of every row of ``y`` on ``x`` (Huber loss, reweighted least squares).

    ``x`` is benchmarks x factors, ``y`` pairs x benchmarks with NaN for missing values, which
    get no weight. Returns the coefficients (pairs x factors) and residuals (NaN stays NaN).
    The scale is re-estimated each round from the median absolute residual, so the few
    benchmarks that really changed hardly move the fit. All rows are solved at once.
    """
    seen = ~np.isnan(y)
    values = np.where(seen, y, 0.0)
    weights: Matrix = seen.astype(np.float64)
    coef: Matrix = np.zeros((y.shape[0], x.shape[1]))
    for _ in range(_HUBER_ROUNDS):
        gram = np.einsum("rb,bi,bj->rij", weights, x, x)
        moment = np.einsum("rb,bi,rb->ri", weights, x, values)
        # A tiny ridge keeps a row without data (or with too few benchmarks) solvable.
        coef = np.linalg.solve(gram + _RIDGE * np.eye(x.shape[1]), moment[..., None])[..., 0]
        residual = np.abs(values - coef @ x.T)
        scale = _MAD_TO_SD * _row_medians(residual, seen)
        cutoff = (HUBER_K * scale)[:, None]
        new: Matrix = np.where(seen, np.minimum(1.0, cutoff / np.maximum(residual, 1e-300)), 0.0)
        new[scale == 0.0] = weights[scale == 0.0]
        done = float(np.max(np.abs(new - weights), initial=0.0)) < 1e-6
        weights = new
        if done:
            break
    fitted: Matrix = np.where(seen, y - coef @ x.T, np.nan)
    return coef, fitted


def _factor_count(wanted: int, benchmarks: int, pairs: int) -> int:
    return max(0, min(wanted, benchmarks // BENCHMARKS_PER_FACTOR, pairs // 2))


def runner_directions(log_change: Matrix, factors: int) -> Matrix:
    """The ``factors`` main directions (benchmarks x factors) of the changes, by SVD."""
    if factors == 0:
        return np.zeros((log_change.shape[1], 0))
    filled = np.nan_to_num(log_change, nan=0.0)
    _, _, vt = np.linalg.svd(filled, full_matrices=False)
    directions: Matrix = vt[:factors].T
    return directions


def remove_runner_effect(log_change: Matrix, directions: Matrix) -> Matrix:
    """Each pair's changes minus its robustly fitted runner shift (NaN stays NaN).

    Pairs with too few benchmarks to fit the shift are left out (all NaN).
    """
    factors = directions.shape[1]
    if factors == 0:
        return np.array(log_change, dtype=np.float64)
    _, residual = huber_fit(directions, log_change)
    enough = (~np.isnan(log_change)).sum(axis=1) >= factors * BENCHMARKS_PER_FACTOR
    residual[~enough] = np.nan
    return residual


def learn(
    results: Iterable[ResultSet], *, quantile: float = QUANTILE, factors: int = FACTORS
) -> NoiseModel:
    """Learn the runner effect and every benchmark's floor from results in commit order."""
    ordered = list(results)
    return fit(neighbour_changes(ordered), quantile=quantile, factors=factors, commits=len(ordered))


def window(changes: Changes, start: int, stop: int) -> Changes:
    """The neighbour changes of pairs ``start`` to ``stop`` (to learn from part of a history)."""
    return replace(
        changes,
        log_change=changes.log_change[start:stop],
        half_width=changes.half_width[start:stop],
    )


def fit(
    changes: Changes, *, quantile: float = QUANTILE, factors: int = FACTORS, commits: int = 0
) -> NoiseModel:
    """The noise model of precomputed neighbour changes (see :func:`learn`)."""
    pairs, benchmarks = changes.log_change.shape
    count = _factor_count(factors, benchmarks, pairs)
    directions = runner_directions(changes.log_change, count)
    residual = remove_runner_effect(changes.log_change, directions)
    floors = {}
    for j, key in enumerate(changes.keys):
        seen = ~np.isnan(residual[:, j])
        if int(seen.sum()) < MIN_CHANGES:
            continue
        floors[key] = Floor(
            spread=float(np.quantile(np.abs(residual[seen, j]), quantile)),
            within=float(np.median(changes.half_width[seen, j])),
            changes=int(seen.sum()),
            quantile=quantile,
        )
    loadings = (
        {key: tuple(float(w) for w in directions[j]) for j, key in enumerate(changes.keys)}
        if count
        else {}
    )
    return NoiseModel(floors=floors, loadings=loadings, commits=commits or pairs + 1)


def apply_floor(est: Estimate, floor: Floor, *, shift: float = 0.0) -> Estimate:
    """``est`` minus the runner ``shift`` (log), its interval widened by the floor.

    The floor's between-run half-width and the estimate's own are combined as independent
    errors (in quadrature); the minimum detectable effect and p-value follow the wider interval.
    """
    shown = f"{math.expm1(shift) * 100:+.1f}%"
    z = float(special.ndtri(0.5 + est.confidence / 2))
    own_half = _half_width(est)
    return _recentre(
        est,
        shift=shift,
        own_half=own_half,
        own_mde=0.0 if est.mde is None else own_half * (z + float(special.ndtri(stats.POWER))) / z,
        extra_half=floor.between,
        method=f"{est.method}+history",
        note=f"history floor ±{math.expm1(floor.spread) * 100:.1f}% from {floor.changes} past"
        f" changes; runner shift {shown} removed",
    )


def _recentre(
    est: Estimate,
    *,
    shift: float,
    own_half: float,
    own_mde: float,
    extra_half: float,
    method: str,
    note: str,
) -> Estimate:
    """``est`` with the log ``shift`` removed and ``extra_half`` added to its own half-width
    (log) in quadrature; the minimum detectable effect (``own_mde``, log) and the p-value follow
    the wider interval. An estimate whose noise is unknown stays unknown (only its centre
    moves)."""
    centre = math.log(est.ratio) - shift
    removed = est.shift + shift
    if not stats.has_known_spread(est):
        return replace(
            est, ratio=math.exp(centre), method=method, note=_join(est.note, note), shift=removed
        )
    z = float(special.ndtri(0.5 + est.confidence / 2))
    z_power = float(special.ndtri(stats.POWER))
    half = math.hypot(own_half, extra_half)
    mde = math.hypot(own_mde, extra_half * (z + z_power) / z)
    p_value = float(2 * special.ndtr(-abs(centre) * z / half)) if half > 0 else None
    return Estimate(
        ratio=math.exp(centre),
        low=math.exp(centre - half),
        high=math.exp(centre + half),
        confidence=est.confidence,
        mde=math.expm1(mde),
        method=method,
        p_value=p_value,
        note=_join(est.note, note),
        shift=removed,
    )


# --- a cross-run comparison's common shift (no history needed) ------------------------------

SHIFT_MIN_BENCHMARKS = 5
"""A common shift is estimated only from at least this many time benchmarks."""
SHIFT_AGREEING = 0.75
"""Share of those benchmarks that must move the same way as the shift ("most of them")."""


def suite_shift(
    base: ResultSet, head: ResultSet, *, threshold: float, confidence: float = stats.CONFIDENCE
) -> SuiteShift | None:
    """The change most time benchmarks share between two runs, when there is one.

    Two asv runs made at different times differ by the machine's state (other load, another
    CPU, thermal state): every time benchmark moves, each by its own amount. This is history
    mode's runner effect with one direction that loads every benchmark alike, fitted the same
    way (:func:`huber_fit`), so the few benchmarks that really changed hardly move it. It is
    *seen* when at least :data:`SHIFT_AGREEING` of at least :data:`SHIFT_MIN_BENCHMARKS`
    benchmarks moved its way, it is at least half the threshold, and its interval excludes no
    change. A real change that slows the whole suite looks the same: the report says so.
    """
    base_by_key, head_by_key = base.by_key(), head.by_key()
    changes = {
        key: change
        for key, change in _pair_changes(base_by_key, head_by_key).items()
        if base_by_key[key].kind is Kind.TIME
    }
    n = len(changes)
    if n < SHIFT_MIN_BENCHMARKS:
        return None
    y = np.array([list(changes.values())])
    coef, residual = huber_fit(np.ones((n, 1)), y)
    shift = float(coef[0, 0])
    spread = _MAD_TO_SD * float(np.median(np.abs(residual[0])))
    agreeing = sum(1 for change in changes.values() if change * shift > 0)
    se = spread / math.sqrt(n)
    half = float(special.stdtrit(n - 1, 0.5 + confidence / 2)) * se
    seen = (
        agreeing >= SHIFT_AGREEING * n
        and abs(shift) >= math.log1p(threshold / 2)
        and abs(shift) > half
    )
    if not seen:
        return None
    return SuiteShift(
        ratio=math.exp(shift),
        low=math.exp(shift - half),
        high=math.exp(shift + half),
        confidence=confidence,
        benchmarks=n,
        agreeing=agreeing,
        spread=spread,
        removed=True,
    )


def shift_adjuster(shift: SuiteShift, keys: Iterable[Key]) -> Adjust:
    """The hook for :func:`perfguard.compare.compare`: ``shift`` removed from the rows of
    ``keys`` (the time benchmarks; sizes and counts do not move with the machine).

    What is left of each benchmark's change is judged against the benchmarks' spread around the
    shift (they do not all move alike) and the shift's own uncertainty: each interval is
    widened to at least that spread, so a benchmark is only flagged when it moved clearly
    apart from the rest of the suite.
    """
    log_shift = math.log(shift.ratio)
    z = float(special.ndtri(0.5 + shift.confidence / 2))
    shift_se = (math.log(shift.high) - math.log(shift.low)) / 2 / z
    wanted = frozenset(keys)
    shown = f"{(shift.ratio - 1) * 100:+.1f}%"
    note = (
        f"suite shift {shown} removed ({shift.agreeing} of {shift.benchmarks} time benchmarks"
        f" moved together; their spread around it ±{shift.spread * 100:.1f}%)"
    )

    def adjust(key: Key, est: Estimate) -> Estimate:
        if key not in wanted:
            return est
        known = stats.has_known_spread(est)
        # The estimate's own interval as it is (a t interval stays one): only the spread the
        # suite adds on top of it widens it.
        own_half = (math.log(est.high) - math.log(est.low)) / 2 if known else 0.0
        own = _half_width(est) / z
        between = math.sqrt(max(0.0, shift.spread**2 - own**2) + shift_se**2)
        return _recentre(
            est,
            shift=log_shift,
            own_half=own_half,
            own_mde=math.log1p(est.mde) if est.mde is not None else 0.0,
            extra_half=z * between,
            method=f"{est.method}+shift",
            note=note,
        )

    return adjust


def scaled(m: Measurement, factor: float) -> Measurement:
    """``m`` as if the benchmark had become ``factor`` times slower (value, samples, ci, quartiles).

    For checking the detector: a known step inserted into a real series.
    """

    def times(values: tuple[float, ...] | None) -> tuple[float, ...] | None:
        return None if values is None else tuple(v * factor for v in values)

    ci, quartiles = times(m.ci_99), times(m.quartiles)
    return replace(
        m,
        value=None if m.value is None else m.value * factor,
        samples=times(m.samples),
        ci_99=None if ci is None else (ci[0], ci[1]),
        quartiles=None if quartiles is None else (quartiles[0], quartiles[1]),
    )


def result_date(path: Path) -> int:
    """The commit date (ms) asv stores in a result file, for ordering without git."""
    try:
        data = json.loads(path.read_bytes())
        date = data["date"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"{path} has no readable commit 'date'; is it an asv result file?"
        ) from exc
    if not isinstance(date, int) or isinstance(date, bool):
        raise InputError(f"{path} has no readable commit 'date'; is it an asv result file?")
    return date


def load_history(
    root: Path,
    *,
    machine: str | None = None,
    env: str | None = None,
    repo: Path | None = None,
    before: str | None = None,
    limit: int | None = None,
) -> list[ResultSet]:
    """The results of one machine and environment in ``root``, oldest first.

    With a git ``repo`` and a commit ``before``: the results of ``before``'s ancestors (not
    ``before`` itself) in git order. Otherwise all results (except commit ``before``) ordered
    by the commit date asv stored. ``limit`` keeps the newest that many.
    """
    results, _ = load_results_history(root, machine=machine, env=env, repo=repo, tip=before)
    ordered = [r for r in results if before is None or not _same(r.commit, before)]
    folder = asvproject.machine_dir(root, machine, what="history directory")
    if len(ordered) < MIN_CHANGES + 1:
        raise InputError(
            f"history in {folder} has {len(ordered)} usable results; history mode needs at least"
            f" {MIN_CHANGES + 1} commits of one machine and environment"
        )
    return ordered[-limit:] if limit else ordered


def _same(commit: str, other: str) -> bool:
    n = min(len(commit), len(other))
    return n >= 4 and commit[:n].lower() == other[:n].lower()


DEFAULT_COMMITS = 100
"""Results a model is learned from by default: recent enough to follow a changing runner pool."""


def model_for(
    root: Path,
    base: ResultSet,
    head: ResultSet,
    *,
    machine: str | None = None,
    env: str | None = None,
    repo: Path | None = None,
    commits: int = DEFAULT_COMMITS,
) -> NoiseModel:
    """The noise model for comparing ``head`` with ``base``, from the history in ``root``.

    Machine and environment default to the base's (the stored baseline's history); ``head``'s
    own result never informs its floor.
    """
    if machine is None and (root / base.machine).is_dir():
        machine = base.machine
    results = load_history(
        root,
        machine=machine,
        env=env or base.env,
        repo=repo,
        before=head.commit,
        limit=commits,
    )
    return learn(results)
