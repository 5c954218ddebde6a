"""``perfguard run`` with real asv, real git and real benchmark processes on a tiny suite.

The suite is timed by a clock that counts the work done, with 1 % jitter drawn per process
(asv's ``timer`` hook): on this shared VM identical work takes from 0.8 to 3.8 ms from second to
second and from process to process, so real timings cannot make a test of the plumbing and the
rule on a 30 % change reliable. Building, installing, scheduling rounds in fresh processes,
the rounds file and the decision are all real; scripts/detector_quality.py measures the
machine's real timing noise.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from perfguard import asvproject, rounds
from perfguard.cli import cli
from perfguard.errors import EXIT_OK, EXIT_REGRESSION, EXIT_USAGE
from perfguard.runner import asvenv
from tests.helpers import readme
from tests.helpers.asvenvs import share_envs
from tests.helpers.countedclock import counted_clock_source

pytestmark = pytest.mark.integration

PACKAGE = "\nSCALE_A = 1.0\nSCALE_B = 1.0\n" + counted_clock_source(30000)

BENCHMARKS = """
import tiny


def time_a():
    tiny.work(tiny.SCALE_A)


def time_b():
    tiny.work(tiny.SCALE_B)


time_a.timer = tiny.clock
time_b.timer = tiny.clock
"""

CONFIG = {
    "version": 1,
    "project": "tiny",
    "repo": ".",
    "branches": ["main"],
    "environment_type": "virtualenv",
    "benchmark_dir": "benchmarks",
    "env_dir": ".asv/env",
    "results_dir": ".asv/results",
    "html_dir": ".asv/html",
    "build_command": [],
    # A pure-Python package copied into site-packages: no wheel build, no pip, fast rounds.
    "install_command": [
        "python -c \"import shutil, sys, sysconfig; t = sysconfig.get_paths()['purelib'] + "
        "'/tiny'; shutil.rmtree(t, ignore_errors=True); shutil.copytree(sys.argv[1] + "
        "'/src/tiny', t)\" {build_dir}"
    ],
    "uninstall_command": [
        "python -c \"import shutil, sysconfig; shutil.rmtree(sysconfig.get_paths()['purelib']"
        " + '/tiny', ignore_errors=True)\""
    ],
}
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        [*GIT, "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def init_tiny(
    repo: Path,
    *,
    benchmarks: str = BENCHMARKS,
    package: str = PACKAGE,
    module: str = "bench_tiny.py",
    config: dict[str, Any] | None = None,
    gitignore: str = "",
) -> str:
    """The tiny project (package, benchmarks, asv config) committed as main; its sha."""
    (repo / "src" / "tiny").mkdir(parents=True)
    (repo / "benchmarks").mkdir()
    (repo / "benchmarks" / "__init__.py").write_text("")
    (repo / "benchmarks" / module).write_text(benchmarks)
    (repo / "asv.conf.json").write_text(json.dumps(CONFIG if config is None else config))
    (repo / "src" / "tiny" / "__init__.py").write_text(package)
    if gitignore:
        (repo / ".gitignore").write_text(gitignore)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    return git(repo, "rev-parse", "HEAD")


def commit_scale(repo: Path, text: str, message: str) -> str:
    (repo / "src" / "tiny" / "__init__.py").write_text(text)
    git(repo, "commit", "-q", "-am", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, asv_envs: Path) -> dict[str, Path | str]:
    """A git repository: base, a head with time_b 30 % slower, and an A/A copy of base."""
    repo = tmp_path_factory.mktemp("tiny")
    base = init_tiny(repo)
    share_envs(repo, asv_envs)
    slow = commit_scale(repo, PACKAGE.replace("SCALE_B = 1.0", "SCALE_B = 1.3"), "slower b")
    git(repo, "checkout", "-q", "-b", "aa", base)
    same = commit_scale(repo, PACKAGE + "\n# same code, another commit\n", "a/a")
    git(repo, "checkout", "-q", "main")
    return {"repo": repo, "base": base, "slow": slow, "same": same}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """asv keeps its machine file in HOME: give it a private one; work in it (no perfguard
    configuration above it, unlike this repository's own)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.setenv(
        "PIP_CACHE_DIR", os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    )
    return tmp_path


