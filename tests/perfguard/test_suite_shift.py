"""A cross-run comparison's common shift, on real asv results of Django.

Two asv runs made at different times differ by the machine's state: on a busy machine every
time benchmark moves, each by its own amount (issue 10: +23 % to +100 %, three untouched
benchmarks called regressed). The results here are real (the bundled Django fixture); the busy
machine is the real head result with each time benchmark scaled by its own factor, so the
truth is known.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from perfguard import history
from perfguard.compare import compare
from perfguard.models import Comparison, Kind, ResultSet, Verdict
from perfguard.policy import Policy
from perfguard.report import format as fmt
from perfguard.report.json_report import load_schema, render_json
from perfguard.report.markdown import render_markdown
from perfguard.report.terminal import render_terminal
from perfguard.results import load_result_set
from tests.helpers.measurements import measurement, result_set

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "django-asv" / "results"


@pytest.fixture(scope="module")
def django() -> ResultSet:
    path = sorted((FIXTURE / "ubuntu-latest").glob("*-conda-py3.12.json"))[0]
    return load_result_set(str(path))


def busy(results: ResultSet, factors: dict[tuple[str, tuple], float]) -> ResultSet:
    """``results`` as a busier machine would have measured them: each key scaled by its factor."""
    measurements = tuple(
        history.scaled(m, factors[m.key]) if m.key in factors else m for m in results.measurements
    )
    return replace(results, commit="f" * 40, measurements=measurements)


def time_keys(results: ResultSet) -> list[tuple[str, tuple]]:
    return [m.key for m in results.measurements if m.kind is Kind.TIME and m.value]


def test_every_benchmark_slower_on_a_busy_machine_is_a_shift_not_regressions(
    django: ResultSet,
) -> None:
    keys = time_keys(django)
    rng = np.random.default_rng(10)
    factors = {k: float(f) for k, f in zip(keys, rng.uniform(1.23, 2.0, len(keys)), strict=True)}
    head = busy(django, factors)
    before = compare(django, head, Policy())  # what compare said before issue 10
    assert before.count(Verdict.REGRESSED) >= 10
    comparison = compare(django, head, Policy(), cross_run=True)
    shift = comparison.shift
    assert shift is not None and shift.removed
    assert 1.3 < shift.ratio < 1.9
    assert shift.agreeing == shift.benchmarks == len(keys)
    assert comparison.count(Verdict.REGRESSED) == 0
    assert comparison.count(Verdict.IMPROVED) == 0
    rows = [r for r in comparison.rows if r.estimate is not None]
    assert all(r.estimate.method.endswith("+shift") for r in rows)
    assert all(fmt.shift_removed(r) for r in rows)
    assert "perfguard run" in comparison.warnings[0]


def test_a_real_regression_stands_out_of_the_shift(django: ResultSet) -> None:
    keys = time_keys(django)
    rng = np.random.default_rng(11)
    factors = {k: float(f) for k, f in zip(keys, rng.uniform(1.23, 2.0, len(keys)), strict=True)}
    culprit = keys[3]
    factors[culprit] *= 4.0  # a change of the code on top of the busy machine
    comparison = compare(django, busy(django, factors), Policy(), cross_run=True)
    assert comparison.shift is not None
    regressed = [(r.benchmark, r.params) for r in comparison.rows if r.verdict is Verdict.REGRESSED]
    assert regressed == [culprit]


def test_a_real_global_slowdown_is_reported_as_a_shift_of_the_whole_suite(
    django: ResultSet,
) -> None:
    """Never silently removed: every output format says the whole suite got 30 % slower."""
    head = busy(django, dict.fromkeys(time_keys(django), 1.3))
    comparison = compare(django, head, Policy(), cross_run=True)
    assert comparison.shift is not None
    assert comparison.shift.ratio == pytest.approx(1.3, rel=1e-6)
    assert comparison.shift.low <= comparison.shift.ratio <= comparison.shift.high
    summary = fmt.summary_line(comparison)
    assert summary.endswith("(threshold 5%; suite shift +30.0% removed)")
    assert "suite shift of +30.0%" in comparison.warnings[0]
    assert "whole suite slower" in comparison.warnings[0]

    table = render_terminal(comparison, width=80)
    assert "WARNING:" in table and "suite shift of +30.0%" in " ".join(table.split())
    assert "+0.0%*" in table
    assert "* change and interval with the shift the whole suite shares removed" in " ".join(
        table.split()
    )
    markdown = render_markdown(comparison)
    assert "suite shift of +30.0%" in markdown
    assert "measure both commits in one job: perfguard run\n" in markdown  # not clipped
    assert "+0.0%\\*" in markdown  # the mark, escaped
    document = json.loads(render_json(comparison))
    jsonschema.validate(document, load_schema())
    assert document["shift"]["change"] == pytest.approx(0.3)
    assert document["shift"]["agreeing"] == document["shift"]["benchmarks"]
    row = next(r for r in document["rows"] if r["kind"] == "time" and r["change"] is not None)
    assert row["shift_removed"] == pytest.approx(0.3)
    assert row["values_change"] == pytest.approx(0.3)
    assert row["change"] == pytest.approx(0.0, abs=1e-9)
    assert row["method"].endswith("+shift")
    assert row["reason"].endswith("(head/base +30.0%, minus a +30.0% shift of the whole suite)")


def test_no_shift_between_identical_runs_and_none_in_json(django: ResultSet) -> None:
    comparison = compare(django, django, Policy(), cross_run=True)
    assert comparison.shift is None
    assert json.loads(render_json(comparison))["shift"] is None
    assert not any(fmt.shift_removed(r) for r in comparison.rows)


def test_sizes_and_counts_keep_their_change(django: ResultSet) -> None:
    """The shift is the machine's: a mem_ or track_ row is not moved by it."""
    size = measurement("bench.mem_list", 1000.0, kind=Kind.MEM, unit="bytes")
    base = replace(django, measurements=(*django.measurements, size))
    head = busy(base, dict.fromkeys(time_keys(django), 1.3))
    comparison = compare(base, head, Policy(), cross_run=True)
    row = next(r for r in comparison.rows if r.benchmark == "bench.mem_list")
    assert row.estimate is not None and row.estimate.shift == 0.0
    assert row.verdict is Verdict.UNCHANGED


