"""``perfguard compare BASE HEAD``: read asv results, decide, report, gate."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import click

from perfguard import asvproject, environments, fingerprint, history
from perfguard import rounds as rounds_file
from perfguard.commands.output import (
    Outputs,
    emit,
    gate,
    gate_options,
    outputs_from,
    report_options,
    with_gate,
    write_report_file,
)
from perfguard.compare import compare
from perfguard.errors import ConfigError, InputError
from perfguard.models import Comparison, ResultSet, Verdict
from perfguard.policy import Policy, dump_policy, load_policy
from perfguard.results import environments_of, load_result_set


def run_compare(
    base: str,
    head: str | None,
    *,
    results_dir: Path | None,
    repo: Path,
    machine: str | None,
    env: str | None,
    benchmarks_json: Path | None,
    config: Path | None,
    threshold: str | None,
    fail_on: str | None,
    outputs: Outputs,
    strict: bool = False,
    history_dir: Path | None = None,
    history_commits: int = history.DEFAULT_COMMITS,
    policy_file: Path | None = None,
) -> int:
    """Load both sides, compare under the policy, write the reports, return the exit code."""
    policy = load_policy(config, start=repo, threshold=threshold, fail_on=fail_on)
    if policy_file is not None:
        write_report_file(policy_file, dump_policy(policy))
    sides = Sides(
        results_dir=results_dir,
        repo=repo,
        machine=machine,
        benchmarks_json=benchmarks_json,
        strict=strict,
        history_dir=history_dir,
        history_commits=history_commits,
    )
    if env == environments.ALL:
        comparison = every_environment(base, head, policy, sides)
    else:
        comparison = comparison_of(base, head, policy, sides, env=env)
    for warning in (*comparison.notices, *comparison.warnings):
        click.echo(f"warning: {warning}", err=True)
    emit(comparison, with_gate(outputs, policy))
    return gate(comparison, policy.fail_on)


def project_paths(
    asv_config: Path | None, results_dir: Path | None, repo: Path | None
) -> tuple[Path | None, Path]:
    """The results directory and the git checkout, from the asv project where not given.

    The project is ``asv_config``'s, or the one found in ``repo`` (default: here). Its local
    ``repo`` is where refs resolve when ``--repo`` is not given: a checkout in a subdirectory,
    or the root above a ``benchmarks/asv.conf.json``. Without a usable configuration nothing is
    decided here: result files need none, and a commit's lookup says what is wrong.
    """
    start = repo if repo is not None else Path(".")
    try:
        project = asvproject.load(asv_config, start=start)
    except ConfigError:
        if asv_config is not None:
            raise
        return results_dir, start
    if results_dir is None:
        results_dir = project.results_dir
    if repo is None:
        repo = project.local_repo or start
    return results_dir, repo


@dataclass(frozen=True, slots=True, kw_only=True)
class Sides:
    """Where both sides' results come from, and how they are read (compare's options)."""

    results_dir: Path | None
    repo: Path
    machine: str | None
    benchmarks_json: Path | None
    strict: bool = False
    history_dir: Path | None = None
    history_commits: int = history.DEFAULT_COMMITS


def every_environment(base: str, head: str | None, policy: Policy, where: Sides) -> Comparison:
    """``--env all``: each environment both commits have results in, compared on its own,
    merged into one comparison (see :mod:`perfguard.environments`)."""
    if head is None:
        raise InputError("--env all compares two commits' asv results; give BASE and HEAD")
    found = [
        environments_of(spec, results_dir=where.results_dir, repo=where.repo, machine=where.machine)
        for spec in (base, head)
    ]
    shared, warnings = environments.common(found[0], found[1])
    parts = {env: comparison_of(base, head, policy, where, env=env) for env in shared}
    return environments.merge(parts, warnings)


def comparison_of(
    base: str, head: str | None, policy: Policy, where: Sides, *, env: str | None
) -> Comparison:
    """The comparison of one environment (``env``, or the only one), or of one rounds file."""
    results_dir, repo, machine = where.results_dir, where.repo, where.machine
    benchmarks_json, strict = where.benchmarks_json, where.strict
    history_dir, history_commits = where.history_dir, where.history_commits
    if head is None and history_dir is not None:
        raise InputError(
            "--history needs BASE and HEAD results; a rounds file alone is already paired"
        )
    if head is None:  # one perfguard rounds file: its own paired comparison
        comparison = rounds_file.to_comparison(rounds_file.read(Path(base)), policy, source=base)
    else:
        loaded = [
            rounds_file.load_side(
                spec,
                lambda spec: load_result_set(
                    spec,
                    results_dir=results_dir,
                    repo=repo,
                    machine=machine,
                    env=env,
                    benchmarks_json=benchmarks_json,
                    history_dir=history_dir,
                ),
            )
            for spec in (base, head)
        ]
        sides = [side for side, _ in loaded]
        mismatch = fingerprint.machine_mismatch(sides[0], sides[1], (loaded[0][1], loaded[1][1]))
        if strict and mismatch:
            raise InputError(f"--strict: {'; '.join(mismatch)}")
        adjust = None
        if history_dir is not None:
            model = history.model_for(
                history_dir,
                sides[0],
                sides[1],
                machine=machine,
                env=env,
                repo=repo,
                commits=history_commits,
            )
            adjust = model.adjuster(sides[0], sides[1])
        comparison = compare(sides[0], sides[1], policy, adjust=adjust, cross_run=True)
        if loaded[0][1] is not None and loaded[1][1] is not None and mismatch:
            comparison = replace(comparison, warnings=(*comparison.warnings, mismatch[0]))
        if loaded[0][1] is None and loaded[1][1] is None:
            notes = paired_alternative(sides[0], sides[1], results_dir) or run_suggestion(
                comparison, base, head
            )
            for note in notes:
                click.echo(f"note: {note}", err=True)
    return comparison


def paired_alternative(base: ResultSet, head: ResultSet, results_dir: Path | None) -> list[str]:
    """Point to the rounds files ``perfguard run`` wrote for the same two commits, if any: a
    paired verdict is stronger than one from two separate asv runs."""
    from perfguard.runner import files  # only when both sides are asv result files

    roots = [results_dir] if results_dir is not None else []
    roots += [Path(side.source).parent.parent for side in (base, head)]
    found: list[Path] = []
    for root in dict.fromkeys(roots):
        found.extend(
            p for p in files.rounds_files_for(root, base.commit, head.commit) if p.is_file()
        )
    if not found:
        return []
    newest = max(dict.fromkeys(found), key=lambda p: p.stat().st_mtime)
    others = len(dict.fromkeys(found)) - 1
    earlier = f" (and {others} earlier run{'s' if others > 1 else ''})" if others else ""
    return [
        f"perfguard run measured these two commits in paired rounds: {newest}{earlier}. Its"
        " verdicts are stronger than this comparison of two separate asv runs:"
        f" perfguard compare {newest}"
    ]


def run_suggestion(comparison: Comparison, base: str, head: str) -> list[str]:
    """Suggest ``perfguard run`` when two asv runs leave most benchmarks undecided: a few
    samples from separate processes, often on separate days, rarely tell a 5 % change from
    noise on a shared machine, where paired rounds of the two commits usually can."""
    counts = comparison.verdict_counts()
    undecided = counts[Verdict.INCONCLUSIVE]
    measured = undecided + sum(
        counts[v] for v in (Verdict.REGRESSED, Verdict.IMPROVED, Verdict.UNCHANGED)
    )
    if not undecided or 2 * undecided < measured:
        return []
    refs = f"{base} {head}"
    if Path(base).suffix == ".json" or Path(head).suffix == ".json":  # files: name the commits
        refs = f"{comparison.base.commit[:12]} {comparison.head.commit[:12]}"
    return [
        f"{undecided} of {measured} benchmarks are inconclusive: two separate asv runs cannot"
        " tell them from noise. Paired rounds of both commits in one job decide far more:"
        f" perfguard run {refs}"
    ]


@click.command(
    "compare",
    epilog="""\b
