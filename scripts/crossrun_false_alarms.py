#!/usr/bin/env python
"""How often does ``perfguard compare`` flag untouched code on asv's own same-job results?

Each trial is a real A/A comparison: a small asv suite in a temporary git repository, two
commits that differ only in a README line (the benchmarks' code and work are identical), and
``asv run --record-samples`` of base and then head in this job, the way the README's quick
start and ``asv continuous`` measure. perfguard then compares the two result files; every
benchmark it calls regressed or improved is a false alarm.

    python scripts/crossrun_false_alarms.py --trials 20 --keep /tmp/aa-trials
    python scripts/crossrun_false_alarms.py --evaluate /tmp/aa-trials   # re-judge kept trials
    python scripts/crossrun_false_alarms.py --evaluate /tmp/aa-trials --without-samples
    python scripts/crossrun_false_alarms.py --trials 10 --slow 1.3   # A/B: is a slowdown seen?
    python scripts/crossrun_false_alarms.py --neighbours DIR   # neighbouring results in DIR

``--evaluate`` judges trials kept by an earlier run with the perfguard that is installed now,
so a change to the estimate can be measured on the very same results before and after.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from perfguard.compare import compare
from perfguard.models import Comparison, ResultSet, Verdict
from perfguard.policy import Policy
from perfguard.results import load_result_set

MACHINE = "aa-box"
SLOWED = "bench.time_sort"
"""The benchmark ``--slow`` slows down (all others stay untouched)."""
SUITE = '''
"""Eight small pure-Python workloads; nothing here changes between base and head."""


def _fib(n):
    return n if n < 2 else _fib(n - 1) + _fib(n - 2)


def time_fib():
    _fib(16)


def time_sort():
    from benchmarks import _workload  # the work, outside the benchmark's code (its version)

    sorted(range(_workload.SORT_N, 0, -1))


def time_dict_build():
    {i: str(i) for i in range(5000)}


def time_str_join():
    "-".join(str(i) for i in range(5000))


def time_list_comprehension():
    [i * i for i in range(20000)]


def time_set_ops():
    a = set(range(0, 10000, 2))
    b = set(range(0, 10000, 3))
    a & b, a | b, a - b


class Parsing:
    params = [10, 1000]
    param_names = ["n"]

    def setup(self, n):
        self.text = ",".join(str(i) for i in range(n))

    def time_split(self, n):
        self.text.split(",")
'''


def git(root: Path, *args: str) -> str:
    env = dict(os.environ)
    env.update(
        GIT_AUTHOR_NAME="aa",
        GIT_AUTHOR_EMAIL="aa@example.invalid",
        GIT_COMMITTER_NAME="aa",
        GIT_COMMITTER_EMAIL="aa@example.invalid",
    )
    done = subprocess.run(
        ["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def make_project(root: Path, slow: float = 1.0) -> tuple[str, str]:
    """The suite in a new git repository with two commits that leave the benchmarks alone
    (``slow`` != 1: head makes ``time_sort``'s work that many times larger)."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    config = {
        "version": 1,
        "project": "aa",
        "project_url": "https://example.invalid/aa",
        "repo": ".",
        "branches": ["main"],
        "environment_type": "virtualenv",
        "benchmark_dir": "benchmarks",
        "results_dir": "results",
        "html_dir": "html",
        "env_dir": "env",
    }
    (root / "asv.conf.json").write_text(json.dumps(config, indent=2))
    (root / ".gitignore").write_text("results/\nhtml/\nenv/\n")
    (root / "benchmarks").mkdir()
    (root / "benchmarks" / "__init__.py").write_text("")
    (root / "benchmarks" / "bench.py").write_text(SUITE)
    (root / "benchmarks" / "_workload.py").write_text("SORT_N = 20000\n")
    (root / "README").write_text("base\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    base = git(root, "rev-parse", "HEAD")
    (root / "README").write_text("head: the benchmarks are untouched\n")
    (root / "benchmarks" / "_workload.py").write_text(f"SORT_N = {int(20000 * slow)}\n")
    git(root, "commit", "-q", "-am", "head")
    return base, git(root, "rev-parse", "HEAD")


def asv(root: Path, home: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASV")}
    env["HOME"] = str(home)
    subprocess.run(
        [sys.executable, "-m", "asv", *args],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )


def run_trials(trials: int, keep: Path, slow: float = 1.0) -> None:
    """Measure ``trials`` A/A pairs; keep each trial's results directory in ``keep``."""
    with tempfile.TemporaryDirectory(prefix="perfguard-aa-") as tmp:
        root, home = Path(tmp) / "project", Path(tmp) / "home"
        home.mkdir()
        base, head = make_project(root, slow)
        asv(root, home, "machine", "--yes", "--machine", MACHINE)
        for trial in range(trials):
            started = time.monotonic()
            shutil.rmtree(root / "results", ignore_errors=True)
            for commit in (base, head):
                asv(
                    root,
                    home,
                    "run",
                    "--python=same",
                    "--machine",
                    MACHINE,
                    "--set-commit-hash",
                    commit,
                    "--record-samples",
                )
            target = keep / f"trial-{trial:03d}"
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(root / "results", target)
            slowed = SLOWED if slow != 1.0 else None
            (target / "commits.json").write_text(
                json.dumps({"base": base, "head": head, "slowed": slowed, "slow": slow})
            )
            print(
                f"trial {trial + 1}/{trials} measured in {time.monotonic() - started:.0f} s",
                file=sys.stderr,
            )


def evaluate(keep: Path, *, samples: bool = True) -> int:
    """Judge every kept trial with the installed perfguard; print the false-alarm figures.

    ``samples=False`` drops the raw samples first: what asv's plain ``asv run`` leaves (its
    stored 99 % interval of the median)."""
    trials = sorted(p for p in keep.iterdir() if (p / "commits.json").is_file())
    if not trials:
        print(f"no trials in {keep}", file=sys.stderr)
        return 2
    flagged_trials = compared = shifted = slowed_trials = caught = 0
    verdicts: Counter[str] = Counter()
    methods: Counter[str] = Counter()
    for folder in trials:
        commits = json.loads((folder / "commits.json").read_text())
        sides = [_load(folder, commits[side]) for side in ("base", "head")]
        if not samples:
            sides = [
                replace(r, measurements=tuple(replace(m, samples=None) for m in r.measurements))
                for r in sides
            ]
        comparison = _compare(sides[0], sides[1])
        slowed = commits.get("slowed")
        if slowed is not None:
            slowed_trials += 1
            caught += any(
                r.benchmark == slowed and r.verdict is Verdict.REGRESSED for r in comparison.rows
            )
        alarms = [
            r
            for r in comparison.rows
            if r.verdict in (Verdict.REGRESSED, Verdict.IMPROVED) and r.benchmark != slowed
        ]
        flagged_trials += bool(alarms)
        for row in comparison.rows:
            if row.benchmark == slowed:
                continue
            verdicts[row.verdict.value] += 1
            if row.estimate is not None:
                compared += 1
                methods[row.estimate.method] += 1
        if getattr(comparison, "shift", None) is not None:
            shifted += 1
        shown = ", ".join(f"{r.label} {r.change * 100:+.1f}%" for r in alarms if r.change)
        print(f"{folder.name}: {len(alarms)} flagged{': ' + shown if shown else ''}")
    alarms_total = verdicts["regressed"] + verdicts["improved"]
    print(
        f"\n{len(trials)} trials, {compared} untouched benchmark comparisons: {alarms_total}"
        f" flagged ({alarms_total / max(compared, 1) * 100:.1f} %), trials with any flag"
        f" {flagged_trials}/{len(trials)} ({flagged_trials / len(trials) * 100:.0f} %)"
    )
    print(f"suite shift seen in {shifted} of {len(trials)} trials")
    print("verdicts: " + ", ".join(f"{v} {n}" for v, n in sorted(verdicts.items())))
    print("methods: " + ", ".join(f"{m} {n}" for m, n in sorted(methods.items())))
    if slowed_trials:
        print(
            f"the slowed benchmark ({SLOWED}) regressed in {caught} of {slowed_trials} trials"
            " (the figures above leave it out)"
        )
    return 0


def neighbours(results_dir: Path, step: float, per_pair: int = 8) -> int:
    """Judge every neighbouring pair (by asv's commit date) of one machine's results: separate
    runs on different days (e.g. GitHub's runners), where most of what moves is not the code.

    Then, in every pair, ``per_pair`` time benchmarks in turn get a known slowdown ``step``
    inserted into head (value, samples, interval, quartiles scaled): the share of them
    regressed is what the rule can still see.
    """
    from perfguard.history import scaled

    files = sorted(p for p in results_dir.glob("*/*.json") if p.name != "machine.json")
    loaded = sorted((load_result_set(str(p)) for p in files), key=lambda r: r.date or 0)
    flagged = compared = shifted = stepped = caught = 0
    for base, head in itertools.pairwise(loaded):
        comparison = _compare(base, head)
        shifted += getattr(comparison, "shift", None) is not None
        for row in comparison.rows:
            if row.estimate is not None:
                compared += 1
                flagged += row.verdict in (Verdict.REGRESSED, Verdict.IMPROVED)
        judged = [r for r in comparison.rows if r.estimate is not None and r.kind.value == "time"]
        for row in judged[:: max(1, len(judged) // per_pair)][:per_pair]:
            key = (row.benchmark, row.params)
            slower = replace(
                head,
                measurements=tuple(
                    scaled(m, step) if m.key == key else m for m in head.measurements
                ),
            )
            again = _compare(base, slower)
            verdict = next(r.verdict for r in again.rows if (r.benchmark, r.params) == key)
            stepped += 1
            caught += verdict is Verdict.REGRESSED
    pairs = len(loaded) - 1
    print(
        f"{pairs} neighbouring pairs, {compared} benchmark comparisons: {flagged} flagged"
        f" ({flagged / max(compared, 1) * 100:.1f} %); suite shift seen in {shifted} pairs"
        f" ({shifted / max(pairs, 1) * 100:.0f} %); a {step - 1:+.0%} step inserted into"
        f" {stepped} benchmarks: {caught} regressed ({caught / max(stepped, 1) * 100:.1f} %)"
    )
    return 0


def _compare(base: ResultSet, head: ResultSet) -> Comparison:
    """What ``perfguard compare base.json head.json`` decides (a cross-run comparison); the
    perfguard of before issue 10 had no ``cross_run``."""
    try:
        return compare(base, head, Policy(), cross_run=True)
    except TypeError:
        return compare(base, head, Policy())


def _load(folder: Path, commit: str) -> ResultSet:
    (path,) = (folder / MACHINE).glob(f"{commit[:8]}-*.json")
    return load_result_set(str(path))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument(
        "--slow",
        type=float,
        default=1.0,
        help=f"A/B instead of A/A: head makes {SLOWED} this many times slower (e.g. 1.3)",
    )
    parser.add_argument("--keep", type=Path, help="keep every trial's asv results here")
    parser.add_argument("--evaluate", type=Path, help="only judge the trials kept in this folder")
    parser.add_argument(
        "--without-samples",
        action="store_true",
        help="with --evaluate: judge on asv's stored intervals, as if samples were not recorded",
    )
    parser.add_argument(
        "--step", type=float, default=1.5, help="with --neighbours: the slowdown inserted"
    )
    parser.add_argument(
        "--neighbours",
        type=Path,
        help="instead, judge neighbouring results of an asv results directory (one machine)",
    )
    args = parser.parse_args()
    if args.neighbours is not None:
        return neighbours(args.neighbours, args.step)
    if args.evaluate is not None:
        return evaluate(args.evaluate, samples=not args.without_samples)
    keep = args.keep or Path(tempfile.mkdtemp(prefix="perfguard-aa-trials-"))
    run_trials(args.trials, keep, args.slow)
    print(f"trials kept in {keep}", file=sys.stderr)
    return evaluate(keep)


if __name__ == "__main__":
    raise SystemExit(main())
