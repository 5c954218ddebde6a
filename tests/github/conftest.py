"""Fixtures: the local GitHub double and an in-process run of the real CLI boundary."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from perfguard.cli import main
from tests.github.double import GitHubDouble

TOKEN = "ghs_perfguardTestToken0123456789abcdefXYZ"
REPO = "octo/app"
HEAD_SHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHubDouble]:
    """A running double; the test fails if any request or answer broke GitHub's OpenAPI."""
    with GitHubDouble(token=TOKEN) as double:
        monkeypatch.setenv("GITHUB_API_URL", double.url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        yield double
    assert double.violations == []


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Iterator[object]:
    """Call ``perfguard ...`` through its real error boundary; the token must never show."""

    def run(*argv: str) -> Run:
        with pytest.raises(SystemExit) as exit_info:
            main(list(argv))
        captured = capsys.readouterr()
        result = Run(int(exit_info.value.code or 0), captured.out, captured.err)
        assert TOKEN not in result.out + result.err
        return result

    return run
