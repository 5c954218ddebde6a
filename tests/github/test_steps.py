"""The shell of the workflow and action steps, run here as the runner would run it (bash with
the step's env), on real asv results: the thin YAML is exercised, not only linted."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from perfguard.report import sticky_marker
from tests.github.conftest import HEAD_SHA, REPO, TOKEN
from tests.github.double import GitHubDouble
from tests.github.scripted import measure_repo

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = Path(__file__).resolve().parent / "data/perf-rounds/session-slowdown.rounds.json"


def step(path: Path, name: str) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    steps = (
        data["runs"]["steps"]
        if "runs" in data
        else [s for job in data["jobs"].values() for s in job["steps"]]
    )
    return next(s for s in steps if s.get("id") == name or s.get("name", "").startswith(name))


def run_step(
    script: str, env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """bash -e, as GitHub runs a `run:` block, with perfguard of this venv first on PATH.

    ``timeout`` only bounds a hung step: a step that builds asv environments gets minutes,
    since this shared 2-core machine can be loaded many times over."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env={**os.environ, "PATH": path, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def measured(directory: Path) -> Path:
    """What scripts/ci/measure leaves: rounds.json, a real rounds file of this repository's
    session benchmarks with a deliberate slowdown (tests/github/make_rounds_fixture.py)."""
    directory.mkdir(parents=True)
    shutil.copy(ROUNDS, directory / "rounds.json")
    return directory


