"""numpy benchmarks: sizes x dtypes, inputs built in setup."""

from scalelib import arrays


class ArraySuite:
    params = ([1_000, 300_000], ["float64", "int64"])
    param_names = ["size", "dtype"]  # noqa: RUF012

    def setup(self, size, dtype):
        self.values = arrays.make(size, dtype)

    def time_sum(self, size, dtype):
        self.values.sum()

    def time_normalise(self, size, dtype):
        arrays.normalise(self.values)

    def time_ranks(self, size, dtype):
        arrays.ranks(self.values)
