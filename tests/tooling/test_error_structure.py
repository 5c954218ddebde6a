"""Errors keep their cause, and every error a user can meet is defined in perfguard.errors.

An AST scan of src/perfguard: a ``raise X`` inside an ``except`` block must say ``from exc``
(the crash log then shows the chain), or ``from None`` with a ``# cause dropped: why`` comment
just above; every ``PerfguardError`` subclass must be a class of ``errors.py``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import perfguard
from perfguard import errors

SRC = Path(perfguard.__file__).parent
DROPPED = "# cause dropped:"


def modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def raises_in_handler(handler: ast.ExceptHandler) -> Iterator[ast.Raise]:
    """The raise statements of the handler's own body (not of functions defined in it)."""
    stack: list[ast.AST] = list(handler.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Raise):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def uncaused_raises() -> list[str]:
    found = []
    for path, tree in modules():
        lines = path.read_text(encoding="utf-8").splitlines()
        for handler in ast.walk(tree):
            if not isinstance(handler, ast.ExceptHandler):
                continue
            for node in raises_in_handler(handler):
                if node.exc is None:  # a bare ``raise`` re-raises with its traceback
                    continue
                where = f"{path.relative_to(SRC.parent)}:{node.lineno}"
                if node.cause is None:
                    found.append(f"{where}: raise without from")
                elif (
                    isinstance(node.cause, ast.Constant)
                    and node.cause.value is None
                    and DROPPED not in "\n".join(lines[node.lineno - 3 : node.lineno])
                ):
                    found.append(f"{where}: 'from None' without a '{DROPPED}' comment")
    return found


def test_every_raise_in_an_except_block_keeps_its_cause() -> None:
    assert uncaused_raises() == []


def test_the_scan_finds_a_raise_without_from(tmp_path: Path) -> None:
    """The scan itself can fail: a handler raising without ``from`` is reported."""
    code = "try:\n    pass\nexcept OSError:\n    raise ValueError('x')\n"
    handler = next(n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.ExceptHandler))
    assert [r.cause for r in raises_in_handler(handler)] == [None]


def test_every_perfguard_error_is_defined_in_errors_py() -> None:
    elsewhere = []
    for path, tree in modules():
        if path == SRC / "errors.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                (isinstance(b, ast.Name) and b.id.endswith("Error"))
                or (isinstance(b, ast.Attribute) and b.attr.endswith("Error"))
                for b in node.bases
            ):
                elsewhere.append(f"{path.relative_to(SRC.parent)}: {node.name}")
    # Private signalling classes (never shown to a user) say so and derive from Exception.
    assert elsewhere == []


def subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)


def test_no_module_subclasses_perfguard_error_outside_errors_py() -> None:
    """At run time too: every module imported, every subclass of PerfguardError is errors'."""
    for info in pkgutil.walk_packages(perfguard.__path__, "perfguard."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    outside = {
        f"{c.__module__}.{c.__qualname__}"
        for c in subclasses(errors.PerfguardError)
        if c.__module__.startswith("perfguard.") and c.__module__ != "perfguard.errors"
    }
    assert outside == set()


def test_errors_py_holds_each_user_error_with_an_exit_code() -> None:
    classes = {
        name: value
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, errors.PerfguardError)
    }
    assert {"AsvError", "GitHubTransientError", "InputError", "ConfigError"} <= set(classes)
    for cls in classes.values():
        assert cls.__module__ == "perfguard.errors"
        assert cls.exit_code in (errors.EXIT_USAGE, errors.EXIT_GITHUB)
        assert cls.__doc__
