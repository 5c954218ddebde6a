#!/usr/bin/env python
"""Instruction counts against time on the detector fixture: spread, smallest step, cost.

The detector fixture (scripts/detector_fixture) has ``time_arithmetic``: ``round(60 * SCALE)``
units of the same loop per call, so a head that sets SCALE makes an exact step of work. A
scratch git repository holds base, an A/A head (a comment change) and heads of +1.7 % (61/60),
+3.3 % (62/60), +5 % (63/60) and +10 % (66/60). Each trial runs ``perfguard run -b
time_arithmetic$`` on every pair, once with ``--metric time`` and once with ``--metric
instructions`` (in an order drawn at random, so both see the same load), and appends one JSON
line per run to --out: verdict, change, wall time, rounds, the per-round spread of d (standard
deviation of ln(head / base) over rounds) and of each side's values.

    scripts/instruction_trials.py --trials 5 --out /tmp/instructions.jsonl
    scripts/instruction_trials.py --summarize /tmp/instructions.jsonl

Both metrics are decided at the same threshold (--threshold, default 1 %, given to perfguard
run); rounds are perfguard's defaults unless --rounds N fixes them (min = max = N). The summary
gives, per metric and pair, the share flagged regressed (at ``aa`` any regressed or improved is
a false alarm), the median spreads and the mean wall time per run; then, per metric, the
smallest step flagged regressed in at least 90 % of its trials while A/A had no false alarm,
and the wall-time cost of instructions relative to time.
"""

from __future__ import annotations

import argparse
import json
import math
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
BENCHMARK = "bench_work.time_arithmetic"
STEPS = {"aa": None, "+1.7%": "1.0167", "+3.3%": "1.0333", "+5%": "1.05", "+10%": "1.10"}
"""Pair -> SCALE of its head: round(60 * SCALE) = 61, 62, 63, 66 units instead of 60."""
METRICS = ("time", "instructions")


def make_repo(work: Path) -> tuple[Path, str, dict[str, str]]:
    """Base on main, and one head per step off it."""
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
    for pair, scale in STEPS.items():
        text = (
            original + "\n# an A/A head: a comment changes, nothing else\n"
            if scale is None
            else original.replace("SCALE = 1.00", f"SCALE = {scale}")
        )
        assert text != original
        git(repo, "checkout", "-q", "-B", f"head-{len(heads)}", base)
        module.write_text(text)
        git(repo, "commit", "-q", "-am", pair)
        heads[pair] = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "main")
    return repo, base, heads


