"""scripts/test's coverage gates count only their own package, whatever the checkout is called.

The gates once matched ``*/perfguard/*``: in a clone whose own folder is named ``perfguard``
(the usual ``git clone .../perfguard``) that also matched ``perfguard/src/eventbus/...``, so the
perfguard gate counted the eventbus files. This runs the gate's own ``--include`` pattern, read
from scripts/test, on real coverage data of a two-package checkout named ``perfguard``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def gate_pattern() -> str:
    """The ``--include`` of scripts/test's ``coverage report`` line (with ``$pkg`` in it)."""
    found = re.findall(r'coverage report --include="([^"]+)"', (ROOT / "scripts/test").read_text())
    assert len(found) == 1, found
    assert "$pkg" in found[0]
    return found[0]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkout named ``perfguard`` with both packages, measured by coverage."""
    root = tmp_path_factory.mktemp("clone") / "perfguard"
    for pkg in ("perfguard", "eventbus"):
        (root / "src" / pkg).mkdir(parents=True)
        (root / "src" / pkg / "__init__.py").write_text("")
        (root / "src" / pkg / "core.py").write_text("def f(x):\n    return x if x else -x\n")
    (root / "main.py").write_text(
        "import sys\nsys.path.insert(0, 'src')\n"
        "import eventbus.core, perfguard.core\n"
        "perfguard.core.f(1)\neventbus.core.f(0)\n"
    )
    subprocess.run(
        [sys.executable, "-m", "coverage", "run", "--branch", "--source=perfguard,eventbus",
         "main.py"],
        cwd=root, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return root


@pytest.mark.parametrize(("pkg", "other"), [("perfguard", "eventbus"), ("eventbus", "perfguard")])
def test_each_gate_reports_only_its_own_package(checkout: Path, pkg: str, other: str) -> None:
    include = gate_pattern().replace("$pkg", pkg)
    done = subprocess.run(
        [sys.executable, "-m", "coverage", "report", f"--include={include}"],
        cwd=checkout, check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    files = re.findall(r"^(\S+\.py)\s", done.stdout, re.M)
    assert sorted(files) == [f"src/{pkg}/__init__.py", f"src/{pkg}/core.py"], done.stdout
    assert f"src/{other}/" not in done.stdout
