"""scripts/render_comment.py: a report of paired rounds rendered in headless Chromium with its
Mermaid pictures drawn, as GitHub draws them (the screenshot for a note)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts/render_comment.py"
ROUNDS = ROOT / "tests/github/data/perf-rounds/session-slowdown.rounds.json"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=180, check=False
    )


@pytest.mark.integration
def test_the_comment_renders_with_its_charts_drawn(tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    compared = run(
        "-m",
        "perfguard",
        "compare",
        str(ROUNDS),
        "--markdown-file",
        str(report),
        "--site-url",
        "https://octo.github.io/app/",
    )
    assert compared.returncode == 1, compared.stderr
    out = ROOT / "test-artifacts/comment.png"
    done = run(str(SCRIPT), str(report), str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(": 2 of 2 charts drawn"), done.stdout
    assert out.stat().st_size > 20_000
    print(f"comment screenshot: {out}")


def test_a_missing_report_is_a_one_line_exit_2(tmp_path: Path) -> None:
    done = run(str(SCRIPT), str(tmp_path / "nope.md"), str(tmp_path / "x.png"))
    assert done.returncode == 2
    assert done.stderr.startswith("error: cannot read ") and done.stderr.count("\n") == 1