Examples:
  perfguard compare main HEAD                 # refs resolved with git, results from asv.conf.json
  perfguard compare base.json head.json       # two asv result files
  perfguard compare main HEAD --format markdown --json-file report.json
  perfguard compare main HEAD --env all       # every environment both commits were measured in
\b
Exit codes: 0 no regression, 1 regression or broken budget, 2 usage or input error.""",
)
@click.argument("base")
@click.argument("head", required=False)
@click.option(
    "--results-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="asv results directory [default: results_dir of the asv configuration].",
)
@click.option(
    "--asv-config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="asv configuration naming the results directory [default: asv.conf.json or"
    " asv.conf.jsonc in --repo or --repo/benchmarks].",
)
@click.option(
    "--repo",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Git checkout that BASE/HEAD refs are resolved in, and where the asv configuration is"
    " looked for [default: the asv configuration's repo, found from the current folder].",
)
@click.option("--machine", help="asv machine name, when a commit has results from several.")
@click.option(
    "--env",
    help="asv environment (as in the result file names, e.g. virtualenv-py3.12) when a commit"
    " has results from several; 'all' compares each environment both commits have, in one"
    " report (rows get env=...).",
)
@click.option(
    "--benchmarks-json",
    type=click.Path(path_type=Path, dir_okay=False),
    help="asv benchmarks.json, when it is not beside the result files.",
)
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="perfguard.toml or pyproject.toml [default: nearest one, searching upwards].",
)
@gate_options
@click.option(
    "--policy-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the policy decided with (threshold, fail-on, rules, budgets) as a"
    " perfguard.toml, so a later job renders the same report with --config FILE.",
)
@report_options
@click.option(
    "--strict",
    is_flag=True,
    help="Refuse (exit 2) when base and head come from different machines or fingerprints.",
)
@click.option(
    "--history",
    "history_dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="asv results directory with the baseline branch's history: learn each benchmark's"
    " noise floor between runs from it (for a baseline measured in another job).",
)
@click.option(
    "--history-commits",
    type=click.IntRange(min=history.MIN_CHANGES + 1),
    default=history.DEFAULT_COMMITS,
    show_default=True,
    help="How many of the newest history results (before HEAD) to learn from.",
)
def command(
    base: str,
    head: str | None,
    results_dir: Path | None,
    asv_config: Path | None,
    repo: Path | None,
    machine: str | None,
    env: str | None,
    benchmarks_json: Path | None,
    config: Path | None,
    threshold: str | None,
    fail_on: str | None,
    fmt: str,
    only_changed: bool,
    markdown_file: Path | None,
    json_file: Path | None,
    marker_key: str,
    color: bool | None,
    site_url: str | None,
    strict: bool,
    history_dir: Path | None,
    history_commits: int,
    policy_file: Path | None,
) -> int:
    """Compare HEAD against BASE and fail on regressions.

    BASE and HEAD are asv result files, or commits (hashes, prefixes, refs such as main or
    HEAD~1) looked up in the asv results directory. Each benchmark is regressed, improved,
    unchanged, inconclusive (cannot be told from noise), new, removed, newly failing, fixed,
    incomparable (benchmark code changed) or skipped. A perfguard rounds file (from
    `perfguard run`) stands for its head commit; given alone, it is compared paired.
    """
    outputs = outputs_from(
        fmt=fmt,
        only_changed=only_changed,
        markdown_file=markdown_file,
        json_file=json_file,
        marker_key=marker_key,
        color=color,
        site_url=site_url,
    )
    results_dir, repo = project_paths(asv_config, results_dir, repo)
    return run_compare(
        base,
        head,
        results_dir=results_dir,
        repo=repo,
        machine=machine,
        env=env,
        benchmarks_json=benchmarks_json,
        config=config,
        threshold=threshold,
        fail_on=fail_on,
        outputs=outputs,
        strict=strict,
        history_dir=history_dir,
        history_commits=history_commits,
        policy_file=policy_file,
    )
