"""Bisect a commit range for the first commit that regressed, one paired run per step.

``perfguard history`` says a benchmark's level stepped between two commits of main; this
finds the commit inside that range. Each step is a ``perfguard run`` of the last good commit
against a candidate, so both are measured in the same job, in paired rounds, and a step is
as trustworthy as a PR gate: regressed means the candidate is bad, unchanged (or improved)
means good. A step that stays inconclusive is not guessed at: the search stops and says so.

:func:`search` holds the search; it is handed ``judge`` (the paired run), so the order of the
steps can be tested without measuring.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

BAD = "bad"
GOOD = "good"
UNDECIDED = "undecided"


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One paired run: the known good commit against a candidate, and what it showed."""

    good: str
    candidate: str
    outcome: str
    """``bad``, ``good`` or ``undecided``."""
    detail: str
    """The benchmark's change as the run measured it, for the log."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    steps: tuple[Step, ...]
    first_bad: str | None
    """None when the range did not reproduce the regression or a step was undecided."""
    reason: str
    """One sentence: what was found, or why nothing was."""


Judge = Callable[[str, str], tuple[str, str]]
"""``judge(good, candidate) -> (outcome, detail)``: one paired run."""


def search(good: str, commits: Sequence[str], judge: Judge, *, verify: bool = True) -> Result:
    """The first bad commit of ``commits`` (oldest first, the last one known bad), with
    ``good`` the last good commit before them.

    With ``verify`` the last commit is measured against ``good`` first: a range that does not
    show the regression here is reported, not bisected. Then a binary search: about log2(n)
    more runs for n commits.
    """
    if not commits:
        return Result(steps=(), first_bad=None, reason="the range holds no commit")
    steps: list[Step] = []

    def measure(candidate: str) -> str:
        outcome, detail = judge(good_commit, candidate)
        steps.append(Step(good=good_commit, candidate=candidate, outcome=outcome, detail=detail))
        return outcome

    good_commit = good
    low, high = -1, len(commits) - 1  # commits[low] is good (-1: `good`), commits[high] bad
    if verify:
        outcome = measure(commits[high])
        if outcome != BAD:
            return Result(
                steps=tuple(steps),
                first_bad=None,
                reason=f"{commits[high][:12]} measures {outcome} against {good[:12]} here: the"
                " range does not reproduce the regression",
            )
    while high - low > 1:
        middle = (low + high) // 2
        outcome = measure(commits[middle])
        if outcome == BAD:
            high = middle
        elif outcome == GOOD:
            low = middle
            good_commit = commits[middle]  # the nearest good commit is the fairer base
        else:
            return Result(
                steps=tuple(steps),
                first_bad=None,
                reason=f"{commits[middle][:12]} could not be told from {good_commit[:12]}"
                f" (inconclusive); the first bad commit is in {commits[low + 1][:12]} ..."
                f" {commits[high][:12]}: run again with more rounds (--max-rounds)",
            )
    return Result(
        steps=tuple(steps),
        first_bad=commits[high],
        reason=f"{commits[high][:12]} is the first bad commit",
    )
