"""pages.yml's alerts job, its steps run as the runner runs them: the change points of a real
results history kept on a ``perf-history`` branch (git order from the checkout), then one issue
per open regression on the local GitHub double, linked to the repository's Pages site.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.github.conftest import TOKEN
from tests.github.double import BOT, GitHubDouble
from tests.github.test_steps import run_step, step
from tests.perfguard.test_changepoints import COMMITS, DROP_AT, STEP_AT, git, write_history

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / ".github/workflows/pages.yml"


def history_checkout(tmp_path: Path) -> tuple[Path, list[str]]:
    """main with COMMITS commits; origin/perf-history holding results/ of each (machine box)."""
    repo = tmp_path / "checkout"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    shas = []
    for i in range(COMMITS):
        git(repo, "commit", "-q", "--allow-empty", "-m", f"c{i}")
        shas.append(git(repo, "rev-parse", "HEAD"))
    git(repo, "checkout", "-q", "--orphan", "perf-history")
    git(repo, "rm", "-rq", "--cached", ".", "--ignore-unmatch")
    write_history(repo / "results", shas)
    git(repo, "add", "results")
    git(repo, "commit", "-q", "-m", "history")
    git(repo, "checkout", "-q", "main")
    git(repo, "remote", "add", "origin", str(repo))
    git(repo, "fetch", "-q", "origin")
    (repo / "scripts").symlink_to(ROOT / "scripts")
    (repo / ".venv").symlink_to(Path(sys.executable).parent.parent)
    return repo, shas


def test_the_alerts_job_opens_one_issue_per_open_regression(
    tmp_path: Path, github: GitHubDouble
) -> None:
    repo, shas = history_checkout(tmp_path)
    env = {
        "HISTORY_BRANCH": "perf-history",
        "ASV_MACHINE": "box",
        "GITHUB_REPOSITORY": "octo/app",
        "GITHUB_API_URL": github.url,
        "GITHUB_TOKEN": TOKEN,
        "PERFGUARD": ".venv/bin/perfguard",
    }
    for name in ("Change points of the history", "One issue per open regression"):
        done = run_step(step(PAGES, name)["run"], env, repo)
        assert done.returncode == 0, (name, done.stdout[-2000:] + done.stderr[-2000:])
    issues = {i["title"].split(": ")[1].split()[0]: i for i in github.issues("octo/app")}
    # the +20 % step and the throughput drop; the 25 % speed-up is an improvement: no issue
    assert set(issues) == {"s.time_step", "s.track_rate"}
    step_issue = issues["s.time_step"]
    assert step_issue["user"]["login"] == BOT
    assert f"| first bad commit | `{shas[STEP_AT]}` |" in step_issue["body"]
    assert f"| first bad commit | `{shas[DROP_AT]}` |" in issues["s.track_rate"]["body"]
    assert "(https://octo.github.io/app/#s.time_step)" in step_issue["body"]
    assert (repo / "changes.json").is_file()

    again = run_step(step(PAGES, "One issue per open regression")["run"], env, repo)
    assert again.returncode == 0 and "already up to date" in again.stdout
    assert len(github.issues("octo/app")) == 2


def test_history_changes_without_the_branch_is_one_line_and_exit_2(tmp_path: Path) -> None:
    repo, _ = history_checkout(tmp_path)
    done = run_step("scripts/ci/history-changes origin/no-such-branch box out.json", {}, repo)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: no history branch origin/no-such-branch (fetch it first)"
    usage = run_step("scripts/ci/history-changes", {}, repo)
    assert usage.returncode == 2 and "Usage: scripts/ci/history-changes" in usage.stderr
