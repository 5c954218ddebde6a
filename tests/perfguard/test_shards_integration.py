"""``perfguard run --shard K/N`` and ``perfguard merge`` with real asv on a small suite.

Three shards of a suite of four benchmarks (one parameterized, two combinations) are measured
one after the other, as three CI jobs would, with the README's commands; their merge must give
the verdicts one run of the whole suite gives on the same commits. The suite is timed by the
counted-work clock (tests/helpers/countedclock.py) so that the verdicts can only differ for a
reason in perfguard: head makes ``time_b`` 30 % slower and leaves the rest alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from perfguard import rounds
from perfguard.cli import cli
from perfguard.errors import EXIT_REGRESSION, EXIT_USAGE
from perfguard.shards import costs
from tests.helpers import readme
from tests.helpers.asvenvs import share_envs
from tests.helpers.countedclock import counted_clock_source
from tests.perfguard.test_run_integration import git, init_tiny

pytestmark = pytest.mark.integration

PACKAGE = "\nSCALE_B = 1.0\n" + counted_clock_source(20000)
SUITE = """
import tiny


def time_a():
    tiny.work(1.0)


def time_b():
    tiny.work(tiny.SCALE_B)


def time_heavy():
    tiny.work(3.0)


class Params:
    params = [1, 2]
    param_names = ["n"]

    def time_p(self, n):
        tiny.work(0.5 * n)

    time_p.timer = tiny.clock


time_a.timer = tiny.clock
time_b.timer = tiny.clock
time_heavy.timer = tiny.clock
"""
NAMES = {f"bench_suite.{name}" for name in ("time_a", "time_b", "time_heavy", "Params.time_p")}
SHARDS = [
    readme.command("perfguard run main HEAD --shard 1/3 --output shard-1.rounds.json"),
    readme.command("perfguard run main HEAD --shard 2/3 --output shard-2.rounds.json"),
    readme.command("perfguard run main HEAD --shard 3/3 --output shard-3.rounds.json"),
]
"""The README's three shards, run one after the other as three CI jobs would."""
MERGE = readme.command(
    "perfguard merge shard-1.rounds.json shard-2.rounds.json shard-3.rounds.json"
    " --output merged.rounds.json"
)


