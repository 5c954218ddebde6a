"""scripts/peers_bus.py's command line: --help and bad arguments answer before any peer loads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "peers_bus.py"


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120
    )


def test_help_describes_the_arguments() -> None:
    done = run_script("--help")
    assert done.returncode == 0, done.stderr
    assert "usage: peers_bus.py [-h] [n_events] [rounds]" in done.stdout
    assert "pyee, blinker, bubus and eventbus" in done.stdout
    assert done.stderr == ""


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("many",), "argument n_events: invalid int value: 'many'"),
        (("1000", "0"), "n_events and rounds must be at least 1"),
        (("0",), "n_events and rounds must be at least 1"),
    ],
)
def test_a_bad_argument_is_a_usage_error_not_a_traceback(args: tuple[str, ...], error: str) -> None:
    done = run_script(*args)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == f"peers_bus.py: error: {error}"
    assert "Traceback" not in done.stderr
