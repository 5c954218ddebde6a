"""`perfguard history`: change points on a results history written as asv writes it.

The history is real asv result files (tests/helpers/asvfiles.py) of 30 commits: six time
benchmarks with 1 % noise and a runner shift they share (5 % per result, and +15 % from result
24 on), one of them with a +20 % step at commit 15, one 25 % faster from commit 8, and a
throughput (events/s) that drops 20 % at commit 20. Commands run as subprocesses, as a user
runs them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from click.testing import CliRunner

from perfguard import changepoints, results
from perfguard.cli import cli
from perfguard.models import Direction
from perfguard.policy import Policy, Rule
from perfguard.report import history_report
from tests.helpers import corpus
from tests.helpers.asvfiles import (
    result_file_data,
    write_benchmarks_json,
    write_json,
    write_machine_json,
)

COMMITS = 30
STEP_AT, FASTER_AT, DROP_AT, RUNNER_AT = 15, 8, 20, 24
DAY = 86_400_000
FLAT = [f"s.time_flat{i}" for i in range(4)]
BENCHMARKS: dict[str, dict[str, Any]] = {
    **{name: {"type": "time"} for name in FLAT},
    "s.time_step": {"type": "time"},
    "s.time_faster": {"type": "time"},
    "s.track_rate": {"type": "track", "unit": "events/s"},
}
GIT = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def sha(i: int) -> str:
    return f"{i + 1:02x}" * 20


def write_history(root: Path, shas: list[str], dates: list[int] | None = None) -> None:
    """One result file per commit, in asv's layout (machine box, environment py3.12)."""
    rng = np.random.default_rng(7)
    write_benchmarks_json(root, BENCHMARKS)
    write_machine_json(root / "box", "box")
    for i, commit in enumerate(shas):
        # Every time benchmark moves with the runner: 5 % per run, +15 % from result 24 on (a
        # slower runner type).
        runner = float(np.exp(rng.normal(0, 0.05))) * (1.15 if i >= RUNNER_AT else 1.0)
        noise = np.exp(rng.normal(0, 0.01, len(BENCHMARKS)))
        values = {name: 1e-3 * (j + 1) * runner * noise[j] for j, name in enumerate(BENCHMARKS)}
        values["s.time_step"] *= 1.2 if i >= STEP_AT else 1.0
        values["s.time_faster"] *= 0.75 if i >= FASTER_AT else 1.0
        values["s.track_rate"] = 5e4 * noise[-1] * (0.8 if i >= DROP_AT else 1.0)
        data = result_file_data(
            commit=commit,
            env="py3.12",
            machine="box",
            results={name: {"result": v} for name, v in values.items()},
            benchmarks=BENCHMARKS,
            date=(dates[i] if dates else i * DAY),
        )
        write_json(root / "box" / f"{commit[:8]}-py3.12.json", data)


@pytest.fixture(scope="module")
def history_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("history") / "results"
    write_history(root, [sha(i) for i in range(COMMITS)])
    return root


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str