@pytest.mark.integration
def test_action_compare_step_reports_and_sets_outputs(tmp_path: Path) -> None:
    runner_temp = tmp_path / "runner-temp"
    measured(runner_temp / "perfguard")
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    compare = step(ROOT / "action.yml", "compare")
    env = {
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "THRESHOLD": "5%",
        "CONFIG": "",
        "FAIL_ON": "regression",
    }
    done = run_step(compare["run"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert output.read_text(encoding="utf-8").splitlines() == [
        "exit-code=1",
        f"report-dir={runner_temp / 'perfguard'}",
    ]
    assert "track\\_session\\_create\\_subscribe\\_close" in summary.read_text(encoding="utf-8")
    assert "::error title=perfguard%3A regressed::bench_bus.Sessions." in done.stdout

    gate = step(ROOT / "action.yml", "Gate")["run"]
    assert [run_step(gate, {"EXIT_CODE": c}, tmp_path).returncode for c in "012"] == [0, 1, 2]


def decided_by_the_pr(report_dir: Path, pyproject: str, cwd: Path) -> int:
    """perf.yml's Compare step, under the PR's own configuration: the gate's exit code; its
    report.json (and report.md) join the artifact."""
    (cwd / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    (report_dir.parent / "perf-out").symlink_to(report_dir)
    output = cwd / "compare-output"
    done = run_step(
        step(ROOT / ".github/workflows/perf.yml", "compare")["run"],
        {"GITHUB_OUTPUT": str(output), "GITHUB_REPOSITORY": REPO},
        report_dir.parent,
    )
    assert done.returncode == 0, done.stderr
    return int(outputs(output)["exit-code"])


@pytest.mark.integration
@pytest.mark.parametrize(
    ("pyproject", "gate", "state"),
    [
        ("", 1, "failure"),
        ('[tool.perfguard]\nfail-on = "never"\n', 0, "success"),
        ('[[tool.perfguard.rules]]\nmatch = "bench_bus.Sessions.*"\nignore = true\n', 0, "success"),
    ],
    ids=["default-rules", "pr-warns-only", "pr-ignores-the-benchmarks"],
)
def test_perf_comment_renders_from_the_raw_rounds_file_and_comments(
    github: GitHubDouble, tmp_path: Path, pyproject: str, gate: int, state: str
) -> None:
    runner_temp = tmp_path / "runner-temp"
    measured(runner_temp / "perf-report")
    assert decided_by_the_pr(runner_temp / "perf-report", pyproject, runner_temp) == gate
    decided = (runner_temp / "perf-report/report.md").read_text(encoding="utf-8")
    forged = {"schema_version": 1, "fail_on": "never", "rows": []}  # "all fine", says the fork
    (runner_temp / "perf-report/report.json").write_text(json.dumps(forged), encoding="utf-8")
    (runner_temp / "perf-report/report.md").write_text(
        "@everyone <img src=x> forged by the fork", encoding="utf-8"
    )
    workflow = ROOT / ".github/workflows/perf-comment.yml"
    env = {
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": github.url,
        "GITHUB_SERVER_URL": "https://github.com",
        "PR_NUMBER": "7",
        "PERF_RUN_ID": "4242",
        "RUN_HEAD_SHA": HEAD_SHA,
    }
    for name in ("Render the report", "Post or update"):
        done = run_step(step(workflow, name)["run"], env, tmp_path)
        assert done.returncode == 0, done.stderr
        assert TOKEN not in done.stdout + done.stderr
    [body] = github.bodies_with(REPO, 7, sticky_marker())
    assert "track\\_session\\_create\\_subscribe\\_close" in body
    assert "forged" not in body  # the artifact's own report.md is never posted
    # rendered again, under the policy the PR's gate used: the comment is the gate's report
    assert body.rstrip("\n") == decided.rstrip("\n")
    # each regression links to its graph on the repository's Pages site, with a picture
    pages = "https://octo.github.io/app/#bench_bus.Sessions.track_session_create_close"
    regressed = "ignore = true" not in pyproject
    assert (f"]({pages})" in body) == regressed
    assert ("\nxychart-beta\n" in body) == regressed
    [status] = github.state.statuses  # what the PR's gate decided, linked to the perf run
    assert (status["sha"], status["context"], status["state"]) == (HEAD_SHA, "perfguard", state)
    assert status["target_url"] == f"https://github.com/{REPO}/actions/runs/4242"


@pytest.mark.parametrize(
    "policy",
    ['threshold = "@everyone <img src=x>"\n', "fail-on = 1\n", "[[rules]]\nmatch = 3\n", "[x"],
    ids=["threshold", "fail-on", "rule", "not-toml"],
)
def test_a_forged_policy_in_the_artifact_is_exit_2_and_nothing_is_posted(
    github: GitHubDouble, tmp_path: Path, policy: str
) -> None:
    """policy.toml comes from the PR's run: data, validated like any perfguard.toml."""
    runner_temp = tmp_path / "runner-temp"
    measured(runner_temp / "perf-report")
    (runner_temp / "perf-report/policy.toml").write_text(policy, encoding="utf-8")
    render = step(ROOT / ".github/workflows/perf-comment.yml", "Render the report")["run"]
    done = run_step(render, {"RUNNER_TEMP": str(runner_temp)}, tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and "policy.toml" in line, line
    assert not (runner_temp / "report.md").exists()
    assert github.comments(REPO, 7) == []


def test_the_artifacts_site_url_does_not_choose_where_the_comment_links(tmp_path: Path) -> None:
    """A PR's policy.toml may name a site-url; perf-comment links to the repository's own
    Pages site (--site-url auto wins over the configuration)."""
    runner_temp = tmp_path / "runner-temp"
    measured(runner_temp / "perf-report")
    (runner_temp / "perf-report/policy.toml").write_text(
        'site-url = "https://evil.example/"\n', encoding="utf-8"
    )
    render = step(ROOT / ".github/workflows/perf-comment.yml", "Render the report")["run"]
    done = run_step(render, {"RUNNER_TEMP": str(runner_temp), "GITHUB_REPOSITORY": REPO}, tmp_path)
    assert done.returncode == 0, done.stderr
    body = (runner_temp / "report.md").read_text(encoding="utf-8")
    assert "evil.example" not in body
    assert "](https://octo.github.io/app/#bench_bus.Sessions.track_session_create_close)" in body


def test_action_measure_step_passes_threshold_and_config_to_perfguard_run(tmp_path: Path) -> None:
    repo, base, head, env = measure_repo(tmp_path)
    measure = step(ROOT / "action.yml", "Benchmark base and head")
    step_env = {
        **env,
        "ACTION_PATH": str(ROOT),
        "RUNNER_TEMP": str(tmp_path / "runner-temp"),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "BASE": "main",
        "HEAD": head,
        "ROUNDS": "7",
        "THRESHOLD": "3%",
        "CONFIG": "perfguard.toml",
    }
    done = run_step(measure["run"], step_env, repo)
    assert done.returncode == 0, done.stderr
    [call] = [
        json.loads(line) for line in (repo / "perfguard-calls.jsonl").read_text().splitlines()
    ]
    assert call[:3] == ["run", base, head]
    assert call[-8:] == [
        "--min-rounds", "5", "--max-rounds", "7",
        "--threshold", "3%", "--perfguard-config", "perfguard.toml",
    ]  # fmt: skip
    assert (tmp_path / "runner-temp/perfguard/rounds.json").is_file()


def outputs(path: Path) -> dict[str, str]:
    """Single-line $GITHUB_OUTPUT entries (name=value)."""
    return dict(line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines())


def test_perf_measure_job_keys_the_cache_and_measures_its_shard(tmp_path: Path) -> None:
    """perf.yml's measuring job: the cache step's outputs, then its shard (from the job's env,
    as the matrix sets it) reaches perfguard run."""
    repo, base, head, env = measure_repo(tmp_path)
    workflow = ROOT / ".github/workflows/perf.yml"
    job_env = {
        **env,
        "BASE_REF": "main",
        "HEAD_SHA": head,
        "PERFGUARD_SHARD": "2/3",
        "GITHUB_OUTPUT": str(tmp_path / "output"),
    }
    (repo / "scripts").symlink_to(ROOT / "scripts")  # the checkout has them
    keyed = run_step(step(workflow, "asv-cache")["run"], job_env, repo)
    assert keyed.returncode == 0, keyed.stderr
    # the shard's own entry; restored first from any entry of the same merge base
    key = next(line for line in keyed.stdout.splitlines() if line.startswith("key="))
    assert key.startswith("key=perfguard-asv-") and key.endswith(f"-{base}-shard-2-of-3")
    assert keyed.stdout.count(base) == 2
    done = run_step(step(workflow, "Benchmark merge base and head")["run"], job_env, repo)
    assert done.returncode == 0, done.stderr
    [call] = [
        json.loads(line) for line in (repo / "perfguard-calls.jsonl").read_text().splitlines()
    ]
    assert call[:3] == ["run", base, head] and call[-2:] == ["--shard", "2/3"]
    assert (repo / "perf-shard/rounds.json").is_file()  # what the job uploads


def test_action_measures_a_shard_and_says_where(tmp_path: Path) -> None:
    repo, base, head, env = measure_repo(tmp_path)
    output = tmp_path / "output"
    step_env = {
        **env,
        "ACTION_PATH": str(ROOT),
        "RUNNER_TEMP": str(tmp_path / "runner-temp"),
        "GITHUB_OUTPUT": str(output),
        "BASE": "main",
        "HEAD": head,
        "ROUNDS": "4",
        "THRESHOLD": "",
        "CONFIG": "",
        "SHARD": "3/3",
    }
    done = run_step(step(ROOT / "action.yml", "Benchmark base and head")["run"], step_env, repo)
    assert done.returncode == 0, done.stderr
    [call] = [
        json.loads(line) for line in (repo / "perfguard-calls.jsonl").read_text().splitlines()
    ]
    assert call[:3] == ["run", base, head] and call[-2:] == ["--shard", "3/3"]
    assert outputs(output) == {"report-dir": str(tmp_path / "runner-temp/perfguard")}
    assert (tmp_path / "runner-temp/perfguard/head-sha").read_text().strip() == head


def test_action_refuses_shard_and_merge_together(tmp_path: Path) -> None:
    check = step(ROOT / "action.yml", "Check the inputs")["run"]
    both = run_step(check, {"SHARD": "1/2", "MERGE": "shards"}, tmp_path)
    assert both.returncode == 2
    assert both.stderr.startswith("error: shard and merge exclude each other")
    for alone in (
        {"SHARD": "1/2", "MERGE": ""},
        {"SHARD": "", "MERGE": "x"},
        {"SHARD": "", "MERGE": ""},
    ):
        assert run_step(check, alone, tmp_path).returncode == 0


def test_action_steps_after_measuring_are_skipped_for_a_shard() -> None:
    """A shard job measures and stops: compare, comment and gate belong to the merging job."""
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    conditions = {s["name"]: s.get("if", "") for s in action["runs"]["steps"]}
    for name in ("Compare", "Sticky PR comment", "Gate"):
        [condition] = [c for n, c in conditions.items() if n.startswith(name)]
        assert "inputs.shard == ''" in condition, name
    for name, condition in conditions.items():
        if name.startswith(("Where asv", "Keep asv", "Benchmark")):
            assert "inputs.merge == ''" in condition, name
    assert "inputs.merge != ''" in conditions["Merge the shards"]


def test_action_compare_step_passes_the_site_url(tmp_path: Path) -> None:
    runner_temp = tmp_path / "runner-temp"
    measured(runner_temp / "perfguard")
    compare = step(ROOT / "action.yml", "Compare")["run"]
    env = {
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_REPOSITORY": REPO,
        "FAIL_ON": "regression",
        "THRESHOLD": "",
        "CONFIG": "",
    }
    pages = "](https://octo.github.io/app/#bench_bus.Sessions.track_session_create_close)"
    for site_url, linked in (("auto", True), ("", False)):
        done = run_step(compare, {**env, "SITE_URL": site_url}, tmp_path)
        assert done.returncode == 0, done.stderr
        report = (runner_temp / "perfguard/report.md").read_text(encoding="utf-8")
        assert (pages in report) == linked
    assert "\nxychart-beta\n" in (tmp_path / "summary.md").read_text(encoding="utf-8")
