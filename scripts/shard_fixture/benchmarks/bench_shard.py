"""A small wall-clock suite of bodies from about 0.1 to 5 ms: nine benchmarks, eleven rows."""

from typing import ClassVar

import shardwork


def time_parse():
    shardwork.parse()


def time_sort_small():
    shardwork.sort(1000)


def time_sort_large():
    shardwork.sort(30000)


def time_build_dict():
    shardwork.build_dict(20000)


def time_json_roundtrip():
    shardwork.json_roundtrip(2000)


def time_regex():
    shardwork.parse.__globals__["_LINE"].findall("x=1 " * 500)


class Lookup:
    """``setup`` builds a sizeable input before the timed calls."""

    def setup(self):
        self.table = shardwork.build_dict(200000)

    def time_lookup(self):
        table = self.table
        for i in range(0, 200000, 50):
            table[i]


class Join:
    params: ClassVar[list[int]] = [10, 1000, 10000]
    param_names: ClassVar[list[str]] = ["n"]

    def time_join(self, n):
        ",".join(str(i) for i in range(n))


def mem_table():
    return shardwork.build_dict(1000)
