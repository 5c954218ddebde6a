#!/usr/bin/env python
"""Wall time of one ``perfguard run`` against three shards of the same suite, one after another.

A scratch git repository holds a small wall-clock suite (scripts/shard_fixture: nine benchmarks,
eleven rows, bodies of about 0.1-5 ms, one with ``setup``, one parameterized); head makes
``time_parse`` 30 % slower. After a warm-up run that builds both commits (not counted), it times

1. one run of the whole suite (``--output single.rounds.json``),
2. three shards balanced by the count of parameter combinations (no costs known),
3. three shards balanced by the single run's seconds per benchmark (``--shard-costs``),

each shard after the other on this machine, merges each set with ``perfguard merge`` and prints
the merged report of set 3 and a summary: per run the wall time, per set the sum (one runner)
and the largest shard (what a matrix of three runners would take, plus each job's checkout and
build), and whether the merged verdicts equal the single run's.

    scripts/shard_walltime.py                 # about 3 minutes on a 2-core VM
    scripts/shard_walltime.py --repeat 3      # three interleaved trials, medians
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from trialkit import BIN, git

FIXTURE = Path(__file__).resolve().parent / "shard_fixture"


def make_repo(work: Path) -> Path:
    """main: the fixture; branch feature: ``time_parse`` 30 % slower (its work scaled)."""
    repo = work / "repo"
    if repo.exists():
        shutil.rmtree(repo)
    shutil.copytree(FIXTURE, repo, ignore=shutil.ignore_patterns(".asv", "__pycache__"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "checkout", "-q", "-b", "feature")
    init = repo / "src" / "shardwork" / "__init__.py"
    init.write_text(init.read_text().replace("PARSE_SCALE = 1.0", "PARSE_SCALE = 1.3"))
    git(repo, "commit", "-q", "-am", "parse 30 % slower")
    return repo


def perfguard(repo: Path, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "120"}
    began = time.monotonic()
    done = subprocess.run(
        [str(BIN / "perfguard"), *args], cwd=repo, env=env, capture_output=True, text=True
    )
    seconds = time.monotonic() - began
    if done.returncode not in (0, 1):
        sys.exit(f"perfguard {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    print(f"{seconds:7.1f} s  perfguard {' '.join(args)}", flush=True)
    return seconds, done


def verdicts(repo: Path, rounds_file: str) -> dict[str, str]:
    _, done = perfguard(repo, "compare", rounds_file, "--format", "json")
    return {row["label"]: row["verdict"] for row in json.loads(done.stdout)["rows"]}


def rounds_seconds(path: Path) -> float:
    """Seconds of a rounds file's rounds (its build and discovery not counted)."""
    return sum(r["seconds"] for r in json.loads(path.read_text())["rounds"])


def differences(expected: dict[str, str], got: dict[str, str]) -> str:
    changed = [f"{k}: {expected[k]} -> {got.get(k)}" for k in expected if got.get(k) != expected[k]]
    return "; ".join(changed) or "none"


def shard_set(repo: Path, name: str, seed: int, *extra: str) -> list[float]:
    times = []
    for k in (1, 2, 3):
        seconds, _ = perfguard(
            repo, "run", "main", "HEAD", "--shard", f"{k}/3", "--seed", str(seed + k),
            "--output", f"{name}-{k}.rounds.json", *extra,
        )  # fmt: skip
        times.append(seconds)
    files = [f"{name}-{k}.rounds.json" for k in (1, 2, 3)]
    perfguard(repo, "merge", *files, "--output", f"{name}.rounds.json")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/perfguard-shard-walltime"))
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument(
        "--repeat", type=int, default=1, help="trials, interleaved (medians are reported)"
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    repo = make_repo(args.work)
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} ({os.cpu_count()} cores: above that, timings are crowded)")
    build, _ = perfguard(repo, "run", "main", "HEAD", "--quick", "--output", "warmup.rounds.json")
    trials: dict[str, list[float]] = {"single": [], "count": [], "cost": []}
    largest: dict[str, list[float]] = {"count": [], "cost": []}
    for trial in range(args.repeat):
        seed = args.seed + 10 * trial
        single, _ = perfguard(
            repo, "run", "main", "HEAD", "--seed", str(seed), "--output", "single.rounds.json"
        )
        trials["single"].append(single)
        expected = verdicts(repo, "single.rounds.json")
        for name, extra in (("count", ()), ("cost", ("--shard-costs", "single.rounds.json"))):
            times = shard_set(repo, name, seed, *extra)
            trials[name].append(sum(times))
            largest[name].append(max(times))
            spent = " + ".join(
                f"{rounds_seconds(repo / f'{name}-{k}.rounds.json'):.1f}" for k in (1, 2, 3)
            )
            merged = verdicts(repo, f"{name}.rounds.json")
            print(
                f"trial {trial + 1}, shards by {name}: {' + '.join(f'{t:.1f}' for t in times)} s"
                f" (rounds {spent} s) against one run's {single:.1f} s; verdicts that differ"
                f" from the single run's: {differences(expected, merged)}"
            )
    _, table = perfguard(repo, "compare", "cost.rounds.json", "--no-color")
    print("\nmerged report of the last trial (shards balanced by the single run's seconds):\n")
    print(table.stdout)
    print(f"load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} now")
    print(f"warm-up (builds both commits, --quick): {build:.1f} s (not counted below)")
    one = statistics.median(trials["single"])
    print(f"one run of the whole suite: median {one:.1f} s over {args.repeat} trial(s)")
    for name in ("count", "cost"):
        total, top = statistics.median(trials[name]), statistics.median(largest[name])
        print(
            f"3 shards by {name}: median {total:.1f} s one after the other ({total / one:.2f}x);"
            f" largest shard median {top:.1f} s ({top / one:.2f}x: what a matrix of 3 runners"
            " takes, plus each job's checkout and build)"
        )


if __name__ == "__main__":
    main()
