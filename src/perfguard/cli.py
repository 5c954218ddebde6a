"""The click command line: options in, library calls, exit code out.

Each command lives in ``perfguard.commands.<name>`` as a typed function that returns an exit code;
this module only parses options and is the one error boundary (see :func:`main`).
"""

from __future__ import annotations

import datetime
import importlib
import logging
import os
import platform
import sys
import tempfile
import traceback
from pathlib import Path
from typing import ClassVar

import click

from perfguard import __version__
from perfguard.errors import EXIT_INTERNAL, PerfguardError

EXIT_CODES_HELP = """\b
Examples:
  perfguard run --quick                 # measure base and head here, paired (a first look)
  perfguard compare main HEAD           # decide on asv results you already have
\b
Exit codes:
  0  no regression (or --fail-on never)
  1  a regression, a newly failing benchmark or a broken budget
  2  usage or input error (missing/corrupt file, unknown commit, bad config)
  3  GitHub API failure (comment/status); the comparison result is printed first
  70 internal error: a crash log was written, please report it
"""


class _Boundary(click.Group):
    """The one error boundary, inside click so that CliRunner tests meet it too.

    A command returns its exit code; a PerfguardError prints ``error: <message>`` and exits
    with its code; anything unexpected prints one line, writes a crash log and exits 70.
    """

    commands_by_module: ClassVar[dict[str, str]] = {
        "compare": "compare",
        "comment": "comment",
        "alerts": "alerts",
        "bisect": "bisect",
        "summary": "summary",
        "run": "run",
        "merge": "merge",
        "asv-project": "asvproject",
        "history": "history",
    }
    """Command name -> module in ``perfguard.commands`` (each defines ``command``), imported
    only when that command runs: ``perfguard run`` need not load what ``comment`` needs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.commands_by_module})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = self.commands_by_module.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            command = importlib.import_module(f"perfguard.commands.{module}").command
            assert isinstance(command, click.Command)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> object:
        try:
            code = super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except PerfguardError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except Exception as exc:  # the crash boundary: one line + a crash log
            log = _write_crash_log(exc)
            click.echo(
                f"error: internal error ({type(exc).__name__}: {exc}); crash log: {log}",
                err=True,
            )
            ctx.exit(EXIT_INTERNAL)
        if isinstance(code, int):
            ctx.exit(code)
        return code


@click.group(
    cls=_Boundary,
    epilog=EXIT_CODES_HELP,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="perfguard")
def cli() -> None:
    """perfguard: catch performance regressions in asv benchmark results.

    Compare a baseline with a head commit, decide per benchmark whether it regressed, improved,
    stayed the same or cannot be told apart from noise, and gate CI on the exit code.
    """
    _route_warnings_to_stderr()


class _EchoWarnings(logging.Handler):
    """Library warnings as ``warning: ...`` lines on whatever stderr click has now."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"warning: {record.getMessage()}", err=True)


def _route_warnings_to_stderr() -> None:
    """Library warnings (e.g. a benchmark missing from benchmarks.json) reach the user once."""
    logger = logging.getLogger("perfguard")
    if not any(isinstance(h, _EchoWarnings) for h in logger.handlers):
        logger.addHandler(_EchoWarnings(logging.WARNING))
        logger.setLevel(logging.WARNING)
        logger.propagate = False


def _write_crash_log(exc: BaseException) -> Path:
    """Write versions and the traceback where a user can find and paste them."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(tempfile.gettempdir()) / f"perfguard-crash-{stamp}-{os.getpid()}.log"
    path.write_text(
        f"perfguard {__version__}\npython {sys.version}\nplatform {platform.platform()}\n"
        f"argv {sys.argv!r}\n\n" + "".join(traceback.format_exception(exc)),
        encoding="utf-8",
    )
    return path


def main(argv: list[str] | None = None) -> None:
    """Run the CLI (console script and ``python -m perfguard``)."""
    cli.main(args=argv, prog_name="perfguard")
