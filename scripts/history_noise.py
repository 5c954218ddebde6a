"""How often neighbouring commits are flagged on a real CI history: asv's rule vs history mode.

    .venv/bin/python scripts/history_noise.py [RESULTS_DIR] [--window 100] [--first-test 150]

RESULTS_DIR defaults to the bundled Django corpus (tests/fixtures/django-asv-corpus.tar.xz, 300
commits measured on GitHub-hosted runners), unpacked into a temporary directory for the run.
Results are ordered by the commit date asv stored.

- asv: `asv compare --factor 1.05`'s own rule (asv.commands.compare._is_result_better, with its
  Mann-Whitney / confidence-interval test), on every neighbouring pair.
- perfguard history mode, evaluated out of sample on the pairs from --first-test on:
  * rolling: each pair is judged with a model learned from the --window results before its head
    (base included, head and everything after it excluded): what `perfguard compare --history`
    does in CI;
  * fixed split: one model learned from the results before --first-test only.
- detection: for every evaluated pair and every benchmark, head (and all later results) made
  15 % slower; share of those comparisons flagged as regressed.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from asv.commands.compare import _is_result_better, unroll_result
from asv.results import Results

from perfguard import history
from perfguard.compare import compare, compare_pair
from perfguard.models import ResultSet, Verdict
from perfguard.policy import Policy

# The bundled corpus's helper lives in the test helpers (tests.helpers.corpus): one home for it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.helpers import corpus as bundled

FACTOR = 1.05
STEP = 1.15
FLAGGED = (Verdict.REGRESSED, Verdict.IMPROVED)


@dataclass
class Tally:
    compared: int = 0
    flagged: int = 0
    inconclusive: int = 0

    def rate(self, part: int) -> str:
        return f"{part / self.compared * 100:5.1f} %" if self.compared else "  n/a"


def asv_rows(path: Path) -> dict[str, tuple[Any, Any, Any, Any]]:
    """A result file unrolled as `asv compare` does: name -> (value, stats, samples, version)."""
    result = Results.load(str(path))
    rows = {}
    for key in result.get_all_result_keys():
        params = result.get_result_params(key)
        for name, value, stats, samples in unroll_result(
            key,
            params,
            result.get_result_value(key, params),
            result.get_result_stats(key, params),
            result.get_result_samples(key, params),
        ):
            rows[name] = (value, stats, samples, result.benchmark_version.get(key))
    return rows


def _usable(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def asv_tally(paths: Sequence[Path], start: int, *, stride: int = 1) -> tuple[Tally, Tally]:
    """asv's verdicts on all neighbouring pairs, and on pairs from ``start`` on (every
    ``stride``-th pair)."""
    files = sorted(paths, key=history.result_date)
    rows = functools.lru_cache(maxsize=2)(lambda i: asv_rows(files[i]))
    everything, late = Tally(), Tally()
    for i in range(0, len(files) - 1, stride):
        before, after = rows(i), rows(i + 1)
        for name in before.keys() & after.keys():
            v1, stats1, samples1, version1 = before[name]
            v2, stats2, samples2, version2 = after[name]
            if not (_usable(v1) and _usable(v2)) or version1 != version2:
                continue
            flagged = _is_result_better(
                v2, v1, (stats2, samples2), (stats1, samples1), FACTOR
            ) or _is_result_better(v1, v2, (stats1, samples1), (stats2, samples2), FACTOR)
            for tally in (everything, late) if i >= start else (everything,):
                tally.compared += 1
                tally.flagged += flagged
    return everything, late


def history_tally(
    results: Sequence[ResultSet],
    start: int,
    window: int,
    *,
    rolling: bool,
    stride: int = 1,
    step_every: int = 1,
) -> tuple[Tally, Tally]:
    """perfguard's verdicts on pairs from ``start`` on (every ``stride``-th), and its detection
    of a 15 % step (on every ``step_every``-th of those pairs)."""
    policy = Policy()
    changes = history.neighbour_changes(results)
    fixed = history.fit(history.window(changes, 0, start - 1))
    noise, step = Tally(), Tally()
    for n, i in enumerate(range(start, len(results) - 1, stride)):
        base, head = results[i], results[i + 1]
        # The `window` results up to the base (pairs i-window+1..i-1): what `perfguard compare
        # --history-commits` learns from. The head never informs its own floor.
        model = (
            history.fit(history.window(changes, max(0, i - window + 1), i)) if rolling else fixed
        )
        comparison = compare(base, head, policy, adjust=model.adjuster(base, head))
        for row in comparison.rows:
            if row.estimate is None:
                continue
            noise.compared += 1
            noise.flagged += row.verdict in FLAGGED
            noise.inconclusive += row.verdict is Verdict.INCONCLUSIVE
        if n % step_every:
            continue
        head_by_key = head.by_key()
        for key, m in base.by_key().items():
            h = head_by_key.get(key)
            if h is None or h.value is None or m.value is None or h.version != m.version:
                continue
            slower = history.scaled(h, STEP)
            stepped = replace(
                head, measurements=tuple(slower if x.key == key else x for x in head.measurements)
            )
            settings = policy.resolve(key[0], m.label, m.kind, m.unit)
            verdict, _, est = compare_pair(m, slower, settings, model.adjuster(base, stepped))
            if est is None:
                continue
            step.compared += 1
            step.flagged += verdict is Verdict.REGRESSED
            step.inconclusive += verdict is Verdict.INCONCLUSIVE
    return noise, step


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results_dir", nargs="?", type=Path, default=None)
    parser.add_argument("--window", type=int, default=100, help="results learned from")
    parser.add_argument("--first-test", type=int, default=150, help="first evaluated pair")
    args = parser.parse_args(argv)
    if args.results_dir is None:
        args.results_dir = bundled.results_dir()
    started = time.perf_counter()
    results = history.load_history(args.results_dir)
    folder = next(p for p in args.results_dir.iterdir() if p.is_dir())
    paths = [p for p in folder.glob("*.json") if p.name != "machine.json"]
    asv_all, asv_late = asv_tally(paths, args.first_test)
    rolling, rolling_step = history_tally(results, args.first_test, args.window, rolling=True)
    fixed, fixed_step = history_tally(results, args.first_test, args.window, rolling=False)
    n = len(results)
    print(f"{args.results_dir}: {n} results, ordered by commit date")
    print(f"evaluated: pairs {args.first_test}..{n - 2} (the last {n - 1 - args.first_test})\n")
    print(
        f"{'rule':<42}{'compared':>9}{'flagged':>9}{'inconcl.':>10}"
        f"{'15% step: flagged':>19}{'inconcl.':>10}"
    )
    for label, noise, step in (
        ("asv compare --factor 1.05, all pairs", asv_all, None),
        ("asv compare --factor 1.05, evaluated", asv_late, None),
        (f"perfguard history, rolling {args.window}", rolling, rolling_step),
        (f"perfguard history, fixed first {args.first_test}", fixed, fixed_step),
    ):
        inconclusive = noise.rate(noise.inconclusive) if step else ""
        detected = step.rate(step.flagged) if step else ""
        missed = step.rate(step.inconclusive) if step else ""
        print(
            f"{label:<42}{noise.compared:>9}{noise.rate(noise.flagged):>9}"
            f"{inconclusive:>10}{detected:>19}{missed:>10}"
        )
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
