"""Microsecond-scale bodies without setup, scipy in a millisecond body, and a throughput track."""

import numpy as np
import scalelib
import scipy.stats
from scalelib import text

LINE = ",".join(str(i) for i in range(100))


def time_parse():
    text.parse(LINE, scalelib.WORK["tokens"])


def time_parse_short():
    text.parse(LINE, 5)


class StatsSuite:
    def setup(self):
        self.sample = np.random.default_rng(0).normal(size=2_000)

    def time_fit(self):
        scipy.stats.norm.fit(self.sample)

    def time_describe(self):
        scipy.stats.describe(self.sample)


def track_parse_rate():
    return text.rate()


track_parse_rate.unit = "calls/s"
