"""``perfguard bisect GOOD BAD -b BENCH``: the first bad commit of a range, by paired runs.

Each step is a real ``perfguard run`` (asv builds both commits; paired rounds) of the nearest
known good commit against a candidate; see :mod:`perfguard.bisect` for the search.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path
from typing import Any

import click

from perfguard import asvproject, bisect, rounds
from perfguard.commands.measuring import (
    ASV_CONFIG,
    ATTRIBUTE,
    MACHINE,
    MAX_ROUNDS,
    MIN_ROUNDS,
    PERFGUARD_CONFIG,
    QUICK,
    SEED,
    TIME_LIMIT,
    checked,
    effort_of,
    regex,
)
from perfguard.errors import EXIT_OK, ConfigError, GitError
from perfguard.gitrefs import output, resolve_commit
from perfguard.models import Verdict
from perfguard.policy import load_policy
from perfguard.runner import DEFAULT_PAIRS, RunSettings, execute
from perfguard.runner.progress import make_display

NOT_FOUND = 1
"""Exit code: the range does not reproduce the regression, or a step stayed inconclusive."""
MAX_COMMITS = 1000
"""A longer range is refused: bisect a range the history narrowed down."""


def range_commits(good: str, bad: str, repo: Path) -> list[str]:
    """The commits after ``good`` up to ``bad``, oldest first, along first parents (the
    commits main was at, as the history recorded them)."""
    listed = output(repo, "rev-list", "--first-parent", "--reverse", f"{good}..{bad}")
    commits = listed.split() if listed else []
    if not commits:
        raise GitError(f"{bad[:12]} is not a descendant of {good[:12]}: nothing to bisect")
    if len(commits) > MAX_COMMITS:
        raise ConfigError(f"{len(commits)} commits between GOOD and BAD: at most {MAX_COMMITS}")
    return commits


def runs_needed(commits: int, verify: bool) -> int:
    """The most paired runs a bisect of ``commits`` takes: the verification, then halving."""
    return max(1, int(verify) + math.ceil(math.log2(commits)))


def judge_with_runs(settings: RunSettings) -> bisect.Judge:
    """A paired ``perfguard run`` per step: bad if a selected benchmark regressed, good if
    all of them are unchanged or improved, else undecided."""

    def judge(good: str, candidate: str) -> tuple[str, str]:
        step = dataclasses.replace(settings, base=good, head=candidate)
        display = make_display(sys.stderr, step.effort.max_rounds, tty=sys.stderr.isatty())
        try:
            outcome = execute(step, display)
        finally:
            display.close()
        comparison = rounds.to_comparison(
            outcome.data, settings.policy, correction=settings.correction
        )
        verdicts = [row.verdict for row in comparison.rows]
        detail = ", ".join(
            f"{row.label} {row.verdict.value}"
            + (f" {row.change * 100:+.1f} %" if row.change is not None else "")
            for row in comparison.rows
        )
        if Verdict.REGRESSED in verdicts:
            return bisect.BAD, detail
        if verdicts and all(v in (Verdict.UNCHANGED, Verdict.IMPROVED) for v in verdicts):
            return bisect.GOOD, detail
        return bisect.UNDECIDED, detail

    return judge


@click.command(
    "bisect",
    epilog="""\b
Examples:
  perfguard bisect 1a2b3c4d 5e6f7a8b -b 'bench_parse\\.time_parse'
  perfguard bisect v1.2 main -b time_parse --quick      # a first look, 3 short rounds a step
  perfguard bisect 1a2b3c4d 5e6f7a8b -b time_parse --no-verify --max-rounds 30
\b
Each step writes its rounds file beside asv's results (<results_dir>/../perfguard/), as
perfguard run does; asv's own results are never changed.
\b
Exit codes: 0 first bad commit found, 1 not found (the range does not reproduce the
regression, or a step stayed inconclusive), 2 usage, input or build error.""",
)
@click.argument("good")
@click.argument("bad")
@click.option(
    "-b",
    "--bench",
    required=True,
    callback=checked(regex),
    help="Regular expression selecting the benchmark that regressed (as asv -b).",
)
@ASV_CONFIG
@click.option(
    "--verify/--no-verify",
    default=True,
    show_default=True,
    help="First measure BAD against GOOD: a range that does not reproduce is not bisected.",
)
@QUICK
@MIN_ROUNDS
@MAX_ROUNDS
@TIME_LIMIT
@SEED
@ATTRIBUTE
@MACHINE
@PERFGUARD_CONFIG
@click.option("--threshold", help="Change that counts, e.g. 5% [default: the configuration's].")
def command(
    good: str,
    bad: str,
    bench: str,
    asv_config: Path | None,
    verify: bool,
    quick: bool,
    min_rounds: int,
    max_rounds: int,
    time_limit: float | None,
    seed: int | None,
    attributes: tuple[tuple[str, Any], ...],
    machine: str | None,
    perfguard_config: Path | None,
    threshold: str | None,
) -> int:
    """Find the first commit after GOOD, up to BAD, where the benchmark regressed."""
    effort = effort_of(min_rounds, max_rounds, time_limit)
    config_path = asv_config if asv_config is not None else asvproject.find_config()
    project = asvproject.load(config_path)
    checkout = project.local_repo or project.config.parent
    good_sha, bad_sha = resolve_commit(good, checkout), resolve_commit(bad, checkout)
    commits = range_commits(good_sha, bad_sha, checkout)
    policy = load_policy(perfguard_config, start=config_path.resolve().parent, threshold=threshold)
    settings = RunSettings(
        config=config_path,
        bench=bench,
        quick=quick,
        effort=effort,
        seed=seed,
        machine=machine,
        policy=policy,
        attributes=dict(attributes),
        pairs=DEFAULT_PAIRS,
    )
    click.echo(
        f"bisecting {len(commits)} commit(s) after {good_sha[:12]} up to {bad_sha[:12]} for"
        f" {bench!r}: at most {runs_needed(len(commits), verify)} paired run(s)",
        err=True,
    )
    judge = judge_with_runs(settings)
    done = 0

    def logged(good_commit: str, candidate: str) -> tuple[str, str]:
        nonlocal done
        outcome, detail = judge(good_commit, candidate)
        done += 1
        click.echo(
            f"step {done}: {good_commit[:12]} vs {candidate[:12]}: {outcome} ({detail})",
            err=True,
        )
        return outcome, detail

    result = bisect.search(good_sha, commits, logged, verify=verify)
    for step in result.steps:
        click.echo(f"{step.good[:12]} vs {step.candidate[:12]}: {step.outcome}: {step.detail}")
    if result.first_bad is None:
        click.echo(f"no first bad commit: {result.reason}")
        return NOT_FOUND
    subject = output(checkout, "log", "-1", "--format=%s", result.first_bad) or ""
    click.echo(f"first bad commit: {result.first_bad} {subject}".rstrip())
    return EXIT_OK
