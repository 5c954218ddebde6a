"""The asv boundary without building anything: configuration, outcomes, attributes, machine."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from perfguard import asvproject
from perfguard.commands.measuring import parse_attribute, parse_duration
from perfguard.errors import ConfigError
from perfguard.models import Kind
from perfguard.runner import asvenv
from perfguard.runner.pairs import SideSamples


def test_missing_config_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        asvproject.load_config(tmp_path / "asv.conf.json")


def test_config_asv_refuses_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "asv.conf.json"
    path.write_text(json.dumps({"version": 1, "project": "x"}))
    with pytest.raises(ConfigError, match="No repo specified"):
        asvproject.load_config(path)


def test_config_paths_are_made_absolute(tmp_path: Path) -> None:
    path = tmp_path / "asv.conf.json"
    path.write_text(json.dumps({"version": 1, "project": "x", "repo": ".", "env_dir": "e"}))
    conf = asvproject.load_config(path)
    assert conf.env_dir == str(tmp_path / "e")
    assert conf.repo == str(tmp_path)
    remote = tmp_path / "remote.json"
    remote.write_text(json.dumps({"version": 1, "project": "x", "repo": "https://x/y.git"}))
    assert asvproject.load_config(remote).repo == "https://x/y.git"


def test_round_outcomes_from_worker_samples() -> None:
    assert asvenv.outcome(SideSamples(error="boom"), "time") == asvenv.Outcome(value=None)
    assert asvenv.outcome(SideSamples(skipped=True), "time") == asvenv.Outcome(
        value=None, skipped=True
    )
    assert asvenv.outcome(SideSamples(samples=[math.nan]), "track") == asvenv.Outcome(
        value=None, skipped=True
    )
    assert asvenv.outcome(SideSamples(samples=[3.0]), "track") == asvenv.Outcome(value=3.0)
    fastest = asvenv.outcome(SideSamples(samples=[0.3, 0.1, 0.2]), "time")
    assert fastest == asvenv.Outcome(value=0.1)


def test_parameter_combinations_follow_asv_order() -> None:
    info = {"params": [["1", "2"], ["'a'"]], "param_names": ["n", "kind"]}
    assert asvenv.combinations(info) == [
        (("n", "1"), ("kind", "'a'")),
        (("n", "2"), ("kind", "'a'")),
    ]
    assert asvenv.combinations({"params": []}) == [()]


def test_describe_reads_every_type_asv_runner_writes() -> None:
    """asv_runner names memory benchmarks "memory" and "peakmemory"; a track may set its own
    type. None of them may stop a run (a peakmem_ benchmark once did: 'peakmemory' is not a
    valid Kind)."""
    info = {"params": [], "param_names": [], "unit": "bytes", "version": "v"}
    types = {"t": "time", "m": "memory", "p": "peakmemory", "k": "track", "own": "my-plugin"}
    described = asvenv.describe({name: {**info, "type": kind} for name, kind in types.items()})
    assert {name: meta.kind for name, meta in described.items()} == {
        "t": Kind.TIME, "m": Kind.MEM, "p": Kind.PEAKMEM, "k": Kind.TRACK, "own": Kind.TRACK,
    }  # fmt: skip


def test_machine_params_are_recorded_once_and_reused(tmp_path: Path) -> None:
    machine_file = tmp_path / "machines.json"
    first = asvenv.machine_params("ci-box", machine_file)
    assert first["machine"] == "ci-box"
    assert {"cpu", "num_cpu", "os", "arch", "ram"} <= set(first)
    stored = json.loads(machine_file.read_text())
    stored["ci-box"]["cpu"] = "recorded cpu"
    machine_file.write_text(json.dumps(stored))
    assert asvenv.machine_params("ci-box", machine_file)["cpu"] == "recorded cpu"


def parse_attributes(items: tuple[str, ...]) -> dict[str, Any]:
    """``-a number=100 -a warmup_time=0.1`` as the command gathers them (one by one)."""
    return dict(parse_attribute(item) for item in items)


def test_attributes_parse_numbers_and_strings() -> None:
    assert parse_attributes(("number=5", "warmup_time=0.5", "timer=process")) == {
        "number": 5,
        "warmup_time": 0.5,
        "timer": "process",
    }
    with pytest.raises(ConfigError, match="use name=value"):
        parse_attributes(("=3",))


@pytest.mark.parametrize(
    ("item", "message"),
    [("repeat=5", "--pairs"), ("rounds=2", "fresh processes"), ("processes=2", "fresh processes")],
)
def test_attributes_perfguard_sets_itself_are_refused(item: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_attributes((item,))


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90.0), ("90s", 90.0), ("10m", 600.0), ("1.5h", 5400.0)]
)
def test_time_limits(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_worker_attributes_quick_then_user_override_the_pair_defaults() -> None:
    from perfguard.runner import PAIR_ATTRIBUTES, worker_attributes

    assert worker_attributes({}, quick=False) == dict(PAIR_ATTRIBUTES)
    assert worker_attributes({}, quick=True)["warmup_time"] == 0.0
    assert worker_attributes({"warmup_time": 0.5}, quick=True)["warmup_time"] == 0.5
    assert worker_attributes({"number": 3}, quick=False)["sample_time"] == 0.001


def test_b_selects_parameter_combinations_as_asv_does() -> None:
    """asv's -b matches `name(param, ...)`: a regex can select single combinations, and
    perfguard measures (and counts) exactly those, in asv's own selection."""
    from types import SimpleNamespace

    from asv.benchmarks import Benchmarks

    info = {
        "name": "bench.time_p",
        "params": [["1", "2", "3"], ["'a'", "'b'"]],
        "param_names": ["n", "kind"],
        "type": "time",
        "unit": "seconds",
        "version": "v",
    }
    plain = {**info, "name": "bench.time_q", "params": [], "param_names": []}
    conf = SimpleNamespace(benchmark_dir="benchmarks")
    chosen = Benchmarks(conf, [info, plain], regex=[r"time_p\(2, "])
    assert asvenv.selected_combinations(chosen, "bench.time_p") == [
        (2, (("n", "2"), ("kind", "'a'"))),
        (3, (("n", "2"), ("kind", "'b'"))),
    ]
    assert "bench.time_q" not in chosen
    every = Benchmarks(conf, [info, plain])
    assert [i for i, _ in asvenv.selected_combinations(every, "bench.time_p")] == list(range(6))
    assert asvenv.selected_combinations(every, "bench.time_q") == [(0, ())]

    from perfguard.runner import _series

    assert [s.params for s in _series(chosen)] == [
        (("n", "2"), ("kind", "'a'")),
        (("n", "2"), ("kind", "'b'")),
    ]
