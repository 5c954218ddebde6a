"""``perfguard bisect``: the search on its own, and a real bisect of a tiny asv project.

The search is checked with a judge that knows the answer (every position of the first bad
commit, with and without the verification run). The real one builds the commits with asv and
measures each step with ``perfguard run`` on the counted clock of test_run_integration's tiny
package (work units, not wall time), so a 30 % slowdown is measured exactly.
"""

from __future__ import annotations

import math
import os
import shlex
from pathlib import Path

import pytest

from perfguard import bisect
from perfguard.cli import cli
from perfguard.commands.bisect import runs_needed
from tests.helpers import readme
from tests.helpers.asvenvs import share_envs
from tests.perfguard.test_run_integration import PACKAGE, commit_scale, git, init_tiny


def known(first_bad: int, commits: list[str]) -> tuple[bisect.Judge, list[tuple[str, str]]]:
    """A judge for ``commits`` whose first bad one is at ``first_bad``; and its calls."""
    calls: list[tuple[str, str]] = []

    def judge(good: str, candidate: str) -> tuple[str, str]:
        calls.append((good, candidate))
        assert good == "g" or commits.index(good) < first_bad  # the base is a good commit
        return (bisect.BAD if commits.index(candidate) >= first_bad else bisect.GOOD), ""

    return judge, calls


@pytest.mark.parametrize("count", [1, 2, 3, 8, 13])
def test_every_position_is_found_in_about_log2_runs(count: int) -> None:
    commits = [f"c{i}" for i in range(count)]
    for first_bad in range(count):
        judge, calls = known(first_bad, commits)
        result = bisect.search("g", commits, judge)
        assert result.first_bad == commits[first_bad]
        assert len(calls) <= 1 + math.ceil(math.log2(count)) if count > 1 else len(calls) == 1
        assert calls[0] == ("g", commits[-1])  # the verification run comes first


@pytest.mark.parametrize(
    ("count", "verify", "most"), [(1, True, 1), (2, True, 2), (8, True, 4), (9, False, 4)]
)
def test_the_announced_number_of_runs_is_the_most_the_search_takes(
    count: int, verify: bool, most: int
) -> None:
    assert runs_needed(count, verify) == most
    commits = [f"c{i}" for i in range(count)]
    taken = []
    for first_bad in range(count):
        judge, calls = known(first_bad, commits)
        bisect.search("g", commits, judge, verify=verify)
        taken.append(len(calls))
    assert max(taken) == most


def test_a_range_that_does_not_reproduce_is_not_bisected() -> None:
    result = bisect.search("g", ["a", "b", "c"], lambda good, c: (bisect.GOOD, "unchanged"))
    assert result.first_bad is None and len(result.steps) == 1
    assert "does not reproduce" in result.reason


def test_an_undecided_step_stops_the_search_and_names_the_range() -> None:
    def judge(good: str, candidate: str) -> tuple[str, str]:
        return (bisect.BAD if candidate == "d" else bisect.UNDECIDED), ""

    result = bisect.search("g", ["a", "b", "c", "d"], judge)
    assert result.first_bad is None
    assert "inconclusive" in result.reason and "a ... d" in result.reason


def test_without_verification_the_search_starts_in_the_middle() -> None:
    judge, calls = known(2, ["a", "b", "c", "d"])
    result = bisect.search("g", ["a", "b", "c", "d"], judge, verify=False)
    assert result.first_bad == "c" and calls[0] == ("g", "b")


BENCHMARKS = """
import tiny


def time_parse():
    tiny.work(tiny.SCALE_B)


def time_other():
    tiny.work(tiny.SCALE_A)


time_parse.timer = tiny.clock
time_other.timer = tiny.clock
"""


@pytest.mark.integration
def test_the_readme_bisect_finds_the_commit_that_made_it_slower(
    tmp_path: Path,
    asv_envs: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The README's command, as written, in a project tagged v1.0 two commits before main."""
    repo = tmp_path / "tiny"
    repo.mkdir()
    good = init_tiny(repo, benchmarks=BENCHMARKS)
    git(repo, "tag", "v1.0")
    share_envs(repo, asv_envs)
    slower = commit_scale(repo, PACKAGE.replace("SCALE_B = 1.0", "SCALE_B = 1.3"), "slower parse")
    later = commit_scale(
        repo, PACKAGE.replace("SCALE_B = 1.0", "SCALE_B = 1.3") + "\n# docs\n", "unrelated"
    )
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(repo)
    monkeypatch.setenv(
        "PIP_CACHE_DIR", os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    )
    words = shlex.split(readme.command("perfguard bisect v1.0 main -b time_parse --quick"))
    code = cli.main(args=words[1:], prog_name="perfguard", standalone_mode=False)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"first bad commit: {slower} slower parse" in captured.out
    lines = [line for line in captured.out.splitlines() if " vs " in line]
    assert lines[0].startswith(f"{good[:12]} vs {later[:12]}: bad")  # verified first
    assert lines[1].startswith(f"{good[:12]} vs {slower[:12]}: bad")
    assert len(lines) == 2
    changes = [float(line.rsplit("+", 1)[1].rstrip(" %")) for line in lines]
    assert all(20 < change < 40 for change in changes)  # the 30 % step, as measured
    assert "time_other" not in captured.out  # -b selects the one benchmark
    # the checkout is left as it was: on main, no tracked file changed
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""
