"""History mode: the runner effect and noise floors, on simulated histories with known truth."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from perfguard import history, stats
from perfguard.compare import compare
from perfguard.models import Direction, Estimate, ResultSet, Status, Verdict
from perfguard.policy import Policy
from tests.helpers import history as helpers_history
from tests.helpers.measurements import measurement, noisy, result_set

BENCHMARKS = 40
QUIET = 0.01
"""Run-to-run log noise of the even-numbered benchmarks; the odd ones have NOISY."""
NOISY = 0.04


def name(j: int) -> str:
    return f"suite.time_{j:02d}"


def sensitivities(seed: int = 99) -> np.ndarray:
    """How much slower each benchmark runs on the slow runner (log): 10 % to 50 %."""
    return np.random.default_rng(seed).uniform(0.1, 0.4, BENCHMARKS)


def run(index: int, *, slow: bool, rng: np.random.Generator, step: dict[int, float]) -> ResultSet:
    """One simulated CI run: every benchmark, on the fast or the slow runner."""
    sens = sensitivities()
    ms = []
    for j in range(BENCHMARKS):
        spread = QUIET if j % 2 == 0 else NOISY
        centre = 1e-3 * (j + 1) * math.exp(sens[j] * slow + rng.normal(0.0, spread))
        centre *= step.get(j, 1.0)
        ms.append(noisy(name(j), centre, sd=0.005, n=10, seed=index * 1000 + j))
    return result_set(*ms, commit=f"{index:040x}")


def simulated(n: int = 60, *, seed: int = 0, slow_share: float = 0.3) -> list[ResultSet]:
    rng = np.random.default_rng(seed)
    return [run(i, slow=bool(rng.random() < slow_share), rng=rng, step={}) for i in range(n)]


@pytest.fixture(scope="module")
def past() -> list[ResultSet]:
    return simulated()


@pytest.fixture(scope="module")
def model(past: list[ResultSet]) -> history.NoiseModel:
    return history.learn(past)


def key(j: int) -> tuple[str, tuple[tuple[str, str], ...]]:
    return (name(j), ())


# --- the floor and its application -------------------------------------------------------


def test_floor_between_is_the_spread_beyond_the_comparisons_own_noise() -> None:
    assert history.Floor(spread=0.05, within=0.03, changes=20).between == pytest.approx(0.04)
    assert history.Floor(spread=0.02, within=0.03, changes=20).between == 0.0


def estimate(ratio: float, half: float, *, mde: float | None = 0.01) -> Estimate:
    return Estimate(
        ratio=ratio,
        low=ratio * math.exp(-half),
        high=ratio * math.exp(half),
        confidence=0.99,
        mde=mde,
        method="samples",
        p_value=0.5,
        note="own",
    )


def test_apply_floor_widens_in_quadrature_and_removes_the_shift() -> None:
    floor = history.Floor(spread=0.05, within=0.03, changes=30)  # between = 0.04
    est = history.apply_floor(estimate(1.10, 0.03), floor, shift=math.log(1.02))
    assert est.ratio == pytest.approx(1.10 / 1.02)
    half = (math.log(est.high) - math.log(est.low)) / 2
    assert half == pytest.approx(0.05)
    assert math.log(est.ratio) == pytest.approx((math.log(est.high) + math.log(est.low)) / 2)
    assert est.method == "samples+history"
    assert est.mde is not None and est.mde > 0.04
    assert "own" in est.note and "history floor" in est.note and "+2.0%" in est.note
    # the p-value belongs to the wider interval: the 99 % interval excludes 1, so p < 0.01
    assert est.p_value is not None and est.p_value < 0.01


def test_apply_floor_gives_an_exact_comparison_the_floor_as_its_interval() -> None:
    exact = Estimate(
        ratio=1.0, low=1.0, high=1.0, confidence=0.99, mde=0.0, method="exact", p_value=None
    )
    widened = history.apply_floor(exact, history.Floor(spread=0.1, within=0.0, changes=30))
    assert math.log(widened.high) == pytest.approx(0.1)
    assert widened.p_value == pytest.approx(1.0)
    still = history.apply_floor(exact, history.Floor(spread=0.0, within=0.0, changes=30))
    assert (still.low, still.high, still.p_value) == (1.0, 1.0, None)


def test_apply_floor_without_an_mde_uses_the_floor_alone() -> None:
    est = history.apply_floor(
        estimate(1.0, 0.01, mde=None), history.Floor(spread=0.05, within=0.0, changes=30)
    )
    z, z_power = 2.5758, 0.8416
    assert est.mde == pytest.approx(math.expm1(0.05 * (z + z_power) / z), rel=1e-3)


@pytest.mark.parametrize(
    ("ratio", "spread", "expected"),
    [
        (1.08, 0.10, Verdict.INCONCLUSIVE),  # past the threshold, inside the floor
        (1.08, 0.02, Verdict.REGRESSED),  # past the threshold and the floor
        (0.90, 0.02, Verdict.IMPROVED),
        (1.03, 0.10, Verdict.INCONCLUSIVE),  # a floor this wide could not see 5 %
        (1.01, 0.01, Verdict.UNCHANGED),
    ],
)
def test_decisions_on_a_floored_estimate(ratio: float, spread: float, expected: Verdict) -> None:
    est = history.apply_floor(
        estimate(ratio, 0.005, mde=0.005), history.Floor(spread=spread, within=0.0, changes=30)
    )
    verdict, _ = stats.decide(est, threshold=0.05, direction=Direction.LOWER_IS_BETTER)
    assert verdict is expected


# --- the robust fit --------------------------------------------------------------------------


def test_huber_fit_ignores_a_few_real_changes_that_least_squares_follows() -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(0.1, 0.5, (50, 1))
    y = (x[:, 0] * 0.6 + rng.normal(0, 0.005, 50))[None, :]
    y[0, :5] += 0.5  # five benchmarks really changed
    coef, residual = history.huber_fit(x, y)
    plain = np.linalg.lstsq(x, y[0], rcond=None)[0]
    assert abs(coef[0, 0] - 0.6) < 0.01 < abs(plain[0] - 0.6)
    assert np.all(residual[0, :5] > 0.45)
    assert np.all(np.abs(residual[0, 5:]) < 0.03)


def test_huber_fit_keeps_missing_values_missing_and_survives_an_empty_row() -> None:
    x = np.ones((4, 1))
    y = np.array([[1.0, np.nan, 1.2, 0.8], [np.nan] * 4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        coef, residual = history.huber_fit(x, y)
    assert np.isnan(residual[0, 1]) and np.all(np.isnan(residual[1]))
    assert coef[0, 0] == pytest.approx(1.0, abs=0.1)


def test_huber_fit_stops_on_an_exact_fit() -> None:
    x = np.ones((3, 1))
    coef, residual = history.huber_fit(x, np.array([[2.0, 2.0, 2.0]]))
    assert coef[0, 0] == pytest.approx(2.0)
    assert np.allclose(residual, 0.0)


# --- learning from a history -----------------------------------------------------------------


def test_runner_effect_removed_leaves_each_benchmarks_own_noise(
    past: list[ResultSet], model: history.NoiseModel
) -> None:
    assert model.factors >= 1 and model.commits == len(past)
    raw = history.learn(past, factors=0)
    quiet = [model.floors[key(j)].spread for j in range(0, BENCHMARKS, 2)]
    loud = [model.floors[key(j)].spread for j in range(1, BENCHMARKS, 2)]
    raw_quiet = [raw.floors[key(j)].spread for j in range(0, BENCHMARKS, 2)]
    # A 99 % quantile of |difference of two N(0, 1 %)| is about 3.6 %; runner shifts are 10-40 %.
    assert max(quiet) < 0.06
    assert min(raw_quiet) > 0.09
    assert np.median(loud) > 2 * np.median(quiet)
    assert all(f.changes == len(past) - 1 for f in model.floors.values())


def test_noise_floors_is_the_models_floors(past: list[ResultSet]) -> None:
    floors = helpers_history.noise_floors(past, quantile=0.9)
    assert set(floors) == {key(j) for j in range(BENCHMARKS)}
    assert all(f.quantile == 0.9 for f in floors.values())
    assert floors[key(0)].spread < helpers_history.noise_floors(past)[key(0)].spread


def test_runner_shift_matches_the_simulated_runner(model: history.NoiseModel) -> None:
    rng = np.random.default_rng(7)
    base = run(1000, slow=False, rng=rng, step={})
    head = run(1001, slow=True, rng=rng, step={})
    shifts = model.runner_shift(base, head)
    sens = sensitivities()
    errors = [abs(shifts[key(j)] - sens[j]) for j in range(0, BENCHMARKS, 2)]
    assert np.median(errors) < 0.02


def compare_runs(
    model: history.NoiseModel | None, *, slow_head: bool, step: dict[int, float], seed: int
) -> dict[str, Verdict]:
    rng = np.random.default_rng(seed)
    base = run(2000 + seed, slow=False, rng=rng, step={})
    head = run(3000 + seed, slow=slow_head, rng=rng, step=step)
    adjust = model.adjuster(base, head) if model is not None else None
    return {r.benchmark: r.verdict for r in compare(base, head, Policy(), adjust=adjust).rows}


def test_a_slower_runner_is_not_a_regression_but_a_real_step_still_is(
    model: history.NoiseModel,
) -> None:
    flags = {"raw": 0, "history": 0, "compared": 0}
    for seed in range(10):
        without = compare_runs(None, slow_head=True, step={}, seed=seed)
        flags["raw"] += sum(v is Verdict.REGRESSED for v in without.values())
        stepped = compare_runs(model, slow_head=True, step={4: 1.15, 10: 1 / 1.15}, seed=seed)
        assert stepped[name(4)] is Verdict.REGRESSED, seed
        assert stepped[name(10)] is Verdict.IMPROVED, seed
        others = [v for n, v in stepped.items() if n not in (name(4), name(10))]
        flags["history"] += sum(v in (Verdict.REGRESSED, Verdict.IMPROVED) for v in others)
        flags["compared"] += len(others)
    # Without history most benchmarks look slower; with it, about the floor's 1 % remain.
    assert flags["raw"] > 10 * BENCHMARKS // 2
    assert flags["history"] / flags["compared"] <= 0.03


def test_adjuster_says_when_a_benchmark_has_no_history(model: history.NoiseModel) -> None:
    base = result_set(noisy("suite.time_new", 1.0, seed=1))
    head = result_set(noisy("suite.time_new", 1.0, seed=2))
    est = stats.estimate(base.measurements[0], head.measurements[0])
    adjusted = model.adjuster(base, head)(("suite.time_new", ()), est)
    assert adjusted.low == est.low and "no noise floor" in adjusted.note
    # too few benchmarks in common to fit the runner shift: none is removed
    assert model.runner_shift(base, head) == {}


def test_a_small_suite_gets_floors_without_a_runner_effect() -> None:
    rng = np.random.default_rng(5)
    sets = [
        result_set(
            *(
                noisy(f"s.time_{j}", 1.0 + j, sd=0.01, seed=int(rng.integers(10**9)))
                for j in range(3)
            )
        )
        for _ in range(20)
    ]
    small = history.learn(sets)
    assert small.factors == 0 and small.loadings == {}
    assert len(small.floors) == 3
    assert small.runner_shift(sets[0], sets[1]) == {}


def test_too_short_a_history_gives_no_floors() -> None:
    sets = [result_set(noisy("s.time_a", 1.0, seed=i)) for i in range(history.MIN_CHANGES)]
    assert helpers_history.noise_floors(sets) == {}
    assert helpers_history.noise_floors([]) == {}


def test_neighbour_changes_skip_failed_nonpositive_and_changed_benchmarks() -> None:
    def sets(**later: object) -> list[ResultSet]:
        return [
            result_set(measurement("s.time_a", 1.0), measurement("s.time_b", 2.0)),
            result_set(
                measurement("s.time_a", **{"value": 1.1, **later}),  # type: ignore[arg-type]
                measurement("s.time_b", 2.0),
            ),
        ]

    ok = history.neighbour_changes(sets())
    assert ok.log_change[0, 0] == pytest.approx(math.log(1.1))
    assert ok.half_width[0, 0] == 0.0  # values without spread: an exact comparison
    for later in ({"version": "v2"}, {"status": Status.FAILED}, {"value": 0.0}):
        changes = history.neighbour_changes(sets(**later))
        assert np.isnan(changes.log_change[0, 0]), later
        assert changes.log_change[0, 1] == 0.0


def test_window_takes_the_pairs_asked_for(past: list[ResultSet]) -> None:
    changes = history.neighbour_changes(past)
    part = history.window(changes, 10, 30)
    assert part.log_change.shape == (20, BENCHMARKS)
    assert np.array_equal(part.log_change, changes.log_change[10:30], equal_nan=True)
    assert history.fit(part).commits == 21


# --- the step used to check the detector ------------------------------------------------------


def test_scaled_scales_value_samples_interval_and_quartiles() -> None:
    m = measurement("s.time_a", 2.0, samples=[1.0, 3.0], ci_99=(1.5, 2.5), quartiles=(1.8, 2.2))
    s = history.scaled(m, 1.5)
    assert (s.value, s.samples, s.ci_99) == (3.0, (1.5, 4.5), (2.25, 3.75))
    assert s.quartiles == pytest.approx((2.7, 3.3))
    failed = history.scaled(measurement("s.time_a", None, status=Status.FAILED), 2.0)
    assert failed.value is None and failed.samples is None and failed.ci_99 is None


def test_with_step_changes_one_benchmark_from_one_result_on() -> None:
    series = [result_set(measurement("s.a", 1.0), measurement("s.b", 1.0)) for _ in range(4)]
    stepped = helpers_history.with_step(series, ("s.a", ()), 1.15, 2)
    values = [[m.value for m in r.measurements] for r in stepped]
    assert values == [[1.0, 1.0], [1.0, 1.0], [1.15, 1.0], [1.15, 1.0]]
    assert series[2].measurements[0].value == 1.0


def test_row_medians_match_numpy_over_the_seen_entries() -> None:
    rng = np.random.default_rng(3)
    for width in range(6):
        values = rng.normal(size=(4, width))
        seen = rng.random((4, width)) < 0.7
        expected = [np.median(v[s]) if s.any() else 0.0 for v, s in zip(values, seen, strict=True)]
        assert np.allclose(history._row_medians(values, seen), expected)