def perfguard(*args: str, cwd: Path | None = None, real: bool = False) -> Done:
    """``perfguard history ARGS``: in-process through the CLI's boundary (click's runner, so
    coverage sees it), or with ``real`` as a subprocess, as a user runs it."""
    if real:
        done = subprocess.run(
            [sys.executable, "-m", "perfguard", "history", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=cwd,
        )
        result = Done(done.returncode, done.stdout, done.stderr)
    else:
        here = Path.cwd()
        os.chdir(cwd or here)
        try:
            ran = CliRunner().invoke(cli, ["history", *args])
        finally:
            os.chdir(here)
        result = Done(ran.exit_code, ran.stdout, ran.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def analysis_of(root: Path, policy: Policy | None = None) -> changepoints.Analysis:
    loaded, order = results.load_results_history(root)
    return changepoints.analyse(loaded, policy or Policy(), order=order)


def by_label(analysis: changepoints.Analysis) -> dict[str, list[changepoints.ChangePoint]]:
    found: dict[str, list[changepoints.ChangePoint]] = {}
    for c in analysis.change_points:
        found.setdefault(c.label, []).append(c)
    return found


def test_an_injected_step_is_found_at_its_commit(history_dir: Path) -> None:
    [step] = by_label(analysis_of(history_dir))["s.time_step"]
    assert (step.last_good, step.first_bad, step.position) == (sha(STEP_AT - 1), sha(STEP_AT), 15)
    # Six time benchmarks only: the stepped one pulls each result's fitted shift a little its
    # way, so the size comes out a little low; with tens of benchmarks that vanishes.
    assert 0.1 < step.low < step.change < step.high and abs(step.change - 0.2) < 0.04
    assert step.regression and step.p_value < changepoints.ALPHA
    assert step.before == pytest.approx(5e-3, rel=0.05)  # on the benchmark's own scale
    assert step.bisect == f"asv find {sha(14)[:8]}..{sha(15)[:8]} s.time_step"
    assert (
        step.paired_bisect == f"perfguard bisect {sha(14)[:8]} {sha(15)[:8]} -b '^s\\.time_step$'"
    )


def test_untouched_series_give_no_change_point(history_dir: Path) -> None:
    """The flat benchmarks share a 5 % runner shift per result: removed, it is no change."""
    found = by_label(analysis_of(history_dir))
    assert [label for label in found if label in FLAT] == []
    assert set(found) == {"s.time_step", "s.time_faster", "s.track_rate"}


def test_without_removing_the_suite_shift_the_runner_is_taken_for_changes(
    history_dir: Path,
) -> None:
    """The removal is what keeps the flat series quiet (so the test above can fail): the
    slower runner from result 24 on looks like a change of every time benchmark."""
    loaded, order = results.load_results_history(history_dir)
    raw = changepoints.analyse(loaded, Policy(), order=order, remove_suite_shift=False)
    assert {c.label for c in raw.change_points if c.position == RUNNER_AT} >= set(FLAT)


def test_direction_comes_from_the_policy(history_dir: Path) -> None:
    found = by_label(analysis_of(history_dir))
    [drop], [faster] = found["s.track_rate"], found["s.time_faster"]
    assert drop.direction is Direction.HIGHER_IS_BETTER and not drop.direction_assumed
    assert drop.change < 0 and drop.regression  # a throughput drop is a regression
    assert drop.bisect.startswith("asv find --invert ")  # asv looks for a decrease
    assert faster.change < 0 and not faster.regression and faster.paired_bisect is None
    assert drop.first_bad == sha(DROP_AT) and faster.first_bad == sha(FASTER_AT)

    lower = Policy(rules=(Rule(pattern="*.track_rate", direction=Direction.LOWER_IS_BETTER),))
    [ruled] = by_label(analysis_of(history_dir, lower))["s.track_rate"]
    assert not ruled.regression
    ignored = Policy(rules=(Rule(pattern="s.time_step", ignore=True),))
    assert "s.time_step" not in by_label(analysis_of(history_dir, ignored))


def test_the_threshold_hides_smaller_changes(history_dir: Path) -> None:
    found = by_label(analysis_of(history_dir, Policy(threshold=0.21)))
    # Compared in log space, as compare does: -25 % (ln 0.75 = -0.29) and -20 % (-0.22) are
    # past ln 1.21 = 0.19, +20 % (0.18) is not.
    assert set(found) == {"s.time_faster", "s.track_rate"}


def test_the_table_names_each_range_and_how_to_bisect(history_dir: Path) -> None:
    done = perfguard(str(history_dir), real=True)
    assert done.returncode == 0, done.stderr
    assert "s.time_step" in done.stdout and f"{sha(14)[:8]}..{sha(15)[:8]}" in done.stdout
    assert f"asv find {sha(14)[:8]}..{sha(15)[:8]} s.time_step" in done.stdout
    assert done.stdout.rstrip().endswith(
        "2 regressions, 1 improvement in 7 series over 30 results (threshold 5%)"
    )


def test_markdown_escapes_names_and_folds_the_bisect_commands(history_dir: Path) -> None:
    done = perfguard(str(history_dir), "--format", "markdown")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("**perfguard history: 2 regressions, 1 improvement")
    assert "| s.time\\_step | `" in done.stdout and "**regressed**" in done.stdout
    assert "<details><summary>Pin the culprit with asv find</summary>" in done.stdout


def test_json_follows_its_schema_and_ids_are_stable(history_dir: Path, tmp_path: Path) -> None:
    done = perfguard(str(history_dir), "--format", "json", "--json-file", str(tmp_path / "a"))
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    jsonschema.validate(document, history_report.load_schema())
    assert document == json.loads((tmp_path / "a").read_text(encoding="utf-8"))
    assert document["summary"] == {
        "regressed": 2,
        "improved": 1,
        "fail_since": None,
        "failed": False,
    }
    [step] = [c for c in document["change_points"] if c["label"] == "s.time_step"]
    assert (step["first_bad"], step["verdict"], step["position"]) == (sha(15), "regressed", 15)
    again = json.loads(perfguard(str(history_dir), "--format", "json").stdout)
    assert [c["id"] for c in again["change_points"]] == [c["id"] for c in document["change_points"]]
    assert len({c["id"] for c in document["change_points"]}) == 3


def test_fail_since_gates_on_regressions_at_or_after_a_commit(history_dir: Path) -> None:
    at_step = perfguard(str(history_dir), "--fail-since", sha(STEP_AT)[:10], real=True)
    assert at_step.returncode == 1, at_step.stderr
    assert "2 regression change point(s) at or after" in at_step.stderr
    only_drop = perfguard(str(history_dir), "--fail-since", sha(STEP_AT + 1)[:8])
    assert only_drop.returncode == 1 and "s.track_rate" in only_drop.stderr
    after = perfguard(str(history_dir), "--fail-since", sha(DROP_AT + 1), "--format", "json")
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout)["summary"]["fail_since"] == sha(DROP_AT + 1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fail-since", "abcdef12"], "no result of this history is of that commit"),
        (["--machine", "nope"], "has no machine 'nope'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(history_dir: Path, args: list[str], message: str) -> None:
    done = perfguard(str(history_dir), *args)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_missing_or_corrupt_history_is_exit_2(history_dir: Path, tmp_path: Path) -> None:
    missing = perfguard(str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    broken = tmp_path / "results"
    write_history(broken, [sha(i) for i in range(12)])
    victim = broken / "box" / f"{sha(3)[:8]}-py3.12.json"
    victim.write_text(victim.read_text(encoding="utf-8")[:200], encoding="utf-8")
    corrupt = perfguard(str(broken), real=True)
    assert corrupt.returncode == 2 and "perhaps truncated" in corrupt.stderr
    assert len(corrupt.stderr.strip().splitlines()) == 1


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, env={**os.environ, **GIT}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_with_repo_git_orders_the_history_and_resolves_refs(tmp_path: Path) -> None:
    """The dates asv stored are scrambled here: only git's order puts the step at commit 15."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    shas = []
    for i in range(COMMITS):
        git(repo, "commit", "-q", "--allow-empty", "-m", f"c{i}")
        shas.append(git(repo, "rev-parse", "HEAD"))
    scrambled = [((i * 7) % COMMITS) * DAY for i in range(COMMITS)]
    write_history(tmp_path / "results", shas, scrambled)

    by_date = perfguard(str(tmp_path / "results"), "--format", "json")
    assert "s.time_step" not in {c["label"] for c in json.loads(by_date.stdout)["change_points"]}

    done = perfguard("../results", "--repo", ".", "--format", "json", cwd=repo)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["order"] == "git"
    [step] = [c for c in document["change_points"] if c["label"] == "s.time_step"]
    assert (step["last_good"], step["first_bad"]) == (shas[STEP_AT - 1], shas[STEP_AT])
    gate = perfguard(
        "../results",
        "--repo",
        ".",
        "--fail-since",
        f"HEAD~{COMMITS - 1 - DROP_AT}",
        cwd=repo,
        real=True,
    )
    assert gate.returncode == 1 and "s.track_rate" in gate.stderr
    quiet = perfguard("../results", "--repo", ".", "--fail-since", "HEAD~3", cwd=repo)
    assert quiet.returncode == 0, quiet.stderr
    unknown = perfguard("../results", "--repo", ".", "--fail-since", "no-such-ref", cwd=repo)
    assert unknown.returncode == 2 and "unknown commit or ref 'no-such-ref'" in unknown.stderr


def test_without_ruptures_it_is_one_line_and_exit_2(history_dir: Path) -> None:
    """ruptures is the optional extra perfguard[history]: here it cannot be imported."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.modules['ruptures'] = None\n"
            "from perfguard.cli import main; main(sys.argv[1:])",
            "history",
            str(history_dir),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "error: perfguard history needs the ruptures package, an optional dependency: install"
        " it with pip install 'perfguard[history]'\n"
    )


def test_a_short_history_warns_that_nothing_can_be_found_yet(tmp_path: Path) -> None:
    write_history(tmp_path / "results", [sha(i) for i in range(6)])
    done = perfguard(str(tmp_path / "results"))
    assert done.returncode == 0
    assert "warning: the history has 6 results; a change point needs at least 5" in done.stderr


def test_a_10_percent_step_in_the_django_history_is_found_where_it_was_put() -> None:
    """Real data: 300 Django results from GitHub's runners, one benchmark 10 % slower from
    result 150 on (scripts/changepoint_quality.py measures this over many steps)."""
    loaded, order = results.load_results_history(corpus.results_dir())
    name = "query_benchmarks.query_values.benchmark.QueryValues.time_query_values"
    before = by_label(changepoints.analyse(loaded, Policy(), order=order)).get(name, [])
    stepped = [
        r if i < 150 else changepoints_with_step(r, name, 1.10) for i, r in enumerate(loaded)
    ]
    after = by_label(changepoints.analyse(stepped, Policy(), order=order))[name]
    new = [c for c in after if c.first_bad not in {b.first_bad for b in before}]
    assert [abs(c.position - 150) <= 2 for c in new] == [True]
    assert new[0].regression and 0.05 < new[0].change < 0.15


def test_the_untouched_django_history_has_few_change_points() -> None:
    """The runner's several directions removed, the real history gives 39 change points in 131
    series (one shared shift removed instead: 134, most of them on four commits where the
    runner pool changed; docs/changepoints.md)."""
    loaded, order = results.load_results_history(corpus.results_dir())
    analysis = changepoints.analyse(loaded, Policy(), order=order)
    assert analysis.series == 131
    assert len(analysis.change_points) <= 50
    per_commit: dict[int, int] = {}
    for c in analysis.change_points:
        per_commit[c.position] = per_commit.get(c.position, 0) + 1
    assert max(per_commit[p] for p in per_commit if p < len(loaded) - 10) <= 5


def changepoints_with_step(result: Any, name: str, factor: float) -> Any:
    from tests.helpers.history import with_step

    key = next(m.key for m in result.measurements if m.benchmark == name)
    return with_step([result], key, factor, 0)[0]


def test_a_commit_measured_again_is_one_point_its_newest(tmp_path: Path) -> None:
    """history-append keeps a second measurement of a commit as ``<file>.rerunN.json``: the
    history holds that commit once, with the newest measurement."""
    shas = [sha(i) for i in range(COMMITS)]
    write_history(tmp_path, shas)
    first = tmp_path / "box" / f"{shas[3][:8]}-py3.12.json"
    data = json.loads(first.read_text(encoding="utf-8"))
    for n, factor in ((1, 2.0), (2, 3.0)):
        again = json.loads(json.dumps(data))
        again["results"]["s.time_step"][0] = [data["results"]["s.time_step"][0][0] * factor]
        rerun = first.with_name(f"{first.stem}.rerun{n}.json")
        rerun.write_text(json.dumps(again), encoding="utf-8")
    loaded, _ = results.load_results_history(tmp_path)
    assert [r.commit for r in loaded] == shas  # 30 points, commit 3 once
    original = data["results"]["s.time_step"][0][0]
    [kept] = [m for m in loaded[3].measurements if m.benchmark == "s.time_step"]
    assert kept.value == pytest.approx(3.0 * original)  # the newest, .rerun2
