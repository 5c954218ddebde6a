"""The README's option tables list exactly the options each command's ``--help`` lists.

An option table is a README table whose first header cell is ``option``; it documents the
command named by the closest heading, or synopsis block (a fence without a language), above it
that says ``perfguard <cmd>``.
Every option spelling in its first column (``--machine NAME``, ``--color/--no-color``, ``-b``)
counts. Hidden options (deprecated spellings kept working) are not listed by ``--help`` and need
no row.
"""

from __future__ import annotations

import re

import click
import pytest
from markdown_it import MarkdownIt

from perfguard.cli import cli
from tests.helpers import readme

COMMAND = re.compile(r"perfguard (\w[\w-]*)")
SPELLING = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


def readme_tables() -> dict[str, set[str]]:
    """command -> option spellings of its README option table(s)."""
    tokens = MarkdownIt().enable("table").parse(readme.README.read_text(encoding="utf-8"))
    found: dict[str, set[str]] = {}
    current = None
    in_table = header = first_cell = False
    for index, token in enumerate(tokens):
        if token.type == "inline" and index and tokens[index - 1].type == "heading_open":
            named = COMMAND.search(token.content)
            current = named.group(1) if named else current
        elif token.type == "fence" and not token.info and (named := COMMAND.match(token.content)):
            current = named.group(1)
        elif token.type == "table_open":
            in_table, header, options = True, True, None
        elif token.type == "table_close":
            in_table = False
        elif in_table and token.type in ("th_open", "td_open"):
            first_cell = tokens[index - 1].type == "tr_open"
        elif in_table and token.type == "inline" and first_cell:
            if header:
                header = False
                if token.content.strip() == "option":
                    assert current is not None, "an option table before any command"
                    options = found.setdefault(current, set())
            elif options is not None:
                options.update(SPELLING.findall(token.content))
    return found


def help_options(name: str) -> set[str]:
    """Every option spelling ``perfguard <name> --help`` lists."""
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    spellings: set[str] = set()
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            spellings.update(param.opts, param.secondary_opts)
    return spellings - {"-h", "--help"}


def visible_commands() -> list[str]:
    context = click.Context(cli)
    return [
        name
        for name in cli.list_commands(context)
        if not (command := cli.get_command(context, name)) or not command.hidden
    ]


def test_the_four_commands_are_there() -> None:
    assert {"compare", "run", "comment", "summary"} <= set(visible_commands())


@pytest.mark.parametrize("name", visible_commands())
def test_readme_option_table_matches_help(name: str) -> None:
    tables = readme_tables()
    assert name in tables, f"README.md has no option table for perfguard {name}"
    documented, offered = tables[name], help_options(name)
    assert sorted(offered - documented) == [], f"perfguard {name}: options missing in README"
    assert sorted(documented - offered) == [], f"perfguard {name}: README options --help lacks"


def test_the_table_reader_sees_a_known_row() -> None:
    assert {"--color", "--no-color", "--machine", "--env"} <= readme_tables()["compare"]
