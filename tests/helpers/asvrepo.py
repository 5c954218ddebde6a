"""Real asv projects in temporary git repositories, for integration tests.

A project is a git repo with ``asv.conf.json`` and a ``benchmarks/`` package. Benchmarks read
their workload from ``benchmarks/_workload.py`` so that a commit can change the work without
changing the benchmark's source (which would change asv's version hash and make base and head
incomparable). asv runs with ``--python=same`` in this interpreter, with ``HOME`` pointed into
the temporary directory so the user's ``~/.asv-machine.json`` is never touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MACHINE = "testbox"


@dataclass(frozen=True)
class AsvProject:
    root: Path
    home: Path

    @property
    def results_dir(self) -> Path:
        return self.root / "results"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_", "ASV"))}
        env["HOME"] = str(self.home)
        env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = "perfguard tests"
        env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = "tests@perfguard.invalid"
        return env

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args],
            cwd=self.root,
            env=self.env(),
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    def commit(self, files: dict[str, str], message: str) -> str:
        """Write ``files`` (relative path -> text), commit them, return the full hash."""
        for rel, text in files.items():
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def asv_run(self, commit: str, *extra: str, timeout: float = 180) -> None:
        """Check out ``commit`` and benchmark it in this interpreter, recording samples."""
        self.git("checkout", "-q", commit)
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
                commit,
                "--record-samples",
                "--show-stderr",
                *extra,
            ],
            cwd=self.root,
            env=self.env(),
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def asv_project(tmp_path: Path, benchmarks: str, workload: str) -> AsvProject:
    """A new asv project with one commit holding ``benchmarks`` and ``workload``."""
    root = tmp_path / "project"
    home = tmp_path / "home"
    root.mkdir()
    home.mkdir()
    project = AsvProject(root, home)
    project.git("init", "-q", "-b", "main")
    config = {
        "version": 1,
        "project": "tiny",
        "project_url": "https://example.invalid/tiny",
        "repo": ".",
        "branches": ["main"],
        "environment_type": "virtualenv",
        "benchmark_dir": "benchmarks",
        "results_dir": "results",
        "html_dir": "html",
        "env_dir": "env",
    }
    project.commit(
        {
            "asv.conf.json": json.dumps(config, indent=2),
            ".gitignore": "results/\nhtml/\nenv/\n",
            "benchmarks/__init__.py": "",
            "benchmarks/_workload.py": workload,
            "benchmarks/bench.py": benchmarks,
        },
        "initial",
    )
    subprocess.run(
        [sys.executable, "-m", "asv", "machine", "--yes", "--machine", MACHINE],
        cwd=root,
        env=project.env(),
        check=True,
        capture_output=True,
        text=True,
    )
    return project
