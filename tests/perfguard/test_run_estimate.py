"""How long a run expects to take: the sources of the estimate, the default time limit and the
heartbeat inside a long round (an injected clock, no timing)."""

from __future__ import annotations

import io
import math
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from perfguard import rounds
from perfguard.commands.measuring import parse_duration, time_limit_of
from perfguard.errors import ConfigError
from perfguard.models import Key, Kind, Params
from perfguard.runner import estimate, files
from perfguard.runner.asvenv import Outcome, PairOutcome
from perfguard.runner.progress import Beat, PlainDisplay, Status
from perfguard.runner.schedule import DEFAULT_TIME_LIMIT, Effort, run_rounds
from tests.helpers.asvfiles import write_results_dir
from tests.perfguard.test_run_schedule import empty_file

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["s.time_a", "s.time_b"]


def earlier_run(folder: Path, name: str, *, pairs: int, seconds: list[float]) -> Path:
    """A rounds file of two benchmarks (time_b with 3 combinations), every round both."""
    data = empty_file(["s.time_a"])
    data.series.extend(
        rounds.Series(benchmark="s.time_b", params=(("n", str(n)),), kind=Kind.TIME, unit="s")
        for n in range(3)
    )
    data.settings = {"pairs": pairs, "quick": False}
    for index, spent in enumerate(seconds, start=1):
        data.rounds.append(
            rounds.RoundRecord(
                index=index, order=("base", "head"), started="x", seconds=spent, benchmarks=2
            )
        )
        for series in data.series:
            series.rounds.append(index)
    path = folder / name
    rounds.write(path, data)
    return path


def test_the_newest_earlier_run_with_the_same_settings_gives_the_figures(tmp_path: Path) -> None:
    results = tmp_path / ".asv" / "results"
    ours = files.perfguard_dir(results)
    # 4 combinations per round, 8 s past the rule's round start: 2 s per combination.
    spent = 8.0 + estimate.RULE.start
    same = earlier_run(ours, "a-b.rounds.json", pairs=16, seconds=[spent, spent])
    other = earlier_run(ours, "c-d.rounds.json", pairs=3, seconds=[40.5])
    os.utime(other, (same.stat().st_mtime + 10,) * 2)  # newer, but another --pairs
    settings = {"pairs": 16, "quick": False}
    cost = estimate.initial(results, "box", {"s.time_a": 1, "s.time_b": 3}, settings)
    assert cost.per_combination == pytest.approx(2.0)
    assert cost.source == f"the earlier run {same} (2 rounds)"
    assert cost.round_seconds({"s.time_a": 1, "s.time_b": 3}) == pytest.approx(spent)
    # The run's own (reserved, still empty) file is never its own estimate.
    assert estimate.from_previous_run(results, NAMES, settings, exclude=same) is None
    # Another suite's run says nothing about this one.
    assert estimate.from_previous_run(results, ["t.time_z"], settings) is None


def test_an_earlier_run_with_seconds_per_benchmark_gives_figures_per_benchmark(
    tmp_path: Path,
) -> None:
    data = rounds.read(earlier_run(tmp_path, "e.rounds.json", pairs=16, seconds=[10.0, 12.0]))
    # time_a: 1 combination x 2 rounds in 4 s; time_b: 3 x 2 in 12 s; 22 - 16 s outside them.
    data.seconds = {"s.time_a": 4.0, "s.time_b": 12.0}
    cost = estimate.from_rounds_file(data, ["s.time_a", "s.time_b"], source="x")
    assert cost is not None
    assert cost.per_benchmark == pytest.approx({"s.time_a": 2.0, "s.time_b": 2.0})
    assert cost.start == pytest.approx(3.0)
    assert cost.round_seconds({"s.time_a": 1, "s.time_b": 3}) == pytest.approx(11.0)
    data.seconds = {"s.time_a": 4.0, "s.time_b": 24.0}
    dear = estimate.from_rounds_file(data, ["s.time_a", "s.time_b"], source="x")
    assert dear is not None and dear.seconds("s.time_b", 1) == pytest.approx(4.0)


