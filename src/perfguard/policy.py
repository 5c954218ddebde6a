"""What counts as a regression: threshold, per-benchmark rules, budgets.

Read from ``[tool.perfguard]`` in pyproject.toml, or the top level of perfguard.toml, then
overridden by command-line values. Rules match benchmark names with shell globs
(``fnmatch``); every matching rule applies in file order, later ones overriding the fields
they set. See README "Configuration".
"""

from __future__ import annotations

import enum
import fnmatch
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import tomli_w

from perfguard.errors import ConfigError
from perfguard.models import Direction, Kind

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

DEFAULT_THRESHOLD = 0.05


class FailOn(str, enum.Enum):
    """When the gate fails (exit 1)."""

    REGRESSION = "regression"
    """A regression, a newly failing benchmark or a broken budget."""
    NEVER = "never"
    """Report only: exit 0 whatever was found (warn, don't block)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """Per-benchmark settings for benchmarks whose name matches ``pattern``."""

    pattern: str
    threshold: float | None = None
    direction: Direction | None = None
    ignore: bool | None = None
    once_per_process: bool | None = None
    """``perfguard run``: a ``track_`` benchmark gives one value per process (as in asv), not
    one per paired sample; as the benchmark attribute of the same name."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    """An absolute limit on head's value, in the benchmark's own unit."""

    pattern: str
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolved:
    """The settings that apply to one benchmark after all rules."""

    threshold: float
    direction: Direction
    direction_assumed: bool
    ignore: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """Everything compare needs to turn estimates into verdicts."""

    threshold: float = DEFAULT_THRESHOLD
    fail_on: FailOn = FailOn.REGRESSION
    rules: tuple[Rule, ...] = ()
    budgets: tuple[Budget, ...] = ()
    site_url: str | None = None
    """``site-url``: the published asv site the markdown report links graphs on (a URL, or
    ``auto`` for the repository's GitHub Pages; see :mod:`perfguard.report.links`). No verdict
    depends on it; it is here so the gate's configuration carries it to perf-comment.yml."""
    metric: tuple[str, ...] = ()
    """``metric``: what ``perfguard run`` measures a ``time_`` benchmark by (``time``,
    ``instructions``); empty: time. ``--metric`` overrides it."""

    def once_per_process(self, name: str, label: str) -> bool:
        """Whether rules say ``name`` (``label``: with parameters) runs once per process."""
        once = False
        for rule in self.rules:
            if rule.once_per_process is not None and matches(rule.pattern, name, label):
                once = rule.once_per_process
        return once

    def resolve(self, name: str, label: str, kind: Kind, unit: str) -> Resolved:
        """Apply every rule matching ``name`` or ``label`` (name with parameters)."""
        threshold, direction, ignore = self.threshold, None, False
        for rule in self.rules:
            if matches(rule.pattern, name, label):
                threshold = rule.threshold if rule.threshold is not None else threshold
                direction = rule.direction or direction
                ignore = rule.ignore if rule.ignore is not None else ignore
        if direction is not None:
            return Resolved(
                threshold=threshold, direction=direction, direction_assumed=False, ignore=ignore
            )
        default, assumed = default_direction(kind, unit)
        return Resolved(
            threshold=threshold, direction=default, direction_assumed=assumed, ignore=ignore
        )


def matches(pattern: str, name: str, label: str) -> bool:
    return fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(label, pattern)


_RATE_UNIT = re.compile(r"(/\s*(s|sec|second)s?$)|(per\s+second$)|(^k?hz$)", re.IGNORECASE)


def default_direction(kind: Kind, unit: str) -> tuple[Direction, bool]:
    """Direction without a rule, and whether it is only assumed.

    time, mem and peakmem are lower-is-better; a track benchmark with a rate unit
    (``events/s``, ``ops/sec``, ``Hz``) is higher-is-better; any other track benchmark is
    assumed lower-is-better and reported as "direction assumed".
    """
    if kind is not Kind.TRACK:
        return Direction.LOWER_IS_BETTER, False
    if _RATE_UNIT.search(unit.strip()):
        return Direction.HIGHER_IS_BETTER, False
    return Direction.LOWER_IS_BETTER, True


# --- parsing -------------------------------------------------------------------------------

_SUFFIXES: dict[str, float] = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "b": 1.0,
    "kb": 1e3,
    "mb": 1e6,
    "gb": 1e9,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "k": 1e3,
    "m": 1e6,
}
_QUANTITY = re.compile(r"^\s*([-+]?\d+(?:\.\d*)?(?:e[-+]?\d+)?)\s*([a-zµ]*)\s*$", re.IGNORECASE)


