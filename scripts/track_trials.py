#!/usr/bin/env python
"""track_ benchmarks under load: A/A false alarms and a true 10 % throughput drop, N trials each.

The detector fixture (scripts/detector_fixture) has ``track_rate``: calls of its workload per
second (unit ``calls/s``, so perfguard's policy reads it as higher-is-better). A scratch git
repository holds base, an A/A head (a comment change) and a ``drop`` head whose work per call is
67/60 of base's, so its rate is 10.4 % lower. Each trial runs ``perfguard run -b track_rate`` with
its defaults on both pairs, in an order drawn at random, while the script keeps ONE BUSY PROCESS
of its own spinning on the CPUs (a loaded 2-core machine; ``--busy 0`` for none), and appends one
JSON line per run to --out with the verdict, wall time and rounds.

    scripts/track_trials.py --trials 20 --out /tmp/track.jsonl          # this checkout's perfguard
    scripts/track_trials.py --trials 20 --variant before=/tmp/old/src --variant after=src
    scripts/track_trials.py --summarize /tmp/track.jsonl

``--variant LABEL=SRC`` runs the perfguard whose ``src/`` is SRC (on PYTHONPATH: a frozen copy,
e.g. ``git archive`` of main before a change); with several, every trial runs each variant on
each pair, all in one random order, so before and after see the same load.

The summary gives, per variant (label) and pair, the share
flagged regressed (at ``aa`` any regressed or improved is a false alarm), inconclusive, and the
mean wall time. Every run's rounds file is kept under WORK/rounds/.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from trialkit import BIN, git, paired_run

FIXTURE = Path(__file__).resolve().parent / "detector_fixture"
BENCHMARK = "bench_work.track_rate"
DROP_SCALE = "1.12"
"""round(60 * 1.12) = 67 units of work per call instead of 60: the rate falls to 60/67 (-10.4 %)."""
BUSY = "while True:\n    pass\n"


def make_repo(work: Path) -> tuple[Path, str, dict[str, str]]:
    """Base on main, and the ``aa`` and ``drop`` heads off it."""
    repo = work / "repo"
    if repo.exists():
        shutil.rmtree(repo)
    shutil.copytree(FIXTURE, repo, ignore=shutil.ignore_patterns(".asv", "__pycache__"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    base = git(repo, "rev-parse", "HEAD")
    module = repo / "src" / "workload" / "__init__.py"
    original = module.read_text()
    heads = {}
    for pair, text in (
        ("aa", original + "\n# an A/A head: a comment changes, nothing else\n"),
        ("drop", original.replace("SCALE = 1.00", f"SCALE = {DROP_SCALE}")),
    ):
        assert text != original
        git(repo, "checkout", "-q", "-B", pair, base)
        module.write_text(text)
        git(repo, "commit", "-q", "-am", pair)
        heads[pair] = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "main")
    return repo, base, heads


def tool_env(work: Path, src: str) -> dict[str, str]:
    env = dict(os.environ)
    env["HOME"] = str(work / "home")
    env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["NO_COLOR"] = "1"
    if src:  # a frozen copy of perfguard's src/, e.g. main before a change
        env["PYTHONPATH"] = str(Path(src).resolve())
    return env


def run_perfguard(
    repo: Path, base: str, head: str, env: dict[str, str], seed: int, keep: Path
) -> dict[str, Any]:
    options = ["-b", "track_rate", "--seed", str(seed)]
    report, seconds = paired_run(repo, base, head, options, env, keep)
    row = next(r for r in report["rows"] if r["benchmark"] == BENCHMARK)
    data = json.loads(keep.read_text())
    series = next(s for s in data["series"] if s["benchmark"] == BENCHMARK)
    d = [x for x in series["d"] if x is not None]
    return {
        "seconds": round(seconds, 2),
        "verdict": row["verdict"],
        "change": row["change"],
        "rounds": len(data.get("rounds", [])),
        "d_spread": round(statistics.stdev(d), 4) if len(d) > 1 else None,
    }


def measure(args: argparse.Namespace) -> None:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    (work / "home").mkdir(exist_ok=True)
    repo, base, heads = make_repo(work)
    variants = dict(v.split("=", 1) for v in args.variant) if args.variant else {"run": ""}
    envs = {label: tool_env(work, src) for label, src in variants.items()}
    env = next(iter(envs.values()))
    subprocess.run(
        [str(BIN / "asv"), "machine", "--yes", "--machine", "track"],
        cwd=repo,
        env=env,
        capture_output=True,
        check=True,
    )
    print("warm-up: building the commits (untimed)", file=sys.stderr, flush=True)
    for variant_env in envs.values():
        for pair in args.pairs:
            run_perfguard(repo, base, heads[pair], variant_env, 0, work / "warm-up.rounds.json")
    busy = [
        subprocess.Popen([sys.executable, "-c", BUSY], stdout=subprocess.DEVNULL)
        for _ in range(args.busy)
    ]
    print(
        f"load: {args.busy} busy process(es) of this script spin on the CPUs "
        f"(pids {[p.pid for p in busy]}) while the trials run",
        file=sys.stderr,
        flush=True,
    )
    rng = random.Random(args.seed)
    out = Path(args.out)
    try:
        for trial in range(args.trials):
            jobs = [(label, pair) for label in envs for pair in args.pairs]
            rng.shuffle(jobs)
            for label, pair in jobs:
                load = os.getloadavg()[0]
                result = run_perfguard(
                    repo,
                    base,
                    heads[pair],
                    envs[label],
                    rng.randrange(2**31),
                    work / "rounds" / f"{label}-trial{trial:03d}-{pair}.rounds.json",
                )
                record = {
                    "label": label,
                    "trial": trial,
                    "pair": pair,
                    "busy": args.busy,
                    "load_before": round(load, 2),
                    **result,
                }
                with out.open("a", encoding="utf-8") as stream:
                    stream.write(json.dumps(record) + "\n")
                print(json.dumps(record), flush=True)
    finally:
        for process in busy:
            process.kill()
            process.wait()


def summarize(path: Path) -> str:
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        groups[(record["label"], record["pair"])].append(record)
    lines = [
        "| label | pair | trials | flagged regressed | improved | inconclusive | unchanged "
        "| wall time per run | rounds | spread of d (median) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (label, pair), group in sorted(groups.items()):
        n = len(group)

        def share(verdict: str, group: list[dict[str, Any]] = group) -> str:
            count = sum(r["verdict"] == verdict for r in group)
            return f"{count}/{len(group)} ({100 * count / len(group):.0f} %)"

        spreads = [r["d_spread"] for r in group if r["d_spread"] is not None]
        spread = f"{100 * statistics.median(spreads):.1f} %" if spreads else "-"
        lines.append(
            f"| {label} | {pair} | {n} | {share('regressed')} | {share('improved')} "
            f"| {share('inconclusive')} | {share('unchanged')} "
            f"| {statistics.mean(r['seconds'] for r in group):.1f} s "
            f"| {statistics.mean(r['rounds'] for r in group):.1f} | {spread} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--pairs", nargs="+", choices=["aa", "drop"], default=["aa", "drop"])
    parser.add_argument("--busy", type=int, default=1, help="busy processes to start (load)")
    parser.add_argument(
        "--variant",
        action="append",
        metavar="LABEL=SRC",
        help="a perfguard src/ to run, under LABEL (repeatable; default: this environment's)",
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--work", default="/tmp/perfguard-track")
    parser.add_argument("--out", default="/tmp/perfguard-track/trials.jsonl")
    parser.add_argument("--summarize", metavar="JSONL", help="print the table of a trials file")
    args = parser.parse_args()
    if args.summarize:
        print(summarize(Path(args.summarize)))
        return
    measure(args)
    print(summarize(Path(args.out)))


if __name__ == "__main__":
    main()