def test_asv_durations_give_per_benchmark_figures(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_results_dir(
        results, "box", "a" * 40, "py3.12",
        benchmarks={"s.time_a": {}, "s.time_b": {"params": [["1", "2", "3"]]}},
        results={
            "s.time_a": {"result": 1.0, "duration": 6.0},
            "s.time_b": {"result": [1.0, 1.0, 1.0], "duration": 3.0},
        },
    )  # fmt: skip
    counts = {"s.time_a": 1, "s.time_b": 3, "s.time_new": 1}
    cost = estimate.initial(results, "box", counts, {"pairs": 16, "quick": False})
    assert cost.source.startswith("asv's durations in ")
    assert "(2 of 3 benchmarks)" in cost.source
    scale = estimate.ASV_SCALE
    assert cost.per_benchmark == pytest.approx({"s.time_a": 6.0 * scale, "s.time_b": scale})
    # A benchmark asv never ran costs the median of those it did.
    assert cost.seconds("s.time_new", 1) == pytest.approx(3.5 * scale)
    # Another machine's results are not this machine's.
    assert estimate.from_asv_durations(results, "other", counts) is None


def test_without_either_the_stated_rule_is_used(tmp_path: Path) -> None:
    cost = estimate.initial(tmp_path / "results", "box", {"s.time_a": 4}, {})
    assert cost is estimate.RULE
    assert cost.round_seconds({"s.time_a": 4}) == pytest.approx(
        estimate.RULE.start + 4 * estimate.RULE.per_combination
    )


def test_the_plan_is_capped_by_the_time_limit_and_warns_when_min_rounds_do_not_fit() -> None:
    cost = estimate.Cost(start=0.0, per_combination=10.0, source="a test")
    counts = {"s.time_a": 1, "s.time_b": 2}  # 30 s a round
    free = estimate.plan(cost, counts, min_rounds=5, max_rounds=20, time_limit=None)
    assert (free.per_round, free.at_min, free.at_most) == (30.0, 150.0, 600.0)
    lines = estimate.describe_plan(
        free, cost, benchmarks=3, min_rounds=5, max_rounds=20, time_limit=None
    )
    assert lines == [
        "expect ~30s per round of 3 benchmarks: ~2m30s for 5 rounds, at most ~10m for up to 20"
        " (no time limit); estimated from a test"
    ]
    tight = estimate.plan(cost, counts, min_rounds=5, max_rounds=20, time_limit=100.0)
    assert tight.rounds_in_limit == 3
    assert tight.at_most == 100.0
    warned = estimate.describe_plan(
        tight, cost, benchmarks=3, min_rounds=5, max_rounds=20, time_limit=100.0
    )
    assert warned[0].startswith("expect ~30s per round of 3 benchmarks: ~1m30s for 3 rounds, at")
    assert "capped by the time limit of 1m40s" in warned[0]
    assert warned[1].startswith("warning: the time limit of 1m40s holds about 3 of the 5 rounds")
    roomy = estimate.plan(cost, counts, min_rounds=5, max_rounds=20, time_limit=600.0)
    assert len(estimate.describe_plan(roomy, cost, benchmarks=3, min_rounds=5, max_rounds=20,
                                      time_limit=600.0)) == 1  # fmt: skip


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.4, "0s"), (45, "45s"), (60, "1m"), (250, "4m10s"), (3725, "1h02m"), (math.inf, "?")],
)
def test_durations_read_as_people_write_them(seconds: float, text: str) -> None:
    assert estimate.format_seconds(seconds) == text


def test_the_default_time_limit_and_how_to_lift_it() -> None:
    assert DEFAULT_TIME_LIMIT == 600.0
    assert Effort().time_limit == DEFAULT_TIME_LIMIT
    assert time_limit_of(None) == DEFAULT_TIME_LIMIT
    assert time_limit_of(parse_duration("none")) is None
    assert time_limit_of(parse_duration("None")) is None
    assert time_limit_of(parse_duration("90s")) == 90.0
    with pytest.raises(ConfigError, match="none: no limit"):
        parse_duration("0")


