"""Where a shard's expected costs come from: the first of these that knows the suite.

1. ``--shard-costs FILE``: a rounds file (the seconds ``perfguard run`` spent on each benchmark,
   e.g. the merged rounds file of the base branch's last run) or an asv result file (the
   seconds asv spent on each benchmark, its ``duration`` column);
2. those durations in asv's own results for the base commit (``results_dir``, any machine);
3. the count of each benchmark's parameter combinations.

Every runner of one sharded run must compute the same shares, so the costs must be the same
everywhere: a file in the checkout or an artifact every job downloads. perfguard's own folder of
earlier runs is *not* a source: it differs from runner to runner. The rounds file records a hash
of the inputs (:func:`~perfguard.shards.partition.partition_digest`), and ``perfguard merge``
refuses shards whose inputs differ.

A benchmark the source does not know (a new one) costs the source's median cost per parameter
combination times its own count.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from perfguard import asvfiles, asvproject, rounds
from perfguard.errors import InputError


@dataclass(frozen=True, slots=True)
class Combinations:
    """How many of a benchmark's parameter combinations are selected, of how many."""

    selected: int
    total: int


@dataclass(frozen=True, slots=True)
class Costs:
    values: dict[str, float]
    """Expected cost per benchmark name (seconds, or a count)."""
    source: str
    """Where they came from, for stderr and the rounds file."""


def expected(
    suite: Mapping[str, Combinations],
    *,
    base: str,
    results_dir: Path,
    explicit: Path | None = None,
) -> Costs:
    """The expected cost of every benchmark of ``suite`` (see the module's order of sources)."""
    if explicit is not None:
        known, source = _from_file(explicit)
        if any(name in known for name in suite):
            return Costs(_complete(known, suite), source)
        return Costs(
            _by_count(suite),
            f"count of parameter combinations ({explicit} knows none of these benchmarks)",
        )
    known, files = _from_asv_results(results_dir, base)
    if any(name in known for name in suite):
        scaled = {
            name: known[name] * suite[name].selected / max(suite[name].total, 1)
            for name in suite
            if name in known
        }
        plural = "s" if files > 1 else ""
        return Costs(
            _complete(scaled, suite),
            f"asv's durations of base {base[:8]} ({files} result file{plural} in {results_dir})",
        )
    return Costs(_by_count(suite), "count of parameter combinations")


def _from_file(path: Path) -> tuple[dict[str, float], str]:
    if rounds.is_rounds_file(path):
        data = rounds.read(path)
        if not data.seconds:
            raise InputError(
                f"--shard-costs {path}: this rounds file has no per-benchmark times (an older"
                " perfguard wrote it); give a newer rounds file or an asv result file"
            )
        return dict(data.seconds), f"rounds file {path}"
    if not path.is_file():
        raise InputError(f"--shard-costs {path} does not exist")
    # load_durations does without a bad file; a file asked for by name must be a result file.
    asvfiles.check_format(
        asvfiles.read_json(path, "asv result file"),
        path,
        "asv result file",
        asvfiles.RESULTS_FORMAT,
    )
    durations = asvfiles.load_durations(path)
    return durations, f"asv result file {path}"


def _from_asv_results(results_dir: Path, base: str) -> tuple[dict[str, float], int]:
    """Per benchmark, the median duration over asv's result files of ``base`` (none: {})."""
    try:
        files = [f for f in asvproject.scan(results_dir) if f.hash8 == base[:8].lower()]
    except InputError:
        return {}, 0  # no results directory, or an empty one: nothing to learn from
    seen: dict[str, list[float]] = {}
    used = 0
    for found in sorted(files, key=lambda f: str(f.path)):
        durations = asvfiles.load_durations(found.path)  # {} for a corrupt or old file
        if not durations:
            continue
        used += 1
        for name, seconds in durations.items():
            seen.setdefault(name, []).append(seconds)
    return {name: statistics.median(values) for name, values in seen.items()}, used


def _by_count(suite: Mapping[str, Combinations]) -> dict[str, float]:
    return {name: float(combos.selected) for name, combos in suite.items()}


def _complete(known: Mapping[str, float], suite: Mapping[str, Combinations]) -> dict[str, float]:
    """``known`` for the suite's benchmarks; the others at the median cost per combination."""
    per_combination = [
        known[name] / max(suite[name].selected, 1) for name in suite if name in known
    ]
    fill = statistics.median(per_combination)
    return {
        name: float(known[name]) if name in known else fill * suite[name].selected for name in suite
    }
