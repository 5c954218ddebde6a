#!/usr/bin/env python
"""Detector quality, side by side: ``perfguard run`` against ``asv continuous --factor 1.05``.

A small fixture suite (scripts/detector_fixture) is committed into a scratch git repository
once as base and once per level as head, with its work scaled by 0 %, 2 %, 5 %, 7 % and 10 %
(the 0 % head changes a comment only: an A/A pair of different commits). Each trial runs both
tools on the same commit pair; trials interleave levels and tools in a random order so that
the machine's changing load falls on all of them alike. Every trial is appended to a JSON-lines
file as it finishes, so a long measurement can be summarised while it runs.

    scripts/detector_quality.py --trials 30 --out /tmp/detector.jsonl   # measure (long)
    scripts/detector_quality.py --summarize /tmp/detector.jsonl          # print the table

Every perfguard trial's rounds file is kept under WORK/rounds/ for offline analysis of the
noise. Per benchmark and level it prints how often each tool flagged the change (a false alarm at
0 %: flagged either way; a detection otherwise: flagged as slower), how often perfguard said
inconclusive, and the mean wall time per trial.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import time
from collections import defaultdict
from pathlib import Path

from trialkit import BIN, git

FIXTURE = Path(__file__).resolve().parent / "detector_fixture"
LEVELS = (0, 2, 5, 7, 10)
BENCHMARKS = (
    "bench_work.time_arithmetic",
    "bench_work.time_arithmetic_cpu",
)
# asv continuous prints a row per significant change: "| + | before | after | ratio | name |"
ASV_ROW = re.compile(r"^\|\s*([+\-x!])\s*\|.*\|\s*(\S+)\s*\|\s*$")


def make_repo(work: Path) -> tuple[str, dict[int, str]]:
    """The scratch repository: base on main, one head commit per level (off base)."""
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
    for level in LEVELS:
        git(repo, "checkout", "-q", "-B", f"level-{level}", base)
        text = original.replace("SCALE = 1.00", f"SCALE = {1 + level / 100:.2f}")
        module.write_text(text + f"\n# head for a {level} % change\n")
        git(repo, "commit", "-q", "-am", f"scale work by {level} %")
        heads[level] = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "main")
    return base, heads


def tool_env(work: Path) -> dict[str, str]:
    """Both tools see the same private asv machine file and no pip version check."""
    env = dict(os.environ)
    env["HOME"] = str(work / "home")
    env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["NO_COLOR"] = "1"
    snapshot = os.environ.get("DETECTOR_PERFGUARD_SRC")
    if snapshot:  # a frozen copy of perfguard, so edits during a long run do not leak in
        env["PYTHONPATH"] = snapshot
    return env


def run_perfguard(
    repo: Path, base: str, head: str, env: dict[str, str], seed: int, max_rounds: int, keep: Path
) -> dict[str, str]:
    report = repo.parent / "perfguard-report.json"
    subprocess.run(
        [
            str(BIN / "perfguard"),
            "run",
            base,
            head,
            "--asv-config",
            str(repo / "asv.conf.json"),
            "--seed",
            str(seed),
            "--min-rounds",
            str(min(5, max_rounds)),
            "--max-rounds",
            str(max_rounds),
            "--output",
            str(keep),
            "--fail-on",
            "never",
            "--format",
            "json",
            "--json-file",
            str(report),
        ],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = json.loads(report.read_text())["rows"]
    return {row["benchmark"]: row["verdict"] for row in rows}


def run_asv(repo: Path, base: str, head: str, env: dict[str, str]) -> dict[str, str]:
    done = subprocess.run(
        [str(BIN / "asv"), "continuous", "--factor", "1.05", base, head],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 1):
        raise RuntimeError(
            f"asv continuous failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )
    verdicts = dict.fromkeys(BENCHMARKS, "unchanged")
    for line in done.stdout.splitlines():
        match = ASV_ROW.match(line.strip())
        if match and match.group(2) in verdicts:
            mark = match.group(1)
            verdicts[match.group(2)] = {"+": "regressed", "-": "improved"}.get(mark, "failed")
    return verdicts


def measure(args: argparse.Namespace) -> None:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    base, heads = make_repo(work)
    repo = work / "repo"
    env = tool_env(work)
    (work / "home").mkdir(exist_ok=True)
    subprocess.run(
        [str(BIN / "asv"), "machine", "--yes", "--machine", "detector"],
        cwd=repo,
        env=env,
        capture_output=True,
        check=True,
    )
    # Untimed warm-up: build every commit once into asv's build cache and create perfguard's
    # second environment, so that no trial of either tool is charged with a one-time setup.
    for level in args.levels:
        run_asv(repo, base, heads[level], env)
    run_perfguard(repo, base, heads[args.levels[0]], env, 0, 2, work / "warm-up.rounds.json")
    rng = random.Random(args.seed)
    out = Path(args.out)
    for trial in range(args.trials):
        levels = [lv for lv in LEVELS if lv in args.levels]
        rng.shuffle(levels)
        for level in levels:
            tools = list(args.tools)
            rng.shuffle(tools)
            for tool in tools:
                started = time.monotonic()
                if tool == "perfguard":
                    verdicts = run_perfguard(
                        repo,
                        base,
                        heads[level],
                        env,
                        rng.randrange(2**31),
                        args.max_rounds,
                        work / "rounds" / f"trial{trial:03d}-level{level:02d}.rounds.json",
                    )
                else:
                    verdicts = run_asv(repo, base, heads[level], env)
                seconds = time.monotonic() - started
                record = {
                    "trial": trial,
                    "level": level,
                    "tool": tool,
                    "seconds": round(seconds, 2),
                    "verdicts": verdicts,
                }
                with out.open("a", encoding="utf-8") as stream:
                    stream.write(json.dumps(record) + "\n")
                print(json.dumps(record), flush=True)


def summarize(path: Path) -> str:
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    counts: dict[tuple[str, str, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    seconds: dict[tuple[str, int], list[float]] = defaultdict(list)
    for record in records:
        seconds[(record["tool"], record["level"])].append(record["seconds"])
        for name, verdict in record["verdicts"].items():
            counts[(record["tool"], name, record["level"])][verdict] += 1
    benchmarks = sorted({name for _, name, _ in counts})
    lines = [
        "| benchmark | tool | " + " | ".join(f"{lv} %" for lv in LEVELS) + " |",
        "|---|---|" + "---|" * len(LEVELS),
    ]
    for name in benchmarks:
        for tool in ("perfguard", "asv"):
            cells = []
            for level in LEVELS:
                c = counts.get((tool, name, level))
                if not c:
                    cells.append("-")
                    continue
                n = sum(c.values())
                flagged = c["regressed"] + (c["improved"] if level == 0 else 0)
                cell = f"{100 * flagged / n:.0f} %"
                if tool == "perfguard":
                    cell += f" ({100 * c['inconclusive'] / n:.0f} % inc.)"
                cells.append(f"{cell} n={n}")
            lines.append(f"| {name.split('.')[-1]} | {tool} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("| tool | " + " | ".join(f"{lv} %" for lv in LEVELS) + " | all |")
    lines.append("|---|" + "---|" * (len(LEVELS) + 1))
    for tool in ("perfguard", "asv"):
        means = []
        everything: list[float] = []
        for level in LEVELS:
            s = seconds.get((tool, level), [])
            everything += s
            means.append(f"{sum(s) / len(s):.1f} s" if s else "-")
        total = f"{sum(everything) / len(everything):.1f} s" if everything else "-"
        lines.append(f"| {tool} wall time per trial | " + " | ".join(means) + f" | {total} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--levels", type=int, nargs="*", default=list(LEVELS))
    parser.add_argument("--max-rounds", type=int, default=10)
    parser.add_argument(
        "--tools", nargs="+", choices=["perfguard", "asv"], default=["perfguard", "asv"]
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--work", default="/tmp/perfguard-detector")
    parser.add_argument("--out", default="/tmp/perfguard-detector/trials.jsonl")
    parser.add_argument("--summarize", metavar="JSONL", help="print the table of a trials file")
    args = parser.parse_args()
    if args.summarize:
        print(summarize(Path(args.summarize)))
        return
    measure(args)
    print(summarize(Path(args.out)))


if __name__ == "__main__":
    main()
