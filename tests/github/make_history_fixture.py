"""Regenerate tests/github/data/asv-history: real asv results of this repository's own
benchmarks (bench_bus sessions and publish) on a few commits of its history.

Each commit's eventbus is checked out into a git worktree and put first on the path
(ASV_PYTHONPATH, as asv drops PYTHONPATH); asv runs the current benchmarks/ suite against it
in this interpreter (``--python=same``, ``--set-commit-hash``), which is how asv pairs one
suite with many commits. Run from the repository root:

    .venv/bin/python tests/github/make_history_fixture.py COMMIT...
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data/asv-history"
BENCH = r"bench_bus\.Sessions\.|bench_bus\.PublishThroughput\.track_publish_3_sync"
MACHINE = "fixture-box"


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()


def main(commits: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="asv-history-") as tmp:
        work = Path(tmp)
        home = work / "home"
        home.mkdir()
        config = {
            "version": 1,
            "project": "perfguard",
            "project_url": "https://github.com/perfguard/perfguard",
            "repo": str(ROOT),
            "branches": ["main"],
            "benchmark_dir": str(ROOT / "benchmarks"),
            "results_dir": str(work / "results"),
            "html_dir": str(work / "html"),
            "env_dir": str(work / "env"),
            "environment_type": "virtualenv",
        }
        (work / "asv.conf.json").write_text(json.dumps(config), encoding="utf-8")
        env = {**os.environ, "HOME": str(home)}
        subprocess.run(
            [sys.executable, "-m", "asv", "machine", "--yes", "--machine", MACHINE],
            cwd=work,
            env=env,
            check=True,
            capture_output=True,
        )
        for commit in commits:
            full = git("rev-parse", commit)
            tree = work / f"wt-{full[:8]}"
            git("worktree", "add", "--detach", str(tree), full)
            try:
                run_env = {**env, "ASV_PYTHONPATH": str(tree / "src")}  # asv drops PYTHONPATH
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "asv",
                        "run",
                        "--python=same",
                        "--machine",
                        MACHINE,
                        "--set-commit-hash",
                        full,
                        "--record-samples",
                        "--quick",
                        "--show-stderr",
                        "-b",
                        BENCH,
                    ],
                    cwd=work,
                    env=run_env,
                    check=True,
                    timeout=600,
                )
            finally:
                git("worktree", "remove", "--force", str(tree))
        shutil.rmtree(DATA, ignore_errors=True)
        shutil.copytree(work / "results", DATA)
    print(f"wrote {DATA.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
