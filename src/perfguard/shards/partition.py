"""Split a suite into N shares of about equal expected cost, deterministically.

Greedy longest-first: benchmarks by descending cost (ties by name) each go to the share with the
smallest total so far (ties to the lowest share). Every benchmark lands in exactly one share, and
the same names and costs give the same shares on every machine; that is what lets N runners
each measure their own share without talking to each other. A benchmark is never split: all its
parameter combinations share one worker set-up and one ``setup_cache``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from perfguard.errors import ConfigError

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
MAX_SHARDS = 256
"""More shares than any CI matrix runs (GitHub allows 256 jobs per matrix)."""


@dataclass(frozen=True, slots=True)
class ShardSpec:
    """Share ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_spec(text: str, option: str = "--shard") -> ShardSpec:
    """``2/3`` -> ShardSpec(2, 3); anything else is one line naming the option."""
    match = _SPEC.match(text)
    if not match:
        raise ConfigError(f"{option} {text!r}: use K/N, e.g. {option} 2/3 (share 2 of 3)")
    index, count = int(match.group(1)), int(match.group(2))
    if not 1 <= count <= MAX_SHARDS:
        raise ConfigError(f"{option} {text}: N must be between 1 and {MAX_SHARDS}")
    if not 1 <= index <= count:
        raise ConfigError(f"{option} {text}: K must be between 1 and N ({count})")
    return ShardSpec(index, count)


def partition(costs: Mapping[str, float], count: int) -> list[list[str]]:
    """``count`` shares of the benchmark names, balanced by ``costs``; each share sorted by name.

    Costs must be finite and non-negative (a cost source makes them so).
    """
    if count < 1:
        raise ValueError("need at least one share")
    loads = [0.0] * count
    shares: list[list[str]] = [[] for _ in range(count)]
    for name in sorted(costs, key=lambda n: (-costs[n], n)):
        lightest = min(range(count), key=lambda i: (loads[i], i))
        shares[lightest].append(name)
        loads[lightest] += costs[name]
    return [sorted(share) for share in shares]


def suite_fingerprint(entries: Iterable[tuple[str, str | None, str]]) -> str:
    """A short hash of the selected suite: ``(name, version, combination label)`` per series.

    Shards of one run must agree on it; a different benchmark version, a different ``-b`` or
    another checkout changes it.
    """
    return _digest(sorted((name, version or "", label) for name, version, label in entries))


def partition_digest(costs: Mapping[str, float], count: int, suite: str) -> str:
    """A short hash of everything the shares were computed from (suite, N, the costs)."""
    return _digest({"suite": suite, "count": count, "costs": sorted(costs.items())})


def _digest(value: object) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
