"""perfguard's own speed: compare two result sets of 10 000 benchmarks and render every format.

Target (issue 2): under 1 s and under 200 MB on a 2-core CI machine. The result files are asv
format-2 files with 10 raw samples per benchmark, as ``asv run --record-samples`` writes them.
"""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

from perfguard.compare import compare
from perfguard.policy import Policy
from perfguard.report.json_report import render_json
from perfguard.report.markdown import render_markdown
from perfguard.report.terminal import render_terminal
from perfguard.results import load_result_set

N_BENCHMARKS = 10_000
N_SAMPLES = 10
COLUMNS = [
    "result",
    "params",
    "version",
    "started_at",
    "duration",
    "stats_ci_99_a",
    "stats_ci_99_b",
    "stats_q_25",
    "stats_q_75",
    "stats_number",
    "stats_repeat",
    "samples",
]


def write_results(root: Path, commit: str, slowdown: float, seed: int) -> Path:
    """An asv results file for ``commit``; every 100th benchmark is ``slowdown`` times slower."""
    rng = random.Random(seed)
    results = {}
    for i in range(N_BENCHMARKS):
        center = (1 + i % 97) * 1e-5 * (slowdown if i % 100 == 0 else 1.0)
        samples = [center * rng.lognormvariate(0, 0.02) for _ in range(N_SAMPLES)]
        samples.sort()
        median = samples[N_SAMPLES // 2]
        results[f"suite.Bench{i // 100}.time_case_{i}"] = [
            [median],
            [],
            f"{i:064x}",
            0,
            0.1,
            [samples[1]],
            [samples[-2]],
            [samples[2]],
            [samples[7]],
            [100],
            [N_SAMPLES],
            [samples],
        ]
    data = {
        "commit_hash": commit,
        "env_name": "virtualenv-py3.11",
        "date": 0,
        "params": {"machine": "bench", "python": "3.11"},
        "python": "3.11",
        "requirements": {},
        "env_vars": {},
        "result_columns": COLUMNS,
        "results": results,
        "durations": {},
        "version": 2,
    }
    path = root / "bench" / f"{commit[:8]}-virtualenv-py3.11.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def write_benchmarks_json(root: Path) -> None:
    info = {
        f"suite.Bench{i // 100}.time_case_{i}": {
            "name": f"suite.Bench{i // 100}.time_case_{i}",
            "type": "time",
            "unit": "seconds",
            "params": [],
            "param_names": [],
            "version": f"{i:064x}",
        }
        for i in range(N_BENCHMARKS)
    }
    info["version"] = 2  # type: ignore[assignment]
    (root / "benchmarks.json").write_text(json.dumps(info))


def compare_and_render(base: str, head: str) -> None:
    comparison = compare(load_result_set(base), load_result_set(head), Policy())
    render_terminal(comparison)
    render_markdown(comparison)
    render_json(comparison)


class CompareTenThousand:
    """Read, compare and render 10 000 benchmarks with samples (the whole `compare` job)."""

    timeout = 120
    number = 1
    repeat = (3, 10, 30.0)

    def setup_cache(self) -> tuple[str, str]:
        root = Path(tempfile.mkdtemp(prefix="perfguard-bench-"))
        write_benchmarks_json(root)
        base = write_results(root, "a" * 40, 1.0, seed=1)
        head = write_results(root, "b" * 40, 1.3, seed=2)
        return str(base), str(head)

    def time_compare_and_render(self, paths: tuple[str, str]) -> None:
        compare_and_render(*paths)

    def peakmem_compare_and_render(self, paths: tuple[str, str]) -> None:
        compare_and_render(*paths)
