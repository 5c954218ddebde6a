"""``perfguard compare --env all``: every environment of a commit gated in one call; and compare
finding the asv project as users lay it out (config in ``benchmarks/``, repo in a subdirectory)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from perfguard import environments
from perfguard.cli import cli
from perfguard.errors import InputError
from tests.helpers.asvfiles import write_results_dir

BASE = "1" * 40
HEAD = "2" * 40
BENCHMARKS = {
    "suite.time_slow": {"type": "time", "unit": "seconds"},
    "suite.time_same": {"type": "time", "unit": "seconds"},
}


COMPARE = [sys.executable, "-m", "perfguard", "compare", BASE[:8], HEAD[:8], "--format", "json"]


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def samples(center: float) -> list[float]:
    return [center * (1 + 0.002 * k) for k in (-2, -1, 0, 1, 2, -1.5, 1.5, 0.5)]


def write(results: Path, commit: str, env: str, slow: float) -> None:
    write_results_dir(
        results,
        "box",
        commit,
        env,
        benchmarks=BENCHMARKS,
        results={
            "suite.time_slow": {"result": slow, "samples": samples(slow)},
            "suite.time_same": {"result": 2.0, "samples": samples(2.0)},
        },
    )


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """Base and head in two environments; head slower in py3.12 only, and alone in py3.13."""
    root = tmp_path / "results"
    write(root, BASE, "virtualenv-py3.11", 1.0)
    write(root, HEAD, "virtualenv-py3.11", 1.0)
    write(root, BASE, "virtualenv-py3.12", 1.0)
    write(root, HEAD, "virtualenv-py3.12", 1.3)
    write(root, HEAD, "virtualenv-py3.13", 1.0)
    return root


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_every_environment_is_compared_and_rows_are_keyed_by_it(
    results: Path, tmp_path: Path
) -> None:
    done = invoke(
        "compare", BASE[:8], HEAD[:8], "--env", "all", "--results-dir", str(results),
        "--repo", str(tmp_path), "--format", "json",
    )  # fmt: skip
    assert done.exit_code == 1, done.output  # py3.12 regressed: the gate fails
    report = json.loads(done.stdout)
    verdicts = {row["label"]: row["verdict"] for row in report["rows"]}
    assert verdicts == {
        "suite.time_slow(env=virtualenv-py3.11)": "unchanged",
        "suite.time_same(env=virtualenv-py3.11)": "unchanged",
        "suite.time_slow(env=virtualenv-py3.12)": "regressed",
        "suite.time_same(env=virtualenv-py3.12)": "unchanged",
    }
    assert (
        report["base"]["env"] == report["head"]["env"] == ("virtualenv-py3.11, virtualenv-py3.12")
    )
    only_head = "environment virtualenv-py3.13 has results for head only: not compared"
    assert only_head in report["warnings"]
    assert f"warning: {only_head}" in done.stderr


def test_the_table_names_the_environment_of_each_row(results: Path, tmp_path: Path) -> None:
    done = invoke(
        "compare", BASE[:8], HEAD[:8], "--env", "all", "--results-dir", str(results),
        "--repo", str(tmp_path), "--no-color",
    )  # fmt: skip
    assert done.exit_code == 1
    assert "env=virtualenv-py3.12" in done.stdout and "env=virtualenv-py3.11" in done.stdout


def test_without_env_several_environments_still_ask_for_one(results: Path, tmp_path: Path) -> None:
    done = invoke("compare", BASE[:8], HEAD[:8], "--results-dir", str(results))
    assert done.exit_code == 2
    assert "choose one" in done.stderr and "--env virtualenv-py3.12" in done.stderr
    one = invoke(
        "compare", BASE[:8], HEAD[:8], "--env", "virtualenv-py3.11",
        "--results-dir", str(results), "--format", "json",
    )  # fmt: skip
    assert one.exit_code == 0
    assert {row["label"] for row in json.loads(one.stdout)["rows"]} == {
        "suite.time_slow",
        "suite.time_same",
    }


def test_env_all_needs_commits_with_a_shared_environment(results: Path, tmp_path: Path) -> None:
    files = [str(results / "box" / f"{c[:8]}-virtualenv-py3.11.json") for c in (BASE, HEAD)]
    done = invoke("compare", *files, "--env", "all")
    assert done.exit_code == 2
    assert done.stderr.startswith("error: ") and "one result file of one environment" in done.stderr
    write(results, "3" * 40, "conda-py3.12", 1.0)
    none = invoke("compare", BASE[:8], "3" * 8, "--env", "all", "--results-dir", str(results))
    assert none.exit_code == 2
    assert "no environment in common" in none.stderr
    assert len(none.stderr.splitlines()) == 1


def test_common_keeps_the_base_order_and_warns_for_the_rest() -> None:
    shared, warnings = environments.common(["a", "b", "c"], ["c", "a", "d"])
    assert shared == ["a", "c"]
    assert warnings == [
        "environment b has results for base only: not compared",
        "environment d has results for head only: not compared",
    ]
    with pytest.raises(InputError, match="no environment in common"):
        environments.common(["a"], ["b"])


def test_compare_from_the_root_finds_a_config_kept_in_benchmarks(tmp_path: Path) -> None:
    """The quickstart config, moved into benchmarks/ (a common layout), its results beside it."""
    bench = tmp_path / "benchmarks"
    bench.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "asv", "quickstart", "--top-level"],
        cwd=bench,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    config = bench / "asv.conf.json"
    config.write_text(config.read_text().replace('"repo": "."', '"repo": ".."'))
    results = bench / ".asv" / "results"  # quickstart's results_dir, relative to the config
    write(results, BASE, "virtualenv-py3.12", 1.0)
    write(results, HEAD, "virtualenv-py3.12", 1.3)
    compared = run(COMPARE, cwd=tmp_path)
    assert compared.returncode == 1, compared.stderr
    rows = json.loads(compared.stdout)["rows"]
    assert {row["label"]: row["verdict"] for row in rows}["suite.time_slow"] == "regressed"
    # From anywhere else, named with --asv-config; a broken one is one line, exit 2.
    named = run([*COMPARE, "--asv-config", str(config)], cwd=bench / ".asv")
    assert named.returncode == 1, named.stderr
    config.write_text("{", encoding="utf-8")
    broken = run(COMPARE, cwd=tmp_path)
    assert broken.returncode == 2
    assert broken.stderr.startswith("error: asv cannot use benchmarks/asv.conf.json as its")
    assert len(broken.stderr.splitlines()) == 1


def test_refs_resolve_in_the_asv_configs_repo_when_it_is_a_subdirectory(tmp_path: Path) -> None:
    """asv.conf.json at the top names "repo": "project", a git checkout below it; compare run
    from the top resolves main and HEAD there, and finds the results the config names."""
    project = tmp_path / "project"
    project.mkdir()
    git = ["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "base"]):
        assert run([*git, *args], cwd=tmp_path).returncode == 0
    assert run([*git, "checkout", "-qb", "feature"], cwd=tmp_path).returncode == 0
    assert run([*git, "commit", "-q", "--allow-empty", "-m", "head"], cwd=tmp_path).returncode == 0
    base, head = (
        run([*git, "rev-parse", ref], cwd=tmp_path).stdout.strip() for ref in ("main", "HEAD")
    )
    (tmp_path / "asv.conf.json").write_text(
        '{\n  // as asv quickstart leaves it, but for the repo\n  "version": 1,\n'
        '  "repo": "project",\n  "results_dir": ".asv/results",\n}\n',
        encoding="utf-8",
    )
    write(tmp_path / ".asv" / "results", base, "virtualenv-py3.12", 1.0)
    write(tmp_path / ".asv" / "results", head, "virtualenv-py3.12", 1.3)
    compared = run(
        [sys.executable, "-m", "perfguard", "compare", "main", "feature", "--format", "json"],
        cwd=tmp_path,
    )
    assert compared.returncode == 1, compared.stderr
    report = json.loads(compared.stdout)
    assert (report["base"]["commit"], report["head"]["commit"]) == (base, head)
