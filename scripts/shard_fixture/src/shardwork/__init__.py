"""Workloads of a small suite for scripts/shard_walltime.py; a commit scales ``parse``."""

import json
import re

PARSE_SCALE = 1.0
"""Work multiplier of :func:`parse`: the script's head commit sets 1.3 (30 % more work)."""

_LINE = re.compile(r"(\w+)=(\d+)")
_TEXT = " ".join(f"key{i}={i * 7}" for i in range(200))


def parse() -> int:
    total = 0
    for _ in range(round(4 * PARSE_SCALE)):
        total += sum(int(value) for _, value in _LINE.findall(_TEXT))
    return total


def sort(n: int) -> int:
    return len(sorted((i * 7919) % 1009 for i in range(n)))


def build_dict(n: int) -> dict[int, int]:
    return {i: i * i for i in range(n)}


def json_roundtrip(n: int) -> int:
    document = {"rows": [{"id": i, "name": f"row{i}", "tags": ["a", "b"]} for i in range(n)]}
    return len(json.loads(json.dumps(document))["rows"])
