"""``perfguard merge SHARD_FILE... --output MERGED``: N shard rounds files -> one rounds file."""

from __future__ import annotations

from pathlib import Path

import click

from perfguard.shards import merge as shard_merge


def run_merge(files: tuple[Path, ...], *, output: Path) -> int:
    """Check and merge the shards, write ``output``, say what was merged on stderr."""
    merged = shard_merge.merge(files)
    shard_merge.write(output, merged)
    count = len(merged.shards)
    click.echo(
        f"merged {count} shard{'s' if count != 1 else ''} ({len(merged.series)} benchmarks, on"
        f" {merged.machine}) into {output}; report it with: perfguard compare {output}",
        err=True,
    )
    return 0


@click.command(
    "merge",
    epilog="""\b
Examples:
  perfguard merge shard-*.rounds.json --output rounds.json
  perfguard compare rounds.json --markdown-file report.md   # one report, one gate
\b
Exit codes: 0 merged, 2 a missing, duplicate or foreign shard, or shards of different runs.""",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--output",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The merged rounds file to write (replaced if it is a rounds file).",
)
def command(files: tuple[Path, ...], output: Path) -> int:
    """Merge the rounds files of `perfguard run --shard K/N` (all N of them) into one.

    The shards must be of one run: the same two commits, environment, suite and partition, each
    K once. They may come from different machines (base and head were paired within each). The
    merged file is a rounds file like any other: `perfguard compare MERGED` decides on the whole
    suite at once (one family correction, one report, one gate) and says which shard and
    machine measured each benchmark.
    """
    return run_merge(files, output=output)
