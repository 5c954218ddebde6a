"""Round scheduling: random order from the recorded seed, adaptive effort, budget, display.

The measuring function here stands in for asv (a seeded generator of per-round values, with
the true change per benchmark known); the real thing runs in test_run_integration.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import random
from collections.abc import Iterator

import pytest

from perfguard import rounds
from perfguard.fingerprint import Fingerprint
from perfguard.models import Key, Kind, Params
from perfguard.paired import Correction
from perfguard.policy import Policy
from perfguard.runner import undecided_series
from perfguard.runner.asvenv import Outcome, PairOutcome
from perfguard.runner.progress import (
    Beat,
    PlainDisplay,
    RichDisplay,
    Status,
    describe,
    make_display,
)
from perfguard.runner.schedule import Effort, draw_order, run_rounds

PRINT = Fingerprint(cpu="x", cores=2, os="Linux", arch="x86_64", python="CPython 3.11")


def empty_file(names: list[str], seed: int = 5) -> rounds.RoundsFile:
    return rounds.RoundsFile(
        perfguard_version="0.1.0",
        created="2026-11-21T13:00:00+00:00",
        seed=seed,
        base=rounds.Side(ref="main", commit="a" * 40),
        head=rounds.Side(ref="HEAD", commit="b" * 40),
        machine="ci",
        env="env",
        fingerprint=PRINT,
        series=[rounds.Series(benchmark=n, kind=Kind.TIME, unit="seconds") for n in names],
    )


class FakeSuite:
    """Per-round values: a common drift per call, the true change on head, 1 % noise."""

    def __init__(
        self, changes: dict[str, float], noise: dict[str, float] | None = None, seed: int = 1
    ) -> None:
        self.changes = changes
        self.noise = noise or {}
        self.rng = random.Random(seed)
        self.calls: list[tuple[str, tuple[str, str]]] = []

    def __call__(
        self, name: str, combos: tuple[Params, ...], order: tuple[str, str], rng: random.Random
    ) -> dict[Key, PairOutcome]:
        assert combos == ((),)
        self.calls.append((name, order))
        values = {}
        for side in order:
            drift = math.exp(self.rng.gauss(0, 0.05))
            factor = 1 + self.changes[name] if side == "head" else 1.0
            noise = math.exp(self.rng.gauss(0, self.noise.get(name, 0.01)))
            values[side] = drift * factor * noise
        return {
            (name, ()): PairOutcome(
                base=Outcome(value=values["base"]),
                head=Outcome(value=values["head"]),
                log_ratio=math.log(values["head"] / values["base"]),
            )
        }


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.statuses: list[Status] = []
        self.beats: list[Beat] = []

    def message(self, text: str) -> None:
        self.lines.append(text)

    def update(self, status: Status) -> None:
        self.statuses.append(status)

    def within(self, beat: Beat) -> None:
        self.beats.append(beat)

    def close(self) -> None:
        self.lines.append("closed")


def undecided(max_rounds: int = 20) -> object:
    return undecided_series(Policy(), Correction.HOLM, max_rounds)


def test_order_is_random_per_round_and_replayed_by_the_seed() -> None:
    orders = [draw_order(random.Random(9)) for _ in range(3)]
    assert len(set(orders)) == 1
    rng = random.Random(9)
    drawn = {draw_order(rng) for _ in range(40)}
    assert drawn == {("base", "head"), ("head", "base")}

    def run(seed: int) -> list[tuple[str, str]]:
        data = empty_file(["s.time_a"], seed=seed)
        run_rounds(
            data,
            FakeSuite({"s.time_a": 0.0}),
            effort=Effort(min_rounds=6, max_rounds=6),
            undecided=undecided(),  # type: ignore[arg-type]
            display=Recorder(),
        )
        return [r.order for r in data.rounds]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_base_and_head_run_back_to_back_per_benchmark() -> None:
    suite = FakeSuite({"s.time_a": 0.0, "s.time_b": 0.0})
    data = empty_file(["s.time_a", "s.time_b"])
    run_rounds(
        data,
        suite,
        effort=Effort(min_rounds=2, max_rounds=2),
        undecided=undecided(),  # type: ignore[arg-type]
        display=Recorder(),
    )
    first, second = (r.order for r in data.rounds)
    assert suite.calls == [
        ("s.time_a", first),
        ("s.time_b", first),
        ("s.time_a", second),
        ("s.time_b", second),
    ]
    assert [s.rounds for s in data.series] == [[1, 2], [1, 2]]
    assert all(len(s.d) == 2 for s in data.series)


def test_decided_and_hopeless_benchmarks_stop_and_promising_ones_continue() -> None:
    # big is 30 % slower (decided after the minimum); edge is undecided at first but within
    # reach of 12 rounds; hopeless is drowned in noise that 12 rounds could not beat.
    suite = FakeSuite(
        {"s.time_big": 0.30, "s.time_edge": 0.0, "s.time_hopeless": 0.0},
        noise={"s.time_edge": 0.02, "s.time_hopeless": 0.3},
    )
    data = empty_file(["s.time_big", "s.time_edge", "s.time_hopeless"])
    recorder = Recorder()
    run_rounds(
        data,
        suite,
        effort=Effort(min_rounds=4, max_rounds=12),
        undecided=undecided(12),  # type: ignore[arg-type]
        display=recorder,
    )
    by_name = {s.benchmark: len(s.rounds) for s in data.series}
    assert by_name["s.time_big"] == 4
    assert by_name["s.time_hopeless"] == 4
    assert by_name["s.time_edge"] > 4
    assert [r.benchmarks for r in data.rounds][:5] == [3, 3, 3, 3, 1]
    assert recorder.statuses[3].settled == 2
    assert recorder.statuses[-1].total == 3


def test_stops_when_everything_is_decided() -> None:
    data = empty_file(["s.time_a"])
    stopped = run_rounds(
        data,
        FakeSuite({"s.time_a": 0.5}),
        effort=Effort(min_rounds=3, max_rounds=10),
        undecided=undecided(),  # type: ignore[arg-type]
        display=Recorder(),
    )
    assert stopped == "every benchmark settled after 3 rounds"
    assert len(data.rounds) == 3


def test_budget_stops_before_a_round_that_would_not_fit() -> None:
    now = [0.0]

    def clock() -> float:
        return now[0]

    suite = FakeSuite({"s.time_a": 0.05})

    def slow_measure(
        name: str, combos: tuple[Params, ...], order: tuple[str, str], rng: random.Random
    ) -> dict[Key, PairOutcome]:
        now[0] += 20.0  # every round takes 20 s
        return suite(name, combos, order, rng)

    data = empty_file(["s.time_a"])
    saved: list[int] = []
    recorder = Recorder()
    stopped = run_rounds(
        data,
        slow_measure,
        effort=Effort(min_rounds=5, max_rounds=20, time_limit=65.0),
        undecided=undecided(),  # type: ignore[arg-type]
        display=recorder,
        on_round=lambda d: saved.append(len(d.rounds)),
        clock=clock,
    )
    assert stopped == "time limit of 1m05s reached after 3 rounds"
    assert recorder.lines[-1].startswith("warning: the time limit stopped the rounds after 3 of")
    assert saved == [1, 2, 3]
    assert recorder.statuses[-1].remaining == pytest.approx(5.0)


def test_effort_needs_two_rounds_at_least() -> None:
    with pytest.raises(ValueError, match="min_rounds"):
        Effort(min_rounds=1, max_rounds=3)
    with pytest.raises(ValueError, match="min_rounds"):
        Effort(min_rounds=5, max_rounds=3)


def test_rounds_without_a_value_on_one_side_are_not_paired() -> None:
    data = empty_file(["s.time_a", "s.time_b"])

    def one_sided(
        name: str, combos: tuple[Params, ...], order: tuple[str, str], rng: random.Random
    ) -> dict[Key, PairOutcome]:
        if name == "s.time_b":
            return {}  # nothing measured: no round recorded
        failed = PairOutcome(base=Outcome(value=1.0), head=Outcome(value=None), log_ratio=None)
        return {("s.time_a", ()): failed}

    run_rounds(
        data,
        one_sided,
        effort=Effort(min_rounds=2, max_rounds=2),
        undecided=lambda d: set(),
        display=Recorder(),
    )
    failed, empty = data.series
    assert failed.rounds == [1, 2]
    assert failed.head == [None, None]
    assert failed.log_ratios() == []
    assert empty.rounds == []


STATUS = Status(
    round=3,
    max_rounds=10,
    min_rounds=5,
    settled=1,
    total=4,
    elapsed=12.4,
    remaining=47.6,
    to_min=24.0,
    at_most=47.6,
    order=("head", "base"),
)


def test_plain_display_writes_one_line_per_round() -> None:
    stream = io.StringIO()
    display = make_display(stream, 10, tty=False)
    assert isinstance(display, PlainDisplay)
    display.message("building")
    display.update(STATUS)
    display.close()
    assert stream.getvalue() == (
        "building\n"
        "round 3/10 (head first): 1/4 benchmarks settled, 12s elapsed; ~24s to round 5, at most"
        " ~48s left (48s of the time limit left)\n"
    )
    assert describe(dataclasses.replace(STATUS, remaining=None)).endswith("at most ~48s left")
    after_min = dataclasses.replace(STATUS, round=6, to_min=0.0)
    assert describe(after_min).endswith("elapsed; at most ~48s left (48s of the time limit left)")


def test_rich_display_shows_rounds_and_decided() -> None:
    stream = io.StringIO()
    display = make_display(stream, 10, tty=True)
    assert isinstance(display, RichDisplay)
    display.message("building base")
    display.update(STATUS)
    display.close()
    text = stream.getvalue()
    assert "building base" in text
    assert "3/10" in text
    assert "1/4 settled, ~24s to round 5, at most ~48s left" in text


def test_settled_counts_combinations_like_the_header_and_never_goes_down() -> None:
    """The header says "measuring 4 benchmarks" (len(series)): a benchmark with 3 parameter
    combinations counts 3 in the progress too, and only its undecided combinations are
    measured again; a settled one is never taken up again, even when the rule would
    reconsider it (the family correction moves with the others)."""
    data = empty_file(["s.time_a"])
    data.series.extend(
        rounds.Series(benchmark="s.time_p", params=(("n", str(n)),), kind=Kind.TIME, unit="s")
        for n in range(3)
    )
    measured: list[tuple[int, str, tuple[Params, ...]]] = []

    def measure(
        name: str, combos: tuple[Params, ...], order: tuple[str, str], rng: random.Random
    ) -> dict[Key, PairOutcome]:
        measured.append((len(data.rounds) + 1, name, combos))
        one = PairOutcome(base=Outcome(value=1.0), head=Outcome(value=1.0), log_ratio=0.0)
        return {(name, combo): one for combo in combos}

    a, p1 = ("s.time_a", ()), ("s.time_p", (("n", "1"),))
    every = {a, p1, ("s.time_p", (("n", "0"),)), ("s.time_p", (("n", "2"),))}
    # After round 3 time_a and one of time_p's combinations are undecided; at round 4 the rule
    # would take the others back.
    answers = iter([{a, p1}, every, {a}, set()])
    recorder = Recorder()
    stopped = run_rounds(
        data,
        measure,
        effort=Effort(min_rounds=3, max_rounds=10),
        undecided=lambda _: next(answers),
        display=recorder,
    )
    assert [s.total for s in recorder.statuses] == [4] * 6
    assert [s.settled for s in recorder.statuses] == [0, 0, 2, 2, 3, 4]
    assert [(name, combos) for index, name, combos in measured if index == 4] == [
        ("s.time_a", ((),)),
        ("s.time_p", ((("n", "1"),),)),
    ]
    assert [(name, combos) for index, name, combos in measured if index > 5] == [
        ("s.time_a", ((),))
    ]
    assert [r.benchmarks for r in data.rounds] == [4, 4, 4, 2, 2, 1]
    assert stopped == "every benchmark settled after 6 rounds"


def test_the_end_line_says_all_decided_only_when_none_is_inconclusive() -> None:
    from perfguard.runner.progress import outcome_line

    data = empty_file(["s.time_a", "s.time_b"])
    for series, noise in zip(data.series, (0.001, 0.5), strict=True):
        rng = random.Random(3)
        for index in range(1, 6):
            series.rounds.append(index)
            series.base.append(1.0)
            series.head.append(1.0)
            series.d.append(rng.gauss(0.3, noise))
    comparison = rounds.to_comparison(data, Policy())
    verdicts = sorted(row.verdict.value for row in comparison.rows)
    assert verdicts == ["inconclusive", "regressed"]
    line = outcome_line("every benchmark settled after 5 rounds", comparison)
    assert line == "every benchmark settled after 5 rounds: 1 decided, 1 inconclusive"
    assert "all" not in line.split(":")[1]
    decided = dataclasses.replace(comparison, rows=comparison.rows[:1])
    assert outcome_line("x", decided).endswith(": all 1 benchmarks decided")


def test_rich_display_takes_the_round_limit_of_the_run() -> None:
    """--quick runs 3 rounds whatever --max-rounds says: the bar shows 3, not 20."""
    stream = io.StringIO()
    display = make_display(stream, 20, tty=True)
    display.update(dataclasses.replace(STATUS, round=2, max_rounds=3))
    display.close()
    assert "2/3" in stream.getvalue()
    assert "2/20" not in stream.getvalue()


def test_each_round_runs_inside_its_own_scope() -> None:
    """The workers of a round (``round_scope``) are opened before its first benchmark and
    closed after its last, once per round."""
    events: list[str] = []
    suite = FakeSuite({"s.time_a": 0.0, "s.time_b": 0.0})

    @contextlib.contextmanager
    def scope(rng: random.Random) -> Iterator[None]:
        events.append("open")
        yield
        events.append("close")

    def measure(
        name: str, combos: tuple[Params, ...], order: tuple[str, str], rng: random.Random
    ) -> dict[Key, PairOutcome]:
        events.append(name)
        return suite(name, combos, order, rng)

    run_rounds(
        empty_file(["s.time_a", "s.time_b"]),
        measure,
        effort=Effort(min_rounds=2, max_rounds=2),
        undecided=lambda _: set(),
        display=Recorder(),
        round_scope=scope,
    )
    assert events == ["open", "s.time_a", "s.time_b", "close"] * 2
