"""``perfguard asv-project FIELD``: one path of the asv project, for scripts (plumbing).

Scripts (``scripts/ci/measure``, the composite action) ask perfguard where asv keeps its
results instead of parsing ``asv.conf.json`` themselves: asv's configuration may hold
comments, trailing commas, a ``.jsonc`` name, or live in ``benchmarks/``.
"""

from __future__ import annotations

from pathlib import Path

import click

from perfguard import asvproject
from perfguard.runner import files

PERFGUARD_DIR = "perfguard-dir"
"""Not asv's but perfguard's: its folder of earlier runs beside asv's results, which the
workflows keep between runs (the next run's estimate comes from it)."""


@click.command(
    "asv-project",
    epilog="""\b
Examples:
  perfguard asv-project results-dir           # e.g. /src/app/.asv/results
  perfguard asv-project config --dir ~/src/app
  perfguard asv-project perfguard-dir         # e.g. /src/app/.asv/perfguard
\b
Exit codes: 0 printed, 2 no or broken asv configuration.""",
)
@click.argument("field", type=click.Choice([*asvproject.FIELDS, PERFGUARD_DIR]))
@click.option(
    "--asv-config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="asv configuration [default: asv.conf.json or asv.conf.jsonc in DIR or DIR/benchmarks].",
)
@click.option(
    "--dir",
    "start",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=Path("."),
    show_default=True,
    help="Folder to look for the asv configuration in.",
)
def command(field: str, asv_config: Path | None, start: Path) -> int:
    """Print one path of the asv project, resolved as asv resolves it (plumbing for scripts).

    FIELD is the config file itself, or results-dir, benchmark-dir, html-dir, env-dir or repo
    (an absolute path, or the URL asv clones), each relative to the config file's folder; or
    perfguard-dir, perfguard's folder of earlier runs beside asv's results.
    """
    project = asvproject.load(asv_config, start=start)
    if field == PERFGUARD_DIR:
        click.echo(files.perfguard_dir(project.results_dir))
    else:
        click.echo(asvproject.field(project, field))
    return 0
