"""``perfguard run [BASE] [HEAD]``: measure both commits here, in paired rounds, and gate.

:func:`run_paired` is the command as a typed function (options in, exit code out); the click
command below only parses. Values are checked while click parses (the callbacks of
:func:`_checked`), so a refused value fails the same way whether it comes from a user, a
script or a help example under test.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from perfguard import asvproject, paired, rounds
from perfguard.commands.measuring import (
    ASV_CONFIG,
    ATTRIBUTE,
    MACHINE,
    MAX_ROUNDS,
    MIN_ROUNDS,
    PERFGUARD_CONFIG,
    QUICK,
    SEED,
    TIME_LIMIT,
    checked,
    effort_of,
    parse_duration,
    path_value,
    regex,
)
from perfguard.commands.output import (
    Outputs,
    emit,
    gate,
    gate_options,
    outputs_from,
    report_options,
    with_gate,
)
from perfguard.errors import ConfigError
from perfguard.policy import load_policy
from perfguard.runner import DEFAULT_PAIRS, RunSettings, counting, execute, instructions
from perfguard.runner.progress import make_display, outcome_line
from perfguard.shards.partition import ShardSpec, parse_spec


def _one_of(new: str, new_value: Any, old: str, old_value: Any) -> Any:
    if new_value is not None and old_value is not None:
        raise ConfigError(f"{old} is the old spelling of {new}: give only {new}")
    return new_value if new_value is not None else old_value


def run_paired(
    base: str | None,
    head: str | None,
    *,
    asv_config: Path | None,
    bench: str | None,
    quick: bool,
    min_rounds: int,
    max_rounds: int,
    time_limit: float | None,
    pairs: int,
    seed: int | None,
    attributes: Mapping[str, Any],
    machine: str | None,
    env_spec: str | None,
    output: Path | None,
    correction: paired.Correction,
    perfguard_config: Path | None,
    threshold: str | None,
    fail_on: str | None,
    outputs: Outputs,
    asv_config_option: str = "--asv-config",
    shard: ShardSpec | None = None,
    shard_costs: Path | None = None,
    metric: str | None = None,
    counter: str = instructions.AUTO,
) -> int:
    """Build, measure in paired rounds, report on stdout and gate; banners go to stderr.

    ``asv_config_option`` is how the user spelled the option (errors name what they typed).
    ``time_limit`` is in seconds, None for the default and infinity for none.
    ``metric``: ``--metric`` as given; None: the configuration's ``metric``, else time.
    """
    if asv_config is not None and asv_config.suffix == ".toml":
        raise ConfigError(
            f"{asv_config_option} {asv_config}: {asv_config} is a perfguard configuration, not"
            " asv's: perfguard run takes it as --perfguard-config, and asv's (asv.conf.json) as"
            " --asv-config"
        )
    effort = effort_of(min_rounds, max_rounds, time_limit)
    config_path = asv_config if asv_config is not None else asvproject.find_config()
    policy = load_policy(
        perfguard_config,
        start=config_path.resolve().parent,
        threshold=threshold,
        fail_on=fail_on,
    )
    metrics = (
        counting.parse_metrics(metric)
        if metric is not None
        else counting.parse_metrics(",".join(policy.metric), "configuration metric")
        if policy.metric
        else (counting.Metric.TIME,)
    )
    settings = RunSettings(
        config=config_path,
        base=base,
        head=head,
        bench=bench,
        quick=quick,
        effort=effort,
        seed=seed,
        machine=machine,
        env_spec=env_spec,
        output=output,
        policy=policy,
        correction=correction,
        attributes=dict(attributes),
        pairs=pairs,
        shard=shard,
        shard_costs=shard_costs,
        metrics=metrics,
        counter=counter,
    )
    display = make_display(sys.stderr, effort.max_rounds, tty=sys.stderr.isatty())
    try:
        outcome = execute(settings, display)
    finally:
        display.close()
    comparison = rounds.to_comparison(
        outcome.data, policy, source=str(outcome.path), correction=settings.correction
    )
    click.echo(f"{outcome_line(outcome.stopped, comparison)}", err=True)
    click.echo(f"rounds file: {outcome.path}", err=True)
    click.echo(f"asv results (perfguard's copy): {outcome.asv_results}", err=True)
    for warning in (*comparison.notices, *comparison.warnings):
        click.echo(f"warning: {warning}", err=True)
    emit(comparison, with_gate(outputs, policy))
    return gate(comparison, policy.fail_on)


@click.command(
    "run",
    epilog="""\b
Examples:
  perfguard run                          # merge base with the default branch vs HEAD
  perfguard run main HEAD -b 'bus\\.' --time-limit 10m
  perfguard run --quick                  # a first look: 3 short rounds
  perfguard run main HEAD --time-limit none  # no limit on the rounds (default: 10m)
  perfguard run main main --quick        # A/A: one commit on both sides (this machine's noise)
  perfguard run main HEAD -a sample_time=0.01 --format json --json-file report.json
  perfguard run main HEAD --shard 2/3 --output shard-2.rounds.json   # one of 3 CI jobs
  perfguard run main HEAD --metric instructions --quick   # instructions per call, not time
  perfguard run main HEAD --metric time,instructions --counter valgrind
