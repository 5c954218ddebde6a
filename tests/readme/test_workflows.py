"""The README's copy-paste workflows, run: every ``run:`` step of the snippets as the runner
runs it (bash, the step's env), against a measured artifact and the local GitHub double.

Not run here: ``uses:`` steps (checkout, setup-python, artifacts: GitHub's own actions; the
artifact is the directory the steps share), the composite action itself (its steps are run by
tests/acceptance on real projects, which also pass their real artifact through these snippets)
and perf-comment's ``pip install "git+https://github.com/..."`` (GitHub is not reachable here;
the test uses this checkout's perfguard, first on PATH).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from perfguard.report import sticky_marker
from tests.github.conftest import REPO, TOKEN
from tests.github.double import GitHubDouble
from tests.github.test_steps import ROUNDS, run_step
from tests.helpers import readme

PR = 17


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for job in workflow["jobs"].values() for s in job["steps"]]


def run_steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in steps(workflow) if "run" in s]


def artifact(directory: Path, rounds: Path = ROUNDS) -> Path:
    """What the action's report-dir holds after scripts/ci/measure: the rounds file, asv's
        results, base-sha and head-sha (here: a real rounds file of this repository), and what its
    compare step adds, the policy it decided with (policy.toml)."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(rounds, directory / "rounds.json")
    data = json.loads(rounds.read_text(encoding="utf-8"))
    (directory / "base-sha").write_text(data["base"]["commit"] + "\n", encoding="utf-8")
    (directory / "head-sha").write_text(data["head"]["commit"] + "\n", encoding="utf-8")
    (directory / "results").mkdir(exist_ok=True)
    # the action's compare step: the policy it decided with joins the report-dir
    done = subprocess.run(
        [str(Path(sys.executable).with_name("perfguard")), "compare",
         str(directory / "rounds.json"), "--fail-on", "never",
         "--policy-file", str(directory / "policy.toml")],
        cwd=directory, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return directory


def keep_pr_number(report_dir: Path, cwd: Path) -> None:
    """perf.yml's own step after the action: the PR number joins the artifact."""
    [keep] = run_steps(readme.workflow("perf.yml"))
    done = run_step(keep["run"], {"PR_NUMBER": str(PR), "REPORT_DIR": str(report_dir)}, cwd)
    assert done.returncode == 0, done.stderr
    assert (report_dir / "pr-number").read_text(encoding="utf-8") == f"{PR}\n"


def comment_from_artifact(
    github: GitHubDouble,
    runner_temp: Path,
    cwd: Path,
    run_head_sha: str | None = None,
    run_head_repo: str = REPO,
) -> Any:
    """perf-comment.yml's check-render-comment step on the downloaded artifact."""
    workflow = readme.workflow("perf-comment.yml")
    install, check = run_steps(workflow)
    assert "pip install" in install["run"]
    sha = (runner_temp / "perf-report/head-sha").read_text(encoding="utf-8").strip()
    env = {
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": github.url,
        "GITHUB_TOKEN": TOKEN,
        "RUN_HEAD_SHA": run_head_sha or sha,
        "RUN_HEAD_REPO": run_head_repo,
        "RUN_HEAD_BRANCH": "feature",  # the double's pulls are headed by feature of REPO
    }
    assert set(check["env"]) <= set(env)
    done = run_step(check["run"], env, cwd)
    assert TOKEN not in done.stdout + done.stderr
    return done


def test_the_perf_snippet_uses_the_action_and_uploads_its_report_dir() -> None:
    by_id = {
        s.get("id", s.get("name", s.get("uses"))): s for s in steps(readme.workflow("perf.yml"))
    }
    assert by_id["perfguard"]["uses"] == "OWNER/perfguard@SHA"
    [keep] = run_steps(readme.workflow("perf.yml"))
    assert keep["env"]["REPORT_DIR"] == "${{ steps.perfguard.outputs.report-dir }}"
    [upload] = [s for s in by_id.values() if "upload-artifact" in s.get("uses", "")]
    assert upload["with"]["path"] == "${{ steps.perfguard.outputs.report-dir }}"


@pytest.mark.integration
def test_the_two_snippets_take_a_measured_artifact_to_one_comment(
    github: GitHubDouble, tmp_path: Path
) -> None:
    runner_temp = tmp_path / "runner-temp"
    report_dir = artifact(runner_temp / "perf-report")
    (report_dir / "report.md").write_text("@everyone forged by the fork", encoding="utf-8")
    keep_pr_number(report_dir, tmp_path)
    sha = (report_dir / "head-sha").read_text(encoding="utf-8").strip()
    github.add_pull(REPO, PR, sha)

    done = comment_from_artifact(github, runner_temp, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    [body] = github.bodies_with(REPO, PR, sticky_marker())
    assert "track\\_session\\_create\\_subscribe\\_close" in body  # from the rounds file
    assert "forged" not in body

    again = comment_from_artifact(github, runner_temp, tmp_path)  # a re-run edits, never adds
    assert again.returncode == 0, again.stderr
    assert len(github.comments(REPO, PR)) == 1


@pytest.mark.integration
def test_perf_comment_posts_nothing_when_the_pr_moved_on_or_the_artifact_lies(
    github: GitHubDouble, tmp_path: Path
) -> None:
    runner_temp = tmp_path / "runner-temp"
    report_dir = artifact(runner_temp / "perf-report")
    keep_pr_number(report_dir, tmp_path)
    github.add_pull(REPO, PR, "f" * 40)  # a newer push: the newer run comments

    moved = comment_from_artifact(github, runner_temp, tmp_path)
    assert moved.returncode == 0, moved.stderr
    assert "PR moved on" in moved.stdout
    lied = comment_from_artifact(github, runner_temp, tmp_path, run_head_sha="e" * 40)
    assert lied.returncode == 2
    (report_dir / "pr-number").write_text("7; rm -rf /\n", encoding="utf-8")
    assert comment_from_artifact(github, runner_temp, tmp_path).returncode == 2
    assert github.comments(REPO, PR) == []


@pytest.mark.integration
def test_perf_comment_posts_nothing_for_a_pr_of_another_head_than_the_runs(
    github: GitHubDouble, tmp_path: Path
) -> None:
    """A fork pushed PR #17's own commit and names #17 in its artifact: the sha matches, the
    head repository (the fork's run) or branch does not, so nothing is posted."""
    runner_temp = tmp_path / "runner-temp"
    report_dir = artifact(runner_temp / "perf-report")
    keep_pr_number(report_dir, tmp_path)
    sha = (report_dir / "head-sha").read_text(encoding="utf-8").strip()
    github.add_pull(REPO, PR, sha)
    fork = comment_from_artifact(github, runner_temp, tmp_path, run_head_repo="mallory/app")
    assert fork.returncode == 2, fork.stdout + fork.stderr
    github.add_pull(REPO, PR, sha, head_ref="other")
    branch = comment_from_artifact(github, runner_temp, tmp_path)
    assert branch.returncode == 2, branch.stdout + branch.stderr
    assert github.comments(REPO, PR) == []
    github.add_pull(REPO, PR, sha, head_repo="Octo/App")  # names are case-insensitive
    assert comment_from_artifact(github, runner_temp, tmp_path).returncode == 0
    assert len(github.comments(REPO, PR)) == 1


def test_the_sharded_snippet_measures_the_matrix_shards_and_merges_them_all() -> None:
    """The shards are the matrix list; each job's K/N comes from it; every shard's artifact
    matches the report job's download pattern, whose folder the action merges; the merged
    report-dir is uploaded as the `perf-report` the comment workflow reads."""
    sharded = readme.workflow("perf-sharded.yml")
    assert sharded["name"] == readme.workflow("perf.yml")["name"] == "perf"  # perf-comment's
    measure, report = sharded["jobs"]["measure"], sharded["jobs"]["report"]
    assert report["needs"] == "measure"
    assert measure["permissions"] == report["permissions"] == {"contents": "read"}
    shards = measure["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, len(shards) + 1))
    by_uses = {s.get("id", s.get("uses", "").partition("@")[0]): s for s in measure["steps"]}
    assert by_uses["perfguard"]["with"]["shard"] == "${{ matrix.shard }}/${{ strategy.job-total }}"
    assert by_uses["actions/checkout"]["with"]["fetch-depth"] == 0
    upload = by_uses["actions/upload-artifact"]["with"]
    assert upload == {
        "name": "perf-shard-${{ matrix.shard }}",
        "path": "${{ steps.perfguard.outputs.report-dir }}",
    }
    steps_ = {
        s.get("id", s.get("name", s.get("uses", "").partition("@")[0])): s for s in report["steps"]
    }
    download = steps_["actions/download-artifact"]["with"]
    assert download["pattern"] == "perf-shard-*"
    assert steps_["perfguard"]["with"]["merge"] == download["path"]
    assert "shard" not in steps_["perfguard"]["with"]
    upload = steps_["actions/upload-artifact"]
    assert upload["with"]["name"] == "perf-report" and upload["if"] == "${{ !cancelled() }}"
    [keep] = run_steps(sharded)
    assert keep == run_steps(readme.workflow("perf.yml"))[0]  # the same PR-number step
