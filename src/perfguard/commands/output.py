"""What ``compare`` and ``run`` share: their report and gate options, and writing the reports."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import click

from perfguard.atomicfile import write_atomic
from perfguard.errors import EXIT_OK, EXIT_REGRESSION, InputError
from perfguard.models import Comparison
from perfguard.policy import FailOn, Policy
from perfguard.report import links
from perfguard.report.json_report import render_json
from perfguard.report.markdown import render_markdown
from perfguard.report.terminal import render_terminal

F = TypeVar("F", bound=Callable[..., object])


def gate_options(f: F) -> F:
    """``--threshold`` and ``--fail-on``: they override the configuration file."""
    f = click.option(
        "--fail-on",
        type=click.Choice([x.value for x in FailOn]),
        help="'never' reports regressions but exits 0 [default: regression].",
    )(f)
    return click.option(
        "--threshold", help="Relative change that matters, e.g. 5% or 0.05 [default: 5%]."
    )(f)


def report_options(f: F) -> F:
    """Where the report goes: ``--format`` on stdout, ``--markdown-file``/``--json-file``..."""
    for decorator in reversed(
        (
            click.option(
                "--format",
                "fmt",
                type=click.Choice(["table", "markdown", "json"]),
                default="table",
                show_default=True,
                help="What to print on stdout.",
            ),
            click.option(
                "--only-changed", is_flag=True, help="Hide unchanged and skipped benchmarks."
            ),
            click.option(
                "--markdown-file",
                type=click.Path(path_type=Path, dir_okay=False),
                help="Also write the markdown report (the PR comment body) here.",
            ),
            click.option(
                "--json-file",
                type=click.Path(path_type=Path, dir_okay=False),
                help="Also write the JSON report here.",
            ),
            click.option(
                "--marker-key",
                default="default",
                show_default=True,
                help="Key of the hidden sticky-comment marker in the markdown report.",
            ),
            click.option(
                "--site-url",
                help="Link each regression and improvement to its graph on this published asv"
                " site; 'auto': the repository's GitHub Pages (from GITHUB_REPOSITORY)"
                " [default: site-url of the configuration, else no links].",
            ),
            click.option(
                "--color/--no-color",
                default=None,
                help="Force colour on or off [default: on a TTY, unless NO_COLOR].",
            ),
        )
    ):
        f = decorator(f)
    return f


@dataclass(frozen=True, kw_only=True)
class Outputs:
    """Where the report goes: stdout in one format, plus optional files."""

    fmt: str = "table"
    only_changed: bool = False
    color: bool = False
    markdown_file: Path | None = None
    json_file: Path | None = None
    marker_key: str = "default"
    fail_on: FailOn = FailOn.REGRESSION
    """The gate's setting, recorded in the JSON report (see :func:`with_gate`)."""
    site_option: str | None = None
    """``--site-url`` as given; it wins over the configuration's ``site-url``."""
    site_url: str | None = None
    """The site's resolved base URL the markdown links graphs on (see :func:`with_gate`)."""


def render(comparison: Comparison, fmt: str, outputs: Outputs) -> str:
    if fmt == "json":
        return render_json(
            comparison, only_changed=outputs.only_changed, fail_on=outputs.fail_on.value
        )
    if fmt == "markdown":
        return render_markdown(
            comparison,
            only_changed=outputs.only_changed,
            marker_key=outputs.marker_key,
            site_url=outputs.site_url,
        )
    width = max(80, min(200, _terminal_width()))
    return render_terminal(
        comparison, only_changed=outputs.only_changed, color=outputs.color, width=width
    )


def _terminal_width() -> int:
    """``COLUMNS`` when set (as shells and CI runners export it), else the terminal's width;
    120 when stdout is no terminal (a CI log is wider than 80)."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError):
        return 120


def write_report_file(path: Path, text: str) -> None:
    """Write atomically, so a crash never leaves half a report."""
    try:
        write_atomic(path, (text if text.endswith("\n") else text + "\n").encode("utf-8"))
    except OSError as exc:
        raise InputError(f"cannot write report {path}: {exc.strerror or exc}") from exc


def emit(comparison: Comparison, outputs: Outputs) -> None:
    # click strips ANSI codes off a non-TTY unless told: the colour decision is already made.
    click.echo(render(comparison, outputs.fmt, outputs), nl=False, color=outputs.color)
    if outputs.markdown_file is not None:
        write_report_file(outputs.markdown_file, render(comparison, "markdown", outputs))
    if outputs.json_file is not None:
        write_report_file(outputs.json_file, render(comparison, "json", outputs))


def with_gate(outputs: Outputs, policy: Policy) -> Outputs:
    """``outputs`` with what is known once the policy is loaded: the gate's setting, and the
    site URL (``--site-url``, else the configuration's ``site-url``) resolved."""
    setting = outputs.site_option if outputs.site_option is not None else policy.site_url
    return replace(outputs, fail_on=policy.fail_on, site_url=links.site_url(setting, os.environ))


def gate(comparison: Comparison, fail_on: FailOn) -> int:
    """Exit code: 1 on a regression or broken budget unless the gate only warns."""
    if not comparison.failed:
        return EXIT_OK
    if fail_on is FailOn.NEVER:
        click.echo("warning: regressions found, but --fail-on never: exiting 0", err=True)
        return EXIT_OK
    return EXIT_REGRESSION


def use_color(flag: bool | None, environ: Mapping[str, str]) -> bool:
    """Colour on a terminal unless NO_COLOR is set (https://no-color.org); flags win."""
    if flag is not None:
        return flag
    if environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


def outputs_from(
    *,
    fmt: str,
    only_changed: bool,
    markdown_file: Path | None,
    json_file: Path | None,
    marker_key: str,
    color: bool | None,
    site_url: str | None = None,
) -> Outputs:
    """The :class:`Outputs` that :func:`report_options`' values ask for."""
    return Outputs(
        fmt=fmt,
        only_changed=only_changed,
        color=use_color(color, os.environ),
        markdown_file=markdown_file,
        json_file=json_file,
        marker_key=marker_key,
        site_option=site_url,
    )
