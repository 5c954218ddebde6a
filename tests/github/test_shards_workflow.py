"""The sharded workflows, for real: three shards of a real suite measured by the steps that
measure them (the action's with ``shard: K/3``; perf.yml's measuring job), their report-dirs
laid out as actions/download-artifact lays them out, then merged, compared and gated by the
steps that do it (perf.yml's report job; the action's with ``merge:``), and the README's
sharded snippet and comment workflow taking the merged artifact to one comment.

Real asv, real git, real ``perfguard run --shard`` and ``perfguard merge``; the suite's work is
counted (tests/helpers/countedclock.py), so the verdicts are deterministic.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from perfguard.report import sticky_marker
from tests.github.conftest import REPO
from tests.github.double import GitHubDouble
from tests.github.test_steps import outputs, run_step, step
from tests.helpers import readme
from tests.helpers.asvenvs import share_envs
from tests.helpers.countedclock import counted_clock_source
from tests.perfguard.test_run_integration import git, init_tiny
from tests.readme.test_workflows import PR, comment_from_artifact, run_steps

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
PERF = ROOT / ".github/workflows/perf.yml"
NAMES = ("a", "b", "c", "d")
PACKAGE = "".join(f"SCALE_{n.upper()} = 1.0\n" for n in NAMES) + counted_clock_source(30000)
BENCHMARKS = "import tiny\n" + "".join(
    f"\n\ndef time_{n}():\n    tiny.work(tiny.SCALE_{n.upper()})\n\n\ntime_{n}.timer = tiny.clock\n"
    for n in NAMES
)
SLOWED = "bench_tiny.time_b"


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory, asv_envs: Path) -> dict[str, Any]:
    """A PR (time_b 30 % slower) measured in three shards by the action's measuring step, as
    three jobs would; what the report job downloads (one folder per shard artifact)."""
    root = tmp_path_factory.mktemp("sharded")
    repo = root / "repo"
    repo.mkdir()
    base = init_tiny(repo, benchmarks=BENCHMARKS, package=PACKAGE, gitignore=".asv/\n")
    share_envs(repo, asv_envs)
    git(repo, "checkout", "-q", "-b", "pr")
    (repo / "src/tiny/__init__.py").write_text(PACKAGE.replace("SCALE_B = 1.0", "SCALE_B = 1.3"))
    git(repo, "commit", "-q", "-am", "slower b")
    head = git(repo, "rev-parse", "HEAD")
    (root / "home").mkdir()
    env = {
        "HOME": str(root / "home"),
        "ACTION_PATH": str(ROOT),
        "BASE": "main",
        "HEAD": head,
        "ROUNDS": "5",
        "THRESHOLD": "",
        "CONFIG": "",
        "PERFGUARD_RUN_ARGS": "--pairs 4 -a warmup_time=0 --seed 11",
    }
    downloaded = root / "downloaded"
    for k in (1, 2, 3):
        job = root / f"job-{k}"
        job.mkdir()
        job_env = {
            **env,
            "SHARD": f"{k}/3",
            "RUNNER_TEMP": str(job / "runner-temp"),
            "GITHUB_OUTPUT": str(job / "output"),
        }
        measure = step(ACTION, "Benchmark base and head")["run"]
        measured = run_step(measure, job_env, repo, timeout=900)
        assert measured.returncode == 0, measured.stdout[-3000:] + measured.stderr[-3000:]
        report_dir = Path(outputs(job / "output")["report-dir"])
        # actions/upload-artifact, then download-artifact with `pattern:`: a folder per artifact
        shutil.copytree(report_dir, downloaded / f"perf-shard-{k}")
    return {"repo": repo, "base": base, "head": head, "downloaded": downloaded, "env": env}


def verdicts(report: Path) -> dict[str, str]:
    rows = json.loads(report.read_text(encoding="utf-8"))["rows"]
    return {row["benchmark"]: row["verdict"] for row in rows}


def check_merged(out: Path, shards: dict[str, Any]) -> None:
    found = verdicts(out / "report.json")
    assert set(found) == {f"bench_tiny.time_{n}" for n in NAMES}  # every shard's benchmarks
    assert found[SLOWED] == "regressed", found
    assert not {n: v for n, v in found.items() if n != SLOWED and v in {"regressed", "improved"}}
    assert (out / "base-sha").read_text().strip() == shards["base"]
    assert (out / "head-sha").read_text().strip() == shards["head"]
    # the shards' asv results, joined: one file per commit holding every benchmark
    files = [p for p in (out / "results").rglob("*.json") if p.name[:8] == shards["head"][:8]]
    [joined] = files
    assert set(json.loads(joined.read_text())["results"]) == set(found)


def test_perf_yml_report_job_merges_compares_and_gates(
    shards: dict[str, Any], tmp_path: Path
) -> None:
    repo = tmp_path / "checkout"
    shutil.copytree(shards["repo"], repo, symlinks=True)
    (repo / "scripts").symlink_to(ROOT / "scripts")
    shutil.copytree(shards["downloaded"], repo / "perf-shards")
    env = {
        "HOME": shards["env"]["HOME"],
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_REPOSITORY": "octo/app",  # set on every runner: --site-url auto reads it
        "PR_NUMBER": str(PR),
    }
    for name in ("Merge the shards", "compare", "Step summary", "Record the PR number"):
        done = run_step(step(PERF, name)["run"], env, repo)
        assert done.returncode == 0, (name, done.stdout[-3000:] + done.stderr[-3000:])
    check_merged(repo / "perf-out", shards)
    assert outputs(tmp_path / "output") == {"exit-code": "1"}
    assert "shard 1/3" in (repo / "perf-out/report.md").read_text(encoding="utf-8")
    gate = run_step(step(PERF, "Gate")["run"], {"EXIT_CODE": "1"}, repo)
    assert gate.returncode == 1


def test_the_actions_merge_and_the_readme_snippets_take_shards_to_one_comment(
    shards: dict[str, Any], github: GitHubDouble, tmp_path: Path
) -> None:
    snippet = readme.workflow("perf-sharded.yml")
    [download] = [s for s in snippet["jobs"]["report"]["steps"] if "download" in s.get("uses", "")]
    runner_temp = tmp_path / "runner-temp"
    shutil.copytree(shards["downloaded"], runner_temp / "perf-shards")
    assert download["with"]["path"] == "${{ runner.temp }}/perf-shards"
    output = tmp_path / "output"
    env = {
        **shards["env"],
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "MERGE": str(runner_temp / "perf-shards"),
        "SHARD": "",
        "FAIL_ON": "regression",
    }
    for name in ("Check the inputs", "Merge the shards", "compare"):
        done = run_step(step(ACTION, name)["run"], env, shards["repo"])
        assert done.returncode == 0, (name, done.stdout[-3000:] + done.stderr[-3000:])
    out = runner_temp / "perfguard"
    assert outputs(output) == {"report-dir": str(out), "exit-code": "1"}
    check_merged(out, shards)
    assert f"::error title=perfguard%3A regressed::{SLOWED}" in done.stdout

    # The snippet's own step, then perf-comment.yml on the downloaded perf-report artifact.
    [keep] = run_steps(snippet)
    kept = run_step(keep["run"], {"PR_NUMBER": str(PR), "REPORT_DIR": str(out)}, tmp_path)
    assert kept.returncode == 0, kept.stderr
    shutil.copytree(out, tmp_path / "comment-job/perf-report")
    github.add_pull(REPO, PR, shards["head"])
    posted = comment_from_artifact(github, tmp_path / "comment-job", tmp_path)
    assert posted.returncode == 0, posted.stdout + posted.stderr
    [body] = github.bodies_with(REPO, PR, sticky_marker())
    assert "time\\_b" in body and "shard 3/3" in body


def test_a_missing_shard_stops_the_merge_with_one_line(
    shards: dict[str, Any], tmp_path: Path
) -> None:
    """A shard job that failed uploads nothing: the report job must not judge two thirds."""
    partial = tmp_path / "perf-shards"
    for k in (1, 3):
        shutil.copytree(shards["downloaded"] / f"perf-shard-{k}", partial / f"perf-shard-{k}")
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    done = subprocess.run(
        [str(ROOT / "scripts/ci/merge-shards"), str(partial), str(tmp_path / "out")],
        capture_output=True, text=True, check=False, env={**os.environ, "PATH": path},
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "2/3" in done.stderr, done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert not (tmp_path / "out/rounds.json").exists()
