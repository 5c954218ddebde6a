"""perfguard compare on results written by a real asv run, in a temporary git repository.

Two commits of a tiny suite: the second makes ``time_slowed`` do 30 % more work, leaves
``time_steady`` alone and drops ``track_rate`` (events/s, higher is better) by 30 %.

The time benchmarks are timed with asv's ``timer`` hook set to a clock that counts the work
done (with 1 % seeded jitter), not with wall or CPU time: on this shared 2-core VM the speed of
identical work swings between 0.8 and 3.8 ms from second to second and from process to process
(measured while writing this test), which no choice of repeats makes reliable for a 30 % step.
Everything else is real: asv discovers, calibrates, runs and stores the benchmarks, git resolves
the refs, and perfguard reads asv's files and decides. Noise in real timings is the subject of
``perfguard run`` (paired rounds) and its own tests.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from perfguard.cli import cli
from tests.helpers.asvrepo import MACHINE, AsvProject, asv_project

BENCHMARKS = """
import random

from benchmarks import _workload

# A work-counting clock with 1 % seeded jitter, given to asv through its `timer` attribute:
# see the module docstring of the test for why not wall or CPU time.
_jitter = random.Random(20261121)
_elapsed = [0.0]


def virtual_clock():
    return _elapsed[0]


def _work(n):
    total = 0
    for i in range(n):
        total += i * i
    _elapsed[0] += n * 5e-8 * _jitter.lognormvariate(0.0, 0.01)
    return total


def time_slowed():
    _work(_workload.SLOWED)


def time_steady():
    _work(_workload.STEADY)


def track_rate():
    return _workload.RATE


track_rate.unit = "events/s"
time_slowed.timer = virtual_clock
time_steady.timer = virtual_clock
"""

WORKLOAD = "SLOWED = 20000\nSTEADY = 20000\nRATE = 100000.0\n"
SLOWER = "SLOWED = 26000\nSTEADY = 20000\nRATE = 70000.0\n"


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> tuple[AsvProject, str, str]:
    project = asv_project(tmp_path_factory.mktemp("asv"), BENCHMARKS, WORKLOAD)
    base = project.git("rev-parse", "HEAD")
    head = project.commit({"benchmarks/_workload.py": SLOWER}, "slow down time_slowed")
    args = ("-a", "repeat=10", "-a", "processes=2", "-a", "warmup_time=0")
    project.asv_run(base, *args)
    project.asv_run(head, *args)
    project.git("checkout", "-q", "main")
    return project, base, head


pytestmark = pytest.mark.integration


def run_cli(project: AsvProject, *args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(
        cli,
        ["compare", *args, "--repo", str(project.root), "--format", "json"],
        catch_exceptions=False,
    )
    return result.exit_code, json.loads(result.stdout)


def test_real_asv_slowdown_is_flagged_exactly_there(measured: tuple[AsvProject, str, str]) -> None:
    project, base, _head = measured
    code, report = run_cli(project, base[:10], "main")
    verdicts = {row["benchmark"]: row["verdict"] for row in report["rows"]}
    assert verdicts["bench.time_slowed"] == "regressed"
    # asv records no spread for a track_ value: -30 % is not an exact measurement (issue 10).
    assert verdicts["bench.track_rate"] == "inconclusive"
    assert verdicts["bench.time_steady"] not in ("regressed", "improved")
    assert code == 1
    rows = {r["benchmark"]: r for r in report["rows"]}
    slowed = rows["bench.time_slowed"]
    # asv's samples from its 2 processes, judged by their process-to-process spread.
    assert slowed["method"] == "processes"
    assert "from 2/2 processes" in slowed["note"]
    assert slowed["change"] > 0.15
    rate = rows["bench.track_rate"]
    assert rate["method"] == "no-spread" and rate["interval"] == [-1.0, None]
    assert "noise is unknown" in rate["reason"]


def test_reverse_order_is_an_improvement(measured: tuple[AsvProject, str, str]) -> None:
    project, base, head = measured
    code, report = run_cli(project, head, base)
    verdicts = {row["benchmark"]: row["verdict"] for row in report["rows"]}
    assert verdicts["bench.time_slowed"] == "improved"
    assert verdicts["bench.track_rate"] == "inconclusive"  # no spread recorded
    assert "regressed" not in verdicts.values()
    assert code == 0


def test_result_files_given_directly_and_through_a_real_subprocess(
    measured: tuple[AsvProject, str, str],
) -> None:
    project, base, head = measured
    files = {p.name[:8]: p for p in (project.results_dir / MACHINE).glob("*.json")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "perfguard",
            "compare",
            str(files[base[:8]]),
            str(files[head[:8]]),
            "--format",
            "markdown",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )
    assert done.returncode == 1, done.stderr
    assert "bench.time\\_slowed" in done.stdout or "bench.time_slowed" in done.stdout
    assert "Traceback" not in done.stderr


def test_unknown_commit_is_one_line_exit_2(measured: tuple[AsvProject, str, str]) -> None:
    project, _, _ = measured
    result = CliRunner().invoke(cli, ["compare", "deadbeef", "main", "--repo", str(project.root)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
