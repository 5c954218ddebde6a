"""``perfguard run --metric instructions`` on real counts: real asv, git, valgrind.

The tiny suite's ``time_loop`` does ``STEPS`` loop iterations per call; heads with 1 % and 3 %
more iterations must be regressed, an A/A pair unchanged, and a benchmark whose work follows
the hash seed (it walks a set of strings) called unsuited. No hardware counters on this
project's CI machines (a VM without a PMU): these rows are counted by valgrind, which
``scripts/install-system-deps`` installs.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from perfguard import rounds
from perfguard.errors import EXIT_OK, EXIT_REGRESSION, EXIT_USAGE, ConfigError
from perfguard.models import Kind
from perfguard.policy import dump_policy, policy_from_mapping
from perfguard.runner import counting, instructions
from tests.helpers import readme
from tests.helpers.asvenvs import share_envs
from tests.perfguard.test_run_integration import git, init_tiny, perfguard

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

pytestmark = pytest.mark.integration

PACKAGE = """
STEPS = 3000


def work(steps):
    total = 0
    for i in range(steps):
        total += i * i
    return total


WORDS = {f"word{i}" for i in range(300)}


def walk():
    # The order of a set of strings follows the hash seed, and so does the work: the first
    # long word ends the walk.
    seen = 0
    for word in WORDS:
        seen += 1
        if word.endswith("7") and len(word) == 7:
            break
    return seen
"""

BENCHMARKS = """
import tiny


def time_loop():
    tiny.work(tiny.STEPS)


def time_walk():
    tiny.walk()


def track_steps():
    return tiny.STEPS
"""

LOOP = "bench_tiny.time_loop:instructions"
WALK = "bench_tiny.time_walk:instructions"
QUICK = ["--min-rounds", "3", "--max-rounds", "3", "--pairs", "2", "-a", "warmup_time=0"]
RULE = '[[rules]]\nmatch = "*:instructions"\nthreshold = "0.5%"\n'


def commit_steps(repo: Path, steps: int, message: str) -> str:
    text = PACKAGE.replace("STEPS = 3000", f"STEPS = {steps}")
    (repo / "src" / "tiny" / "__init__.py").write_text(text + f"\n# {message}\n")
    git(repo, "commit", "-q", "-am", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, asv_envs: Path) -> dict[str, Path | str]:
    """main: base, then an A/A commit (same code); branch ``slower``: +1 %, then +3 % loop
    steps. The project's perfguard.toml gives the instructions rows a 0.5 % threshold."""
    repo = tmp_path_factory.mktemp("counted")
    base = init_tiny(repo, benchmarks=BENCHMARKS, package=PACKAGE)
    (repo / "perfguard.toml").write_text(RULE)
    git(repo, "add", "perfguard.toml")
    git(repo, "commit", "-q", "--amend", "--no-edit")
    base = git(repo, "rev-parse", "HEAD")
    share_envs(repo, asv_envs)
    git(repo, "checkout", "-q", "-b", "slower")
    one = commit_steps(repo, 3030, "one percent")
    three = commit_steps(repo, 3090, "three percent")
    git(repo, "checkout", "-q", "main")
    same = commit_steps(repo, 3000, "a/a")
    return {"repo": repo, "base": base, "one": one, "three": three, "same": same}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    return tmp_path


def check_loop_regressed(
    rows: dict[str, dict[str, Any]], low: float, high: float, *, with_time: bool = False
) -> None:
    assert rows[LOOP]["verdict"] == "regressed", rows[LOOP]
    assert low < rows[LOOP]["ratio"] < high, rows[LOOP]
    assert rows[LOOP]["threshold"] == 0.005  # the rule matching *:instructions
    assert rows[LOOP]["unit"] == "instructions" and rows[LOOP]["kind"] == "instructions"
    assert ("bench_tiny.time_loop" in rows) == with_time  # instructions only: no time row
    assert rows["bench_tiny.track_steps"]["kind"] == "track"  # other kinds keep theirs
    # The walk follows the round's hash seed: called unsuited, not decided.
    assert rows[WALK]["verdict"] == "inconclusive"
    assert rows[WALK]["reason"].startswith("unsuited for instruction counting"), rows[WALK]


