from __future__ import annotations

import pytest

from eventbus.stats import BUCKETS, LatencyHistogram


def test_empty_histogram() -> None:
    histogram = LatencyHistogram()
    assert histogram.count == 0
    assert histogram.percentile(0.99) == 0.0
    snapshot = histogram.snapshot()
    assert snapshot.count == 0 and snapshot.buckets == {}


def test_percentiles_are_bucket_upper_bounds() -> None:
    histogram = LatencyHistogram()
    for _ in range(98):
        histogram.record_ns(1000)  # bucket (512, 1024] ns
    histogram.record_ns(1_000_000)  # bucket up to 2**20 ns
    histogram.record_ns(1_000_000)
    assert histogram.count == 100
    assert histogram.percentile(0.5) == 1024 / 1e9
    assert histogram.percentile(0.98) == 1024 / 1e9
    assert histogram.percentile(0.99) == 2**20 / 1e9
    snapshot = histogram.snapshot()
    assert snapshot.p50_s == 1024 / 1e9
    assert snapshot.max_s == 2**20 / 1e9
    assert snapshot.buckets == {1024 / 1e9: 98, 2**20 / 1e9: 2}


def test_extreme_values_are_clamped() -> None:
    histogram = LatencyHistogram()
    histogram.record_ns(-5)
    histogram.record_ns(2**80)
    assert histogram.counts[0] == 1
    assert histogram.counts[BUCKETS - 1] == 1


def test_percentile_validates_fraction() -> None:
    with pytest.raises(ValueError, match="within \\[0, 1\\]"):
        LatencyHistogram().percentile(1.5)
