#!/usr/bin/env python
"""A library-shaped suite, side by side: ``perfguard run`` against ``asv continuous --factor 1.05``.

The fixture (scripts/scale_fixture) is a package whose import pulls in numpy, scipy and pandas
(about a second), with 30 benchmark rows: parameterized classes whose ``setup`` builds a graph
or arrays (up to ~100 ms), a ``setup_cache`` frame, bodies from microseconds to tens of ms, and
a ``track_`` throughput. It is committed into a scratch git repository as base and two heads:

- ``aa``: a comment change only (every row's truth: unchanged);
- ``changed``: known truth. ``GraphSuite.time_bfs`` (3 rows) and ``time_parse`` do 15 % more
  work (regressed), ``GraphSuite.time_degrees`` (3 rows) 15 % less (improved), the other 23
  rows are untouched (unchanged).

Each trial runs both tools on both pairs, in an order drawn at random (pairs and tools), so the
machine's changing load falls on all alike. Before every tool run the project is uninstalled
from every asv environment and asv's build caches are emptied, so each tool pays the build of
both commits, as a PR job whose environments (numpy, scipy, pandas) come from a cache does; the
environments themselves are created once, in an untimed warm-up. The wall time is split into
build (asv's environment check, build, install and discovery) and measuring, from the
timestamps of each tool's output lines. Every tool run is one JSON line in --out.

    scripts/scale_vs_asv.py --trials 3 --out /tmp/scale.jsonl          # measure (long)
    scripts/scale_vs_asv.py --summarize /tmp/scale.jsonl               # print the tables
    scripts/scale_vs_asv.py --trials 1 --pairs changed --tools perfguard \\
        --perfguard-args='--min-rounds 2 --max-rounds 2'                # one short run's cost
    PERFGUARD_SRC=/tmp/pg-src scripts/scale_vs_asv.py ...               # a frozen perfguard

A row is *correct* when the tool's verdict is its truth (asv continuous: a row it does not list
counts as unchanged); a *false alarm* is a row flagged regressed or improved against its truth;
a *miss* is a changed row not flagged its way; perfguard's *inconclusive* rows are neither
correct nor false alarms. Every perfguard run's rounds file is kept under WORK/rounds/.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from trialkit import BIN, git

FIXTURE = Path(__file__).resolve().parent / "scale_fixture"
PAIRS = ("aa", "changed")
CHANGED = {  # benchmark -> its truth on the "changed" head
    "bench_graph.GraphSuite.time_bfs": "regressed",
    "bench_text.time_parse": "regressed",
    "bench_graph.GraphSuite.time_degrees": "improved",
}
EDITS = {  # the "changed" head's edits of scalelib.WORK: +15 %, +15 %, -15 %
    '"bfs": 20': '"bfs": 23',
    '"tokens": 40': '"tokens": 46',
    '"lookup": 200': '"lookup": 170',
}
# asv continuous prints a row per significant change: "| + | before | after | ratio | name |"
ASV_ROW = re.compile(r"^\|\s*([+\-x!])\s*\|.*\|\s*(\S.*?)\s*\|\s*$")
ASV_BUILD = re.compile(r"^·+ (Creating|Discovering|Uninstalling|Building|Installing|Fetching)")
PERFGUARD_MEASURING = re.compile(r"^measuring \d+ benchmarks")


def make_repo(work: Path) -> tuple[Path, str, dict[str, str]]:
    """The scratch repository: base on main, the ``aa`` and ``changed`` heads off base."""
    repo = work / "repo"
    kept = work / "asv-kept"
    if (repo / ".asv").exists():  # environments of an earlier run: numpy & co. stay installed
        shutil.rmtree(kept, ignore_errors=True)
        (repo / ".asv").rename(kept)
        shutil.rmtree(kept / "results", ignore_errors=True)
    if repo.exists():
        shutil.rmtree(repo)
    shutil.copytree(FIXTURE, repo, ignore=shutil.ignore_patterns(".asv", "__pycache__"))
    if kept.exists():
        kept.rename(repo / ".asv")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    base = git(repo, "rev-parse", "HEAD")
    module = repo / "src" / "scalelib" / "__init__.py"
    original = module.read_text()
    heads = {}
    git(repo, "checkout", "-q", "-B", "aa", base)
    module.write_text(original + "\n# an A/A head: a comment changes, nothing else\n")
    git(repo, "commit", "-q", "-am", "comment only")
    heads["aa"] = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-B", "changed", base)
    text = original
    for old, new in EDITS.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    module.write_text(text)
    git(repo, "commit", "-q", "-am", "bfs +15 %, parse +15 %, degrees -15 %")
    heads["changed"] = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "main")
    return repo, base, heads


def tool_env(work: Path) -> dict[str, str]:
    """Both tools see the same private asv machine file, unbuffered output, no colour."""
    env = dict(os.environ)
    env["HOME"] = str(work / "home")
    env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env["NO_COLOR"] = "1"
    snapshot = os.environ.get("PERFGUARD_SRC")
    if snapshot:  # a frozen copy of perfguard's src/, so edits during a long run do not leak in
        env["PYTHONPATH"] = snapshot
    return env


def cold_build(repo: Path) -> None:
    """Uninstall the project from every asv environment (asv's and perfguard's twin) and empty
    asv's build caches: the next run builds and installs both commits again."""
    for env_dir in sorted((repo / ".asv").glob("env*/*")):
        status = env_dir / "asv-install-status.json"
        if status.exists():
            status.unlink()
        shutil.rmtree(env_dir / "asv-build-cache", ignore_errors=True)
        python = env_dir / "bin" / "python"
        if python.exists():
            subprocess.run(
                [str(python), "-m", "pip", "uninstall", "-y", "-q", "scalelib"],
                capture_output=True,
                check=False,
            )


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, list[tuple[float, str]]]:
    """Run ``cmd`` with stderr merged into stdout; every line with its time since the start."""
    started = time.monotonic()
    lines: list[tuple[float, str]] = []
    with subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append((time.monotonic() - started, line.rstrip("\n")))
    lines.append((time.monotonic() - started, ""))
    return process.returncode, lines


