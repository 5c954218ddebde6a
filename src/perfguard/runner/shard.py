"""``perfguard run --shard K/N``: keep share K of the discovered suite, and time what it costs.

The share is computed from the whole selected suite right after discovery
(:func:`perfguard.shards.partition.partition`), so every runner given the same checkout, ``-b``
and cost source measures its own share and nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from perfguard import rounds
from perfguard.models import format_label
from perfguard.runner import asvenv
from perfguard.shards import costs, partition

P = ParamSpec("P")
R = TypeVar("R")


def select(
    benchmarks: Any,
    spec: partition.ShardSpec,
    *,
    base: str,
    results_dir: Path,
    explicit: Path | None,
) -> tuple[Any, rounds.Shard]:
    """asv's discovered benchmarks cut to share ``spec``, and the record of how it was cut."""
    described = asvenv.describe(benchmarks)
    suite = {
        name: costs.Combinations(
            selected=len(asvenv.selected_combinations(benchmarks, name)),
            total=len(meta.combinations),
        )
        for name, meta in described.items()
    }
    fingerprint = partition.suite_fingerprint(
        (name, meta.version, format_label(name, combo))
        for name, meta in described.items()
        for _, combo in asvenv.selected_combinations(benchmarks, name)
    )
    expected = costs.expected(suite, base=base, results_dir=results_dir, explicit=explicit)
    shares = partition.partition(expected.values, spec.count)
    mine = shares[spec.index - 1]
    record = rounds.Shard(
        index=spec.index,
        count=spec.count,
        benchmarks=tuple(mine),
        suite=fingerprint,
        partition=partition.partition_digest(expected.values, spec.count, fingerprint),
        costs=expected.source,
        suite_rows=sum(combos.selected for combos in suite.values()),
    )
    keep = set(mine)
    return benchmarks.filter_out({name for name in benchmarks if name not in keep}), record


def describe(share: rounds.Shard, measured: int, total: int) -> str:
    """The line a shard says before its rounds (counts are rows, as the report's)."""
    line = f"shard {share.index}/{share.count}: {measured} of {total} benchmarks, balanced by"
    line += f" {share.costs}"
    if not share.benchmarks:
        line += (
            f"; nothing to measure here (the suite has fewer benchmarks than {share.count}"
            " shards): this shard's rounds file is empty, and merges all the same"
        )
    return line


def timed(
    measure: Callable[Concatenate[str, P], R], seconds: MutableMapping[str, float]
) -> Callable[Concatenate[str, P], R]:
    """``measure`` (first argument: the benchmark name), adding its wall time to ``seconds``.

    Those seconds are what a later sharded run balances on (``--shard-costs``).
    """

    def wrapped(name: str, /, *args: P.args, **kwargs: P.kwargs) -> R:
        began = time.monotonic()
        try:
            return measure(name, *args, **kwargs)
        finally:
            seconds[name] = round(seconds.get(name, 0.0) + time.monotonic() - began, 3)

    return wrapped
