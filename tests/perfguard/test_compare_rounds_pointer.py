"""``perfguard compare BASE HEAD`` on asv results points to a rounds file of the same commits.

The rounds file is a real one (``tests/github/data/perf-rounds``, written by ``perfguard run``
on this repository), copied to the names ``perfguard run`` claims for its output
(:func:`perfguard.runner.files.claim`: ``<results_dir>/../perfguard/<base12>-<head12>.rounds.json``,
then ``.2.rounds.json``...).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from perfguard.cli import cli
from perfguard.runner.files import claim
from tests.helpers.asvfiles import write_results_dir

ROUNDS = Path(__file__).resolve().parents[1] / "github" / "data" / "perf-rounds"
FIXTURE = ROUNDS / "session-slowdown.rounds.json"


def asv_results(tmp_path: Path) -> tuple[Path, str, str]:
    """asv result files of the rounds file's two commits, and those commits."""
    data = json.loads(FIXTURE.read_text())
    base, head = data["base"]["commit"], data["head"]["commit"]
    results = tmp_path / "results"
    bench = {"bench.time_x": {"type": "time"}}
    for commit, value in ((base, 1.0), (head, 1.01)):
        write_results_dir(
            results,
            "box",
            commit,
            "py3.12",
            benchmarks=bench,
            results={"bench.time_x": {"result": value, "ci": [(value * 0.99, value * 1.01)]}},
        )
    return results, base, head


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["compare", *args])
    return result.exit_code, result.stdout, result.stderr


def test_a_rounds_file_of_the_same_commits_is_pointed_to(tmp_path: Path) -> None:
    results, base, head = asv_results(tmp_path)
    files = [str(results / "box" / f"{c[:8]}-py3.12.json") for c in (base, head)]
    code, _, stderr = invoke(*files, "--fail-on", "never")
    assert code == 0
    assert "paired rounds" not in stderr  # no rounds file yet: nothing to say

    rounds = claim(results, base, head, None).rounds
    shutil.copy(FIXTURE, rounds)
    code, stdout, stderr = invoke(*files, "--fail-on", "never")
    assert code == 0
    notes = [line for line in stderr.splitlines() if line.startswith("note:")]
    assert notes == [
        f"note: perfguard run measured these two commits in paired rounds: {rounds}. Its"
        " verdicts are stronger than this comparison of two separate asv runs:"
        f" perfguard compare {rounds}"
    ]
    assert "paired rounds" not in stdout  # stderr only: the report is unchanged

    second = claim(results, base, head, None).rounds
    assert second.name.endswith(".2.rounds.json")
    shutil.copy(FIXTURE, second)
    _, _, stderr = invoke(*files, "--fail-on", "never")
    assert f"paired rounds: {second} (and 1 earlier run)" in stderr

    # The command it points to works as written.
    code, stdout, _ = invoke(str(second), "--format", "json")
    assert code in (0, 1) and json.loads(stdout)["rows"]

    # The other way round is another pair of commits: no rounds file of it.
    _, _, stderr = invoke(*reversed(files), "--fail-on", "never")
    assert "paired rounds" not in stderr


def test_mostly_inconclusive_asv_runs_suggest_perfguard_run(tmp_path: Path) -> None:
    """Two asv runs whose intervals are wide (a few samples each, a loaded machine) leave the
    benchmarks inconclusive; compare then names the command that can decide them."""
    data = json.loads(FIXTURE.read_text())
    base, head = data["base"]["commit"], data["head"]["commit"]
    results = tmp_path / "results"
    bench = {f"bench.time_{n}": {"type": "time"} for n in "abc"}
    for commit, value in ((base, 1.0), (head, 1.2)):
        write_results_dir(
            results,
            "box",
            commit,
            "py3.12",
            benchmarks=bench,
            results={name: {"result": value, "ci": [(value * 0.3, value * 3.0)]} for name in bench},
        )
    files = [str(results / "box" / f"{c[:8]}-py3.12.json") for c in (base, head)]
    code, stdout, stderr = invoke(*files, "--fail-on", "never", "--format", "json")
    assert code == 0
    assert [r["verdict"] for r in json.loads(stdout)["rows"]] == ["inconclusive"] * 3
    notes = [line for line in stderr.splitlines() if line.startswith("note:")]
    assert notes == [
        "note: 3 of 3 benchmarks are inconclusive: two separate asv runs cannot tell them from"
        " noise. Paired rounds of both commits in one job decide far more:"
        f" perfguard run {base[:12]} {head[:12]}"
    ]
    # A rounds file of the same commits is the better pointer: it is said instead.
    shutil.copy(FIXTURE, claim(results, base, head, None).rounds)
    _, _, stderr = invoke(*files, "--fail-on", "never")
    assert "perfguard run measured these two commits" in stderr
    assert "are inconclusive" not in stderr
