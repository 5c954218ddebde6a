"""Configuration: threshold, rules, direction defaults, budgets, and bad config."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfguard.errors import ConfigError
from perfguard.models import Direction, Kind
from perfguard.policy import (
    Budget,
    FailOn,
    Policy,
    Rule,
    default_direction,
    dump_policy,
    find_config,
    load_policy,
    parse_quantity,
    parse_threshold,
    policy_from_mapping,
)


@pytest.mark.parametrize(
    ("kind", "unit", "direction", "assumed"),
    [
        (Kind.TIME, "seconds", Direction.LOWER_IS_BETTER, False),
        (Kind.MEM, "bytes", Direction.LOWER_IS_BETTER, False),
        (Kind.PEAKMEM, "bytes", Direction.LOWER_IS_BETTER, False),
        (Kind.TRACK, "events/s", Direction.HIGHER_IS_BETTER, False),
        (Kind.TRACK, "ops / sec", Direction.HIGHER_IS_BETTER, False),
        (Kind.TRACK, "requests per second", Direction.HIGHER_IS_BETTER, False),
        (Kind.TRACK, "Hz", Direction.HIGHER_IS_BETTER, False),
        (Kind.TRACK, "seconds", Direction.LOWER_IS_BETTER, True),
        (Kind.TRACK, "unit", Direction.LOWER_IS_BETTER, True),
    ],
)
def test_default_direction(kind: Kind, unit: str, direction: Direction, assumed: bool) -> None:
    assert default_direction(kind, unit) == (direction, assumed)


def test_rules_apply_in_order_and_later_ones_win() -> None:
    policy = Policy(
        rules=(
            Rule(pattern="bus.*", threshold=0.10),
            Rule(pattern="bus.track_*", direction=Direction.HIGHER_IS_BETTER),
            Rule(pattern="bus.track_noisy", threshold=0.25, ignore=True),
        )
    )
    r = policy.resolve("bus.track_score", "bus.track_score", Kind.TRACK, "points")
    assert (r.threshold, r.direction, r.direction_assumed, r.ignore) == (
        0.10,
        Direction.HIGHER_IS_BETTER,
        False,
        False,
    )
    r = policy.resolve("bus.track_noisy", "bus.track_noisy", Kind.TRACK, "points")
    assert (r.threshold, r.ignore) == (0.25, True)
    r = policy.resolve("store.time_x", "store.time_x", Kind.TIME, "seconds")
    assert (r.threshold, r.direction) == (0.05, Direction.LOWER_IS_BETTER)


def test_rule_matches_label_with_params() -> None:
    policy = Policy(rules=(Rule(pattern="*(n=1000)", ignore=True),))
    assert policy.resolve("s.time_a", "s.time_a(n=1000)", Kind.TIME, "seconds").ignore
    assert not policy.resolve("s.time_a", "s.time_a(n=10)", Kind.TIME, "seconds").ignore


@pytest.mark.parametrize(
    ("text", "value"), [("5%", 0.05), ("12.5%", 0.125), (0.05, 0.05), ("0.1", 0.1)]
)
def test_parse_threshold(text: object, value: float) -> None:
    assert parse_threshold(text, "x") == pytest.approx(value)


@pytest.mark.parametrize("text", ["5", 5, "0%", "150%", "fast", True, None, -0.1])
def test_parse_threshold_rejects(text: object) -> None:
    with pytest.raises(ConfigError, match="threshold"):
        parse_threshold(text, "x")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (10000, 10000.0),
        ("10ms", 0.01),
        ("250us", 250e-6),
        ("100MB", 100e6),
        ("1GiB", 2**30),
        ("10k", 1e4),
        ("1e-3", 1e-3),
        (2.5, 2.5),
    ],
)
def test_parse_quantity(text: object, value: float) -> None:
    assert parse_quantity(text, "x") == pytest.approx(value)


@pytest.mark.parametrize("text", ["ten", "10 parsecs", True, "1..2"])
def test_parse_quantity_rejects(text: object) -> None:
    with pytest.raises(ConfigError, match="x"):
        parse_quantity(text, "x")


def test_policy_from_mapping_full() -> None:
    policy = policy_from_mapping(
        {
            "threshold": "10%",
            "fail-on": "never",
            "rules": [{"match": "a.*", "direction": "higher", "threshold": 0.2, "ignore": False}],
            "budgets": [{"match": "a.track_rate", "min": "10k"}, {"match": "a.p99", "max": "10ms"}],
        }
    )
    assert policy.threshold == 0.10
    assert policy.fail_on is FailOn.NEVER
    assert policy.rules == (
        Rule(pattern="a.*", threshold=0.2, direction=Direction.HIGHER_IS_BETTER, ignore=False),
    )
    assert policy.budgets == (
        Budget(pattern="a.track_rate", min=1e4),
        Budget(pattern="a.p99", max=0.01),
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"threshhold": "5%"}, "unknown key"),
        ({"fail-on": "sometimes"}, "fail-on"),
        ({"rules": {"match": "x"}}, "array of tables"),
        ({"rules": [{"threshold": "5%"}]}, "'match'"),
        ({"rules": [{"match": "x", "direction": "up"}]}, "direction"),
        ({"rules": [{"match": "x", "ignore": "yes"}]}, "ignore"),
        ({"rules": [{"match": "x", "once_per_process": 1}]}, "once_per_process must be true"),
        ({"rules": [{"match": "x", "colour": "red"}]}, "unknown key"),
        ({"budgets": [{"match": "x"}]}, "'min' or 'max'"),
        ({"budgets": [{"match": "x", "max": "lots"}]}, "cannot read"),
    ],
)
def test_bad_config_is_one_clear_error(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        policy_from_mapping(raw)


def test_load_policy_from_pyproject_with_cli_overrides(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.perfguard]\nthreshold = "10%"\n'
        '[[tool.perfguard.rules]]\nmatch = "x.*"\nignore = true\n'
    )
    sub = tmp_path / "sub"
    sub.mkdir()
    assert find_config(sub) == tmp_path / "pyproject.toml"
    policy = load_policy(None, start=sub)
    assert policy.threshold == 0.10
    assert policy.rules[0].ignore is True
    policy = load_policy(None, start=sub, threshold="3%", fail_on="never")
    assert (policy.threshold, policy.fail_on) == (0.03, FailOn.NEVER)


def test_discovery_passes_over_a_pyproject_without_the_table(tmp_path: Path) -> None:
    """A monorepo: the sub-project's own pyproject.toml has no [tool.perfguard]; the settings
    at the top are found, as the docstring says, not the nearest pyproject.toml of any kind."""
    (tmp_path / "pyproject.toml").write_text('[tool.perfguard]\nthreshold = "10%"\n')
    sub = tmp_path / "packages" / "app"
    sub.mkdir(parents=True)
    (sub / "pyproject.toml").write_text('[project]\nname = "app"\n[tool.ruff]\nline-length = 99\n')
    assert find_config(sub) == tmp_path / "pyproject.toml"
    assert load_policy(None, start=sub).threshold == 0.10
    # A perfguard.toml on the way up is nearer, and wins.
    (tmp_path / "packages" / "perfguard.toml").write_text('threshold = "3%"\n')
    assert find_config(sub) == tmp_path / "packages" / "perfguard.toml"
    assert load_policy(None, start=sub).threshold == 0.03


def test_discovery_finds_nothing_without_the_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert not any((p / "pyproject.toml").exists() for p in tmp_path.parents)  # nothing above
    assert find_config(tmp_path) is None
    assert load_policy(None, start=tmp_path) == Policy()


def test_a_broken_pyproject_on_the_way_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        find_config(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool]\nperfguard = 3\n")
    assert find_config(tmp_path) == tmp_path / "pyproject.toml"
    with pytest.raises(ConfigError, match=r"tool.perfguard must be a table"):
        load_policy(None, start=tmp_path)


def test_perfguard_toml_wins_and_uses_top_level(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.perfguard]\nthreshold = "10%"\n')
    (tmp_path / "perfguard.toml").write_text('threshold = "2%"\n')
    assert load_policy(None, start=tmp_path).threshold == 0.02


def test_pyproject_without_table_gives_defaults_unless_named(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "x"\n')
    assert load_policy(None, start=tmp_path) == Policy()
    with pytest.raises(ConfigError, match=r"no \[tool.perfguard\]"):
        load_policy(path)


def test_missing_and_invalid_config_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_policy(tmp_path / "nope.toml")
    bad = tmp_path / "perfguard.toml"
    bad.write_text("threshold = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_policy(bad)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="cannot read"):
        load_policy(binary)


def test_a_rule_says_which_track_benchmarks_run_once_per_process() -> None:
    policy = policy_from_mapping(
        {
            "rules": [
                {"match": "a.track_*", "once_per_process": True},
                {"match": "a.track_rate(n=2)", "once_per_process": False},
                {"match": "a.*", "threshold": "10%"},  # says nothing about it: changes nothing
            ]
        }
    )
    assert policy.once_per_process("a.track_rate", "a.track_rate(n=1)")
    assert not policy.once_per_process("a.track_rate", "a.track_rate(n=2)")
    assert not policy.once_per_process("b.track_rate", "b.track_rate")


def test_a_dumped_policy_loads_back_as_the_same_policy(tmp_path: Path) -> None:
    """compare --policy-file: a later job (perf-comment.yml) renders under exactly the policy
    the gate used, rules, directions, budgets and fail-on included."""
    text = """
threshold = "3%"
fail-on = "never"
[[rules]]
match = "bench_io.*"
threshold = "25%"
direction = "higher"
[[rules]]
match = "bench_flaky.*"
ignore = true
once_per_process = true
[[budgets]]
match = "bench_core.time_*"
max = "10ms"
[[budgets]]
match = "bench_core.track_rate"
min = 1000
"""
    (tmp_path / "perfguard.toml").write_text(text, encoding="utf-8")
    policy = load_policy(tmp_path / "perfguard.toml")
    assert policy.rules and policy.budgets and policy.fail_on.value == "never"
    (tmp_path / "policy.toml").write_text(dump_policy(policy), encoding="utf-8")
    assert load_policy(tmp_path / "policy.toml") == policy
    assert Policy() != policy  # the default would not pass for it
