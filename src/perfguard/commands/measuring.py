"""What ``perfguard run`` and ``perfguard bisect`` share: the measuring options and their checks.

Values are checked while click parses (the callbacks of :func:`checked`), so a refused value
fails the same way whether it comes from a user, a script or a help example under test.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from perfguard.errors import ConfigError
from perfguard.runner.estimate import format_seconds
from perfguard.runner.schedule import DEFAULT_TIME_LIMIT, Effort

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h)?\s*$")
RESERVED_ATTRIBUTES = {
    "rounds": "perfguard starts fresh processes every round",
    "processes": "perfguard starts fresh processes every round",
    "repeat": "perfguard takes --pairs samples per side and round",
}
"""asv attributes ``-a`` may not set, and why."""


NO_LIMIT = "none"
"""``--time-limit none``: no wall-time limit for the rounds."""


def parse_duration(text: str, option: str = "--time-limit") -> float:
    """``90s``, ``10m``, ``1.5h`` or plain seconds -> seconds; ``none`` -> infinity (no
    limit: :func:`time_limit_of` turns it into None)."""
    if text.strip().lower() == NO_LIMIT:
        return math.inf
    match = _DURATION.match(text)
    if not match:
        raise ConfigError(f"{option} {text!r}: use e.g. 90s, 10m or 1h, or none for no limit")
    value = float(match.group(1))
    unit = (match.group(2) or "s")[0]
    seconds = value * {"s": 1, "m": 60, "h": 3600}[unit]
    if seconds <= 0:
        raise ConfigError(f"{option} must be positive (none: no limit)")
    return seconds


def time_limit_of(given: float | None) -> float | None:
    """The rounds' limit in seconds: not given -> the default, ``none`` -> None (no limit)."""
    if given is None:
        return DEFAULT_TIME_LIMIT
    return None if math.isinf(given) else given


def parse_attribute(item: str) -> tuple[str, Any]:
    """``number=5`` -> ("number", 5): an asv benchmark attribute (a number where it parses)."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise ConfigError(f"-a {item!r}: use name=value, e.g. -a number=100")
    if key in RESERVED_ATTRIBUTES:
        raise ConfigError(f"-a {key}: {RESERVED_ATTRIBUTES[key]}")
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw


Callback = Callable[[click.Context, click.Parameter, Any], Any]


def checked(
    parse: Callable[[str, str], Any], *, deprecated_for: str = "", why: str = ""
) -> Callback:
    """A click callback: checks the value while click parses (None passes through), failing
    with perfguard's one-line error; for an old spelling, also says on stderr what to use."""

    def check(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        option = param.opts[0] if param.opts else str(param.name)
        if value is None or value == ():
            return value
        if deprecated_for:
            click.echo(
                f"warning: perfguard run {option} is deprecated: use {deprecated_for} ({why})",
                err=True,
            )
        if isinstance(value, tuple):
            return tuple(parse(item, option) for item in value)
        return parse(value, option)

    return check


def regex(text: str, option: str) -> str:
    try:
        re.compile(text)
    except re.error as exc:
        raise ConfigError(f"{option} {text!r} is not a regular expression: {exc}") from exc
    return text


def path_value(text: str, option: str) -> Path:
    return Path(text)


def attribute(text: str, option: str) -> tuple[str, Any]:
    return parse_attribute(text)


def effort_of(min_rounds: int, max_rounds: int, time_limit: float | None) -> Effort:
    """The rounds' effort from the options, or perfguard's one-line error."""
    try:
        return Effort(
            min_rounds=min_rounds, max_rounds=max_rounds, time_limit=time_limit_of(time_limit)
        )
    except ValueError as exc:
        raise ConfigError(
            f"--min-rounds {min_rounds} / --max-rounds {max_rounds}: need 2 <= min <= max"
        ) from exc


ASV_CONFIG = click.option(
    "--asv-config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="asv's configuration of the project [default: asv.conf.json or asv.conf.jsonc, here"
    " or in benchmarks/].",
)
QUICK = click.option("--quick", is_flag=True, help="A first look: 3 rounds of few samples.")
MIN_ROUNDS = click.option(
    "--min-rounds", default=5, show_default=True, help="Rounds every benchmark gets."
)
MAX_ROUNDS = click.option(
    "--max-rounds", default=20, show_default=True, help="Rounds an undecided benchmark may get."
)
TIME_LIMIT = click.option(
    "--time-limit",
    callback=checked(parse_duration),
    help="Wall-time limit for the rounds (builds not counted), e.g. 90s, 10m, 1h; none lifts it"
    f" [default: {format_seconds(DEFAULT_TIME_LIMIT)}].",
)
SEED = click.option("--seed", type=int, help="Seed of the random round order [default: random].")
ATTRIBUTE = click.option(
    "-a",
    "--attribute",
    "attributes",
    callback=checked(attribute),
    multiple=True,
    help="asv benchmark attribute for every worker, e.g. -a number=100 or -a sample_time=0.01"
    " (as asv run -a; repeat, rounds and processes are perfguard's: --pairs, fresh workers).",
)
MACHINE = click.option("--machine", help="asv machine name [default: this host's].")
PERFGUARD_CONFIG = click.option(
    "--perfguard-config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="perfguard.toml or pyproject.toml [default: nearest one].",
)