def asv_build_seconds(lines: list[tuple[float, str]]) -> float:
    """Time from each build-phase line of asv to the next line, summed."""
    return sum(
        later - at
        for (at, line), (later, _) in itertools.pairwise(lines)
        if ASV_BUILD.match(line.strip())
    )


def row_key(name: str, values: list[str]) -> str:
    """``name(v1, v2)`` as asv continuous prints a row, without quotes around strings."""
    clean = [v.strip("'\"") for v in values]
    return f"{name}({', '.join(clean)})" if clean else name


def all_rows(repo: Path) -> list[str]:
    """Every benchmark row of the suite, from the benchmarks.json asv wrote."""
    data = json.loads((repo / ".asv" / "results" / "benchmarks.json").read_text())
    rows = []
    for name, info in sorted(data.items()):
        if name == "version":
            continue
        combos: list[list[str]] = [[]]
        for values in info.get("params") or []:
            combos = [[*c, v] for c in combos for v in values]
        rows += [row_key(name, combo) for combo in combos]
    return rows


def truth(row: str, pair: str) -> str:
    if pair == "aa":
        return "unchanged"
    return CHANGED.get(row.split("(")[0], "unchanged")


def run_asv(
    repo: Path, base: str, head: str, env: dict[str, str], rows: list[str], *extra: str
) -> dict[str, Any]:
    code, lines = timed(
        [str(BIN / "asv"), "continuous", "--factor", "1.05", *extra, base, head], repo, env
    )
    if code not in (0, 1):
        text = "\n".join(line for _, line in lines[-40:])
        raise RuntimeError(f"asv continuous failed ({code}):\n{text}")
    verdicts = dict.fromkeys(rows or all_rows(repo), "unchanged")  # asv wrote benchmarks.json
    for _, line in lines:
        match = ASV_ROW.match(line.strip())
        if match:
            key = row_key(*_split_label(match.group(2)))
            if key in verdicts:
                mark = match.group(1)
                verdicts[key] = {"+": "regressed", "-": "improved"}.get(mark, "failed")
    return {
        "seconds": lines[-1][0],
        "build_seconds": asv_build_seconds(lines),
        "verdicts": verdicts,
    }


