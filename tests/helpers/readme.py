"""The commands and workflow snippets README.md tells a user to run, so tests run exactly those.

Which blocks count. A fenced block whose language is ``bash``, ``sh``, ``shell`` or ``console``
holds commands: every logical line (backslash continuations joined with one space, the trailing
``# comment`` removed) is one command; in a ``console`` block only ``$ `` lines are commands.
``yaml`` blocks are the copy-paste workflows: they are claimed whole, by file name, through
:func:`workflow`, and their ``run:`` steps are run as bash. ``toml`` blocks are configuration
(tests load them as files), ``python`` blocks are code to paste, and a block without a language
is a synopsis (``perfguard compare BASE HEAD [options]``): none of these is a command.

How a test claims a command. It obtains the text through :func:`command` (or runs it with
:func:`run`), which fails when the README no longer holds that exact command. The meta-test
(tests/readme/test_registry.py) reads every test module's source and fails when a README
command or workflow is claimed by no ``readme.command("...")``, ``readme.run("...")`` or
``readme.workflow("...")`` call with a literal argument: a command that changes in the README
fails its test, and a new command fails until a test runs it. Static collection, not a registry
filled while tests run, so that the check holds whatever subset of the suite was selected.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
TESTS = ROOT / "tests"
SHELL_LANGUAGES = frozenset({"bash", "sh", "shell", "console"})
CLAIMS = frozenset({"command", "run", "workflow"})
"""The functions of this module whose literal first argument claims a README item."""

NOT_RUN: Mapping[str, str] = {
    "bash scripts/test": "the whole suite with its coverage gates: the very run the tests are in",
    "bash scripts/test -x -k compare": "the whole suite's runner again (tests cannot start it)",
    ".venv/bin/python -m asv run --python=same --quick": (
        "benchmarks this checkout into its own .asv/results (a test must not write into the "
        "checkout) and runs every suite of this repository (minutes)"
    ),
    ".venv/bin/python benchmarks/bench_bus.py 5": "the bus figures: 49 s on this VM",
    ".venv/bin/python benchmarks/bench_store.py 5": "the store figures: 104 s on this VM",
    ".venv/bin/python scripts/peers_bus.py 100000 3": (
        "needs the `peers` extra (pyee, blinker, bubus), not part of the test install"
    ),
    "sudo apt-get install -y valgrind": (
        "installs a system package as root; scripts/install-system-deps installs valgrind for"
        " the tests (apt-get, when it is missing)"
    ),
    ".venv/bin/python scripts/peers_store.py 100000": (
        "needs the `peers` extra (eventsourcing), not part of the test install"
    ),
}
"""README commands no test runs, with the reason; counted as not executed in the share."""


@dataclass(frozen=True)
class Command:
    text: str
    line: int
    """1-based line of the README where the command starts."""


@dataclass(frozen=True)
class Block:
    language: str
    content: str
    line: int
    """1-based line of the opening fence."""
    caption: str
    """The paragraph just before the block (e.g. "`.github/workflows/perf.yml`:")."""


@cache
def blocks(path: Path = README) -> tuple[Block, ...]:
    """Every fenced block of the README, with the paragraph that introduces it."""
    tokens = MarkdownIt().parse(path.read_text(encoding="utf-8"))
    found, caption = [], ""
    for index, token in enumerate(tokens):
        if token.type == "inline" and index and tokens[index - 1].type == "paragraph_open":
            caption = token.content
        if token.type == "fence" and token.map is not None:
            language = token.info.split()[0] if token.info.strip() else ""
            found.append(Block(language, token.content, token.map[0] + 1, caption))
    return tuple(found)


def strip_comment(line: str) -> str:
    """``line`` without a shell comment: a ``#`` at the start or after a blank, unquoted."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
            elif char == "\\" and quote == '"':
                continue
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip()
    return line.rstrip()


def block_commands(block: Block) -> list[Command]:
    """The logical command lines of one shell block."""
    found: list[Command] = []
    pending, start = "", 0
    for offset, raw in enumerate(block.content.splitlines()):
        line = raw
        if block.language == "console" and not pending:
            if not line.startswith("$ "):
                continue
            line = line[2:]
        if not pending:
            start = block.line + 1 + offset
        text = strip_comment(line) if not line.rstrip().endswith("\\") else line.rstrip()
        if text.endswith("\\"):
            pending += text[:-1].rstrip() + " "
            continue
        text = (pending + text.lstrip()) if pending else text
        pending = ""
        if text.strip():
            found.append(Command(text.strip(), start))
    return found


@cache
def commands(path: Path = README) -> tuple[Command, ...]:
    """Every command of the README's shell blocks, in order."""
    return tuple(
        c for b in blocks(path) if b.language in SHELL_LANGUAGES for c in block_commands(b)
    )


def command(text: str) -> str:
    """``text``, after checking that the README still tells users to run exactly that."""
    known = [c.text for c in commands()]
    assert text in known, f"README.md no longer has the command {text!r}"
    return text


def run(
    text: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run a README command as a user's shell would: bash, this venv's tools first on PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", command(text)],
        cwd=cwd,
        env={**os.environ, "PATH": path, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def workflows() -> dict[str, str]:
    """The README's copy-paste workflows: file name (from the caption) -> YAML text."""
    found = {}
    for block in blocks():
        named = re.fullmatch(r"`\.github/workflows/([\w.-]+\.ya?ml)`:", block.caption.strip())
        if block.language == "yaml" and named:
            found[named.group(1)] = block.content
    return found


def workflow(name: str) -> dict[str, Any]:
    """The README's ``.github/workflows/<name>`` snippet, parsed (``on`` kept as a key)."""
    text = workflows().get(name)
    assert text is not None, f"README.md no longer has the workflow {name}"
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    if True in data:  # YAML 1.1 reads the key `on` as True
        data["on"] = data.pop(True)
    return data


def claims(root: Path = TESTS) -> dict[str, list[str]]:
    """Literal arguments of ``readme.command/run/workflow`` calls in the test sources -> the
    test files that make them."""
    found: dict[str, list[str]] = {}
    for source in sorted(root.rglob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in CLAIMS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "readme"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                name = str(source.relative_to(root))
                found.setdefault(node.args[0].value, []).append(name)
    return found


def main() -> None:
    """Print which README commands tests run: ``python -m tests.helpers.readme``."""
    claimed = claims()
    listed = commands()
    run_by_tests = [c for c in listed if c.text in claimed]
    for c in listed:
        where = ", ".join(sorted(set(claimed.get(c.text, [])))) or f"NOT RUN: {NOT_RUN.get(c.text)}"
        print(f"README.md:{c.line}: {c.text}\n    {where}")
    for name in workflows():
        print(f"workflow {name}: {', '.join(sorted(set(claimed.get(name, [])))) or 'NOT RUN'}")
    print(f"{len(run_by_tests)}/{len(listed)} README commands are run by tests")


if __name__ == "__main__":
    main()