def parse_threshold(value: object, where: str) -> float:
    """``"5%"``, ``"5"``-with-percent or a fraction ``0.05`` -> 0.05."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"{where}: threshold must be like '5%' or 0.05, got {value!r}")
    text = str(value).strip()
    try:
        number = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError as exc:
        raise ConfigError(f"{where}: threshold must be like '5%' or 0.05, got {value!r}") from exc
    if not 0 < number < 1:
        raise ConfigError(
            f"{where}: threshold {value!r} is out of range; write a percentage like '5%' "
            "or a fraction like 0.05 (between 0 and 1)"
        )
    return number


def parse_quantity(value: object, where: str) -> float:
    """A budget limit: a number in the benchmark's unit, or with a suffix (``10ms``, ``100MB``)."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    match = _QUANTITY.match(str(value))
    if not match or match.group(2).lower() not in {"", *_SUFFIXES}:
        raise ConfigError(
            f"{where}: cannot read {value!r}; use a number in the benchmark's unit or one with "
            "a suffix such as 10ms, 250us, 100MB, 1GiB, 10k"
        )
    factor = _SUFFIXES.get(match.group(2).lower(), 1.0)
    return float(match.group(1)) * factor


def _direction(value: object, where: str) -> Direction:
    aliases = {
        "lower": Direction.LOWER_IS_BETTER,
        "lower-is-better": Direction.LOWER_IS_BETTER,
        "higher": Direction.HIGHER_IS_BETTER,
        "higher-is-better": Direction.HIGHER_IS_BETTER,
    }
    if not isinstance(value, str) or value.lower() not in aliases:
        raise ConfigError(f"{where}: direction must be 'lower' or 'higher', got {value!r}")
    return aliases[value.lower()]


