"""How well ``perfguard history`` finds change points, beside asv's own step detection.

On the bundled Django corpus (300 real asv results from GitHub's runners, see
tests/fixtures/django-asv-corpus.md), in a copy of its results directory:

- (a) recall: a 10 % slowdown is written into a few benchmarks' result files from a known
  commit on (value, samples, interval, quartiles scaled, as if the code had become slower);
  a step counts as found when a regression change point of that benchmark is within 2 commits
  (in the history's order) of where it was put. Repeated over ``--trials`` copies, each with
  ``--steps`` benchmarks at random positions.
- (b) the change points reported on the untouched history (every one counted: the real history
  has real changes too, so this is an upper bound on false ones).

asv's side runs ``asv.step_detect`` on the same values in the same order, as ``asv publish``
does: ``detect_steps`` with asv's weights (2 / width of the stored 99 % interval), then
``detect_regressions`` at asv's default threshold (5 %). Both its steps and its regressions are
counted. Finally the time ``perfguard history`` takes on the 300-result history (the command,
as a subprocess: best of 3).

    python scripts/changepoint_quality.py                 # 5 trials x 6 steps
    python scripts/changepoint_quality.py --trials 10 --steps 8 --seed 3
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from asv import _stats, step_detect

from perfguard import changepoints, results
from perfguard.models import ResultSet, Status
from perfguard.policy import Policy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.helpers import corpus as bundled

STEP = 1.10
NEAR = 2
SCALED = ("result", "stats_ci_99_a", "stats_ci_99_b", "stats_q_25", "stats_q_75", "samples")


@dataclass(frozen=True)
class Found:
    """Positions (in the history's order) of what one detector reported, per benchmark."""

    steps: dict[str, list[int]]
    regressions: dict[str, list[int]]

    def total(self, which: str) -> int:
        return sum(len(v) for v in getattr(self, which).values())


def scale(cell: Any, factor: float) -> Any:
    if isinstance(cell, list):
        return [scale(c, factor) for c in cell]
    if isinstance(cell, (int, float)) and not isinstance(cell, bool) and math.isfinite(cell):
        return cell * factor
    return cell


def inject(folder: Path, order: Sequence[Path], name: str, at: int) -> None:
    """Benchmark ``name`` :data:`STEP` times slower in every file from ``order[at]`` on."""
    for path in order[at:]:
        data = json.loads(path.read_text(encoding="utf-8"))
        row = data["results"].get(name)
        if row is None:
            continue
        for column in SCALED:
            if column in data["result_columns"]:
                i = data["result_columns"].index(column)
                if i < len(row):
                    row[i] = scale(row[i], STEP)
        path.write_text(json.dumps(data), encoding="utf-8")


def perfguard_found(history: Sequence[ResultSet], order: str) -> Found:
    analysis = changepoints.analyse(history, Policy(), order=order)
    steps: dict[str, list[int]] = {}
    regressions: dict[str, list[int]] = {}
    for c in analysis.change_points:
        steps.setdefault(c.label, []).append(c.position)
        if c.regression:
            regressions.setdefault(c.label, []).append(c.position)
    return Found(steps, regressions)


def asv_found(history: Sequence[ResultSet]) -> Found:
    """asv publish's step detection on the same values: weights from the stored intervals."""
    labels = sorted({m.label for r in history for m in r.measurements})
    column = {label: j for j, label in enumerate(labels)}
    y: list[list[float | None]] = [[None] * len(history) for _ in labels]
    w: list[list[float | None]] = [[None] * len(history) for _ in labels]
    for i, r in enumerate(history):
        for m in r.measurements:
            if m.status is Status.OK and m.value is not None:
                j = column[m.label]
                y[j][i] = m.value
                ci = m.ci_99
                w[j][i] = (
                    None if ci is None else _stats.get_weight({"ci_99_a": ci[0], "ci_99_b": ci[1]})
                )
    steps: dict[str, list[int]] = {}
    regressions: dict[str, list[int]] = {}
    for label, j in column.items():
        fitted = step_detect.detect_steps(y[j], w[j])
        steps[label] = [left for left, *_ in fitted[1:]]
        _, _, jumps = step_detect.detect_regressions(fitted, threshold=0.05)
        regressions[label] = [after for _, after, *_ in (jumps or [])]
    return Found(steps, regressions)


def asv_on_adjusted(history: Sequence[ResultSet]) -> Found:
    """asv's step detection on perfguard's input: the runner effect removed, no weights."""
    steps: dict[str, list[int]] = {}
    regressions: dict[str, list[int]] = {}
    for label, positions, logs in changepoints.adjusted_series(history):
        y: list[float | None] = [None] * len(history)
        for p, v in zip(positions, logs, strict=True):
            y[p] = math.exp(float(v))
        fitted = step_detect.detect_steps(y)
        steps.setdefault(label, []).extend(left for left, *_ in fitted[1:])
        _, _, jumps = step_detect.detect_regressions(fitted, threshold=0.05)
        regressions.setdefault(label, []).extend(after for _, after, *_ in (jumps or []))
    return Found(steps, regressions)


def recall(found: Found, which: str, injected: Sequence[tuple[str, int]]) -> int:
    return sum(
        any(abs(p - at) <= NEAR for p in getattr(found, which).get(label, []))
        for label, at in injected
    )


def command_seconds(folder: Path, repeat: int = 3) -> float:
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "perfguard", "history", str(folder), "--format", "json"],
            capture_output=True,
            text=True,
            check=False,
        )
        best = min(best, time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"perfguard history failed: {done.stderr.strip()}")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=5, help="copies with injected steps")
    parser.add_argument("--steps", type=int, default=6, help="benchmarks stepped per copy")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    source = bundled.results_dir()
    with tempfile.TemporaryDirectory(prefix="perfguard-cp-quality-") as scratch:
        clean = Path(scratch) / "clean"
        shutil.copytree(source, clean)
        start = time.perf_counter()
        history, order = results.load_results_history(clean)
        loaded = time.perf_counter()
        ours = perfguard_found(history, order)
        analysed = time.perf_counter()
        theirs = asv_found(history)
        asv_seconds = time.perf_counter() - analysed
        theirs_adjusted = asv_on_adjusted(history)
        wall = command_seconds(clean)
        labels = sorted({m.label for r in history for m in r.measurements})
        files = [Path(r.source) for r in history]
        hits = dict.fromkeys(("ours", "asv_steps", "asv_regressions", "adj_steps", "adj_reg"), 0)
        total = 0
        for trial in range(args.trials):
            copy = Path(scratch) / f"trial-{trial}"
            shutil.copytree(clean, copy)
            moved = [copy / f.relative_to(clean) for f in files]
            chosen = rng.choice(len(labels), size=args.steps, replace=False)
            injected = [(labels[j], int(rng.integers(20, len(history) - 20))) for j in chosen]
            for label, at in injected:
                inject(copy, moved, label, at)
            stepped, stepped_order = results.load_results_history(copy)
            assert [r.commit for r in stepped] == [r.commit for r in history]
            ours_t, asv_t = perfguard_found(stepped, stepped_order), asv_found(stepped)
            adjusted_t = asv_on_adjusted(stepped)
            total += len(injected)
            hits["ours"] += recall(ours_t, "regressions", injected)
            hits["adj_steps"] += recall(adjusted_t, "steps", injected)
            hits["adj_reg"] += recall(adjusted_t, "regressions", injected)
            hits["asv_steps"] += recall(asv_t, "steps", injected)
            hits["asv_regressions"] += recall(asv_t, "regressions", injected)
            shutil.rmtree(copy)
    series = len(labels)
    print(f"Django corpus: {len(history)} results ({order} order), {series} benchmarks")
    print(
        f"{args.trials} copies x {args.steps} injected +10 % steps = {total} steps, found within"
        f" {NEAR} commits; change points on the untouched history\n"
    )
    print(f"| detector | recall (within {NEAR}) | change points on the untouched history |")
    print("|:--|--:|--:|")
    print(
        f"| perfguard history (regression change points) | {hits['ours']}/{total}"
        f" ({hits['ours'] / total:.0%}) | {ours.total('steps')}"
        f" ({ours.total('regressions')} regressions) |"
    )
    print(
        f"| asv.step_detect: detect_steps (every step) | {hits['asv_steps']}/{total}"
        f" ({hits['asv_steps'] / total:.0%}) | {theirs.total('steps')} |"
    )
    print(
        f"| asv.step_detect: detect_regressions (5 %) | {hits['asv_regressions']}/{total}"
        f" ({hits['asv_regressions'] / total:.0%}) | {theirs.total('regressions')} |"
    )
    print(
        f"| asv detect_steps on perfguard's runner-removed values | {hits['adj_steps']}/{total}"
        f" ({hits['adj_steps'] / total:.0%}) | {theirs_adjusted.total('steps')} |"
    )
    print(
        f"| asv detect_regressions (5 %) on them | {hits['adj_reg']}/{total}"
        f" ({hits['adj_reg'] / total:.0%}) | {theirs_adjusted.total('regressions')} |"
    )
    print(
        f"\ntime: perfguard history on the {len(history)}-result history {wall:.2f} s wall"
        f" (the command, best of 3); in-process {loaded - start:.2f} s reading,"
        f" {analysed - loaded:.2f} s analysing; asv.step_detect {asv_seconds:.2f} s"
    )


if __name__ == "__main__":
    main()
