#!/usr/bin/env python
"""How noisy is one round? A/A rounds of the same work under four ways of pairing base and head.

Each round measures identical code twice ("base" and "head") and reports d = ln(head / base);
its spread over rounds is the noise a paired rule must beat. The ways, from asv's to
perfguard's:

- ``separate``: one fresh process per side, one after the other, fastest of its samples (asv);
- ``alternate``: both processes alive together, sampled in alternation, median pair ratio;
- ``pinned``: as ``alternate``, both pinned to one CPU drawn per round;
- ``layout``: as ``pinned``, with address-space randomisation off, one hash seed and one
  environment size per round for both (what ``perfguard run`` does).

    python scripts/pairing_noise.py --rounds 40 --pairs 16 --sample-ms 1

The work is pure Python arithmetic, timed by CPU time (``--timer wall`` for wall clock).
"""

from __future__ import annotations

import argparse
import ctypes
import math
import os
import random
import statistics
import subprocess
import sys
from collections.abc import Callable

WORKER = r"""
import sys, time
timer = time.process_time if sys.argv[1] == "cpu" else time.perf_counter
calls = int(sys.argv[2])
def work():
    s = 0
    for i in range(20000):
        s += i * i % 7
    return s
t0 = time.perf_counter()
while time.perf_counter() - t0 < 0.1:
    work()
for line in sys.stdin:
    t = timer()
    for _ in range(calls):
        work()
    sys.stdout.write(f"{timer() - t}\n")
    sys.stdout.flush()
"""
ADDR_NO_RANDOMIZE = 0x0040000


def _no_aslr() -> None:
    ctypes.CDLL(None).personality(ADDR_NO_RANDOMIZE)


class Worker:
    def __init__(self, timer: str, calls: int, cpu: int | None, env: dict[str, str], fixed: bool):
        prefix = ["taskset", "-c", str(cpu)] if cpu is not None else []
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-c", WORKER, timer, str(calls)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            preexec_fn=_no_aslr if fixed else None,  # single-threaded script: safe
        )

    def sample(self) -> float:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        return float(self.proc.stdout.readline())

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        self.proc.wait()


def one_round(way: str, args: argparse.Namespace, rng: random.Random) -> float:
    cpus = sorted(os.sched_getaffinity(0))
    cpu = rng.choice(cpus) if way in ("pinned", "layout") else None
    env = dict(os.environ)
    fixed = way == "layout"
    if fixed:
        env["PYTHONHASHSEED"] = str(rng.randrange(2**32))
        env["PAIRING_NOISE_PAD"] = "x" * rng.randrange(4096)
    if way == "separate":
        fastest = {}
        for side in rng.sample(["base", "head"], 2):
            worker = Worker(args.timer, args.calls, None, env, False)
            fastest[side] = min(worker.sample() for _ in range(args.pairs))
            worker.close()
        return math.log(fastest["head"] / fastest["base"])
    workers = {side: Worker(args.timer, args.calls, cpu, env, fixed) for side in ("base", "head")}
    ratios = []
    for _ in range(args.pairs):
        got = {}
        for side in rng.sample(["base", "head"], 2):
            got[side] = workers[side].sample()
        ratios.append(math.log(got["head"] / got["base"]))
    for worker in workers.values():
        worker.close()
    return statistics.median(ratios)


def summary(way: str, d: list[float]) -> str:
    spread = statistics.stdev(d) * 100
    wild = sum(abs(x) > 0.04 for x in d)
    return (
        f"| {way} | {spread:.2f} % | {wild} of {len(d)} | "
        f"{min(d) * 100:+.1f} % .. {max(d) * 100:+.1f} % |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--pairs", type=int, default=16)
    parser.add_argument("--calls", type=int, default=1, help="calls of ~1 ms per sample")
    parser.add_argument("--timer", choices=["cpu", "wall"], default="cpu")
    parser.add_argument("--ways", nargs="+", default=["separate", "alternate", "pinned", "layout"])
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    d: dict[str, list[float]] = {way: [] for way in args.ways}
    measure: Callable[[str], float] = lambda way: one_round(way, args, rng)  # noqa: E731
    for _ in range(args.rounds):
        for way in rng.sample(args.ways, len(args.ways)):  # ways interleaved, same machine state
            d[way].append(measure(way))
    print(f"{args.rounds} A/A rounds, {args.pairs} samples per side, {args.timer} time")
    print("| way | spread of d (sd) | rounds beyond 4 % | range |")
    print("|---|---|---|---|")
    for way in args.ways:
        print(summary(way, d[way]))


if __name__ == "__main__":
    main()
