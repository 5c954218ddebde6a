#!/usr/bin/env python
"""Where a round of ``perfguard run`` spends its time: one worker's stages, timed one by one.

A round of ``perfguard run`` (before the one-worker-per-side engine) starts, for every benchmark
row and each side, a fresh worker (``perfguard/runner/benchworker.py``) that pays, in order:
the interpreter's start, ``import asv_runner``, discovery of the benchmark (which imports the
benchmark module and so the library: numpy, scipy, pandas), ``setup_cache``, the first ``setup``,
the calibration of ``number`` (with its warm-up), and the samples (16 pairs: 16 per side; with
``setup`` asv re-runs it before every sample). This script replays exactly those calls, with
the sampler of the perfguard it is given, in the environment scripts/scale_vs_asv.py built, one
fresh process per row, and prints the time of each stage summed over the rows of the suite.

    scripts/scale_vs_asv.py --trials 1 --pairs changed --tools perfguard \\
        --perfguard-args='--min-rounds 2 --max-rounds 2' --work /tmp/scale   # builds the envs
    scripts/round_cost.py --work /tmp/scale [--perfguard-src SRC] [--pairs 16] [--json FILE]

One side's sum is what one worker per row costs; a round starts two (base and head) per row,
which run their stages before sampling at the same time on a 2-core machine, then sample in
alternation. ``-X importtime`` of ``import scalelib`` is printed too (the heaviest modules).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

STAGES = (
    "interpreter start",
    "import asv_runner",
    "discovery (imports the suite: numpy, scipy, pandas)",
    "setup_cache",
    "setup (first)",
    "calibration and warm-up",
    "sampling: timed calls",
    "sampling: setup re-run and overhead",
    "teardown and exit",
)
PROBE = r"""
import time
started = time.time()
t0 = time.perf_counter()
import importlib.util, json, math, sys
import asv_runner.discovery
from asv_runner.discovery import get_benchmark_from_name
t1 = time.perf_counter()
benchmark_dir, benchmark_id, worker_path, pairs = sys.argv[1:5]
spec = importlib.util.spec_from_file_location("pg_benchworker", worker_path)
worker = importlib.util.module_from_spec(spec)
spec.loader.exec_module(worker)
t1b = time.perf_counter()
bench = get_benchmark_from_name(benchmark_dir, benchmark_id, extra_params={})
t2 = time.perf_counter()
bench.set_cache(bench.do_setup_cache() if bench.setup_cache_key is not None else None)
t3 = time.perf_counter()
bench.do_setup()
t4 = time.perf_counter()
timed = 0.0
if bench.type == "time":
    sample, number = worker.time_sampler(bench)
    t5 = time.perf_counter()
    for _ in range(int(pairs)):
        timed += sample() * number
else:
    number = 1
    t5 = time.perf_counter()
    s = time.perf_counter()
    bench.do_run()
    timed = time.perf_counter() - s
t6 = time.perf_counter()
bench.do_teardown()
t7 = time.perf_counter()
print(json.dumps({
    "started": started, "type": bench.type, "number": number,
    "stages": [t1b - t0, t2 - t1b, t3 - t2, t4 - t3, t5 - t4, timed, t6 - t5 - timed, t7 - t6],
    "t7": t7 - t0,
}))
"""


def rows(results: Path) -> list[tuple[str, str]]:
    """(benchmark id as the worker takes it, row label) for every row of the suite."""
    data = json.loads((results / "benchmarks.json").read_text())
    out = []
    for name, info in sorted(data.items()):
        if name == "version":
            continue
        combos: list[list[str]] = [[]]
        for values in info.get("params") or []:
            combos = [[*c, v] for c in combos for v in values]
        for index, combo in enumerate(combos):
            ident = f"{name}-{index}" if info.get("params") else name
            out.append((ident, f"{name}({', '.join(combo)})" if combo else name))
    return out


def probe(python: Path, bench_dir: Path, ident: str, worker: Path, pairs: int) -> list[float]:
    spawned = time.time()
    done = subprocess.run(
        [str(python), "-c", PROBE, str(bench_dir), ident, str(worker), str(pairs)],
        capture_output=True,
        text=True,
        check=True,
        cwd=bench_dir.parent,
    )
    ended = time.time()
    result = json.loads(done.stdout.strip().splitlines()[-1])
    start = result["started"] - spawned
    stages = result["stages"]
    exit_cost = max((ended - result["started"]) - result["t7"], 0.0)
    # asv_runner, discovery, setup_cache, setup, calibration, timed, overhead, teardown (+ exit)
    return [start, *stages[:-1], stages[-1] + exit_cost]


def importtime(python: Path) -> list[tuple[float, str]]:
    done = subprocess.run(
        [str(python), "-X", "importtime", "-c", "import scalelib"],
        capture_output=True,
        text=True,
        check=True,
    )
    found = []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if match and len(match.group(2)) <= 3:  # top-level and first-level imports
            found.append((int(match.group(1)) / 1e6, match.group(3)))
    return sorted(found, reverse=True)[:8]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", required=True, help="scale_vs_asv.py's work directory")
    parser.add_argument(
        "--perfguard-src",
        default=str(Path(__file__).resolve().parents[1] / "src"),
        help="perfguard's src/ whose benchworker.py samples (default: this checkout's)",
    )
    parser.add_argument("--pairs", type=int, default=16, help="samples per side (perfguard's)")
    parser.add_argument("--repeat", type=int, default=1, help="probe every row this often")
    parser.add_argument("--json", help="also write the per-row stage times here")
    args = parser.parse_args()
    repo = Path(args.work) / "repo"
    envs = sorted((repo / ".asv" / "env").glob("*/bin/python"))
    if not envs:
        sys.exit(f"error: no asv environment under {repo}/.asv/env: run scale_vs_asv.py first")
    python = envs[0]
    worker = Path(args.perfguard_src) / "perfguard" / "runner" / "benchworker.py"
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(STAGES))
    per_row = {}
    for _ in range(args.repeat):
        for ident, label in rows(repo / ".asv" / "results"):
            stages = probe(python, repo / "benchmarks", ident, worker, args.pairs)
            per_row.setdefault(label, []).append(stages)
            group = label.split(".")[0]
            for i, value in enumerate(stages):
                totals[group][i] += value / args.repeat
                totals["all"][i] += value / args.repeat
    everything = sum(totals["all"])
    print(f"one worker per row, {len(per_row)} rows, summed (repeat {args.repeat}):")
    print("| stage | " + " | ".join(k for k in sorted(totals) if k != "all") + " | all | share |")
    print("|---|" + "---|" * (len(totals) + 1))
    for i, stage in enumerate(STAGES):
        cells = [f"{totals[k][i]:.2f} s" for k in sorted(totals) if k != "all"]
        share = 100 * totals["all"][i] / everything
        print(
            f"| {stage} | " + " | ".join(cells) + f" | {totals['all'][i]:.2f} s | {share:.0f} % |"
        )
    cells = [f"{sum(totals[k]):.2f} s" for k in sorted(totals) if k != "all"]
    print("| **one side** | " + " | ".join(cells) + f" | **{everything:.2f} s** | |")
    print()
    print("-X importtime of `import scalelib` (cumulative, top modules):")
    for seconds, module in importtime(python):
        print(f"  {seconds:.3f} s  {module}")
    if args.json:
        Path(args.json).write_text(json.dumps({"stages": STAGES, "rows": per_row}, indent=1))


if __name__ == "__main__":
    main()
