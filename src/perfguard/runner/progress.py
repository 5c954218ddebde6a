"""What a person watching ``perfguard run`` sees: a live bar on a terminal, plain lines in CI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from perfguard.models import Comparison, Verdict


@dataclass(frozen=True, slots=True, kw_only=True)
class Status:
    """Where the run stands after a round."""

    round: int
    max_rounds: int
    settled: int
    """Benchmarks (parameter combinations counted one by one, as in the report) that get no
    more rounds: decided, or out of reach within the round limit. It never goes down."""
    total: int
    """Every benchmark of the run, counted as :attr:`settled` is (the header's number)."""
    elapsed: float
    remaining: float | None
    """Seconds left of the time limit, or None without one."""
    order: tuple[str, str]


def describe(status: Status) -> str:
    left = "" if status.remaining is None else f", {status.remaining:.0f}s of the time limit left"
    return (
        f"round {status.round}/{status.max_rounds} ({status.order[0]} first): "
        f"{status.settled}/{status.total} benchmarks settled, {status.elapsed:.0f}s{left}"
    )


class Display(Protocol):
    def message(self, text: str) -> None: ...

    def update(self, status: Status) -> None: ...

    def close(self) -> None: ...


class PlainDisplay:
    """One line per event, for logs that are read later."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def message(self, text: str) -> None:
        print(text, file=self._stream, flush=True)

    def update(self, status: Status) -> None:
        self.message(describe(status))

    def close(self) -> None:
        """Nothing to tear down."""


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
        left = "" if status.remaining is None else f", {status.remaining:.0f}s left"
        self._progress.update(
            self._task,
            total=status.max_rounds,  # --quick's 3, whatever the bar started with
            completed=status.round,
            info=f"{status.settled}/{status.total} settled{left}",
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
    return RichDisplay(stream, max_rounds) if tty else PlainDisplay(stream)
