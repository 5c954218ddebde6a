"""The shape of `src/eventbus`: imports flow one way and no module grows far past 400 lines.

Issue 14: bus.py and session.py imported each other (one side under TYPE_CHECKING, the other
inside a function). Every import counts here, wherever it sits, because a reader has to hold
both modules in mind either way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "eventbus"
MAX_LINES = 450


def module_files(src: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of `package` (packages as their __init__)."""
    found: dict[str, Path] = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of `known` that module `name` imports anywhere in its body: top level,
    under TYPE_CHECKING, inside functions; `from pkg import sub` counts `pkg.sub`, not `pkg`."""
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            for alias in node.names:  # a submodule, else a name defined in `origin`
                submodule = f"{origin}.{alias.name}"
                targets.add(submodule if submodule in known else origin)
    return {target for target in targets if target in known and target != name}


def import_graph(src: Path, package: str) -> dict[str, set[str]]:
    files = module_files(src, package)
    known = set(files)
    return {name: imported_modules(name, path, known) for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_imports_inside_eventbus_flow_one_way() -> None:
    graph = import_graph(SRC, PACKAGE)
    # The graph is really read: a few imports every version of the package has.
    assert "eventbus.session" in graph["eventbus"]
    assert "eventbus.store.recovery" in graph["eventbus.store.log"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_eventbus_module_is_far_over_400_lines() -> None:
    sizes = {
        name: len(path.read_text(encoding="utf-8").splitlines())
        for name, path in module_files(SRC, PACKAGE).items()
    }
    assert len(sizes) > 20
    too_long = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}
    assert not too_long, f"modules over {MAX_LINES} lines: {too_long}"


@pytest.mark.parametrize(
    ("where", "import_line"),
    [
        ("top", "from pkg.a import A"),
        ("type_checking", "if TYPE_CHECKING:\n    from pkg.a import A"),
        ("function", "def f() -> None:\n    from ..a import A"),
        ("package_from", "from pkg import a"),
        ("relative_package", "from .. import a"),
    ],
)
def test_the_checker_finds_a_cycle_wherever_the_import_sits(
    tmp_path: Path, where: str, import_line: str
) -> None:
    """pkg.a imports pkg.sub.b at the top; pkg.sub.b imports pkg.a back in various ways."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.sub.b import B\n\nclass A: ...\n")
    body = "from typing import TYPE_CHECKING\n\n" + import_line + "\n\nclass B: ...\n"
    (package / "sub" / "b.py").write_text(body)
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.a"] == {"pkg.sub.b"}
    assert find_cycle(graph) in (
        ["pkg.a", "pkg.sub.b", "pkg.a"],
        ["pkg.sub.b", "pkg.a", "pkg.sub.b"],
    )


def test_the_checker_accepts_imports_that_flow_one_way(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from pkg.a import A\nfrom pkg.b import B\n")
    (package / "a.py").write_text("class A: ...\n")
    (package / "b.py").write_text("from . import a\nfrom .a import A\n\nclass B(A): ...\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph == {"pkg": {"pkg.a", "pkg.b"}, "pkg.a": set(), "pkg.b": {"pkg.a"}}
    assert find_cycle(graph) is None
