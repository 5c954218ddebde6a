"""scripts/demo, the README's first command: only the report goes to stdout.

Banners, progress and pip's output go to stderr, so ``bash scripts/demo --format json | jq .``
reads a clean JSON document.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


def test_the_demo_json_report_is_alone_on_stdout() -> None:
    done = subprocess.run(
        ["bash", "scripts/demo", "--format", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    # The two newest Django results, 66 benchmarks each, judged in history mode.
    assert report["summary"]["total"] == 66
    assert report["summary"]["regressed"] == 0
    assert "perfguard compare" in done.stderr
    assert "exit code: 0" in done.stderr


def test_the_demo_passes_an_input_error_on_with_its_exit_code() -> None:
    done = subprocess.run(
        ["bash", "scripts/demo", "--threshold", "not-a-number"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "error:" in done.stderr
    assert done.stdout == ""