def _split_label(label: str) -> tuple[str, list[str]]:
    if not label.endswith(")") or "(" not in label:
        return label, []
    name, _, inner = label[:-1].partition("(")
    return name, [v.strip() for v in inner.split(",")]


def run_perfguard(
    repo: Path,
    base: str,
    head: str,
    env: dict[str, str],
    *,
    seed: int,
    keep: Path,
    extra: list[str],
) -> dict[str, Any]:
    report = repo.parent / "perfguard-report.json"
    report.unlink(missing_ok=True)
    code, lines = timed(
        [
            str(BIN / "perfguard"),
            "run",
            base,
            head,
            "--seed",
            str(seed),
            "--output",
            str(keep),
            "--fail-on",
            "never",
            "--format",
            "json",
            "--json-file",
            str(report),
            *extra,
        ],
        repo,
        env,
    )
    if code != 0:
        text = "\n".join(line for _, line in lines[-40:])
        raise RuntimeError(f"perfguard run failed ({code}):\n{text}")
    measuring = next((at for at, line in lines if PERFGUARD_MEASURING.match(line)), 0.0)
    rows = json.loads(report.read_text())["rows"]
    verdicts = {row_key(r["benchmark"], list(r["params"].values())): r["verdict"] for r in rows}
    rounds = json.loads(keep.read_text()).get("rounds", [])
    return {
        "seconds": lines[-1][0],
        "build_seconds": measuring,
        "verdicts": verdicts,
        "rounds": len(rounds),
        "round_seconds": [round(r["seconds"], 2) for r in rounds],
    }


def score(verdicts: dict[str, str], pair: str) -> dict[str, int]:
    counts = {"rows": 0, "correct": 0, "false_alarms": 0, "misses": 0, "inconclusive": 0}
    for row, verdict in verdicts.items():
        expected = truth(row, pair)
        counts["rows"] += 1
        if verdict == expected:
            counts["correct"] += 1
        elif verdict == "inconclusive":
            counts["inconclusive"] += 1
        elif verdict in ("regressed", "improved") and verdict != expected:
            counts["false_alarms"] += 1
        if expected != "unchanged" and verdict != expected:
            counts["misses"] += 1
    return counts


