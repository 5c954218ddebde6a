"""``perfguard summary``: the report in the job's step summary, regressions as annotations."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import click

from perfguard.actions import (
    DEFAULT_MAX_ANNOTATIONS,
    annotation_lines,
    append_step_summary,
    findings_from_report,
    load_json_report,
)
from perfguard.commands.comment import read_body
from perfguard.errors import EXIT_OK, ConfigError, InputError


def run_summary(
    *,
    markdown: Path | None,
    json_report: Path | None,
    level: str,
    max_annotations: int,
    environ: Mapping[str, str],
) -> int:
    """Append the markdown to $GITHUB_STEP_SUMMARY and print annotations; return the exit code."""
    if markdown is None and json_report is None:
        raise ConfigError("nothing to do: pass --markdown and/or --json")
    if max_annotations < 0:
        raise ConfigError("--max-annotations must be 0 or more")
    findings = findings_from_report(load_json_report(json_report)) if json_report else []
    if markdown is not None:
        text = read_body(markdown)
        target = environ.get("GITHUB_STEP_SUMMARY")
        if target:
            try:
                written = append_step_summary(Path(target), text)
            except OSError as exc:
                raise InputError(
                    f"cannot append to $GITHUB_STEP_SUMMARY ({target}): {exc}"
                ) from exc
            if written < len(text.encode("utf-8")):
                click.echo("warning: the step summary was truncated to stay within 1 MiB", err=True)
        else:
            click.echo(
                "note: GITHUB_STEP_SUMMARY is not set (not in GitHub Actions); skipped", err=True
            )
    for line in annotation_lines(findings, level=level, limit=max_annotations):
        click.echo(line)
    return EXIT_OK


@click.command(
    "summary",
    epilog="""\b
Example (in a workflow step):
  perfguard summary --markdown report.md --json report.json""",
)
@click.option(
    "--markdown",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Markdown report to append to $GITHUB_STEP_SUMMARY (kept within its 1 MiB).",
)
@click.option(
    "--json",
    "json_report",
    type=click.Path(path_type=Path, dir_okay=False),
    help="JSON report whose regressed and newly failing rows become annotations.",
)
@click.option(
    "--level",
    type=click.Choice(["error", "warning"]),
    default="error",
    show_default=True,
    help="Annotation level for regressions ('warning' to warn without alarming).",
)
@click.option(
    "--max-annotations",
    type=int,
    default=DEFAULT_MAX_ANNOTATIONS,
    show_default=True,
    help="At most this many annotations, then one with a count of the rest.",
)
def command(
    markdown: Path | None, json_report: Path | None, level: str, max_annotations: int
) -> int:
    """Write the report to the GitHub Actions step summary and annotate regressions."""
    return run_summary(
        markdown=markdown,
        json_report=json_report,
        level=level,
        max_annotations=max_annotations,
        environ=os.environ,
    )
