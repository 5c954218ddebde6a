"""Regenerate tests/github/data/site-history: real asv results of a small suite with one
benchmark of every type (tests/github/data/site-suite) on a few commits of this repository.

The suite does not import the project: asv runs it in this interpreter (``--python=same``)
with ``--set-commit-hash``, once per commit, so the history has several commits for each
benchmark. ``NotMeasured`` is in the suite's benchmarks.json but left out of every run (``-b``),
as a benchmark added after a history was recorded is. Run from the repository root:

    .venv/bin/python tests/github/make_site_fixture.py COMMIT...
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
DATA = Path(__file__).resolve().parent / "data/site-history"
SUITE = Path(__file__).resolve().parent / "data/site-suite/benchmarks"
BENCH = r"bench_kinds\.(Kinds|Params)\."
MACHINE = "fixture-box"


def main(commits: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="site-history-") as tmp:
        work = Path(tmp)
        home = work / "home"
        home.mkdir()
        config = {
            "version": 1,
            "project": "perfguard",
            "project_url": "https://github.com/perfguard/perfguard",
            "repo": str(ROOT),
            "branches": ["main"],
            "benchmark_dir": str(SUITE),
            "results_dir": str(work / "results"),
            "html_dir": str(work / "html"),
            "env_dir": str(work / "env"),
            "environment_type": "virtualenv",
        }
        (work / "asv.conf.json").write_text(json.dumps(config), encoding="utf-8")
        env = {**os.environ, "HOME": str(home)}
        asv = [sys.executable, "-m", "asv"]
        machine = ["machine", "--yes", "--machine", MACHINE]
        subprocess.run([*asv, *machine], cwd=work, env=env, check=True, capture_output=True)
        for commit in commits:
            full = subprocess.run(
                ["git", "rev-parse", commit], cwd=ROOT, check=True, capture_output=True, text=True
            ).stdout.strip()
            run = ["run", "--python=same", "--machine", MACHINE, "--set-commit-hash", full]
            run += ["--quick", "--show-stderr", "-b", BENCH]
            subprocess.run([*asv, *run], cwd=work, env=env, check=True, timeout=600)
        shutil.rmtree(DATA, ignore_errors=True)
        shutil.copytree(work / "results", DATA)
    print(f"wrote {DATA.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
