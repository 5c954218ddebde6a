"""pandas benchmarks on a frame built once by setup_cache (pickled by asv)."""

from scalelib import frames


class FrameSuite:
    params = ["sum", "mean", "max"]  # noqa: RUF012 (asv reads plain class lists)
    param_names = ["how"]  # noqa: RUF012

    def setup_cache(self):
        return frames.make()

    def time_aggregate(self, frame, how):
        frames.aggregate(frame, how)


class SelectSuite:
    def setup(self):
        self.frame = frames.make(50_000)

    def time_select(self):
        frames.select(self.frame)