def measure(args: argparse.Namespace) -> None:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    repo, base, heads = make_repo(work)
    env = tool_env(work)
    (work / "home").mkdir(exist_ok=True)
    subprocess.run(
        [str(BIN / "asv"), "machine", "--yes", "--machine", "scale"],
        cwd=repo,
        env=env,
        capture_output=True,
        check=True,
    )
    extra = shlex.split(args.perfguard_args)
    # Untimed warm-up: create asv's environment (numpy, scipy, pandas from PyPI) and perfguard's
    # twin, so that no trial pays for creating an environment; builds are paid in every trial.
    if not args.skip_warm_up:
        print("warm-up: creating the environments (untimed)", file=sys.stderr, flush=True)
        run_asv(repo, base, heads["aa"], env, [], "-b", "time_parse_short")
        run_perfguard(
            repo,
            base,
            heads["aa"],
            env,
            seed=0,
            keep=work / "warm-up.rounds.json",
            extra=["-b", "time_parse_short", "--min-rounds", "2", "--max-rounds", "2"],
        )
    benchmarks_json = repo / ".asv" / "results" / "benchmarks.json"
    rows = all_rows(repo) if benchmarks_json.exists() else []
    rng = random.Random(args.seed)
    out = Path(args.out)
    for trial in range(args.trials):
        jobs = [(pair, tool) for pair in args.pairs for tool in args.tools]
        rng.shuffle(jobs)
        for pair, tool in jobs:
            cold_build(repo)
            load = os.getloadavg()[0]
            if tool == "perfguard":
                keep = work / "rounds" / f"trial{trial:03d}-{pair}.rounds.json"
                keep.parent.mkdir(exist_ok=True)
                keep.unlink(missing_ok=True)
                result = run_perfguard(
                    repo,
                    base,
                    heads[pair],
                    env,
                    seed=rng.randrange(2**31),
                    keep=keep,
                    extra=extra,
                )
            else:
                result = run_asv(repo, base, heads[pair], env, rows)
            record = {
                "trial": trial,
                "pair": pair,
                "tool": tool,
                "perfguard_args": args.perfguard_args if tool == "perfguard" else "",
                "load_before": round(load, 2),
                **{k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()},
                "score": score(result["verdicts"], pair),
            }
            with out.open("a", encoding="utf-8") as stream:
                stream.write(json.dumps(record) + "\n")
            brief = {k: v for k, v in record.items() if k != "verdicts"}
            print(json.dumps(brief), flush=True)


def summarize(path: Path) -> str:
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        groups[(record["tool"], record["pair"])].append(record)
    lines = [
        "| tool | pair | runs | wall time (build + measuring) | rounds | correct rows "
        "| false alarms | misses | inconclusive |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (tool, pair), group in sorted(groups.items()):
        n = len(group)

        def mean(key: str, group: list[dict[str, Any]] = group) -> float:
            return sum(float(r[key]) for r in group) / len(group)

        def total(key: str, group: list[dict[str, Any]] = group) -> str:
            values = [r["score"][key] for r in group]
            return f"{sum(values) / len(values):.1f} ({min(values)}-{max(values)})"

        rows = group[0]["score"]["rows"]
        rounds = f"{mean('rounds'):.1f}" if tool == "perfguard" else "-"
        wall = (
            f"{mean('seconds'):.0f} s ({mean('build_seconds'):.0f} + "
            f"{mean('seconds') - mean('build_seconds'):.0f})"
        )
        lines.append(
            f"| {tool} | {pair} | {n} | {wall} | {rounds} | {total('correct')} of {rows} "
            f"| {total('false_alarms')} | {total('misses')} | {total('inconclusive')} |"
        )
    flagged: dict[tuple[str, str, str], int] = defaultdict(int)
    for record in records:
        for row, verdict in record["verdicts"].items():
            if verdict != truth(row, record["pair"]):
                flagged[(record["tool"], record["pair"], f"{row}: {verdict}")] += 1
    if flagged:
        lines += ["", "Rows not decided as their truth (tool, pair, row: verdict, runs):"]
        for (tool, pair, what), count in sorted(flagged.items()):
            lines.append(f"- {tool} {pair} {what} x{count}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--pairs", nargs="+", choices=PAIRS, default=list(PAIRS))
    parser.add_argument(
        "--tools", nargs="+", choices=["perfguard", "asv"], default=["perfguard", "asv"]
    )
    parser.add_argument(
        "--perfguard-args", default="", help="extra options for perfguard run (default: none)"
    )
    parser.add_argument(
        "--skip-warm-up",
        action="store_true",
        help="the work directory's environments exist already (from an earlier run)",
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--work", default="/tmp/perfguard-scale")
    parser.add_argument("--out", default="/tmp/perfguard-scale/trials.jsonl")
    parser.add_argument("--summarize", metavar="JSONL", help="print the tables of a trials file")
    args = parser.parse_args()
    if args.summarize:
        print(summarize(Path(args.summarize)))
        return
    measure(args)
    print(summarize(Path(args.out)))


if __name__ == "__main__":
    main()