def perfguard(*args: str) -> int:
    code = cli.main(args=list(args), prog_name="perfguard", standalone_mode=False)
    assert isinstance(code, int)
    return code


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, asv_envs: Path) -> Iterator[dict[str, Any]]:
    """The project on its feature branch (main: base; HEAD: time_b 30 % slower), one whole
    run and the three shards run with the README's commands, and their merge."""
    repo = tmp_path_factory.mktemp("sharded")
    home = tmp_path_factory.mktemp("home")
    init_tiny(repo, benchmarks=SUITE, package=PACKAGE, module="bench_suite.py")
    share_envs(repo, asv_envs)
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "src" / "tiny" / "__init__.py").write_text(PACKAGE.replace("1.0\n", "1.3\n", 1))
    git(repo, "commit", "-q", "-am", "slower b")
    env = {
        "HOME": str(home),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip")),
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        patch.chdir(repo)
        single = repo / "single.rounds.json"
        assert perfguard("run", "main", "HEAD", "--output", str(single)) == EXIT_REGRESSION
        done = [readme.run(text, cwd=repo, env=env) for text in SHARDS]
        for shard in done:
            assert shard.returncode in (0, EXIT_REGRESSION), shard.stderr
        merged = readme.run(MERGE, cwd=repo, env=env)
        assert merged.returncode == 0, merged.stderr
        yield {
            "repo": repo,
            "home": home,
            "single": single,
            "merged": repo / "merged.rounds.json",
            "shard-1": repo / "shard-1.rounds.json",
            "shard-2": repo / "shard-2.rounds.json",
            "shard-3": repo / "shard-3.rounds.json",
            "stderr-1": done[0].stderr,
            "merge-stderr": merged.stderr,
        }


def report(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    perfguard("compare", str(path), "--format", "json", *extra)
    document = json.loads(capsys.readouterr().out)
    assert isinstance(document, dict)
    return document


def verdicts(document: dict[str, object]) -> dict[str, str]:
    rows = document["rows"]
    assert isinstance(rows, list)
    return {row["label"]: row["verdict"] for row in rows}


def test_three_shards_cover_the_suite_once_and_merge_to_the_single_runs_verdicts(
    runs: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    shards = [rounds.read(runs[f"shard-{k}"]) for k in (1, 2, 3)]
    names = [set(data.shard.benchmarks) for data in shards if data.shard is not None]
    assert len(names) == 3 and all(names)
    assert set().union(*names) == NAMES
    assert sum(len(n) for n in names) == len(NAMES)  # disjoint
    for data in shards:  # each measured its own share only, every combination of it
        assert data.shard is not None
        assert {s.benchmark for s in data.series} == set(data.shard.benchmarks)
        assert data.shard.costs == "count of parameter combinations"  # no asv results here
    assert len({(d.shard.suite, d.shard.partition) for d in shards if d.shard}) == 1

    single = report(runs["single"], capsys)
    merged = report(runs["merged"], capsys)
    assert verdicts(merged) == verdicts(single)
    assert verdicts(merged)["bench_suite.time_b"] == "regressed"
    assert merged["summary"] == single["summary"]
    assert merged["warnings"] == []
    # The family correction runs over the whole suite: the merged file is one run of 5 rows.
    assert len(rounds.read(runs["merged"]).series) == 5
    assert "merged 3 shards (5 benchmarks" in runs["merge-stderr"]


def test_the_merged_report_says_which_benchmark_ran_where(
    runs: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    merged = report(runs["merged"], capsys)
    shards = merged["shards"]
    assert isinstance(shards, list)
    assert [(s["index"], s["count"]) for s in shards] == [(1, 3), (2, 3), (3, 3)]
    where = {name: s["index"] for s in shards for name in s["benchmarks"]}
    rows = merged["rows"]
    assert isinstance(rows, list)
    for row in rows:
        assert row["shard"] == where[row["benchmark"]]
        assert row["machine"] == shards[0]["machine"]
    assert perfguard("compare", str(runs["merged"]), "--no-color") == EXIT_REGRESSION
    table = capsys.readouterr().out
    for s in shards:
        assert f"shard {s['index']}/3 on {s['machine']}: " in table
    assert perfguard("compare", str(runs["merged"]), "--format", "markdown") == EXIT_REGRESSION
    assert "- shard 1/3 on " in capsys.readouterr().out
    # An unsharded report has no such fields filled.
    assert all(row["shard"] is None for row in report(runs["single"], capsys)["rows"])  # type: ignore[union-attr]


def test_a_lone_shard_says_it_is_only_part_of_the_suite(
    runs: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    lone = report(runs["shard-1"], capsys)
    warnings = lone["warnings"]
    assert isinstance(warnings, list) and len(warnings) == 1
    assert warnings[0].startswith("shard 1/3 only: ")
    assert "merge all 3 shards with `perfguard merge`" in warnings[0]
    assert "shard 1/3: 2 of 5 benchmarks, balanced by count" in runs["stderr-1"]


def test_a_rounds_file_gives_the_costs_of_the_next_sharded_run(runs: dict[str, Any]) -> None:
    """The whole run recorded the seconds it spent per benchmark; balanced on them, the heavy
    benchmark (three times the work of most) gets a share with less beside it."""
    single = rounds.read(runs["single"])
    assert set(single.seconds) == NAMES
    assert all(seconds > 0 for seconds in single.seconds.values())
    suite = {name: costs.Combinations(2 if "Params" in name else 1, 2 if "Params" in name else 1)
             for name in NAMES}  # fmt: skip
    found = costs.expected(
        suite, base="0" * 40, results_dir=runs["repo"] / ".asv" / "results", explicit=runs["single"]
    )
    assert found.source == f"rounds file {runs['single']}"
    assert found.values == single.seconds


def shard_variant(runs: dict[str, Any], tmp_path: Path, k: int, name: str, **shard: object) -> Path:
    """Shard ``k``'s real file with some fields of its shard record (or of the file) changed."""
    data = rounds.read(runs[f"shard-{k}"])
    assert data.shard is not None
    top = {key: shard.pop(key) for key in list(shard) if key in ("base", "env")}
    changed = msgspec.structs.replace(
        data, shard=msgspec.structs.replace(data.shard, **shard), **top
    )
    path = tmp_path / name
    rounds.write(path, changed)
    return path


def merge_error(capsys: pytest.CaptureFixture[str], tmp_path: Path, *files: Path) -> str:
    code = perfguard("merge", *map(str, files), "--output", str(tmp_path / "out.rounds.json"))
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert not (tmp_path / "out.rounds.json").exists()
    return err


def test_merge_refuses_shards_that_are_not_one_whole_run(
    runs: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two, three = (runs[f"shard-{k}"] for k in (1, 2, 3))
    assert "shard 3/3 missing: give all 3 shard rounds files (got 1/3, 2/3)" in merge_error(
        capsys, tmp_path, one, two
    )
    assert "shard 2/3 is given twice" in merge_error(capsys, tmp_path, one, two, two, three)
    assert "is not a shard rounds file" in merge_error(capsys, tmp_path, runs["single"], one)
    assert "already a merged rounds file (3 shards)" in merge_error(
        capsys, tmp_path, runs["merged"]
    )
    other_n = shard_variant(runs, tmp_path, 2, "n.json", count=4)
    assert "the shards of one run share N" in merge_error(capsys, tmp_path, one, other_n, three)
    data = rounds.read(two)
    moved = shard_variant(runs, tmp_path, 2, "c.json", base=rounds.Side(ref="x", commit="f" * 40))
    assert f"measured base ffffffff and head {data.head.commit[:8]}" in merge_error(
        capsys, tmp_path, one, moved, three
    )
    other_env = shard_variant(runs, tmp_path, 2, "e.json", env="conda-py3.99")
    assert "the same asv environment" in merge_error(capsys, tmp_path, one, other_env, three)
    other_suite = shard_variant(runs, tmp_path, 2, "s.json", suite="0" * 16)
    assert "measured different suites" in merge_error(capsys, tmp_path, one, other_suite, three)
    disagree = shard_variant(
        runs, tmp_path, 2, "p.json", partition="1" * 16, costs="rounds file elsewhere.json"
    )
    err = merge_error(capsys, tmp_path, one, disagree, three)
    assert "the shards disagree on the partition" in err and "elsewhere.json" in err
    first = rounds.read(one)
    assert first.shard is not None
    overlap = shard_variant(
        runs, tmp_path, 2, "o.json",
        benchmarks=(*rounds.read(two).shard.benchmarks, first.shard.benchmarks[0]),  # type: ignore[union-attr]
    )  # fmt: skip
    assert f"benchmark {first.shard.benchmarks[0]} was measured by shards 1/3 and 2/3" in (
        merge_error(capsys, tmp_path, one, overlap, three)
    )
    assert "does not exist" in merge_error(capsys, tmp_path, one, tmp_path / "nothing.json")
    (tmp_path / "notes.txt").write_text("not ours\n")
    code = perfguard(
        "merge", str(one), str(two), str(three), "--output", str(tmp_path / "notes.txt")
    )
    assert code == EXIT_USAGE
    assert "is not a perfguard rounds file: not overwriting it" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "not ours\n"


def test_the_readme_compares_the_merged_file(runs: dict[str, Any]) -> None:
    done = readme.run("perfguard compare merged.rounds.json", cwd=runs["repo"], env={})
    assert done.returncode == EXIT_REGRESSION, done.stderr
    assert "shard 1/3 on " in done.stdout and "regressed" in done.stdout


def test_a_shard_beyond_the_suites_size_is_empty(
    runs: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Five shards of four benchmarks: the fifth has nothing to measure and says so; it still
    writes its (empty) shard rounds file, one of the five a merge needs."""
    empty = tmp_path / "empty.rounds.json"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(runs["home"]))
        patch.chdir(runs["repo"])
        code = perfguard("run", "main", "HEAD", "--shard", "5/5", "--output", str(empty))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "shard 5/5: 0 of 5 benchmarks" in captured.err
    assert "nothing to measure here" in captured.err
    data = rounds.read(empty)
    assert data.shard is not None and data.shard.benchmarks == () and data.series == []
    assert "No benchmarks compared." in captured.out


def test_a_shard_corrects_within_the_whole_suites_family(
    runs: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The rows of the other shards count in a shard's family correction (as p = 1), so a shard
    stops and reports as the merge will judge: as strict as the whole suite, never laxer."""
    shards = [rounds.read(runs[f"shard-{k}"]) for k in (1, 2, 3)]
    assert {d.shard.suite_rows for d in shards if d.shard is not None} == {5}
    [home] = [
        k for k, d in enumerate(shards, 1) if d.shard and "bench_suite.time_b" in d.shard.benchmarks
    ]
    own = report(runs[f"shard-{home}"], capsys)
    assert verdicts(own)["bench_suite.time_b"] == "regressed"
    [p_value] = [r["p_value"] for r in own["rows"] if r["benchmark"] == "bench_suite.time_b"]  # type: ignore[union-attr]
    # The same rounds in a suite so large that Holm multiplies that p-value past 1 %.
    huge = shard_variant(runs, tmp_path, home, "huge.json", suite_rows=int(0.02 / p_value) + 5)
    assert verdicts(report(huge, capsys))["bench_suite.time_b"] == "inconclusive"


def test_a_rule_for_another_shards_benchmarks_is_not_called_unmatched_in_a_shard(
    runs: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    theirs = json.loads(runs["shard-2"].read_text())["shard"]["benchmarks"][0]
    config = tmp_path / "perfguard.toml"
    config.write_text(
        "[[rules]]\n"
        f'match = "{theirs}"\n'
        'threshold = "50%"\n\n'
        "[[rules]]\n"
        'match = "bench.no_such_benchmark"\n'
        'threshold = "50%"\n'
    )
    perfguard("compare", str(runs["shard-1"]), "--config", str(config), "--fail-on", "never")
    lone = capsys.readouterr().err
    perfguard("compare", str(runs["merged"]), "--config", str(config), "--fail-on", "never")
    merged = capsys.readouterr().err
    assert f"rule match {theirs!r}" not in lone + merged
    assert "'bench.no_such_benchmark' matched no benchmark" in merged
    assert "matched no benchmark" not in lone  # a shard cannot tell: the merge says it