class Clock:
    """Time that passes only when a benchmark says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def steady(clock: Clock, seconds: dict[str, float]) -> object:
    """A measure that takes ``seconds[name]`` per benchmark, identical values on both sides."""

    def measure(
        name: str, combos: tuple[Params, ...], order: tuple[str, str], rng: random.Random
    ) -> dict[Key, PairOutcome]:
        clock.now += seconds[name]
        one = PairOutcome(base=Outcome(value=1.0), head=Outcome(value=1.0), log_ratio=0.0)
        return {(name, ()): one}

    return measure


def test_the_default_limit_stops_a_slow_suite_and_says_min_rounds_were_not_reached() -> None:
    names = [f"s.time_{i}" for i in range(10)]
    clock = Clock()
    data = empty_file(names)
    stream = io.StringIO()
    stopped = run_rounds(
        data,
        steady(clock, dict.fromkeys(names, 20.0)),  # type: ignore[arg-type]
        effort=Effort(),  # 200 s a round: 3 fit in the default 10 minutes
        undecided=lambda _: {(name, ()) for name in names},
        display=PlainDisplay(stream, clock=clock),
        clock=clock,
    )
    assert len(data.rounds) == 3
    assert stopped == "time limit of 10m reached after 3 rounds"
    assert stream.getvalue().splitlines()[-1] == (
        "warning: the time limit stopped the rounds after 3 of the 5 every benchmark gets, so"
        " most stay inconclusive: raise --time-limit (none lifts it) or select fewer benchmarks"
        " with -b"
    )
    lines = stream.getvalue().splitlines()
    second = next(line for line in lines if line.startswith("round 2/20 ("))
    assert "elapsed; round 5 is out of the time limit's reach, at most ~3m20s left" in second
    # Lifted, the same suite gets its rounds.
    clock.now = 0.0
    lifted = empty_file(names)
    stopped = run_rounds(
        lifted,
        steady(clock, dict.fromkeys(names, 20.0)),  # type: ignore[arg-type]
        effort=Effort(min_rounds=5, max_rounds=6, time_limit=None),
        undecided=lambda _: {(name, ()) for name in names},
        display=PlainDisplay(io.StringIO()),
        clock=clock,
    )
    assert (len(lifted.rounds), stopped) == (6, "maximum of 6 rounds reached")


def test_the_limit_uses_what_the_benchmarks_still_measured_cost() -> None:
    """After the minimum only undecided benchmarks run: a round of the cheap one fits where a
    full round would not (the old rule took the last full round's time)."""
    clock = Clock()
    data = empty_file(["s.time_cheap", "s.time_dear"])
    stopped = run_rounds(
        data,
        steady(clock, {"s.time_cheap": 1.0, "s.time_dear": 30.0}),  # type: ignore[arg-type]
        effort=Effort(min_rounds=2, max_rounds=10, time_limit=70.0),
        undecided=lambda _: {("s.time_cheap", ())},
        display=PlainDisplay(io.StringIO()),
        clock=clock,
    )
    # 62 s after two full rounds, then 1 s each: all 10 rounds fit in 70 s.
    assert [r.benchmarks for r in data.rounds] == [2, 2, 1, 1, 1, 1, 1, 1, 1, 1]
    assert stopped == "maximum of 10 rounds reached"


def test_a_long_round_prints_a_heartbeat_at_least_once_a_minute() -> None:
    names = [f"s.time_{i:02d}" for i in range(12)]
    clock = Clock()
    stream = io.StringIO()
    prior = estimate.Cost(start=0.0, per_combination=10.0, source="a test")
    data = empty_file(names)
    run_rounds(
        data,
        steady(clock, dict.fromkeys(names, 25.0)),  # type: ignore[arg-type]
        effort=Effort(min_rounds=2, max_rounds=2, time_limit=None),
        undecided=lambda _: set(),
        display=PlainDisplay(stream, clock=clock),
        clock=clock,
        cost=prior,
    )
    lines = stream.getvalue().splitlines()
    stamps = [
        int(m.group(1)) * 60 + int(m.group(2) or 0)
        for m in (re.search(r", (\d+)m(?:(\d+)s)? elapsed", line) for line in lines)
        if m
    ]
    assert len(stamps) == len(lines)
    # 25 s per benchmark: a line every 75 s at the latest (60 s plus one benchmark), none
    # without 60 s of silence before it.
    gaps = [b - a for a, b in zip([0, *stamps], stamps, strict=False)]
    assert all(60 <= gap <= 75 for gap in gaps), lines
    # What is left follows what the benchmarks measured so far took (25 s), not the prior's
    # 10 s, from the first benchmark on.
    assert lines[0] == (
        "round 1/2: 3/12 benchmarks measured, 1m15s elapsed, ~3m45s left in this round"
    )
    ends = [line for line in lines if "benchmarks settled" in line]
    first = data.rounds[0].order[0]
    assert ends == [
        f"round 1/2 ({first} first): 0/12 benchmarks settled, 5m elapsed; ~5m to round 2, at"
        " most ~5m left",
        f"round 2/2 ({data.rounds[1].order[0]} first): 12/12 benchmarks settled, 10m elapsed;"
        " nothing left",
    ]


def test_the_error_script_compares_the_recorded_estimate_with_the_rounds(tmp_path: Path) -> None:
    path = earlier_run(tmp_path, "x.rounds.json", pairs=16, seconds=[10.0, 12.0, 8.0, 10.0, 10.0])
    data = rounds.read(path)
    data.settings.update(
        {"estimate_round_seconds": 5.0, "estimate_from": "asv-durations", "min_rounds": 5}
    )
    rounds.write(path, data)
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "estimate_error.py"), str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    row = done.stdout.splitlines()[1]
    assert row == (
        "x.rounds.json | asv-durations | 5.0s | 10.0s | 10.0s (5) | -50% | 25s | 50s | -50%"
    )


