"""What a person watching ``perfguard run`` sees: a live bar on a terminal, plain lines in CI."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from perfguard.models import Comparison, Verdict
from perfguard.runner.estimate import format_seconds

HEARTBEAT = 60.0
"""Most seconds between two plain lines while a round runs (CI logs show the run is alive)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Status:
    """Where the run stands after a round."""

    round: int
    max_rounds: int
    min_rounds: int
    settled: int
    """Benchmarks (parameter combinations counted one by one, as in the report) that get no
    more rounds: decided, or out of reach within the round limit. It never goes down."""
    total: int
    """Every benchmark of the run, counted as :attr:`settled` is (the header's number)."""
    elapsed: float
    remaining: float | None
    """Seconds left of the time limit, or None without one."""
    to_min: float
    """Expected seconds until every benchmark has ``min_rounds`` (0 once it has)."""
    at_most: float
    """Expected seconds left if every unsettled benchmark took every round left (within the
    time limit): adaptive effort only stops earlier."""
    order: tuple[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Beat:
    """Where a round stands after one of its benchmarks."""

    round: int
    max_rounds: int
    measured: int
    """Combinations this round measured so far."""
    total: int
    """Combinations this round measures."""
    elapsed: float
    """Seconds since the first round began."""
    left: float
    """Expected seconds until this round ends."""


def expected_left(status: Status) -> str:
    """``~24s to round 5, at most ~1m36s left``, or ``nothing left`` once all settled."""
    if status.settled >= status.total or status.at_most <= 0:
        return "nothing left"
    if status.remaining is not None and status.to_min > status.remaining:
        to_min = f"round {status.min_rounds} is out of the time limit's reach, "
    elif status.to_min > 0:
        to_min = f"~{format_seconds(status.to_min)} to round {status.min_rounds}, "
    else:
        to_min = ""
    return f"{to_min}at most ~{format_seconds(status.at_most)} left"


def describe(status: Status) -> str:
    left = (
        ""
        if status.remaining is None
        else f" ({format_seconds(status.remaining)} of the time limit left)"
    )
    return (
        f"round {status.round}/{status.max_rounds} ({status.order[0]} first): "
        f"{status.settled}/{status.total} benchmarks settled, "
        f"{format_seconds(status.elapsed)} elapsed; {expected_left(status)}{left}"
    )


def describe_beat(beat: Beat) -> str:
    left = (
        f"~{format_seconds(beat.left)} left in this round"
        if beat.left >= 1
        else "this round is taking longer than expected"
    )
    return (
        f"round {beat.round}/{beat.max_rounds}: {beat.measured}/{beat.total} benchmarks "
        f"measured, {format_seconds(beat.elapsed)} elapsed, {left}"
    )


class Display(Protocol):
    def message(self, text: str) -> None: ...

    def update(self, status: Status) -> None: ...

    def within(self, beat: Beat) -> None:
        """After each benchmark of a round; the display decides whether to show it."""

    def close(self) -> None: ...


class PlainDisplay:
    """One line per round, and within a round one whenever :data:`HEARTBEAT` seconds passed
    since the last line, for logs that are read later (a CI log without a terminal).

    After a benchmark the round's line says where it stands; :meth:`watch` adds a thread that
    says so too when a single benchmark keeps the round silent for longer (:meth:`tick`).
    """

    def __init__(
        self,
        stream: TextIO,
        heartbeat: float = HEARTBEAT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._heartbeat = heartbeat
        self._clock = clock
        self._lock = threading.Lock()
        self._said = clock()
        self._beat: tuple[Beat, float] | None = None
        """The round's last beat and when it came; None between rounds."""
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def message(self, text: str) -> None:
        with self._lock:
            self._say(text)

    def _say(self, text: str) -> None:
        print(text, file=self._stream, flush=True)
        self._said = self._clock()

    def update(self, status: Status) -> None:
        with self._lock:
            self._beat = None
            self._say(describe(status))

    def within(self, beat: Beat) -> None:
        with self._lock:
            self._beat = (beat, self._clock())
            if self._clock() - self._said >= self._heartbeat and beat.measured < beat.total:
                self._say(describe_beat(beat))

    def tick(self) -> None:
        """A line if a round has been silent for a heartbeat: one benchmark is taking long."""
        with self._lock:
            now = self._clock()
            if self._beat is None or now - self._said < self._heartbeat:
                return
            beat, at = self._beat
            waited = now - at
            self._say(
                describe_beat(
                    dataclasses.replace(
                        beat, elapsed=beat.elapsed + waited, left=max(0.0, beat.left - waited)
                    )
                )
            )

    def watch(self, every: float = 5.0) -> None:
        """Call :meth:`tick` every ``every`` seconds from a daemon thread until :meth:`close`."""

        def loop() -> None:
            while not self._stop.wait(every):
                self.tick()

        self._watcher = threading.Thread(target=loop, name="perfguard-heartbeat", daemon=True)
        self._watcher.start()

    def close(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join()


class RichDisplay:
    """A live progress bar over rounds, with settled benchmarks and time left."""

    def __init__(self, stream: TextIO, max_rounds: int) -> None:
        self._console = Console(file=stream)
        self._progress = Progress(
            TextColumn("[bold]rounds"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=self._console,
            transient=False,
        )
        self._task = self._progress.add_task("rounds", total=max_rounds, info="starting")
        self._progress.start()

    def message(self, text: str) -> None:
        self._progress.console.print(text, markup=False, highlight=False)

    def update(self, status: Status) -> None:
        self._progress.update(
            self._task,
            total=status.max_rounds,  # --quick's 3, whatever the bar started with
            completed=status.round,
            info=f"{status.settled}/{status.total} settled, {expected_left(status)}",
        )

    def within(self, beat: Beat) -> None:
        self._progress.update(
            self._task,
            info=f"round {beat.round}: {beat.measured}/{beat.total} measured, "
            f"~{format_seconds(beat.left)} left in it",
        )

    def close(self) -> None:
        self._progress.stop()


def outcome_line(stopped: str, comparison: Comparison) -> str:
    """How the rounds ended, counted like the report's rows: never "all decided" while some
    benchmarks stay inconclusive."""
    inconclusive = sum(row.verdict is Verdict.INCONCLUSIVE for row in comparison.rows)
    decided = len(comparison.rows) - inconclusive
    if not inconclusive:
        return f"{stopped}: all {decided} benchmarks decided"
    return f"{stopped}: {decided} decided, {inconclusive} inconclusive"


def make_display(stream: TextIO, max_rounds: int, *, tty: bool) -> Display:
    if tty:
        return RichDisplay(stream, max_rounds)
    plain = PlainDisplay(stream)
    plain.watch()
    return plain
