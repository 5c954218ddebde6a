"""The shares of ``perfguard run --shard K/N`` and where their costs come from.

The partition is pure (names and costs in, shares out); the cost sources read real files: an
asv result file written by asv's own ``Results.save``, and results directories laid out as asv
lays them out.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from asv.results import Results
from asv.runner import BenchmarkResult

from perfguard.errors import ConfigError, InputError
from perfguard.shards import costs, partition
from perfguard.shards.partition import ShardSpec, parse_spec

BASE = "ab12cd34" + "0" * 32


def test_every_benchmark_lands_in_exactly_one_share() -> None:
    rng = random.Random(7)
    for count in (1, 2, 3, 5, 8):
        names = {f"bench.time_{i}": rng.lognormvariate(0, 2) for i in range(23)}
        shares = partition.partition(names, count)
        assert len(shares) == count
        flat = [name for share in shares for name in share]
        assert sorted(flat) == sorted(names) and len(flat) == len(set(flat))


def test_the_shares_depend_on_names_and_costs_only() -> None:
    costs_ = {f"b{i}": float(i % 4) for i in range(12)}
    shuffled = dict(sorted(costs_.items(), key=lambda item: random.Random(3).random()))
    assert partition.partition(costs_, 3) == partition.partition(shuffled, 3)
    # Ties (equal costs) go by name, into the lowest share first.
    assert partition.partition(dict.fromkeys(["c", "a", "b", "d"], 1.0), 2) == [
        ["a", "c"],
        ["b", "d"],
    ]


def test_skewed_costs_are_balanced_not_counted() -> None:
    """One benchmark costs as much as the ten others together: it gets a share to itself."""
    skewed = {"heavy": 10.0, **{f"light{i}": 1.0 for i in range(10)}}
    shares = partition.partition(skewed, 2)
    assert ["heavy"] in shares
    loads = [sum(skewed[n] for n in share) for share in shares]
    assert loads == [10.0, 10.0]
    # Three shares: the heavy one alone, the ten light ones split evenly.
    three = partition.partition(skewed, 3)
    assert sorted(sum(skewed[n] for n in s) for s in three) == [5.0, 5.0, 10.0]


def test_greedy_longest_first_is_within_four_thirds_of_the_best() -> None:
    """Graham's bound for longest-first, on random skewed suites: the largest share is at most
    4/3 of the best possible one (the mean share, or the costliest benchmark)."""
    rng = random.Random(11)
    for _ in range(200):
        count = rng.randint(2, 6)
        names = {f"b{i}": rng.paretovariate(1.2) for i in range(rng.randint(count, 40))}
        loads = [sum(names[n] for n in s) for s in partition.partition(names, count)]
        best = max(sum(names.values()) / count, max(names.values()))
        assert max(loads) <= best * 4 / 3 + 1e-9


def test_more_shares_than_benchmarks_leaves_shares_empty() -> None:
    assert partition.partition({"a": 1.0, "b": 2.0}, 4) == [["b"], ["a"], [], []]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3", "--shard '3': use K/N, e.g. --shard 2/3 (share 2 of 3)"),
        ("0/3", "--shard 0/3: K must be between 1 and N (3)"),
        ("4/3", "--shard 4/3: K must be between 1 and N (3)"),
        ("1/0", "--shard 1/0: N must be between 1 and 256"),
        ("1/999", "--shard 1/999: N must be between 1 and 256"),
    ],
)
def test_a_bad_shard_is_one_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_spec(text)
    assert str(caught.value) == message


def test_a_shard_spec_reads_and_prints_as_k_of_n() -> None:
    assert parse_spec(" 2 / 3 ") == ShardSpec(2, 3)
    assert str(ShardSpec(2, 3)) == "2/3"


def test_the_fingerprints_change_with_the_suite_and_the_inputs() -> None:
    suite = [("b.time_x", "v1", "b.time_x"), ("b.time_y", "v1", "b.time_y(n=1)")]
    same = partition.suite_fingerprint(reversed(suite))
    assert partition.suite_fingerprint(suite) == same
    assert partition.suite_fingerprint([("b.time_x", "v2", "b.time_x"), suite[1]]) != same
    assert partition.suite_fingerprint(suite[:1]) != same
    one = partition.partition_digest({"a": 1.0}, 3, same)
    assert one == partition.partition_digest({"a": 1.0}, 3, same)
    assert one != partition.partition_digest({"a": 2.0}, 3, same)
    assert one != partition.partition_digest({"a": 1.0}, 2, same)


SUITE = {
    "bench.time_fast": costs.Combinations(1, 1),
    "bench.time_slow": costs.Combinations(1, 1),
    "bench.Params.time_p": costs.Combinations(2, 4),  # -b kept 2 of its 4 combinations
    "bench.time_new": costs.Combinations(3, 3),
}


def asv_result_file(results_dir: Path, machine: str, durations: dict[str, float]) -> Path:
    """A result file of BASE as asv itself writes it, with these benchmark durations."""
    results = Results({"machine": machine}, {}, BASE, 0, "3.11", "virtualenv-py3.11", {})
    for name, seconds in durations.items():
        info = {"name": name, "version": "1", "params": [], "param_names": [], "type": "time"}
        outcome = BenchmarkResult(
            result=[0.001], samples=[[0.001, 0.001]], number=[1], errcode=0, stderr="", profile=None
        )
        results.add_result(info, outcome, duration=seconds)
    results.save(str(results_dir))
    return results_dir / machine / f"{BASE[:8]}-virtualenv-py3.11.json"


def test_asvs_durations_of_the_base_commit_are_the_default_costs(tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    asv_result_file(
        results_dir, "runner-a", {"bench.time_fast": 1.0, "bench.time_slow": 9.0,
                                  "bench.Params.time_p": 8.0}
    )  # fmt: skip
    asv_result_file(results_dir, "runner-b", {"bench.time_fast": 3.0, "bench.time_slow": 11.0})
    found = costs.expected(SUITE, base=BASE, results_dir=results_dir)
    assert found.source == f"asv's durations of base ab12cd34 (2 result files in {results_dir})"
    assert found.values["bench.time_fast"] == 2.0  # the median over both machines
    assert found.values["bench.time_slow"] == 10.0
    assert found.values["bench.Params.time_p"] == 4.0  # 2 of its 4 combinations selected
    # Unknown to asv: the median cost per combination (2, 10, 2 per combination) times 3.
    assert found.values["bench.time_new"] == 6.0


def test_without_results_the_combinations_are_counted(tmp_path: Path) -> None:
    for results_dir in (tmp_path / "none", tmp_path):  # missing, and empty
        found = costs.expected(SUITE, base=BASE, results_dir=results_dir)
        assert found.source == "count of parameter combinations"
        assert found.values == {
            "bench.time_fast": 1.0,
            "bench.time_slow": 1.0,
            "bench.Params.time_p": 2.0,
            "bench.time_new": 3.0,
        }


def test_an_explicit_asv_result_file_is_a_cost_source(tmp_path: Path) -> None:
    path = asv_result_file(tmp_path / "r", "m", {"bench.time_fast": 4.0, "other.time_z": 1.0})
    found = costs.expected(SUITE, base=BASE, results_dir=tmp_path / "none", explicit=path)
    assert found.source == f"asv result file {path}"
    assert found.values["bench.time_fast"] == 4.0
    assert found.values["bench.time_new"] == 12.0
    foreign = asv_result_file(tmp_path / "f", "m", {"other.time_z": 1.0})
    counted = costs.expected(SUITE, base=BASE, results_dir=tmp_path, explicit=foreign)
    assert counted.source == (
        f"count of parameter combinations ({foreign} knows none of these benchmarks)"
    )


def test_an_explicit_file_that_is_no_cost_source_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^--shard-costs .* does not exist$"):
        costs.expected(SUITE, base=BASE, results_dir=tmp_path, explicit=tmp_path / "gone.json")
    notes = tmp_path / "notes.json"
    notes.write_text('{"hello": 1}')
    with pytest.raises(InputError, match="is not an asv result file: it has no format version"):
        costs.expected(SUITE, base=BASE, results_dir=tmp_path, explicit=notes)
