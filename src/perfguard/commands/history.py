"""``perfguard history RESULTS_DIR``: change points on a branch's results history, and a gate.

Not history *mode* (``perfguard compare --history``, noise floors for one comparison): this
command looks at the whole series of each benchmark (:mod:`perfguard.changepoints`).
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from perfguard import changepoints, gitrefs
from perfguard.commands.output import _terminal_width, use_color, write_report_file
from perfguard.errors import EXIT_OK, EXIT_REGRESSION, InputError
from perfguard.policy import load_policy
from perfguard.report import history_report
from perfguard.results import load_results_history


def failing(
    analysis: changepoints.Analysis, since: str, repo: Path | None
) -> tuple[str, tuple[changepoints.ChangePoint, ...]]:
    """The full commit ``since`` names, and the regression change points at or after it.

    With a git ``repo``, ``since`` is any ref and "at or after" means not one of its strict
    ancestors. Without one, it must be (a prefix of) a commit of the history, and what comes at
    or after it in the history's order counts.
    """
    if repo is not None:
        commit = gitrefs.resolve_commit(since, repo, hint="pass --repo DIR, a git checkout")
        older = set(gitrefs.ancestors(commit, repo, 100_000)[1:])
        return commit, tuple(c for c in analysis.regressions if c.first_bad not in older)
    position = changepoints.position_of(analysis, since)
    if position is None:
        raise InputError(
            f"--fail-since {since}: no result of this history is of that commit (give a hash"
            " prefix of at least 4 digits that is in the history, or pass --repo to resolve refs)"
        )
    return analysis.commits[position], analysis.regressions_since(position)


@click.command(
    "history",
    epilog="""\b
Examples:
  perfguard history .asv/results                    # every change point, newest first
  perfguard history results --repo . --fail-since HEAD~5 --format markdown
  perfguard history results --machine github-ubuntu-latest --json-file changes.json
\b
Exit codes: 0 no regression at or after --fail-since (or none given), 1 a regression change
point at or after it, 2 usage or input error.""",
)
@click.argument("results_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--machine", help="asv machine name, when the results hold several.")
@click.option(
    "--env",
    help="asv environment (as in the result file names, e.g. virtualenv-py3.12), when the"
    " results hold several.",
)
@click.option(
    "--repo",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Git checkout: order the results by git ancestry of its HEAD (results of other"
    " commits are left out) and resolve --fail-since as a ref [default: order by the commit"
    " dates asv stored].",
)
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="perfguard.toml or pyproject.toml: threshold, direction and ignore rules [default:"
    " nearest one, searching upwards].",
)
@click.option(
    "--threshold",
    help="Smallest relative change point that is reported, e.g. 5% or 0.05 [default: 5%].",
)
@click.option(
    "--fail-since",
    metavar="COMMIT",
    help="Exit 1 when a regression change point's first bad commit is this commit or newer.",
)
@click.option(
    "--suite-shift",
    type=click.Choice(["remove", "keep"]),
    default="remove",
    show_default=True,
    help="Remove each result's runner effect (what moves most time benchmarks at once) before"
    " looking for change points; keep: analyse the raw levels.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "markdown", "json"]),
    default="table",
    show_default=True,
    help="What to print on stdout.",
)
@click.option(
    "--markdown-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the markdown report here.",
)
@click.option(
    "--json-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the JSON report here.",
)
@click.option(
    "--color/--no-color",
    default=None,
    help="Force colour on or off [default: on a TTY, unless NO_COLOR].",
)
def command(
    results_dir: Path,
    machine: str | None,
    env: str | None,
    repo: Path | None,
    config: Path | None,
    threshold: str | None,
    fail_since: str | None,
    suite_shift: str,
    fmt: str,
    markdown_file: Path | None,
    json_file: Path | None,
    color: bool | None,
) -> int:
    """Find the change points in a results history: per benchmark and parameter combination,
    the commits where its level changed, how much, and the range to bisect.

    RESULTS_DIR is an asv results directory of one machine and environment (e.g. a checkout of
    the perf-history branch, or .asv/results). The direction of each benchmark comes from the
    same rules as compare's, so a throughput drop is a regression.
    """
    policy = load_policy(config, start=repo or Path("."), threshold=threshold)
    results, order = load_results_history(
        results_dir, machine=machine, env=env, repo=repo, tip="HEAD" if repo else None
    )
    if not results:
        raise InputError(f"{results_dir} holds no asv result files of one machine and environment")
    analysis = changepoints.analyse(
        results, policy, order=order, remove_suite_shift=suite_shift == "remove"
    )
    since: str | None = None
    failed: tuple[changepoints.ChangePoint, ...] = ()
    if fail_since is not None:
        since, failed = failing(analysis, fail_since, repo)
    for warning in analysis.warnings:
        click.echo(f"warning: {warning}", err=True)
    colored = use_color(color, os.environ)
    rendered = {
        "table": lambda: history_report.render_terminal(
            analysis, color=colored, width=max(80, min(200, _terminal_width()))
        ),
        "markdown": lambda: history_report.render_markdown(analysis),
        "json": lambda: history_report.render_json(analysis, fail_since=since, failed=bool(failed)),
    }
    click.echo(rendered[fmt](), nl=False, color=colored)
    if markdown_file is not None:
        write_report_file(markdown_file, rendered["markdown"]())
    if json_file is not None:
        write_report_file(json_file, rendered["json"]())
    if failed and since is not None:
        shown = ", ".join(c.label for c in failed[:3]) + (" ..." if len(failed) > 3 else "")
        click.echo(
            f"{len(failed)} regression change point(s) at or after {since[:12]}: {shown}",
            err=True,
        )
        return EXIT_REGRESSION
    return EXIT_OK
