"""A rule or budget whose ``match`` hits nothing warns once, on stderr, for ``perfguard run``.

``perfguard run`` re-decides after every round; the warning must still be said once, at the
end, and never become part of the report. A real ``perfguard run --quick`` (asv builds both
commits, paired workers measure them) on a one-benchmark project.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from perfguard.cli import cli
from tests.helpers.asvenvs import share_envs

pytestmark = pytest.mark.integration

CONFIG = {
    "version": 1,
    "project": "tiny",
    "repo": ".",
    "branches": ["main"],
    "environment_type": "virtualenv",
    "benchmark_dir": "benchmarks",
    "env_dir": ".asv/env",
    "results_dir": ".asv/results",
    "html_dir": ".asv/html",
    "build_command": [],
    "install_command": [],
    "uninstall_command": [],
}
PYPROJECT = """\
[tool.perfguard]
threshold = "5%"

[[tool.perfguard.rules]]
match = "bench_tiny.*"
threshold = "10%"

[[tool.perfguard.rules]]
match = "bench_tnyi.*"   # a typo
ignore = true

[[tool.perfguard.budgets]]
match = "bench_tiny.time_gone"
max = "1ms"
"""
BENCHMARKS = """
def time_sum():
    sum(range(2000))
"""
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        [*GIT, "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_unmatched_rules_and_budgets_warn_once_on_stderr(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    asv_envs: Path,
) -> None:
    repo = tmp_path / "tiny"
    (repo / "benchmarks").mkdir(parents=True)
    (repo / "benchmarks" / "__init__.py").write_text("")
    (repo / "benchmarks" / "bench_tiny.py").write_text(BENCHMARKS)
    (repo / "asv.conf.json").write_text(json.dumps(CONFIG))
    (repo / "pyproject.toml").write_text(PYPROJECT)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    base = git(repo, "rev-parse", "HEAD")
    share_envs(repo, asv_envs)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(repo)
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.setenv(
        "PIP_CACHE_DIR", os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    )
    args = ["run", base, base, "--quick", "--machine", "tester", "--format", "json"]
    code = cli.main(args=args, prog_name="perfguard", standalone_mode=False)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rule = "warning: rule match 'bench_tnyi.*' matched no benchmark"
    budget = "warning: budget match 'bench_tiny.time_gone' matched no benchmark on head"
    lines = captured.err.splitlines()
    assert sum(line.startswith(rule) for line in lines) == 1, captured.err
    assert sum(line.startswith(budget) for line in lines) == 1, captured.err
    assert not any("bench_tiny.*" in line for line in lines)  # that rule matched
    report = json.loads(captured.out)
    assert not any("matched no benchmark" in w for w in report["warnings"])
