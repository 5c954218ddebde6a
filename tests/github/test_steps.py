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
from tests.github.conftest import REPO, TOKEN
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


def run_step(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """bash -e, as GitHub runs a `run:` block, with perfguard of this venv first on PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env={**os.environ, "PATH": path, **env},
        capture_output=True,
        text=True,
        timeout=120,
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


@pytest.mark.integration
def test_perf_comment_renders_from_the_raw_rounds_file_and_comments(
    github: GitHubDouble, tmp_path: Path
) -> None:
    runner_temp = tmp_path / "runner-temp"
    measured(runner_temp / "perf-report")
    (runner_temp / "perf-report/report.md").write_text(
        "@everyone <img src=x> forged by the fork", encoding="utf-8"
    )
    workflow = ROOT / ".github/workflows/perf-comment.yml"
    env = {
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": github.url,
        "PR_NUMBER": "7",
    }
    for name in ("Render the report", "Post or update"):
        done = run_step(step(workflow, name)["run"], env, tmp_path)
        assert done.returncode == 0, done.stderr
        assert TOKEN not in done.stdout + done.stderr
    [body] = github.bodies_with(REPO, 7, sticky_marker())
    assert "track\\_session\\_create\\_subscribe\\_close" in body
    assert "forged" not in body  # the artifact's own report.md is never posted


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
