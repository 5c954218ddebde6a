"""Bus statistics: plain counters on the hot path, an immutable snapshot for readers."""

from __future__ import annotations

import msgspec

BUCKETS = 64


class LatencyHistogram:
    """Latencies in power-of-two nanosecond buckets: bucket i holds [2**(i-1), 2**i) ns.

    Recording is one `bit_length` and one list increment, cheap enough for every event;
    percentiles are reported as the upper bound of their bucket (within a factor of 2).
    """

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts = [0] * BUCKETS

    def record_ns(self, nanoseconds: int) -> None:
        self.counts[min(max(nanoseconds, 0).bit_length(), BUCKETS - 1)] += 1

    @property
    def count(self) -> int:
        return sum(self.counts)

    def percentile(self, fraction: float) -> float:
        """Upper bound in seconds below which `fraction` of recorded latencies fall (0 if none)."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction must be within [0, 1], got {fraction}")
        total = self.count
        if total == 0:
            return 0.0
        target = max(1, round(fraction * total))
        seen = 0
        for index, bucket in enumerate(self.counts):
            seen += bucket
            if seen >= target:
                return (1 << index) / 1e9
        raise AssertionError("unreachable: bucket counts sum to total")  # pragma: no cover

    def snapshot(self) -> HistogramSnapshot:
        return HistogramSnapshot(
            count=self.count,
            p50_s=self.percentile(0.5),
            p90_s=self.percentile(0.9),
            p99_s=self.percentile(0.99),
            max_s=self.percentile(1.0),
            buckets={(1 << i) / 1e9: n for i, n in enumerate(self.counts) if n},
        )


class HistogramSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Percentiles in seconds; `buckets` maps a bucket's upper bound (s) to its count."""

    count: int
    p50_s: float
    p90_s: float
    p99_s: float
    max_s: float
    buckets: dict[float, int]


class Counters:
    """Mutable counters the bus increments; read them through BusStats snapshots."""

    __slots__ = (
        "command_timeouts",
        "commands",
        "commands_failed",
        "delivered",
        "dropped",
        "failed",
        "handler_calls",
        "observer_errors",
        "published",
        "rejected",
        "undelivered",
    )

    def __init__(self) -> None:
        self.published = 0
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        self.rejected = 0
        self.undelivered = 0
        self.handler_calls = 0
        self.commands = 0
        self.commands_failed = 0
        self.command_timeouts = 0
        self.observer_errors = 0


class BusStats(msgspec.Struct, frozen=True, kw_only=True):
    """A consistent snapshot of the bus counters.

    Every published event ends in exactly one of delivered, dropped, rejected or undelivered,
    or is still pending (queued, being dispatched, or its publisher waiting for queue space):
    `accounted` checks that identity.
    """

    published: int
    delivered: int
    failed: int
    dropped: int
    rejected: int
    undelivered: int
    queue_depth: int
    in_flight: int
    waiting: int
    handler_calls: int
    commands: int
    commands_failed: int
    command_timeouts: int
    observer_errors: int
    sessions: int
    event_latency: HistogramSnapshot
    command_latency: HistogramSnapshot

    @property
    def accounted(self) -> bool:
        settled = self.delivered + self.dropped + self.rejected + self.undelivered
        pending = self.queue_depth + self.in_flight + self.waiting
        return settled + pending == self.published
