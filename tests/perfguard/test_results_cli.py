"""Bad results input at the command line: one ``error:`` line, exit 2, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from perfguard.cli import main
from perfguard.errors import EXIT_USAGE
from tests.helpers.asvfiles import write_benchmarks_json, write_json, write_results_dir

BENCH = "suite.time_x"
BASE, HEAD = "a" * 40, "b" * 40


def results(root: Path, commit: str, machine: str = "box") -> Path:
    return write_results_dir(
        root,
        machine,
        commit,
        "py",
        benchmarks={BENCH: {}},
        results={BENCH: {"result": 1.0, "samples": [1.0, 1.1, 0.9]}},
    )


def format_1(tmp: Path) -> list[str]:
    base, head = results(tmp, BASE), results(tmp, HEAD)
    data = json.loads(head.read_text(encoding="utf-8"))
    write_json(head, {**data, "version": 1})
    return [str(base), str(head)]


def truncated(tmp: Path) -> list[str]:
    base, head = results(tmp, BASE), results(tmp, HEAD)
    head.write_bytes(head.read_bytes()[:100])
    return [str(base), str(head)]


def no_benchmarks_json(tmp: Path) -> list[str]:
    base, head = results(tmp, BASE), results(tmp, HEAD)
    (tmp / "benchmarks.json").unlink()
    return [str(base), str(head)]


def unknown_commit(tmp: Path) -> list[str]:
    results(tmp, BASE)
    return ["cccccccc", BASE[:8], "--results-dir", str(tmp), "--repo", str(tmp)]


def empty_results_dir(tmp: Path) -> list[str]:
    write_benchmarks_json(tmp, {BENCH: {}})
    return [BASE[:8], HEAD[:8], "--results-dir", str(tmp), "--repo", str(tmp)]


def not_a_git_repo(tmp: Path) -> list[str]:
    results(tmp, BASE)
    return ["main", "HEAD", "--results-dir", str(tmp), "--repo", str(tmp)]


def several_machines(tmp: Path) -> list[str]:
    results(tmp, BASE, "box")
    results(tmp, BASE, "ci")
    results(tmp, HEAD, "box")
    return [BASE[:8], HEAD[:8], "--results-dir", str(tmp), "--repo", str(tmp)]


CASES: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    "format 1": (format_1, "run `asv update`"),
    "truncated": (truncated, "is not valid JSON, perhaps truncated"),
    "no benchmarks.json": (no_benchmarks_json, "no benchmarks.json for"),
    "unknown commit": (unknown_commit, "for a commit starting with 'cccccccc'"),
    "empty results dir": (empty_results_dir, "is empty: no <machine>/<commit>-<env>.json"),
    "not a git repo": (not_a_git_repo, "is not a git repository"),
    "several machines": (several_machines, "choose one: --machine box --env py, --machine ci"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_results_input_is_one_error_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    make, expected = CASES[case]
    with pytest.raises(SystemExit) as info:
        main(["compare", *make(tmp_path / "results")])
    assert info.value.code == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ")
    assert captured.err.count("\n") == 1
    assert expected in captured.err


@pytest.mark.integration
def test_a_real_process_reports_a_format_1_file_without_a_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "perfguard", "compare", *format_1(tmp_path / "results")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == EXIT_USAGE
    assert done.stdout == ""
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert "run `asv update` to upgrade it to version 2" in done.stderr
