"""The cost of a round, counted in a real ``perfguard run``: imports, setup_cache, setup.

The suite's module import, ``setup_cache`` and ``setup`` append a line (what, pid) to the file
``PERFGUARD_TEST_LOG`` names; the run's rounds file and perfguard's asv results copy say what
was measured. Real asv, real git, real worker processes, two rounds each.
"""

from __future__ import annotations

import collections
import json
import math
import os
import statistics
import sys
from pathlib import Path

import pytest

from perfguard import rounds
from tests.helpers.asvenvs import share_envs
from tests.perfguard.test_run_integration import CONFIG, git, perfguard

pytestmark = pytest.mark.integration

BENCHMARKS = """
import os
import random
import time

import tiny


def _log(what):
    with open(os.environ["PERFGUARD_TEST_LOG"], "a") as f:
        f.write(f"{what} {os.getpid()}\\n")


_log("import")


class Auto:
    def setup(self):
        _log("setup-auto")
        self.data = list(range(20))

    def time_auto(self):
        sum(self.data)


class Explicit:
    number = 1

    def setup(self):
        _log("setup-explicit")
        self.data = list(range(20))

    def time_explicit(self):
        sum(self.data)


class Cached:
    params = [1, 2]
    param_names = ["n"]

    def setup_cache(self):
        _log("setup_cache")
        return 3

    def track_cached(self, cache, n):
        return float(cache * n)


def track_rate():
    return tiny.RATE * random.uniform(0.9, 1.1)


def track_once():
    return tiny.RATE * random.uniform(0.9, 1.1)


track_once.once_per_process = True


def track_ruled():
    return tiny.RATE * random.uniform(0.9, 1.1)


def time_crash():
    if tiny.RATE < 95:  # head only
        os._exit(3)


def time_hang():
    time.sleep(60)


time_hang.timeout = 1.0


def time_later():
    sum(range(20))
"""

