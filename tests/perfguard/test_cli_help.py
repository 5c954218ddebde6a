"""What the help texts and error messages tell a user to type is accepted by the CLI.

- Every example in a command's ``--help`` epilog ("Examples:" lines) is parsed by the real
  command with click's ``make_context``: unknown options, missing values and refused values
  (``-a repeat=5``, a bad ``--time-limit``: checked while click parses) fail the test.
- Every ``e.g. -x value`` in an option's help is processed by that option.
- Every option named in a help text, or in an error or warning message in src/perfguard,
  exists on some perfguard command, and on the very command a quoted `perfguard X ...` names.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from perfguard.cli import cli

SRC = Path(__file__).resolve().parents[2] / "src" / "perfguard"
OPTION = re.compile(r"(?<![\w`-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?![\w-])")
ASV_CONTEXT = re.compile(r"\basv(?:'s)?(?: [\w.=-]+)?\s?$")
"""An option right after ``asv``, ``asv run``, ``asv's``: asv's own, not perfguard's."""
MESSAGE_CALLS = {"echo", "warning", "warn", "fail", "secho"}


def group_context() -> click.Context:
    return cli.make_context("perfguard", [], resilient_parsing=True)


def commands() -> dict[str, click.Command]:
    ctx = group_context()
    found = {}
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert command is not None, name
        found[name] = command
    return found


def all_options() -> set[str]:
    names = set()
    for command in [cli, *commands().values()]:
        for param in command.params:
            if isinstance(param, click.Option):
                names.update(param.opts)
                names.update(param.secondary_opts)
    return names | {"-h", "--help"}


def examples(text: str) -> Iterator[str]:
    """The command lines under "Example:" / "Examples:" in an epilog (continuations joined)."""
    taking = False
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("Example"):
            taking = True
            continue
        if not taking:
            continue
        if not line or line == "\b":
            taking = False
            continue
        pending += line.removesuffix("\\") + " "
        if line.endswith("\\"):
            continue
        yield " ".join(pending.split())
        pending = ""


def every_example() -> list[tuple[str, str]]:
    found = [
        (name, example)
        for name, command in {"perfguard": cli, **commands()}.items()
        for example in examples(command.epilog or "")
    ]
    return found


def parse(line: str) -> click.Context:
    """Parse one example like the shell and click would; refused values raise."""
    words = [os.path.expanduser(word) for word in shlex.split(line, comments=True)]
    if "|" in words:
        words = words[: words.index("|")]
    assert words[0] == "perfguard", line
    group = group_context()
    name, *args = words[1:]
    command = cli.get_command(group, name)
    assert command is not None, f"{line}: no command {name!r}"
    provide_paths(command, args)
    return command.make_context(name, args, parent=group)


def provide_paths(command: click.Command, args: list[str]) -> None:
    """Create the files and folders an example names for options that need them to exist
    (``--dir ~/src/app``): the user running the example has them."""
    for param in command.params:
        if not (isinstance(param, click.Option) and isinstance(param.type, click.Path)):
            continue
        if not param.type.exists:
            continue
        for i, word in enumerate(args[:-1]):
            if word in param.opts:
                path = Path(args[i + 1])
                if param.type.file_okay:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.touch()
                else:
                    path.mkdir(parents=True, exist_ok=True)


def test_every_command_shows_examples() -> None:
    shown = {name for name, _ in every_example()}
    wanted = {"perfguard", *commands()}
    assert wanted <= shown, f"commands without examples: {wanted - shown}"