def _table_list(raw: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    items = raw.get(key, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ConfigError(f"{where}.{key} must be an array of tables ([[{where}.{key}]])")
    return items


def _check_keys(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def _pattern(table: Mapping[str, Any], where: str) -> str:
    pattern = table.get("match")
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError(f"{where}: 'match' (a glob on the benchmark name) is required")
    return pattern


def policy_from_mapping(raw: Mapping[str, Any], where: str = "[tool.perfguard]") -> Policy:
    """Build a Policy from the parsed ``[tool.perfguard]`` table, validating every key."""
    _check_keys(raw, {"threshold", "fail-on", "rules", "budgets", "site-url", "metric"}, where)
    metric = raw.get("metric", [])
    if isinstance(metric, str):
        metric = [metric]
    allowed_metrics = ("time", "instructions")
    if not isinstance(metric, list) or not all(m in allowed_metrics for m in metric):
        raise ConfigError(
            f"{where}.metric must be a list of 'time' and 'instructions', e.g."
            f' metric = ["time", "instructions"], got {raw.get("metric")!r}'
        )
    site_url = raw.get("site-url")
    if site_url is not None and not isinstance(site_url, str):
        raise ConfigError(f"{where}.site-url must be a string (a URL, or 'auto')")
    threshold = DEFAULT_THRESHOLD
    if "threshold" in raw:
        threshold = parse_threshold(raw["threshold"], f"{where}.threshold")
    fail_on = FailOn.REGRESSION
    if "fail-on" in raw:
        try:
            fail_on = FailOn(raw["fail-on"])
        except ValueError as exc:
            raise ConfigError(
                f"{where}.fail-on must be 'regression' or 'never', got {raw['fail-on']!r}"
            ) from exc
    rules = []
    for i, table in enumerate(_table_list(raw, "rules", where)):
        here = f"{where}.rules[{i}]"
        _check_keys(table, {"match", "threshold", "direction", "ignore", "once_per_process"}, here)
        ignore = table.get("ignore")
        if ignore is not None and not isinstance(ignore, bool):
            raise ConfigError(f"{here}.ignore must be true or false")
        once = table.get("once_per_process")
        if once is not None and not isinstance(once, bool):
            raise ConfigError(f"{here}.once_per_process must be true or false")
        rules.append(
            Rule(
                pattern=_pattern(table, here),
                threshold=(
                    parse_threshold(table["threshold"], here) if "threshold" in table else None
                ),
                direction=_direction(table["direction"], here) if "direction" in table else None,
                ignore=ignore,
                once_per_process=once,
            )
        )
    budgets = []
    for i, table in enumerate(_table_list(raw, "budgets", where)):
        here = f"{where}.budgets[{i}]"
        _check_keys(table, {"match", "min", "max"}, here)
        if "min" not in table and "max" not in table:
            raise ConfigError(f"{here}: a budget needs 'min' or 'max'")
        budgets.append(
            Budget(
                pattern=_pattern(table, here),
                min=parse_quantity(table["min"], f"{here}.min") if "min" in table else None,
                max=parse_quantity(table["max"], f"{here}.max") if "max" in table else None,
            )
        )
    return Policy(
        threshold=threshold,
        fail_on=fail_on,
        rules=tuple(rules),
        budgets=tuple(budgets),
        site_url=site_url,
        metric=tuple(metric),
    )


def policy_table(policy: Policy) -> dict[str, Any]:
    """``policy`` as the top level of a perfguard.toml that :func:`load_policy` reads back to
    the same policy: what a later job needs to render a report exactly as the gate decided it
    (perf-comment.yml, which must not re-decide with the default branch's configuration)."""
    table: dict[str, Any] = {"threshold": policy.threshold, "fail-on": policy.fail_on.value}
    rules = []
    for rule in policy.rules:
        fields = {
            "threshold": rule.threshold,
            "direction": rule.direction.value if rule.direction else None,
            "ignore": rule.ignore,
            "once_per_process": rule.once_per_process,
        }
        rules.append({"match": rule.pattern, **{k: v for k, v in fields.items() if v is not None}})
    budgets = []
    for budget in policy.budgets:
        limits = {"min": budget.min, "max": budget.max}
        budgets.append(
            {"match": budget.pattern, **{k: v for k, v in limits.items() if v is not None}}
        )
    if policy.site_url is not None:
        table["site-url"] = policy.site_url
    if policy.metric:
        table["metric"] = list(policy.metric)
    if rules:
        table["rules"] = rules
    if budgets:
        table["budgets"] = budgets
    return table


def dump_policy(policy: Policy) -> str:
    """perfguard.toml text of ``policy`` (see :func:`policy_table`)."""
    return tomli_w.dumps(policy_table(policy))


def find_config(start: Path) -> Path | None:
    """perfguard.toml, else a pyproject.toml with [tool.perfguard], in ``start`` or above.

    The nearest folder that has either wins; a pyproject.toml without the table (every Python
    project has one) is passed over, so a monorepo's sub-project still finds the settings
    kept at the top.
    """
    for folder in (start.resolve(), *start.resolve().parents):
        candidate = folder / "perfguard.toml"
        if candidate.is_file():
            return candidate
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and _perfguard_table(_read_toml(candidate)) is not None:
            return candidate
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    return data


def _perfguard_table(data: Mapping[str, Any]) -> Any:
    """``[tool.perfguard]`` of a parsed pyproject.toml, or None."""
    tool = data.get("tool")
    return tool.get("perfguard") if isinstance(tool, dict) else None


def load_policy(
    config: Path | None,
    *,
    start: Path = Path("."),
    threshold: str | None = None,
    fail_on: str | None = None,
) -> Policy:
    """The policy from ``config`` (or the nearest one found from ``start``), then CLI overrides."""
    path = config if config is not None else find_config(start)
    policy = Policy()
    if path is not None:
        data = _read_toml(path)
        if path.name == "pyproject.toml":
            table = _perfguard_table(data)
            if table is not None and not isinstance(table, dict):
                raise ConfigError(f"{path}: tool.perfguard must be a table ([tool.perfguard])")
            if table is not None:
                policy = policy_from_mapping(table, f"{path.name} [tool.perfguard]")
            elif config is not None:
                raise ConfigError(f"{path} has no [tool.perfguard] table")
        else:
            policy = policy_from_mapping(data, path.name)
    if threshold is not None:
        policy = replace(policy, threshold=parse_threshold(threshold, "--threshold"))
    if fail_on is not None:
        policy = replace(policy, fail_on=FailOn(fail_on))
    return policy
