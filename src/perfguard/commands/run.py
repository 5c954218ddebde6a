"""``perfguard run [BASE] [HEAD]``: measure both commits here, in paired rounds, and gate."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import click

from perfguard import paired, rounds
from perfguard.commands.output import emit, gate, gate_options, outputs_from, report_options
from perfguard.errors import ConfigError
from perfguard.policy import load_policy
from perfguard.runner import DEFAULT_PAIRS, RunSettings, execute
from perfguard.runner.progress import make_display
from perfguard.runner.schedule import Effort

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h)?\s*$")


def parse_budget(text: str | None) -> float | None:
    """``90s``, ``10m``, ``1.5h`` or plain seconds -> seconds."""
    if text is None:
        return None
    match = _DURATION.match(text)
    if not match:
        raise ConfigError(f"--budget {text!r}: use e.g. 90s, 10m or 1h")
    value = float(match.group(1))
    unit = (match.group(2) or "s")[0]
    seconds = value * {"s": 1, "m": 60, "h": 3600}[unit]
    if seconds <= 0:
        raise ConfigError("--budget must be positive")
    return seconds


def parse_attributes(items: tuple[str, ...]) -> dict[str, Any]:
    """``-a repeat=5 -a warmup_time=0.1`` -> asv benchmark attributes (numbers where they parse).

    ``rounds`` is perfguard's to set: every benchmark runs once per round in its own process.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ConfigError(f"-a {item!r}: use name=value, e.g. -a repeat=5")
        if key in ("rounds", "processes"):
            raise ConfigError(f"-a {key}: perfguard starts fresh processes every round")
        if key == "repeat":
            raise ConfigError("-a repeat: perfguard takes --pairs samples per side and round")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


def effort_from(min_rounds: int, max_rounds: int, budget: str | None) -> Effort:
    try:
        return Effort(min_rounds=min_rounds, max_rounds=max_rounds, budget=parse_budget(budget))
    except ValueError:
        raise ConfigError(
            f"--min-rounds {min_rounds} / --max-rounds {max_rounds}: need 2 <= min <= max"
        ) from None


@click.command(
    "run",
    epilog="""\b
Examples:
  perfguard run                          # merge base with the default branch vs HEAD
  perfguard run main HEAD -b 'bus\\.' --budget 10m
  perfguard run --quick                  # a first look: 3 short rounds
\b
Exit codes: 0 no regression, 1 regression, 2 usage, input or build error.""",
)
@click.argument("base", required=False)
@click.argument("head", required=False)
@click.option(
    "--config",
    "asv_config",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("asv.conf.json"),
    show_default=True,
    help="asv configuration of the project.",
)
@click.option("-b", "--bench", help="Regular expression selecting benchmarks (as asv -b).")
@click.option("--quick", is_flag=True, help="A first look: 3 rounds of few samples.")
@click.option("--min-rounds", default=5, show_default=True, help="Rounds every benchmark gets.")
@click.option(
    "--max-rounds", default=20, show_default=True, help="Rounds an undecided benchmark may get."
)
@click.option("--budget", help="Wall-time limit for the rounds, e.g. 10m [default: none].")
@click.option(
    "--pairs",
    type=click.IntRange(1, 1000),
    default=DEFAULT_PAIRS,
    show_default=True,
    help="Alternating base/head samples per time benchmark and round.",
)
@click.option("--seed", type=int, help="Seed of the random round order [default: random].")
@click.option(
    "-a",
    "--attribute",
    "attributes",
    multiple=True,
    help="asv benchmark attribute for every process, e.g. -a repeat=5 (as asv run -a).",
)
@click.option("--machine", help="asv machine name [default: this host's].")
@click.option("--env", "env_spec", help="asv environment to use [default: the first one].")
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Rounds file to write [default: <results_dir>/../perfguard/BASE-HEAD.rounds.json].",
)
@click.option(
    "--correction",
    type=click.Choice([c.value for c in paired.Correction]),
    default=paired.Correction.HOLM.value,
    show_default=True,
    help="Family correction of the p-values across benchmarks.",
)
@click.option(
    "--perfguard-config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="perfguard.toml or pyproject.toml [default: nearest one].",
)
@gate_options
@report_options
def command(
    base: str | None,
    head: str | None,
    asv_config: Path,
    bench: str | None,
    quick: bool,
    min_rounds: int,
    max_rounds: int,
    budget: str | None,
    pairs: int,
    seed: int | None,
    attributes: tuple[str, ...],
    machine: str | None,
    env_spec: str | None,
    output: Path | None,
    correction: str,
    perfguard_config: Path | None,
    threshold: str | None,
    fail_on: str | None,
    fmt: str,
    only_changed: bool,
    markdown_file: Path | None,
    json_file: Path | None,
    marker_key: str,
    color: bool | None,
) -> int:
    """Build BASE and HEAD with asv and measure them in paired, random-order rounds.

    Every round starts fresh processes for both commits, benchmark by benchmark, pinned to one
    CPU with the same memory layout, and samples them in alternation, in an order drawn at
    random (the seed is recorded). Benchmarks still undecided
    after --min-rounds get more rounds, up to --max-rounds and within --budget. The verdict
    rests on the per-round log-ratios ln(head/base): regressed, improved, unchanged, or
    inconclusive when the noise is too large to tell. asv's results stay valid for
    `asv publish`; the pairs are kept in perfguard's rounds file.
    """
    if bench is not None:
        try:
            re.compile(bench)
        except re.error as exc:
            raise ConfigError(f"-b {bench!r} is not a regular expression: {exc}") from None
    policy = load_policy(
        perfguard_config, start=asv_config.resolve().parent, threshold=threshold, fail_on=fail_on
    )
    settings = RunSettings(
        config=asv_config,
        base=base,
        head=head,
        bench=bench,
        quick=quick,
        effort=effort_from(min_rounds, max_rounds, budget),
        seed=seed,
        machine=machine,
        env_spec=env_spec,
        output=output,
        policy=policy,
        correction=paired.Correction(correction),
        attributes=parse_attributes(attributes),
        pairs=pairs,
    )
    display = make_display(sys.stderr, settings.effort.max_rounds, tty=sys.stderr.isatty())
    try:
        outcome = execute(settings, display)
    finally:
        display.close()
    click.echo(f"{outcome.stopped}; rounds written to {outcome.path}", err=True)
    comparison = rounds.to_comparison(
        outcome.data, policy, source=str(outcome.path), correction=settings.correction
    )
    for warning in comparison.warnings:
        click.echo(f"warning: {warning}", err=True)
    emit(
        comparison,
        outputs_from(
            fmt=fmt,
            only_changed=only_changed,
            markdown_file=markdown_file,
            json_file=json_file,
            marker_key=marker_key,
            color=color,
        ),
    )
    return gate(comparison, policy.fail_on)


__all__ = ["command", "parse_budget"]
