#!/usr/bin/env python
"""Fresh processes per benchmark vs one worker per round forking per benchmark: cost and noise.

Makes a throwaway asv project whose package sleeps ``--import-seconds`` (1 s) at import, as a
library importing numpy, scipy and pandas takes seconds, with four benchmarks: two with a
``setup`` of ``--setup-seconds`` (50 ms) and bodies of about 5 us and 200 us, one without
setup, and a ``track_`` rate (calls per second of a 100 us loop). Then it runs A/A
``perfguard run HEAD HEAD`` (identical code on both sides: every d is noise) with exactly
``--rounds`` rounds, alternately with two perfguard source trees:

- ``--old-src``: perfguard before the fork design (two fresh worker processes per benchmark and
  round, asv_runner's ``number = 1`` and ``setup`` before every sample for a benchmark with
  setup, one ``track_`` value per process), e.g. ``git archive fdf5125 src | tar -x -C /tmp/old``;
- ``--new-src``: this checkout's (one worker per side and round, a child forked per benchmark
  after the import, ``setup`` once per child, ``track_`` in pairs).

For each design and benchmark it prints the per-round spread of d (the standard deviation over
rounds of the per-round ln(head / base), pooled over the runs) and the mean seconds per round.

    git archive fdf5125 src | tar -x -C /tmp/pg-old
    python scripts/round_design.py --old-src /tmp/pg-old/src --runs 3 --rounds 8

The figures are this machine's at this moment: the script prints the load average around them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from perfguard import rounds
from trialkit import git

CONFIG = {
    "version": 1,
    "project": "slowimport",
    "repo": ".",
    "branches": ["main"],
    "environment_type": "virtualenv",
    "benchmark_dir": "benchmarks",
    "env_dir": ".asv/env",
    "results_dir": ".asv/results",
    "html_dir": ".asv/html",
    "build_command": [],
    "install_command": [
        "python -c \"import shutil, sys, sysconfig; t = sysconfig.get_paths()['purelib'] + "
        "'/slowimport'; shutil.rmtree(t, ignore_errors=True); shutil.copytree(sys.argv[1] + "
        "'/src/slowimport', t)\" {build_dir}"
    ],
    "uninstall_command": [
        "python -c \"import shutil, sysconfig; shutil.rmtree(sysconfig.get_paths()['purelib']"
        " + '/slowimport', ignore_errors=True)\""
    ],
}
PACKAGE = """
import time

time.sleep({import_seconds})  # a heavy import (numpy, scipy, pandas) stands in for it


def work(n):
    total = 0
    for i in range(n):
        total += i % 7
    return total
"""
BENCHMARKS = """
import time

import slowimport


class Small:
    def setup(self):
        time.sleep({setup_seconds})
        self.n = 100

    def time_small(self):
        slowimport.work(self.n)


class Medium:
    def setup(self):
        time.sleep({setup_seconds})
        self.n = 4000

    def time_medium(self):
        slowimport.work(self.n)


def time_plain():
    slowimport.work(1000)


def track_rate():
    started = time.perf_counter()
    slowimport.work(2000)
    return 1.0 / (time.perf_counter() - started)


track_rate.unit = "calls/s"
"""


def make_project(root: Path, import_seconds: float, setup_seconds: float) -> Path:
    repo = root / "repo"
    (repo / "src" / "slowimport").mkdir(parents=True)
    (repo / "benchmarks").mkdir()
    (repo / "benchmarks" / "__init__.py").write_text("")
    (repo / "benchmarks" / "bench_design.py").write_text(
        BENCHMARKS.format(setup_seconds=setup_seconds)
    )
    (repo / "src" / "slowimport" / "__init__.py").write_text(
        PACKAGE.format(import_seconds=import_seconds)
    )
    (repo / "asv.conf.json").write_text(json.dumps(CONFIG))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "suite")
    return repo


def run(src: Path, repo: Path, out: Path, rounds_count: int, seed: int) -> rounds.RoundsFile:
    env = {**os.environ, "PYTHONPATH": str(src), "HOME": str(repo.parent)}
    subprocess.run(
        [
            sys.executable, "-m", "perfguard", "run", "HEAD", "HEAD",
            "--asv-config", str(repo / "asv.conf.json"),
            "--min-rounds", str(rounds_count), "--max-rounds", str(rounds_count),
            "--time-limit", "none", "--seed", str(seed), "--machine", "design",
            "--output", str(out), "--format", "json", "--fail-on", "never",
        ],
        cwd=repo, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return rounds.read(out)


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old-src", type=Path, required=True)
    parser.add_argument("--new-src", type=Path, default=Path(__file__).parents[1] / "src")
    parser.add_argument("--runs", type=int, default=3, help="A/A runs per design")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--import-seconds", type=float, default=1.0)
    parser.add_argument("--setup-seconds", type=float, default=0.05)
    args = parser.parse_args()
    designs = {"fresh processes (old)": args.old_src, "fork per benchmark (new)": args.new_src}
    d: dict[str, dict[str, list[list[float]]]] = {name: {} for name in designs}
    seconds: dict[str, list[float]] = {name: [] for name in designs}
    print(f"load average before: {load()}")
    with tempfile.TemporaryDirectory(prefix="round-design-") as tmp:
        repo = make_project(Path(tmp), args.import_seconds, args.setup_seconds)
        for trial in range(args.runs):
            for name, src in designs.items():  # interleaved: both see the same machine
                out = Path(tmp) / f"{trial}-{len(seconds[name])}.rounds.json"
                data = run(src.resolve(), repo, out, args.rounds, seed=1000 + trial)
                seconds[name].extend(r.seconds for r in data.rounds[1:])  # round 1 warms caches
                for series in data.series:
                    d[name].setdefault(series.benchmark, []).append(series.log_ratios())
                print(f"  run {trial + 1} {name}: {statistics.mean(seconds[name]):.1f} s/round")
    print(f"load average after: {load()}")
    print(f"\n{args.runs} A/A runs x {args.rounds} rounds per design; per-round spread of d:")
    benchmarks = sorted({b for per in d.values() for b in per})
    print(f"{'benchmark':34} " + " ".join(f"{name:>26}" for name in designs))
    for bench in benchmarks:
        cells = []
        for name in designs:
            runs = d[name].get(bench, [])
            # pooled within-run variance: a run's mean is not noise of a round
            pooled = [(x - statistics.mean(r)) ** 2 for r in runs if len(r) > 1 for x in r]
            dof = sum(len(r) - 1 for r in runs if len(r) > 1)
            cells.append(f"{100 * math.sqrt(sum(pooled) / dof):25.2f}%" if dof else "n/a")
        print(f"{bench:34} " + " ".join(f"{c:>26}" for c in cells))
    print(
        f"{'seconds per round (mean)':34} "
        + " ".join(f"{statistics.mean(seconds[name]):25.2f}s" for name in designs)
    )


if __name__ == "__main__":
    main()