def data_settings(path: Path) -> dict[str, object]:
    return dict(rounds.read(path).settings)


def perfguard(*args: str) -> int:
    code = cli.main(args=list(args), prog_name="perfguard", standalone_mode=False)
    assert isinstance(code, int)
    return code


def test_a_30_percent_slowdown_is_flagged_exactly_there(
    project: dict[str, Path | str], home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = Path(project["repo"])
    out = home / "slow.rounds.json"
    code = perfguard(
        "run", str(project["base"]), str(project["slow"]),
        "--asv-config", str(repo / "asv.conf.json"),
        "--min-rounds", "5", "--max-rounds", "12", "--seed", "11",
        "--pairs", "5", "-a", "warmup_time=0",
        "--output", str(out), "--format", "json", "--machine", "tester",
    )  # fmt: skip
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    verdicts = {row["benchmark"]: row["verdict"] for row in report["rows"]}
    assert verdicts["bench_tiny.time_b"] == "regressed", captured.err
    assert verdicts["bench_tiny.time_a"] != "regressed"
    assert code == EXIT_REGRESSION
    assert "round 5/12" in captured.err

    data = rounds.read(out)
    assert (data.base.commit, data.head.commit, data.seed) == (
        project["base"], project["slow"], 11,
    )  # fmt: skip
    assert data.fingerprint.cores == os.cpu_count()
    assert data.machine == "tester"
    assert len(data.rounds) >= 5
    assert all(r.order in (("base", "head"), ("head", "base")) for r in data.rounds)

    # Banners and progress on stderr, counting what the header counts; stdout is the report.
    assert "measuring 2 benchmarks" in captured.err
    assert "measuring" not in captured.out
    progress = re.findall(r"(\d+)/(\d+) benchmarks settled", captured.err)
    assert progress and {total for _, total in progress} == {"2"}
    settled = [int(n) for n, _ in progress]
    assert settled == sorted(settled)  # never counts down
    inconclusive = sum(row["verdict"] == "inconclusive" for row in report["rows"])
    end = f"{2 - inconclusive} decided, {inconclusive} inconclusive" if inconclusive else "all 2"
    assert end in captured.err

    # perfguard's copy of the samples, in asv's layout beside the rounds file: one file per
    # commit, benchmarks.json, machine.json, and asv publish accepts them.
    results = home / "slow.asv-results"
    env = f"virtualenv-py{sys.version_info[0]}.{sys.version_info[1]}"
    stored = {p.name for p in (results / "tester").iterdir()}
    assert {f"{str(project['base'])[:8]}-{env}.json", "machine.json"} <= stored
    assert (results / "benchmarks.json").is_file()
    asv_result = json.loads(
        (results / "tester" / f"{str(project['slow'])[:8]}-{env}.json").read_text()
    )
    columns = asv_result["result_columns"]
    samples = asv_result["results"]["bench_tiny.time_b"][columns.index("samples")]
    assert len(samples[0]) >= 4  # every round's samples appended
    publish = repo / "publish.json"
    publish.write_text(
        json.dumps({**CONFIG, "results_dir": str(results), "html_dir": str(home / "html")})
    )
    published = subprocess.run(
        [str(Path(sys.executable).parent / "asv"), "publish", "--config", str(publish)],
        cwd=repo, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert published.returncode == 0, published.stdout + published.stderr
    assert (home / "html" / "index.html").is_file()

    # The rounds file alone reproduces the verdicts with `perfguard compare`.
    assert perfguard("compare", str(out), "--format", "json") == EXIT_REGRESSION
    again = json.loads(capsys.readouterr().out)
    assert {r["benchmark"]: r["verdict"] for r in again["rows"]} == verdicts


def test_an_a_a_pair_of_identical_code_shows_no_regression(
    project: dict[str, Path | str], home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = Path(project["repo"])
    out = home / "aa.rounds.json"
    code = perfguard(
        "run", str(project["base"]), str(project["same"]),
        "--config", str(repo / "asv.conf.json"), "--quick", "-b", "time_",
        "--output", str(out), "--format", "json", "--budget", "10m",
    )  # fmt: skip
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert code == EXIT_OK, captured.err
    # The old spellings still work, and say what to use instead.
    assert "warning: perfguard run --config is deprecated: use --asv-config" in captured.err
    assert "warning: perfguard run --budget is deprecated: use --time-limit" in captured.err
    assert data_settings(out)["time_limit"] == 600
    assert report["summary"]["regressed"] == 0
    assert report["summary"]["total"] == 2
    data = rounds.read(out)
    assert len(data.rounds) == 3  # --quick: three rounds
    assert data.settings["quick"] is True

    # Two rounds files from different machines: a warning in every format, refused by --strict.
    other = home / "other.rounds.json"
    moved = msgspec.structs.replace(data.fingerprint, cpu="Some Other CPU")
    rounds.write(other, msgspec.structs.replace(data, fingerprint=moved))
    assert perfguard("compare", str(out), str(other), "--format", "json") == EXIT_OK
    shown = json.loads(capsys.readouterr().out)
    assert any("Some Other CPU" in w for w in shown["warnings"])
    assert perfguard("compare", str(out), str(out), "--format", "json") == EXIT_OK
    assert json.loads(capsys.readouterr().out)["warnings"] == []
    assert perfguard("compare", str(out), str(other), "--strict") == EXIT_USAGE
    assert "error: --strict: " in capsys.readouterr().err


def test_asv_failures_are_one_line_errors(
    project: dict[str, Path | str], home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reusing the environments built above: discovery failure, empty selection, no builds."""
    repo = Path(project["repo"])
    (repo / "broken").mkdir(exist_ok=True)
    (repo / "broken" / "__init__.py").write_text("")
    (repo / "broken" / "bench_broken.py").write_text("import not_a_module_anywhere\n")
    broken = repo / "broken.json"
    broken.write_text(json.dumps({**CONFIG, "benchmark_dir": "broken"}))
    existing = repo / "existing.json"
    existing.write_text(json.dumps({**CONFIG, "environment_type": "existing"}))
    failing = repo / "failing.json"
    failing.write_text(
        json.dumps({**CONFIG, "install_command": ['python -c "raise SystemExit(3)"']})
    )
    config = str(repo / "asv.conf.json")
    pair = (str(project["base"]), str(project["same"]))
    # Commits already installed stay where they are: base->twin, head->main swaps, no rebuild.
    conf = asvproject.load_config(repo / "asv.conf.json")
    workspace = asvenv.Workspace(conf)
    main, twin = workspace.envs
    installed = (main.installed_commit_hash, twin.installed_commit_hash)
    chosen = workspace.prepare(installed[1], installed[0])
    assert chosen == {"base": twin, "head": main}
    cases = [
        (["--asv-config", str(broken)], "asv could not discover the benchmarks"),
        (["--asv-config", config, "-b", "no_such_benchmark"], "no benchmarks selected by"),
        (["--asv-config", str(existing)], "an 'existing' environment"),
        (["--asv-config", str(failing)], "asv could not build or install the base commit"),
    ]
    for args, message in cases:
        assert perfguard("run", *pair, *args, "--quick") == EXIT_USAGE, args
        err = capsys.readouterr().err
        assert message in err, err
    # A run that never measured leaves no rounds file behind.
    stem = f"{pair[0][:12]}-{pair[1][:12]}"
    assert not list((repo / ".asv" / "perfguard").glob(f"{stem}*"))


def tree_hashes(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def compared(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    perfguard("compare", *args, "--format", "json", "--fail-on", "never")
    report = json.loads(capsys.readouterr().out)
    return {"rows": report["rows"], "summary": report["summary"], "budgets": report["budgets"]}


def test_asv_results_are_never_written_and_a_second_run_keeps_the_first(
    project: dict[str, Path | str],
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """asv's results of both commits (every benchmark, asv's own samples) stay byte-identical
    after `perfguard run -b` one benchmark, and so does what `perfguard compare` says."""
    repo = Path(project["repo"])
    base, slow = str(project["base"]), str(project["slow"])
    monkeypatch.chdir(repo)
    asv = [sys.executable, "-m", "asv"]
    for command in (
        [*asv, "machine", "--yes", "--machine", "tester"],
        [*asv, "run", "--machine", "tester", "--record-samples", "--quick", "--show-stderr",
         "-a", "warmup_time=0", f"{base}^!"],
        [*asv, "run", "--machine", "tester", "--record-samples", "--quick", "--show-stderr",
         "-a", "warmup_time=0", f"{slow}^!"],
    ):  # fmt: skip
        done = subprocess.run(command, cwd=repo, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    results = repo / ".asv" / "results"
    before = tree_hashes(results)
    assert len([name for name in before if name.startswith("tester/")]) == 3  # 2 + machine
    verdicts_before = compared(capsys, base, slow)
    assert len(verdicts_before["rows"]) == 2  # type: ignore[arg-type]
    ours = repo / ".asv" / "perfguard"
    shutil.rmtree(ours, ignore_errors=True)  # earlier tests' runs: this one's estimate is asv's

    first_args = ("run", base, slow, "-b", "time_b", "--quick", "--machine", "tester")
    assert perfguard(*first_args, "--format", "json", "--fail-on", "never") == EXIT_OK
    first_err = capsys.readouterr().err
    assert tree_hashes(results) == before
    assert compared(capsys, base, slow) == verdicts_before

    stem = f"{base[:12]}-{slow[:12]}"
    first = ours / f"{stem}.rounds.json"
    assert f"rounds file: {first}" in first_err
    assert rounds.read(first).settings["bench"] == "time_b"
    # Before round 1, how long the rounds should take, from asv's durations of the run above,
    # within the default time limit.
    asv_file = results / "tester" / f"{slow[:8]}-{rounds.read(first).env}.json"
    assert (
        "expect ~" in first_err
        and "(capped by the time limit of 10m); estimated from asv's durations in "
        f"{asv_file} (1 of 1 benchmarks)"
        in first_err
    ), first_err
    assert rounds.read(first).settings["time_limit"] == 600
    assert rounds.read(first).settings["estimate_from"] == "asv-durations"
    # A CI log splits the job's time: the builds, then the rounds.
    assert re.search(r"^built and discovered in \w+$", first_err, re.MULTILINE), first_err
    assert re.search(r"(after 3 rounds|of 3 rounds reached), in \w+: ", first_err), first_err
    copy = ours / f"{stem}.asv-results"
    assert (copy / "benchmarks.json").is_file() and (copy / "tester" / "machine.json").is_file()
    # perfguard's copy is a results directory of its own that compare reads.
    from_copy = compared(capsys, base, slow, "--results-dir", str(copy))
    assert [row["benchmark"] for row in from_copy["rows"]] == ["bench_tiny.time_b"]  # type: ignore[index]

    # The same pair again: the first rounds file is kept, the second is numbered, stderr says so.
    kept = tree_hashes(ours)
    lifted = ("--time-limit", "none")
    assert perfguard(*first_args, *lifted, "--format", "json", "--fail-on", "never") == EXIT_OK
    second_err = capsys.readouterr().err
    second = ours / f"{stem}.2.rounds.json"
    # The second run's estimate is the first run's rounds; no time limit this time.
    assert f"(no time limit); estimated from the earlier run {first} (3 rounds)" in second_err
    assert rounds.read(second).settings["time_limit"] == 0
    assert rounds.read(second).settings["estimate_from"] == "earlier-run"
    assert f"an earlier run of these commits is kept in {first}" in second_err
    assert f"this run writes {second}" in second_err
    assert rounds.read(second).base.commit == base
    assert {k: v for k, v in tree_hashes(ours).items() if k in kept} == kept
    assert (ours / f"{stem}.2.asv-results" / "benchmarks.json").is_file()
    assert tree_hashes(results) == before
    assert compared(capsys, base, slow) == verdicts_before


def test_the_same_commit_on_both_sides_is_an_a_a_run_that_says_so(
    project: dict[str, Path | str], home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = Path(project["repo"])
    base = str(project["base"])
    out = home / "same.rounds.json"
    out.write_text("")  # an empty file at --output is replaced, with a note
    code = perfguard(
        "run", base, base, "--asv-config", str(repo / "asv.conf.json"), "--quick",
        "-b", "time_a", "--output", str(out), "--format", "json",
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == EXIT_OK, captured.err
    assert f"are the same commit {base[:8]}: an A/A run" in captured.err
    assert f"replacing the earlier rounds file {out}" in captured.err
    data = rounds.read(out)
    assert data.base.commit == data.head.commit == base
    assert json.loads(captured.out)["summary"]["regressed"] == 0
    # One commit, one asv result file, holding both sides' samples.
    [result] = (home / "same.asv-results").glob("*/*-virtualenv-*.json")
    stored = json.loads(result.read_text())
    samples = stored["results"]["bench_tiny.time_a"][stored["result_columns"].index("samples")]
    assert len(samples[0]) == 2 * 3 * 3  # both sides, 3 rounds, 3 pairs (--quick)

    # --output that is not a rounds file is never overwritten.
    precious = home / "notes.json"
    precious.write_text('{"mine": true}')
    assert perfguard("run", base, base, "--asv-config", str(repo / "asv.conf.json"),
                     "--quick", "--output", str(precious)) == EXIT_USAGE  # fmt: skip
    assert "is not a perfguard rounds file: not overwriting it" in capsys.readouterr().err
    assert precious.read_text() == '{"mine": true}'


PARAM_SUITE = """
import tiny


class Params:
    params = ([1, 2, 3], ["a", "b"])
    param_names = ["n", "kind"]

    def time_p(self, n, kind):
        tiny.work(tiny.SCALE_A)

    time_p.timer = tiny.clock
"""


def test_b_selects_parameter_combinations_and_the_counts_follow(
    project: dict[str, Path | str], home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-b matches asv's `name(param, ...)`: two of six combinations are measured, counted,
    reported and recorded (the other four NaN, as asv records combinations it did not run)."""
    repo = Path(project["repo"])
    (repo / "paramsuite").mkdir(exist_ok=True)
    (repo / "paramsuite" / "__init__.py").write_text("")
    (repo / "paramsuite" / "bench_params.py").write_text(PARAM_SUITE)
    config = repo / "params.json"
    config.write_text(json.dumps({**CONFIG, "benchmark_dir": "paramsuite"}))
    out = home / "params.rounds.json"
    code = perfguard(
        "run", str(project["base"]), str(project["same"]), "--asv-config", str(config),
        "--quick", "-b", r"time_p\(2, ", "--output", str(out), "--format", "json",
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == EXIT_OK, captured.err
    assert "measuring 2 benchmarks" in captured.err
    assert "round 3/3 (" in captured.err and "2/2 benchmarks settled" in captured.err
    report = json.loads(captured.out)
    assert report["summary"]["total"] == 2
    assert sorted(row["label"] for row in report["rows"]) == [
        "bench_params.Params.time_p(n=2, kind='a')",
        "bench_params.Params.time_p(n=2, kind='b')",
    ]
    [stored] = (home / "params.asv-results").glob("*/" + str(project["base"])[:8] + "-*.json")
    data = json.loads(stored.read_text())
    result = data["results"]["bench_params.Params.time_p"][data["result_columns"].index("result")]
    measured = [value is not None and not math.isnan(value) for value in result]
    assert measured == [False, False, True, True, False, False]  # asv's NaN: not run


def test_the_readme_commands_of_perfguard_run(project: dict[str, Path | str], home: Path) -> None:
    """The README's `perfguard run` block, run as a user's shell would, in a checkout of the
    feature branch ``aa`` (its merge base with main is ``base``; main's tip is ``slow``)."""
    repo = Path(project["repo"])
    base, slow, same = (str(project[k]) for k in ("base", "slow", "same"))
    git(repo, "checkout", "-q", "aa")
    try:
        default = readme.run("perfguard run", cwd=repo)
        named = readme.run(
            "perfguard run main HEAD -b 'time_' --time-limit 10m --max-rounds 30", cwd=repo
        )
        quick = readme.run("perfguard run --quick", cwd=repo)
        aa = readme.run("perfguard run main main --quick", cwd=repo)
        piped = readme.run("perfguard run --quick --format json | jq .summary", cwd=repo)
    finally:
        git(repo, "checkout", "-q", "main")
    for done in (default, named, quick, aa, piped):
        assert done.returncode == EXIT_OK, done.stderr
    ours = repo / ".asv" / "perfguard"
    pair = f"{base[:12]}-{same[:12]}"
    # `perfguard run` and both --quick runs measured the same pair: three files, none replaced.
    assert f"rounds file: {ours / f'{pair}.rounds.json'}" in default.stderr
    assert f"rounds file: {ours / f'{pair}.2.rounds.json'}" in quick.stderr
    assert f"rounds file: {ours / f'{pair}.3.rounds.json'}" in piped.stderr
    assert "an earlier run of these commits is kept" in quick.stderr
    assert rounds.read(ours / f"{pair}.rounds.json").settings["quick"] is False
    # main (slow) against HEAD (same): time_b is 30 % faster on HEAD.
    assert "improved" in named.stdout and "bench_tiny.time_b" in named.stdout
    assert rounds.read(ours / f"{slow[:12]}-{same[:12]}.rounds.json").settings["time_limit"] == 600
    assert "are the same commit" in aa.stderr and "A/A run" in aa.stderr
    # stdout is the JSON report alone: jq read it.
    summary = json.loads(piped.stdout)
    assert summary["total"] == 2 and summary["regressed"] == 0
    assert "measuring 2 benchmarks" in piped.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--time-limit", "soon"], "--time-limit 'soon': use e.g. 90s"),
        (["--time-limit", "0m"], "--time-limit must be positive"),
        (["--budget", "soon"], "--budget 'soon'"),
        (["--budget", "1m", "--time-limit", "1m"], "--budget is the old spelling of --time-limit"),
        (["--min-rounds", "6", "--max-rounds", "3"], "need 2 <= min <= max"),
        (["-b", "("], "is not a regular expression"),
        (["--asv-config", "missing.json"], "does not exist"),
        (["--config", "missing.json"], "does not exist"),
        (["--asv-config", "pyproject.toml"], "perfguard run takes it as --perfguard-config"),
        (["--config", "pyproject.toml"], "pyproject.toml is a perfguard configuration, not asv's"),
        # The error names the option the user typed, not its new spelling.
        (["--config", "pyproject.toml"], "error: --config pyproject.toml: pyproject.toml is a"),
        (["--asv-config", "pyproject.toml"], "error: --asv-config pyproject.toml: pyproject"),
        (["-a", "repeat"], "use name=value"),
        (["-a", "rounds=2"], "-a rounds: perfguard starts fresh processes"),
        (["-a", "repeat=5"], "-a repeat: perfguard takes --pairs samples"),
    ],
)
def test_bad_options_are_one_line_errors(
    args: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert perfguard("run", *args) == EXIT_USAGE
    err = capsys.readouterr().err
    *warnings, last = err.splitlines()
    assert last.startswith("error: ")
    assert all(line.startswith("warning: ") for line in warnings)  # an old spelling's note
    assert message in last
    assert "Traceback" not in err


def _remote_repo_config(folder: Path) -> None:
    (folder / "asv.conf.json").write_text(
        json.dumps({"version": 1, "project": "p", "repo": "https://example.invalid/p.git"})
    )


@pytest.mark.parametrize("checkout", [True, False])
def test_a_remote_repo_resolves_refs_in_the_checkout_and_names_no_missing_option(
    checkout: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """asv clones a URL ``repo``; perfguard resolves the refs in the config's checkout."""
    _remote_repo_config(tmp_path)
    if checkout:
        subprocess.run(["git", "init", "-q", "-b", "main", str(tmp_path)], check=True)
    monkeypatch.chdir(tmp_path)
    assert perfguard("run", "no-such-ref", "HEAD") == EXIT_USAGE
    last = capsys.readouterr().err.splitlines()[-1]
    assert "--repo" not in last  # run has no --repo
    if checkout:
        # Resolved in the checkout (not in Path("https:/example.invalid/p.git")).
        assert last.endswith(f"in the git repository {tmp_path.resolve()}")
        assert "'HEAD'" in last or "'no-such-ref'" in last
    else:
        assert last == (
            f"error: {tmp_path.resolve()} is not a git repository, so 'HEAD' cannot be resolved"
            " as a commit; run in the project's checkout"
        )