def test_a_small_suite_or_a_mixed_one_has_no_shift() -> None:
    def side(values: list[float], commit: str) -> ResultSet:
        return result_set(
            *(
                measurement(f"b.time_{i}", v, ci_99=(v * 0.99, v * 1.01))
                for i, v in enumerate(values)
            ),
            commit=commit,
        )

    few = compare(side([1.0] * 4, "a" * 40), side([1.5] * 4, "b" * 40), Policy(), cross_run=True)
    assert few.shift is None  # 4 benchmarks cannot tell a shift from a change
    mixed = compare(
        side([1.0] * 8, "a" * 40),
        side([1.5, 1.5, 1.5, 1.5, 1.0, 1.0, 1.0, 1.0], "b" * 40),
        Policy(),
        cross_run=True,
    )
    assert mixed.shift is None  # half moved: not "most benchmarks"
    assert mixed.count(Verdict.REGRESSED) == 4
    moved = compare(
        side([1.0] * 8, "a" * 40),
        side([1.5, 1.52, 1.48, 1.5, 1.51, 1.49, 1.5, 2.2], "b" * 40),
        Policy(),
        cross_run=True,
    )
    assert moved.shift is not None and math.isclose(moved.shift.ratio, 1.5, rel_tol=0.02)
    assert [r.label for r in moved.rows if r.verdict is Verdict.REGRESSED] == ["b.time_7"]


def test_history_mode_keeps_its_own_runner_shift(django: ResultSet) -> None:
    """With ``adjust`` (history mode) the cross-run shift is not estimated a second time."""
    head = busy(django, dict.fromkeys(time_keys(django), 1.3))
    comparison: Comparison = compare(
        django, head, Policy(), cross_run=True, adjust=lambda key, est: est
    )
    assert comparison.shift is None
    assert comparison.count(Verdict.REGRESSED) > 0
