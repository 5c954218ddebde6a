"""scripts/demo, the README's first command: only the report goes to stdout.

Banners, progress and pip's output go to stderr, so ``bash scripts/demo --format json | jq .``
reads a clean JSON document.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers import readme

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


def test_the_readme_demo_command_prints_the_comparison() -> None:
    done = readme.run("bash scripts/demo", cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "exit code: 0" in done.stderr
    # This repository's own rules (for its eventbus benchmarks) are not applied to Django's.
    assert "matched no benchmark" not in done.stderr
    # The table of the 66 benchmarks is on stdout, the banners are not.
    assert "perfguard compare" not in done.stdout
    assert "regressed" in done.stdout and "(threshold 5%)" in done.stdout


def test_the_demo_json_report_is_alone_on_stdout() -> None:
    done = subprocess.run(
        ["bash", "scripts/demo", "--format", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    # The two newest Django results, 66 benchmarks each, judged in history mode.
    assert report["summary"]["total"] == len(report["rows"]) == 66
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
