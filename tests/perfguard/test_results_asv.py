"""What real asv writes, read back: parameters, failures, skips, and every benchmark kind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from perfguard.models import Kind, Status
from perfguard.results import load_result_set
from tests.helpers.asvrepo import MACHINE, AsvProject

BENCHMARKS = """
class Sorting:
    params = ([10, 100], ["list", "tuple"])
    param_names = ["n", "container"]

    def setup(self, n, container):
        if (n, container) == (100, "tuple"):
            raise NotImplementedError  # asv: skipped

    def time_sort(self, n, container):
        if (n, container) == (10, "tuple"):
            raise ValueError("boom")  # asv: failed
        sorted(range(n))


def track_rate():
    return 1234.5


track_rate.unit = "events/s"


def mem_list():
    return [0] * 1000


def peakmem_list():
    [0] * 100000


def time_broken():
    raise RuntimeError("always")
"""


def asv_project(tmp_path: Path, benchmarks: str) -> AsvProject:
    """A one-commit asv project whose results go to ``.asv/results`` (``asv machine`` needs the
    config first, so it runs after the commit)."""
    project = AsvProject(tmp_path / "project", tmp_path / "home")
    project.root.mkdir()
    project.home.mkdir()
    project.git("init", "-q", "-b", "main")
    config = {
        "version": 1,
        "project": "tiny",
        "repo": ".",
        "branches": ["main"],
        "environment_type": "virtualenv",
        "benchmark_dir": "benchmarks",
        "results_dir": ".asv/results",
        "env_dir": ".asv/env",
    }
    project.commit(
        {
            "asv.conf.json": json.dumps(config),
            ".gitignore": ".asv/\n",
            "benchmarks/__init__.py": "",
            "benchmarks/bench.py": benchmarks,
        },
        "initial",
    )
    subprocess.run(
        [sys.executable, "-m", "asv", "machine", "--yes", "--machine", MACHINE],
        cwd=project.root,
        env=project.env(),
        check=True,
        capture_output=True,
    )
    return project


@pytest.mark.integration
def test_results_written_by_asv_read_back_with_labels_statuses_kinds_and_units(
    tmp_path: Path,
) -> None:
    project = asv_project(tmp_path, BENCHMARKS)
    head = project.git("rev-parse", "HEAD")
    done = subprocess.run(
        [
            *(sys.executable, "-m", "asv", "run", "--python=same", "--machine", MACHINE),
            *("--set-commit-hash", head, "--record-samples", "--quick"),
        ],
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    # asv exits 2 when a benchmark failed, which two of these do on purpose.
    assert done.returncode == 2, done.stdout + done.stderr
    assert "time_broken" in done.stdout

    result = load_result_set("main", repo=project.root)

    assert (result.commit, result.machine) == (head, MACHINE)
    assert result.machine_info["machine"] == MACHINE
    assert result.machine_info["python"] == sys.executable  # what --python=same records
    got = {m.label: (m.kind, m.unit, m.status) for m in result.measurements}
    assert got == {
        "bench.Sorting.time_sort(n=10, container='list')": (Kind.TIME, "seconds", Status.OK),
        "bench.Sorting.time_sort(n=10, container='tuple')": (Kind.TIME, "seconds", Status.FAILED),
        "bench.Sorting.time_sort(n=100, container='list')": (Kind.TIME, "seconds", Status.OK),
        "bench.Sorting.time_sort(n=100, container='tuple')": (
            Kind.TIME,
            "seconds",
            Status.SKIPPED,
        ),
        "bench.track_rate": (Kind.TRACK, "events/s", Status.OK),
        "bench.mem_list": (Kind.MEM, "bytes", Status.OK),
        "bench.peakmem_list": (Kind.PEAKMEM, "bytes", Status.OK),
        "bench.time_broken": (Kind.TIME, "seconds", Status.FAILED),
    }
    by_label = {m.label: m for m in result.measurements}
    assert by_label["bench.track_rate"].value == 1234.5
    sort = by_label["bench.Sorting.time_sort(n=100, container='list')"]
    assert sort.value is not None and sort.value > 0
    assert sort.samples is not None and sort.version is not None
    assert by_label["bench.Sorting.time_sort(n=10, container='tuple')"].value is None
