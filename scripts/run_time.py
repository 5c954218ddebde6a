#!/usr/bin/env python
"""How long does ``perfguard run`` take for N benchmarks? Build, round start, per combination.

Makes a throwaway asv project (a pure-Python package installed by copying it, so builds are
cheap) with N fast ``time_`` benchmarks (bodies of a few microseconds), commits a base and a
head that differ by a comment, and runs ``perfguard run`` on them with exactly ``--rounds``
rounds (no time limit) for every N of ``--sizes``. Each round's seconds and the seconds spent
in each benchmark come from the rounds file; the round start is what a round spent outside its
benchmarks. A least-squares line over all rounds gives the rule: round = start + N x cost.

    python scripts/run_time.py --sizes 1 10 30 --rounds 3

The figures are this machine's at this moment: the script prints the load average before and
after, since a busy shared machine doubles them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from perfguard import rounds
from trialkit import git

CONFIG = {
    "version": 1,
    "project": "fast",
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
        "'/fast'; shutil.rmtree(t, ignore_errors=True); shutil.copytree(sys.argv[1] + "
        "'/src/fast', t)\" {build_dir}"
    ],
    "uninstall_command": [
        "python -c \"import shutil, sysconfig; shutil.rmtree(sysconfig.get_paths()['purelib']"
        " + '/fast', ignore_errors=True)\""
    ],
}
PACKAGE = "def work(n):\n    return sum(i * i for i in range(n))\n"


def benchmarks(count: int) -> str:
    body = "import fast\n\n"
    for i in range(count):
        body += f"\ndef time_fast_{i:03d}():\n    fast.work({100 + i})\n"
    return body


def project(root: Path, count: int) -> tuple[str, str]:
    (root / "src" / "fast").mkdir(parents=True)
    (root / "benchmarks").mkdir()
    (root / "benchmarks" / "__init__.py").write_text("")
    (root / "benchmarks" / "bench_fast.py").write_text(benchmarks(count))
    (root / "asv.conf.json").write_text(json.dumps(CONFIG))
    (root / "src" / "fast" / "__init__.py").write_text(PACKAGE)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    base = git(root, "rev-parse", "HEAD")
    (root / "src" / "fast" / "__init__.py").write_text(PACKAGE + "# head\n")
    git(root, "commit", "-q", "-am", "head")
    return base, git(root, "rev-parse", "HEAD")


def measure(work: Path, count: int, rounds_wanted: int) -> dict[str, float]:
    root = work / f"n{count}"
    root.mkdir()
    base, head = project(root, count)
    out = root / "run.rounds.json"
    env = {**os.environ, "HOME": str(work / "home")}
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "perfguard", "run", base, head, "--machine", "runtime",
         "--min-rounds", str(rounds_wanted), "--max-rounds", str(rounds_wanted),
         "--time-limit", "none", "--fail-on", "never", "--output", str(out)],
        cwd=root, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.monotonic() - began
    if done.returncode != 0:
        raise SystemExit(f"perfguard run failed for N={count}:\n{done.stderr}")
    data = rounds.read(out)
    spent = [r.seconds for r in data.rounds]
    inside = sum(data.seconds.values()) / len(spent) if data.seconds else float("nan")
    return {
        "n": count,
        "wall": wall,
        "build": wall - sum(spent),
        "round": statistics.median(spent),
        "start": statistics.median(spent) - inside,
        "expected": float(data.settings.get("estimate_round_seconds", float("nan"))),
        "rounds": spent,  # type: ignore[dict-item]
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 30])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"load average before: {os.getloadavg()}", file=sys.stderr)
    rows = []
    with tempfile.TemporaryDirectory(prefix="perfguard-run-time-") as tmp:
        for count in args.sizes:
            row = measure(Path(tmp), count, args.rounds)
            rows.append(row)
            print(
                f"N={count}: wall {row['wall']:.1f}s, build+discovery {row['build']:.1f}s, round"
                f" {row['round']:.2f}s (median; outside benchmarks {row['start']:.2f}s),"
                f" estimated before round 1 {row['expected']:.2f}s",
                file=sys.stderr,
            )
    points = [(row["n"], seconds) for row in rows for seconds in row["rounds"]]  # type: ignore[attr-defined]
    slope, intercept = statistics.linear_regression(*zip(*points, strict=True))
    print(f"load average after: {os.getloadavg()}", file=sys.stderr)
    print("| benchmarks | build and discovery | round (median) | outside the benchmarks |")
    print("|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['n']} | {row['build']:.1f} s | {row['round']:.2f} s | {row['start']:.2f} s |"
        )
    print(
        f"\nround = {intercept:.2f} s + N x {slope:.3f} s (least squares over {len(points)} rounds)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