@pytest.mark.parametrize(("name", "example"), every_example())
def test_an_example_in_the_help_is_accepted(
    name: str, example: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    ctx = parse(example)
    assert ctx.command.name == example.split()[1]


def test_the_example_parser_catches_what_the_cli_refuses() -> None:
    """The check above can fail: an unknown option, a refused value, a bad choice."""
    for bad in (
        "perfguard compare main HEAD --output report.json",
        "perfguard run -a repeat=5",
        "perfguard run --time-limit soon",
        "perfguard compare main HEAD --format yaml",
        "perfguard summary --markdown",
    ):
        with pytest.raises(Exception):  # noqa: B017, PT011 (click's or perfguard's error)
            parse(bad)
    epilog = "\b\nExamples:\n  perfguard run \\\n   --quick  # a look\n\b\nExit codes: 0"
    assert list(examples(epilog)) == ["perfguard run --quick # a look"]


def e_g_fragments(text: str) -> Iterator[str]:
    """``e.g. -a number=100 or -a sample_time=0.01`` -> both fragments; ``e.g. 90s, 10m`` ->
    the values ``90s`` and ``10m`` (of the option whose help this is)."""
    for match in re.finditer(r"e\.g\. ([^;()\[]*)", text):
        for fragment in re.split(r",\s+|\s+or\s+", match.group(1)):
            fragment = fragment.strip().rstrip(",.")
            if fragment.startswith("-") or (fragment and " " not in fragment):
                yield fragment


def option_examples() -> list[tuple[str, str, str]]:
    return [
        (name, param.opts[0], fragment)
        for name, command in commands().items()
        for param in command.params
        if isinstance(param, click.Option) and param.help
        for fragment in e_g_fragments(param.help)
    ]


def test_option_help_has_examples_to_check() -> None:
    found = option_examples()
    assert ("run", "-a", "-a number=100") in found
    assert ("run", "--time-limit", "10m") in found


@pytest.mark.parametrize(("name", "owner", "fragment"), option_examples())
def test_an_example_in_an_option_help_is_accepted(name: str, owner: str, fragment: str) -> None:
    command = commands()[name]
    if fragment.startswith("-"):
        opt, *value = shlex.split(fragment.replace("=", " ", 1) if "--" in fragment else fragment)
    else:
        opt, value = owner, [fragment]
    [param] = [p for p in command.params if isinstance(p, click.Option) and opt in p.opts]
    ctx = click.Context(command)
    raw = " ".join(value) if value else None
    param.process_value(ctx, (raw,) if param.multiple else raw)


def test_the_option_example_check_can_fail() -> None:
    command = commands()["run"]
    [param] = [p for p in command.params if isinstance(p, click.Option) and "-a" in p.opts]
    with pytest.raises(Exception):  # noqa: B017, PT011 (perfguard's one-line ConfigError)
        param.process_value(click.Context(command), ("repeat=5",))


def help_texts() -> Iterator[tuple[str, str]]:
    for name, command in {"perfguard": cli, **commands()}.items():
        yield name, command.help or ""
        yield name, command.epilog or ""
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                yield name, param.help or ""


COMMAND_LINE = re.compile(r"`perfguard ([a-z][a-z-]*)([^`]*)`")
"""A quoted perfguard command line in a message: its options must be that command's."""


def named_options(text: str) -> Iterator[str]:
    for match in OPTION.finditer(text):
        if not ASV_CONTEXT.search(text[: match.start()]):
            yield match.group(1)


def misnamed(text: str, known: set[str], by_command: dict[str, set[str]]) -> set[str]:
    """Options a text names that no command has, or that the command it quotes lacks."""
    wrong = {option for option in named_options(text) if option not in known}
    for match in COMMAND_LINE.finditer(text):
        own = by_command.get(match.group(1))
        if own is None:
            wrong.add(f"perfguard {match.group(1)}")
            continue
        wrong.update(option for option in named_options(match.group(2)) if option not in own)
    return wrong


def options_by_command() -> dict[str, set[str]]:
    return {
        name: {
            opt
            for param in command.params
            if isinstance(param, click.Option)
            for opt in (*param.opts, *param.secondary_opts)
        }
        | {"-h", "--help"}
        for name, command in commands().items()
    }


def test_a_quoted_command_line_is_checked_against_its_own_command() -> None:
    known, by_command = all_options(), options_by_command()
    old = "pass the file written by `perfguard compare --format json --output FILE`"
    assert misnamed(old, known, by_command) == {"--output"}  # run has --output, compare not
    assert misnamed("see `perfguard compare --json-file FILE`", known, by_command) == set()
    assert misnamed("pass --no-such-option", known, by_command) == {"--no-such-option"}
    assert misnamed("as `asv run --record-samples` does", known, by_command) == set()


def test_every_option_a_help_text_names_exists() -> None:
    known, by_command = all_options(), options_by_command()
    missing = {
        (name, option)
        for name, text in help_texts()
        for option in misnamed(text, known, by_command)
    }
    assert not missing


def message_strings() -> Iterator[tuple[str, int, str]]:
    """The literal text of every error, warning and echo call in src/perfguard."""
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if not (called.endswith(("Error", "Exception")) or called in MESSAGE_CALLS):
                continue
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                yield str(path.relative_to(SRC)), node.lineno, literal(arg)


def literal(node: ast.expr) -> str:
    """A string expression's literal text, ``{}`` for what is filled in at run time."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else ""
    if isinstance(node, ast.JoinedStr):
        return "".join(literal(v) if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return literal(node.left) + literal(node.right)
    return ""


def test_messages_are_found() -> None:
    """The scan sees real messages (so the next test can fail)."""
    texts = " ".join(text for _, _, text in message_strings())
    assert "--benchmarks-json" in texts and "--asv-config" in texts


def test_every_option_an_error_message_names_exists() -> None:
    known, by_command = all_options(), options_by_command()
    missing = [
        (path, line, option)
        for path, line, text in message_strings()
        for option in misnamed(text, known, by_command)
    ]
    assert not missing
