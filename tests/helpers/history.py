"""History-mode helpers that only tests need: floors by key, a known step in a real series."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from perfguard import history
from perfguard.models import Key, ResultSet


def noise_floors(
    results: Iterable[ResultSet], *, quantile: float = history.QUANTILE
) -> dict[Key, history.Floor]:
    """Per benchmark, the floor learned from ``results`` (in commit order)."""
    return dict(history.learn(results, quantile=quantile).floors)


def with_step(results: Sequence[ResultSet], key: Key, factor: float, at: int) -> list[ResultSet]:
    """``results`` with benchmark ``key`` scaled by ``factor`` from result ``at`` on."""
    out = list(results[:at])
    for r in results[at:]:
        measurements = tuple(
            history.scaled(m, factor) if m.key == key else m for m in r.measurements
        )
        out.append(replace(r, measurements=measurements))
    return out