def test_a_benchmark_longer_than_a_minute_still_gets_a_line_a_minute() -> None:
    """The watcher's tick (a thread calls it every few seconds) speaks for a round kept silent
    by one long benchmark; between rounds, and within a minute of the last line, it does not."""
    clock = Clock()
    stream = io.StringIO()
    display = PlainDisplay(stream, clock=clock)
    display.within(Beat(round=2, max_rounds=10, measured=4, total=10, elapsed=300.0, left=120.0))
    clock.now = 59.0
    display.tick()
    assert stream.getvalue() == ""
    clock.now = 61.0
    display.tick()
    clock.now = 100.0
    display.tick()  # 39 s after the last line
    clock.now = 125.0
    display.tick()
    assert stream.getvalue().splitlines() == [
        "round 2/10: 4/10 benchmarks measured, 6m01s elapsed, ~59s left in this round",
        "round 2/10: 4/10 benchmarks measured, 7m05s elapsed, this round is taking longer than"
        " expected",
    ]
    display.update(
        Status(round=2, max_rounds=10, min_rounds=5, settled=0, total=10, elapsed=430.0,
               remaining=None, to_min=0.0, at_most=0.0, order=("base", "head"))
    )  # fmt: skip
    clock.now = 500.0
    display.tick()  # between rounds: building or reporting, not a round
    assert len(stream.getvalue().splitlines()) == 3


def test_the_watcher_thread_stops_with_the_display() -> None:
    display = PlainDisplay(io.StringIO())
    display.watch(every=0.001)
    display.close()
    assert display._watcher is not None and not display._watcher.is_alive()


def test_unmeasured_benchmarks_keep_their_prior_figure_scaled_to_this_run() -> None:
    prior = estimate.Cost(
        start=1.0,
        per_combination=1.0,
        source="x",
        per_benchmark={"s.time_a": 2.0, "s.time_b": 20.0},
    )
    observed = estimate.Observed(prior=prior)
    assert observed.cost() is prior
    observed.add("s.time_a", 6.0, 1)  # three times the prior's figure
    now = observed.cost()
    assert now.seconds("s.time_a", 1) == pytest.approx(6.0)
    assert now.seconds("s.time_b", 1) == pytest.approx(60.0)
    assert now.seconds("s.time_new", 2) == pytest.approx(12.0)  # the median of the measured
