"""A workload whose size a commit can scale by an exact factor (detector-quality fixture)."""

SCALE = 1.00
"""Work multiplier: the detector script commits 1.00 (base) and 1.02 ... 1.10 (heads)."""
UNITS = 60


def _reps() -> int:
    return round(UNITS * SCALE)


def arithmetic() -> int:
    total = 0
    for _ in range(_reps()):
        for i in range(1000):
            total += i * i % 7
    return total


def sorting() -> int:
    data = [(i * 7919) % 1009 for i in range(1000)]
    size = 0
    for _ in range(_reps()):
        size += len(sorted(data))
    return size