def tool_env(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["HOME"] = str(work / "home")
    env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["NO_COLOR"] = "1"
    return env


def _spread(values: list[float]) -> float | None:
    logs = [math.log(v) for v in values if v is not None and v > 0]
    return statistics.stdev(logs) if len(logs) > 1 else None


def run_perfguard(
    repo: Path,
    base: str,
    head: str,
    metric: str,
    env: dict[str, str],
    seed: int,
    keep: Path,
    args: argparse.Namespace,
) -> dict[str, Any]:
    rounds = ["--min-rounds", str(args.rounds), "--max-rounds", str(args.rounds)]
    options = ["-b", "time_arithmetic$", "--metric", metric, "--threshold", args.threshold,
               "--seed", str(seed), *(rounds if args.rounds else [])]  # fmt: skip
    report, seconds = paired_run(repo, base, head, options, env, keep)
    name = BENCHMARK + (":instructions" if metric == "instructions" else "")
    row = next(r for r in report["rows"] if r["benchmark"] == name)
    data = json.loads(keep.read_text())
    series = next(s for s in data["series"] if s["benchmark"] == name)
    d = [x for x in series["d"] if x is not None]
    return {
        "seconds": round(seconds, 2),
        "verdict": row["verdict"],
        "reason": row["reason"],
        "change": row["change"],
        "rounds": len(data.get("rounds", [])),
        "d_spread": statistics.stdev(d) if len(d) > 1 else None,
        "base_spread": _spread(series["base"]),
        "head_spread": _spread(series["head"]),
    }


def measure(args: argparse.Namespace) -> None:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    (work / "home").mkdir(exist_ok=True)
    repo, base, heads = make_repo(work)
    env = tool_env(work)
    subprocess.run(
        [str(BIN / "asv"), "machine", "--yes", "--machine", "instructions"],
        cwd=repo,
        env=env,
        capture_output=True,
        check=True,
    )
    print("warm-up: building the commits (untimed)", file=sys.stderr, flush=True)
    for pair in args.pairs:
        run_perfguard(
            repo, base, heads[pair], "time", env, 0, work / "warm-up.rounds.json",
            argparse.Namespace(**{**vars(args), "rounds": 2}),
        )  # fmt: skip
    rng = random.Random(args.seed)
    out = Path(args.out)
    for trial in range(args.trials):
        jobs = [(metric, pair) for metric in METRICS for pair in args.pairs]
        rng.shuffle(jobs)
        for metric, pair in jobs:
            load = os.getloadavg()[0]
            result = run_perfguard(
                repo, base, heads[pair], metric, env, rng.randrange(2**31),
                work / "rounds" / f"{metric}-trial{trial:03d}-{pair}.rounds.json", args,
            )  # fmt: skip
            record = {
                "metric": metric,
                "trial": trial,
                "pair": pair,
                "threshold": args.threshold,
                "load_before": round(load, 2),
                **result,
            }
            with out.open("a", encoding="utf-8") as stream:
                stream.write(json.dumps(record) + "\n")
            print(json.dumps(record), flush=True)


def _median_pct(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    return f"{100 * statistics.median(known):.2g} %" if known else "-"


def summarize(path: Path) -> str:
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        groups[(record["metric"], record["pair"])].append(record)
    order = list(STEPS)
    lines = [
        "| metric | pair | trials | regressed | improved | inconclusive | unchanged "
        "| spread of d (median) | spread of base (median) | wall time per run | rounds |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (metric, pair), group in sorted(
        groups.items(), key=lambda g: (g[0][0], order.index(g[0][1]))
    ):

        def share(verdict: str, group: list[dict[str, Any]] = group) -> str:
            count = sum(r["verdict"] == verdict for r in group)
            return f"{count}/{len(group)}"

        lines.append(
            f"| {metric} | {pair} | {len(group)} | {share('regressed')} | {share('improved')} "
            f"| {share('inconclusive')} | {share('unchanged')} "
            f"| {_median_pct([r['d_spread'] for r in group])} "
            f"| {_median_pct([r['base_spread'] for r in group])} "
            f"| {statistics.mean(r['seconds'] for r in group):.1f} s "
            f"| {statistics.mean(r['rounds'] for r in group):.1f} |"
        )
    lines.append("")
    for metric in METRICS:
        aa = groups.get((metric, "aa"), [])
        alarms = sum(r["verdict"] in ("regressed", "improved") for r in aa)
        smallest = next(
            (
                pair
                for pair in order[1:]
                if groups.get((metric, pair))
                and sum(r["verdict"] == "regressed" for r in groups[(metric, pair)])
                >= 0.9 * len(groups[(metric, pair)])
            ),
            None,
        )
        verdict = "none of the steps" if smallest is None else smallest
        lines.append(
            f"- {metric}: smallest step regressed in >= 90 % of trials: {verdict};"
            f" A/A false alarms {alarms}/{len(aa)}"
            + ("" if alarms == 0 else " (so no step qualifies with no A/A false alarm)")
        )
    seconds = {m: [r["seconds"] for r in records if r["metric"] == m] for m in METRICS}
    if all(seconds.values()):
        ratio = statistics.mean(seconds["instructions"]) / statistics.mean(seconds["time"])
        lines.append(
            f"- wall time per run: time {statistics.mean(seconds['time']):.1f} s, instructions"
            f" {statistics.mean(seconds['instructions']):.1f} s ({ratio:.1f}x)"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--pairs", nargs="+", choices=list(STEPS), default=list(STEPS))
    parser.add_argument("--threshold", default="1%", help="perfguard run --threshold")
    parser.add_argument("--rounds", type=int, default=0, help="min = max rounds (0: defaults)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--work", default="/tmp/perfguard-instructions")
    parser.add_argument("--out", default="/tmp/perfguard-instructions/trials.jsonl")
    parser.add_argument("--summarize", metavar="JSONL", help="print the table of a trials file")
    args = parser.parse_args()
    if args.summarize:
        print(summarize(Path(args.summarize)))
        return
    measure(args)
    print(summarize(Path(args.out)))


if __name__ == "__main__":
    main()