PAIRS = 4
ROUNDS = 2


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, asv_envs: Path) -> dict[str, Path | str]:
    """A git repository: base, and a head whose track_ rate is 10 % lower."""
    repo = tmp_path_factory.mktemp("engine")
    (repo / "src" / "tiny").mkdir(parents=True)
    (repo / "benchmarks").mkdir()
    (repo / "benchmarks" / "__init__.py").write_text("")
    (repo / "benchmarks" / "bench_engine.py").write_text(BENCHMARKS)
    (repo / "asv.conf.json").write_text(json.dumps(CONFIG))
    (repo / "src" / "tiny" / "__init__.py").write_text("RATE = 100.0\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    base = git(repo, "rev-parse", "HEAD")
    (repo / "src" / "tiny" / "__init__.py").write_text("RATE = 90.0\n")
    git(repo, "commit", "-q", "-am", "slower rate")
    head = git(repo, "rev-parse", "HEAD")
    share_envs(repo, asv_envs)
    return {"repo": repo, "base": base, "head": head}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.setenv("PERFGUARD_TEST_LOG", str(tmp_path / "log"))
    return tmp_path


def run(
    project: dict[str, Path | str], home: Path, bench: str, *extra: str
) -> tuple[rounds.RoundsFile, dict]:
    """Two rounds of ``bench``; the rounds file and the head's asv results copy (by name)."""
    repo = Path(project["repo"])
    out = home / "run.rounds.json"
    perfguard(
        "run", str(project["base"]), str(project["head"]),
        "--asv-config", str(repo / "asv.conf.json"), "-b", bench,
        "--min-rounds", str(ROUNDS), "--max-rounds", str(ROUNDS), "--pairs", str(PAIRS),
        "--output", str(out), "--format", "json", "--machine", "tester", "--fail-on", "never",
        *extra,
    )  # fmt: skip
    env = f"virtualenv-py{sys.version_info[0]}.{sys.version_info[1]}"
    path = home / "run.asv-results" / "tester" / f"{str(project['head'])[:8]}-{env}.json"
    stored = json.loads(path.read_text())
    columns = stored["result_columns"]
    results = {
        name: dict(zip(columns, row, strict=False)) for name, row in stored["results"].items()
    }
    return rounds.read(out), results


def logged(home: Path) -> collections.Counter[str]:
    lines = (home / "log").read_text().split()
    return collections.Counter(lines[::2])


def by_pid(home: Path, what: str) -> collections.Counter[str]:
    pairs = (home / "log").read_text().split("\n")
    return collections.Counter(p.split()[1] for p in pairs if p.startswith(f"{what} "))


def test_imports_setup_cache_and_setup_are_paid_once_where_asv_allows(
    project: dict[str, Path | str], home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, results = run(project, home, "Auto|Explicit|Cached")
    capsys.readouterr()
    counts = logged(home)
    # One import per side and round, plus asv's discovery (one process, base environment).
    assert counts["import"] == 1 + 2 * ROUNDS
    # setup_cache: once per side for the whole run, though two combinations use it each round.
    assert counts["setup_cache"] == 2
    # number not set: setup once per benchmark process (one per side and round) ...
    assert counts["setup-auto"] == 2 * ROUNDS
    assert all(n == 1 for n in by_pid(home, "setup-auto").values())
    # ... number = 1: setup before every sample (asv_runner's rule), and in warm-up.
    explicit = by_pid(home, "setup-explicit")
    assert len(explicit) == 2 * ROUNDS
    assert all(n >= PAIRS + 1 for n in explicit.values())
    # The number each used, in perfguard's asv results copy.
    assert results["bench_engine.Auto.time_auto"]["stats_number"][0] > 1
    assert results["bench_engine.Explicit.time_explicit"]["stats_number"][0] == 1
    cached = {s.params: s for s in data.series if s.benchmark.endswith("track_cached")}
    assert {s.head[0] for s in cached.values()} == {3.0, 6.0}
    assert all(len(s.d) == ROUNDS for s in data.series)


def test_track_benchmarks_are_sampled_in_pairs_unless_once_per_process(
    project: dict[str, Path | str], home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = home / "perfguard.toml"
    config.write_text('[[rules]]\nmatch = "*.track_ruled"\nonce_per_process = true\n')
    data, results = run(
        project, home, "track_rate|track_once|track_ruled", "--perfguard-config", str(config)
    )
    capsys.readouterr()
    series = {s.benchmark: s for s in data.series}
    rate, once = series["bench_engine.track_rate"], series["bench_engine.track_once"]
    samples = results["bench_engine.track_rate"]["samples"][0]
    assert len(samples) == PAIRS * ROUNDS  # every pair's sample, every round, in asv's copy
    assert results["bench_engine.track_once"].get("samples") is None  # one value per process
    assert results["bench_engine.track_ruled"].get("samples") is None  # a rule says so
    assert len(rate.d) == len(once.d) == ROUNDS
    # The round's value of a side is the median of its samples (not the fastest, a time rule);
    # its d the median of the paired ratios, which the base's copy lets us recompute.
    for r in range(ROUNDS):
        assert rate.head[r] == pytest.approx(
            statistics.median(samples[r * PAIRS : (r + 1) * PAIRS])
        )
    base_file = next(
        p
        for p in (home / "run.asv-results" / "tester").iterdir()
        if p.name.startswith(str(project["base"])[:8])
    )
    stored = json.loads(base_file.read_text())
    base_samples = stored["results"]["bench_engine.track_rate"][
        stored["result_columns"].index("samples")
    ][0]
    for r in range(ROUNDS):
        window = slice(r * PAIRS, (r + 1) * PAIRS)
        ratios = [
            math.log(h / b) for b, h in zip(base_samples[window], samples[window], strict=True)
        ]
        assert rate.d[r] == pytest.approx(statistics.median(ratios))
    assert all(-0.35 < d < 0.15 for d in rate.d + once.d)  # head's rate is 10 % lower


def test_a_crash_or_a_timeout_fails_only_that_benchmark(
    project: dict[str, Path | str], home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, _ = run(project, home, "time_crash|time_hang|time_later")
    report = json.loads(capsys.readouterr().out)
    series = {s.benchmark: s for s in data.series}
    assert series["bench_engine.time_crash"].head == [None] * ROUNDS
    assert None not in series["bench_engine.time_crash"].base
    assert series["bench_engine.time_hang"].head == [None] * ROUNDS
    assert len(series["bench_engine.time_later"].log_ratios()) == ROUNDS
    verdicts = {row["benchmark"]: row["verdict"] for row in report["rows"]}
    assert verdicts["bench_engine.time_crash"] == "newly-failing"
    assert verdicts["bench_engine.time_hang"] == "skipped"  # fails on both sides
    reasons = {row["benchmark"]: row["reason"] for row in report["rows"]}
    assert reasons["bench_engine.time_crash"] == "ran on base, fails on head"
    # The hang's workers were replaced: two more imports in each round.
    assert logged(home)["import"] == 1 + 4 * ROUNDS
    assert os.path.exists(home / "run.rounds.json")