\b
Writes only perfguard's own files: the rounds file and a copy of the samples in asv's layout,
in <results_dir>/../perfguard/ (asv's own results are never changed).
\b
Exit codes: 0 no regression, 1 regression, 2 usage, input or build error.""",
)
@click.argument("base", required=False)
@click.argument("head", required=False)
@ASV_CONFIG
@click.option(
    "--config",
    "old_asv_config",
    type=click.Path(dir_okay=False),
    hidden=True,
    callback=checked(
        path_value,
        deprecated_for="--asv-config",
        why="compare's --config is perfguard's configuration",
    ),
    help="Deprecated spelling of --asv-config.",
)
@click.option(
    "-b",
    "--bench",
    callback=checked(regex),
    help="Regular expression selecting benchmarks (as asv -b).",
)
@QUICK
@MIN_ROUNDS
@MAX_ROUNDS
@TIME_LIMIT
@click.option(
    "--budget",
    "old_time_limit",
    hidden=True,
    callback=checked(
        parse_duration,
        deprecated_for="--time-limit",
        why="budgets in the configuration are performance limits, not wall time",
    ),
    help="Deprecated spelling of --time-limit.",
)
@click.option(
    "--pairs",
    type=click.IntRange(1, 1000),
    default=DEFAULT_PAIRS,
    show_default=True,
    help="Alternating base/head samples per time benchmark and round.",
)
@SEED
@ATTRIBUTE
@MACHINE
@click.option(
    "--env",
    "env_spec",
    help="asv environment, as `asv run -E` takes it: TYPE:PYTHON (virtualenv:3.12, conda:3.11)"
    " or an environment's name (virtualenv-py3.12) [default: the first that asv.conf.json"
    " gives; the others are named on stderr].",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Rounds file to write (replaced if it is one) [default: <results_dir>/../perfguard/"
    "BASE-HEAD.rounds.json, numbered .2, .3, ... when an earlier run of the pair is there].",
)
@click.option(
    "--shard",
    metavar="K/N",
    callback=checked(parse_spec),
    help="Measure share K of N of the selected benchmarks (e.g. 2/3), base and head paired"
    " here; merge the N rounds files with `perfguard merge`.",
)
@click.option(
    "--shard-costs",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Expected costs the shares are balanced on: a rounds file or an asv result file, the"
    " same for every shard [default: asv's durations of BASE in its results, else a count].",
)
@click.option(
    "--metric",
    callback=checked(lambda text, option: counting.parse_metrics(text, option) and text),
    help="What a time_ benchmark is measured by: time, instructions (instructions executed per"
    " call, counted, see --counter) or time,instructions (two rows each); other benchmarks keep"
    " their own [default: the configuration's metric, else time].",
)
@click.option(
    "--counter",
    type=click.Choice(list(instructions.CHOICES)),
    default=instructions.AUTO,
    show_default=True,
    help="How instructions are counted: perf (hardware counters, perf_event_open), valgrind"
    " (callgrind), or auto (hardware counters where the kernel allows them, else valgrind).",
)
@click.option(
    "--correction",
    type=click.Choice([c.value for c in paired.Correction]),
    default=paired.Correction.HOLM.value,
    show_default=True,
    help="Family correction of the p-values across benchmarks.",
)
@PERFGUARD_CONFIG
@gate_options
@report_options
def command(
    base: str | None,
    head: str | None,
    asv_config: Path | None,
    old_asv_config: Path | None,
    bench: str | None,
    quick: bool,
    min_rounds: int,
    max_rounds: int,
    time_limit: float | None,
    old_time_limit: float | None,
    pairs: int,
    seed: int | None,
    attributes: tuple[tuple[str, Any], ...],
    machine: str | None,
    env_spec: str | None,
    output: Path | None,
    shard: ShardSpec | None,
    shard_costs: Path | None,
    metric: str | None,
    counter: str,
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
    site_url: str | None,
) -> int:
    """Build BASE and HEAD with asv and measure them in paired, random-order rounds.

    Every round starts fresh processes for both commits, benchmark by benchmark, pinned to one
    CPU with the same memory layout, and samples them in alternation, in an order drawn at
    random (the seed is recorded). Benchmarks still undecided after --min-rounds get more
    rounds, up to --max-rounds and within --time-limit (10 minutes of rounds by default).
    Before round 1 a line says how long the rounds should take and where that estimate comes
    from; each round's line says what is left. The verdict rests on the per-round
    log-ratios ln(head/base): regressed, improved, unchanged, or inconclusive when the noise is
    too large to tell. The report goes to stdout, progress to stderr.
    """
    return run_paired(
        base,
        head,
        asv_config=_one_of("--asv-config", asv_config, "--config", old_asv_config),
        asv_config_option="--config" if old_asv_config is not None else "--asv-config",
        bench=bench,
        quick=quick,
        min_rounds=min_rounds,
        max_rounds=max_rounds,
        time_limit=_one_of("--time-limit", time_limit, "--budget", old_time_limit),
        pairs=pairs,
        seed=seed,
        attributes=dict(attributes),
        machine=machine,
        env_spec=env_spec,
        output=output,
        shard=shard,
        shard_costs=shard_costs,
        metric=metric,
        counter=counter,
        correction=paired.Correction(correction),
        perfguard_config=perfguard_config,
        threshold=threshold,
        fail_on=fail_on,
        outputs=outputs_from(
            fmt=fmt,
            only_changed=only_changed,
            markdown_file=markdown_file,
            json_file=json_file,
            marker_key=marker_key,
            color=color,
            site_url=site_url,
        ),
    )


__all__ = ["command", "run_paired"]