def test_one_percent_more_work_is_regressed(
    project: dict[str, Path | str], home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The configuration's ``metric`` key, no --metric; as one shard of one (the family a
    shard's p-values are corrected in counts both rows of a time_ benchmark)."""
    config = home / "perfguard.toml"
    config.write_text('metric = ["time", "instructions"]\n' + RULE)
    out = home / "one.rounds.json"
    code = perfguard(
        "run", str(project["base"]), str(project["one"]),
        "--asv-config", str(Path(project["repo"]) / "asv.conf.json"),
        *QUICK, "--seed", "5", "--output", str(out), "--format", "json",
        "--json-file", str(home / "one.json"), "--machine", "tester",
        "--perfguard-config", str(config), "--shard", "1/1",
    )  # fmt: skip
    err = capsys.readouterr().err
    report = json.loads((home / "one.json").read_text())
    rows = {row["benchmark"]: row for row in report["rows"]}
    check_loop_regressed(rows, 1.006, 1.013, with_time=True)
    assert code == EXIT_REGRESSION, err
    assert report["counted_by"].startswith("valgrind")
    data = rounds.read(out)
    assert data.settings["counter"] == "valgrind"
    assert data.settings["metric"] == "time,instructions"
    assert data.shard is not None and data.shard.suite_rows == len(data.series) == 5
    loop = next(s for s in data.series if s.benchmark == LOOP)
    assert rounds.unsuited(loop) is None
    assert max(loop.base) / min(loop.base) < 1.001  # near-exact across rounds


def rounds_path(stderr: str) -> Path:
    line = next(x for x in stderr.splitlines() if x.startswith("rounds file: "))
    return Path(line.removeprefix("rounds file: "))


def test_three_percent_more_work_is_regressed(
    project: dict[str, Path | str], home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's command, on the branch three percent slower than main."""
    repo = Path(project["repo"])
    git(repo, "checkout", "-q", "slower")
    try:
        done = readme.run("perfguard run main HEAD --metric instructions --quick", cwd=repo)
    finally:
        git(repo, "checkout", "-q", "main")
    assert done.returncode == EXIT_REGRESSION, done.stderr
    assert "bench_tiny.time_loop:instructions" in done.stdout
    assert "counted by valgrind" in done.stdout
    code = perfguard(
        "compare", str(rounds_path(done.stderr)), "--config", str(repo / "perfguard.toml"),
        "--format", "json",
    )  # fmt: skip
    rows = {row["benchmark"]: row for row in json.loads(capsys.readouterr().out)["rows"]}
    assert code == EXIT_REGRESSION
    check_loop_regressed(rows, 1.025, 1.04)


def test_aa_is_unchanged_and_both_metrics_share_one_report(
    project: dict[str, Path | str], home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's combined command, main against itself (HEAD is main)."""
    repo = Path(project["repo"])
    done = readme.run(
        "perfguard run main HEAD --metric time,instructions --counter valgrind --quick", cwd=repo
    )
    assert done.returncode in (EXIT_OK, EXIT_REGRESSION), done.stderr
    # The rounds file round-trips and compare re-reports it, both rows of each time_ benchmark.
    path = rounds_path(done.stderr)
    data = rounds.read(path)
    rounds.write(home / "again.rounds.json", data)
    assert rounds.read(home / "again.rounds.json") == data
    code = perfguard(
        "compare", str(path), "--config", str(repo / "perfguard.toml"), "--format", "json"
    )
    report = json.loads(capsys.readouterr().out)
    rows = {row["benchmark"]: row for row in report["rows"]}
    assert rows[LOOP]["verdict"] == "unchanged", rows[LOOP]
    assert abs(rows[LOOP]["ratio"] - 1) < 0.001
    assert rows[LOOP]["threshold"] == 0.005
    assert rows["bench_tiny.time_loop"]["unit"] == "seconds"
    assert rows["bench_tiny.time_loop"]["kind"] == "time"
    assert {WALK, "bench_tiny.time_walk", "bench_tiny.track_steps"} <= set(rows)
    # A time row of the A/A may be a false alarm in --quick; the instructions rows are not.
    assert code == (EXIT_REGRESSION if report["summary"]["failed"] else EXIT_OK)
    assert not any(
        r["verdict"] in ("regressed", "improved")
        for r in rows.values()
        if r["kind"] == "instructions"
    )


def test_no_valgrind_is_one_line_and_exit_2(
    project: dict[str, Path | str],
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    code = main_exit(
        "run", "--asv-config", str(Path(project["repo"]) / "asv.conf.json"),
        "--metric", "instructions", "--counter", "valgrind",
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert err.strip().splitlines() == [
        "error: --counter valgrind: valgrind is not on PATH (install it: sudo apt-get install"
        " valgrind)"
    ]


def perf_stat_counts() -> bool:
    """What ``perf stat`` says: can this machine count user-space instructions?"""
    done = subprocess.run(
        ["perf", "stat", "-x,", "-e", "instructions:u", "true"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "instructions" in done.stderr, done.stderr  # perf itself ran
    return "<not supported>" not in done.stderr and "<not counted>" not in done.stderr


def test_the_perf_event_open_probe_agrees_with_perf_stat() -> None:
    assert (instructions.perf_available() == "") == perf_stat_counts()


def test_counter_perf_without_hardware_counters_is_one_line_and_exit_2(
    project: dict[str, Path | str], home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """This project's machines have no PMU (perf stat: <not supported>): exit 2, one line.
    Where counters work, the same command measures instead."""
    code = main_exit(
        "run", str(project["base"]), str(project["one"]),
        "--asv-config", str(Path(project["repo"]) / "asv.conf.json"), *QUICK,
        "--metric", "instructions", "--counter", "perf", "--output", str(home / "p.json"),
    )  # fmt: skip
    err = capsys.readouterr().err
    if perf_stat_counts():
        assert code == EXIT_REGRESSION, err
    else:
        assert code == EXIT_USAGE
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: --counter perf: perf_event_open")


def main_exit(*args: str) -> int:
    """The command as a user runs it: perfguard's own error boundary and exit code."""
    from perfguard.cli import main

    with pytest.raises(SystemExit) as exited:
        main(list(args))
    return int(exited.value.code or 0)


# --- the parts that need no valgrind run ---------------------------------------------------


def counted_series(base: list[float], head: list[float]) -> rounds.Series:
    return rounds.Series(
        benchmark=WALK,
        kind=Kind.INSTRUCTIONS,
        unit="instructions",
        rounds=list(range(1, len(base) + 1)),
        base=list(base),
        head=list(head),
        d=[math.log(h / b) for b, h in zip(base, head, strict=True)],
    )


def test_a_count_that_follows_the_hash_seed_is_unsuited_though_its_ratio_is_exact() -> None:
    """The set walk's counts of the run measured above: both sides share each round's seed."""
    walk = [10683.0, 34081.0, 16137.0, 5944.0]
    spread = rounds.unsuited(counted_series(walk, walk))
    assert spread is not None and spread > 0.5
    loop = counted_series([1882254.0, *[1882188.0] * 3], [1942734.0, *[1942668.0] * 3])
    assert rounds.unsuited(loop) is None


def test_metric_key_and_option_are_checked() -> None:
    assert policy_from_mapping({"metric": ["time", "instructions"]}).metric == (
        "time",
        "instructions",
    )
    policy = policy_from_mapping({"metric": "instructions"})
    assert policy_from_mapping(tomllib.loads(dump_policy(policy))) == policy
    with pytest.raises(ConfigError, match="metric must be a list of 'time' and 'instructions'"):
        policy_from_mapping({"metric": ["cycles"]})
    assert counting.parse_metrics("instructions,time") == (
        counting.Metric.TIME,
        counting.Metric.INSTRUCTIONS,
    )
    with pytest.raises(ConfigError, match="use time, instructions or time,instructions"):
        counting.parse_metrics("time,cycles")


def test_a_bad_metric_option_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main_exit("run", "--metric", "cycles") == EXIT_USAGE
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: --metric 'cycles': use time, instructions or time,instructions"
    ]


REGIONS = """
import ctypes, importlib.util, json, os, signal, sys

spec = importlib.util.spec_from_file_location("counting", sys.argv[2])
counting = importlib.util.module_from_spec(spec)
spec.loader.exec_module(counting)


def work(steps=20000):
    total = 0
    for i in range(steps):
        total += i * i % 7
    return total


pid = os.fork()
if pid == 0:
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # a ctypes call of the worker's own: a dump too
    region = counting.Region("valgrind:" + sys.argv[1])
    work()
    counts = [region.count(work) for _ in range(3)]
    half = region.count(lambda: work(10000))
    print(json.dumps({"overhead": region.overhead, "counts": counts, "half": half}))
    os._exit(0)
os.waitpid(pid, 0)
"""


def test_valgrind_counts_each_region_in_a_forked_child(tmp_path: Path) -> None:
    """What the worker's child does, under the worker's valgrind command: every count is its
    own region's, whatever other ctypes calls dumped before it."""
    valgrind = instructions.valgrind_path()
    assert valgrind is not None, "valgrind is needed: scripts/install-system-deps installs it"
    script = tmp_path / "regions.py"
    script.write_text(REGIONS)
    done = subprocess.run(
        [
            *instructions.valgrind_command(valgrind, str(tmp_path)),
            sys.executable,
            "-S",
            str(script),
            str(tmp_path),
            instructions.__file__,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result = json.loads(done.stdout)
    counts = result["counts"]
    assert min(counts) > 1000 * result["overhead"] > 0, result
    assert max(counts) / min(counts) < 1.001, result  # the same work, the same count
    assert 0.49 < result["half"] / counts[0] < 0.51, result  # half the steps, half the count
