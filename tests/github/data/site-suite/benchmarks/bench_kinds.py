"""One benchmark of every asv type, for the site test (tests/github/test_site_graphs.py).

Tiny and independent of the project: the fixture measures the published site, not perfguard.
"""


class Kinds:
    def time_sum(self) -> None:
        sum(range(2_000))

    def mem_list(self) -> list[int]:
        return [0] * 1_000

    def peakmem_build(self) -> int:
        return len([0] * 100_000)

    def track_count(self) -> int:
        return 42

    track_count.unit = "items"  # type: ignore[attr-defined]


class Params:
    params = ([10, 100], ["a", "bb"])
    param_names = ("n", "kind")

    def time_join(self, n: int, kind: str) -> None:
        kind.join(str(i) for i in range(n))

    def track_length(self, n: int, kind: str) -> int:
        return n * len(kind)


class NotMeasured:
    """In the suite, never measured in the history (the generator leaves it out, as a history
    made before a benchmark was added, or with ``asv run -b``, does)."""

    def time_never(self) -> None:
        pass
