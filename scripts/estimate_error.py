#!/usr/bin/env python
"""How far off was ``perfguard run``'s estimate before round 1? Expected against measured.

Every rounds file records what the run expected a full round to take
(``settings.estimate_round_seconds``) and from where (``settings.estimate_from``: an earlier
run, asv's durations, or perfguard's rule). This prints, per file, the expectation, round 1's
real time and the mean of the rounds that measured every benchmark, the time of the first
``min_rounds`` rounds against ``min_rounds`` times the expectation, and the error.

    python scripts/estimate_error.py .asv/perfguard/*.rounds.json
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from perfguard import rounds


def error(expected: float, measured: float) -> str:
    return f"{expected / measured - 1:+.0%}" if measured > 0 else "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="rounds files of perfguard run")
    args = parser.parse_args(argv)
    print("file | source | expected/round | round 1 | full rounds (mean) | error | min rounds"
          " expected | measured | error")  # fmt: skip
    for path in args.files:
        data = rounds.read(path)
        expected = data.settings.get("estimate_round_seconds")
        if not isinstance(expected, (int, float)) or not data.rounds:
            print(f"{path} | no estimate recorded (perfguard before 2026-12-02) or no rounds")
            continue
        total = len(data.series)
        measured = {r.index: sum(r.index in s.rounds for s in data.series) for r in data.rounds}
        full = [r.seconds for r in data.rounds if measured[r.index] == total]
        minimum = int(data.settings.get("min_rounds", 5))
        first = [r.seconds for r in data.rounds[:minimum]]
        mean_full = statistics.mean(full) if full else float("nan")
        print(
            f"{path.name} | {data.settings.get('estimate_from')} | {expected:.1f}s |"
            f" {data.rounds[0].seconds:.1f}s | {mean_full:.1f}s ({len(full)}) |"
            f" {error(expected, mean_full)} | {expected * len(first):.0f}s | {sum(first):.0f}s"
            f" | {error(expected * len(first), sum(first))}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
