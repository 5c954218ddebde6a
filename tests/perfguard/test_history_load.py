"""History mode on disk: reading a results history in commit order, and `compare --history`."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from perfguard import history
from perfguard.cli import cli
from perfguard.errors import InputError
from tests.helpers.asvfiles import (
    result_file_data,
    write_benchmarks_json,
    write_json,
    write_machine_json,
)

BENCHMARKS = {"s.time_a": {"type": "time"}, "s.time_b": {"type": "time"}}
DAY = 86_400_000


def commit(i: int) -> str:
    return f"{i + 1:02x}" * 20


def write_result(
    root: Path,
    sha: str,
    *,
    date: int,
    a: float = 1.0,
    b: float = 2.0,
    machine: str = "box",
    env: str = "py3.12",
) -> Path:
    write_benchmarks_json(root, BENCHMARKS)
    write_machine_json(root / machine, machine)
    results = {
        "s.time_a": {"result": a, "samples": [a * (1 + 0.001 * k) for k in range(-3, 4)]},
        "s.time_b": {"result": b, "samples": [b * (1 + 0.001 * k) for k in range(-3, 4)]},
    }
    data = result_file_data(
        commit=sha, env=env, machine=machine, results=results, benchmarks=BENCHMARKS, date=date
    )
    return write_json(root / machine / f"{sha[:8]}-{env}.json", data)


def write_history(
    root: Path, shas: Sequence[str], *, dates: Sequence[int] | None = None, jump: float = 0.01
) -> None:
    """One result per commit; time_a moves by about ``jump`` between runs, time_b by 1 %."""
    rng = np.random.default_rng(0)
    for i, sha in enumerate(shas):
        write_result(
            root,
            sha,
            date=dates[i] if dates is not None else 1_700_000_000_000 + i * DAY,
            a=float(np.exp(rng.normal(0, jump))),
            b=2.0 * float(np.exp(rng.normal(0, 0.01))),
        )


def commits_of(results: Sequence[object]) -> list[str]:
    return [r.commit for r in results]  # type: ignore[attr-defined]


def test_history_is_ordered_by_commit_date_not_file_name(tmp_path: Path) -> None:
    shas = [commit(i) for i in range(14)]
    # dates run against the names' order
    write_history(tmp_path, shas, dates=[1_700_000_000_000 - i * DAY for i in range(14)])
    loaded = history.load_history(tmp_path)
    assert commits_of(loaded) == shas[::-1]
    assert commits_of(history.load_history(tmp_path, limit=12)) == shas[::-1][-12:]
    without_head = history.load_history(tmp_path, before=shas[0][:10])
    assert commits_of(without_head) == shas[::-1][:-1]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def test_history_follows_git_order_when_a_repository_is_given(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    shas = []
    for i in range(14):
        (repo / "f.txt").write_text(str(i))
        git(repo, "add", "f.txt")
        git(
            repo,
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-q",
            "-m",
            f"c{i}",
            "--date",
            f"2024-01-{i + 1:02d}T00:00:00",
        )
        shas.append(git(repo, "rev-parse", "HEAD"))
    results = tmp_path / "results"
    # The stored dates say the opposite of git: git must win.
    write_history(results, shas, dates=[1_700_000_000_000 - i * DAY for i in range(14)])
    loaded = history.load_history(results, repo=repo, before=shas[-1])
    assert commits_of(loaded) == shas[:-1]
    # A head git does not know: the stored dates decide.
    fallback = history.load_history(results, repo=repo, before="f" * 40)
    assert commits_of(fallback) == shas[::-1]
    # None of the results are ancestors of the head: the stored dates decide, too.
    git(repo, "checkout", "-q", "--orphan", "other")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "o")
    orphan = git(repo, "rev-parse", "HEAD")
    assert commits_of(history.load_history(results, repo=repo, before=orphan)) == shas[::-1]


def test_a_chosen_environment_and_machine(tmp_path: Path) -> None:
    shas = [commit(i) for i in range(12)]
    write_history(tmp_path, shas)
    write_result(tmp_path, commit(20), date=1, env="py3.11")
    with pytest.raises(InputError, match=r"mixes environments .*--env"):
        history.load_history(tmp_path)
    assert len(history.load_history(tmp_path, env="py3.12")) == 12
    write_result(tmp_path, commit(21), date=1, machine="other")
    with pytest.raises(InputError, match=r"2 machines .*--machine"):
        history.load_history(tmp_path, env="py3.12")
    with pytest.raises(InputError, match="no machine 'nope'; it has box, other"):
        history.load_history(tmp_path, machine="nope")
    assert len(history.load_history(tmp_path, machine="box", env="py3.12")) == 12


def test_too_little_or_no_history_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        history.load_history(tmp_path / "missing")
    write_history(tmp_path, [commit(i) for i in range(history.MIN_CHANGES)])
    with pytest.raises(InputError, match=r"10 usable results; history mode needs at least 11"):
        history.load_history(tmp_path)


def test_a_history_file_without_a_date_is_a_clear_error(tmp_path: Path) -> None:
    shas = [commit(i) for i in range(12)]
    write_history(tmp_path, shas)
    dateless = write_result(tmp_path, shas[5], date=0)
    data = json.loads(dateless.read_text())
    del data["date"]
    dateless.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"no readable commit 'date'"):
        history.load_history(tmp_path)


def test_result_date_refuses_a_file_without_one(tmp_path: Path) -> None:
    broken = tmp_path / "x.json"
    broken.write_text(json.dumps({"commit_hash": "a"}))
    with pytest.raises(InputError, match="no readable commit 'date'"):
        history.result_date(broken)
    broken.write_text(json.dumps({"date": "yesterday"}))
    with pytest.raises(InputError, match="no readable commit 'date'"):
        history.result_date(broken)
    with pytest.raises(InputError, match="no readable commit 'date'"):
        history.result_date(tmp_path / "missing.json")


def test_model_for_learns_from_the_bases_machine_without_the_head(tmp_path: Path) -> None:
    shas = [commit(i) for i in range(14)]
    write_history(tmp_path, shas)
    write_result(tmp_path, commit(30), date=1, machine="pr-runner")
    loaded = history.load_history(tmp_path, machine="box")
    base, head = loaded[-2], loaded[-1]
    model = history.model_for(tmp_path, base, head, commits=12)
    assert model.commits == 12  # the newest 12 before the head
    assert set(model.floors) == {("s.time_a", ()), ("s.time_b", ())}


def cli_compare(root: Path, base: Path, head: Path, *extra: str) -> tuple[int, dict[str, str]]:
    result = CliRunner().invoke(
        cli, ["compare", str(base), str(head), "--format", "json", *extra], catch_exceptions=False
    )
    rows = json.loads(result.stdout)["rows"]
    return result.exit_code, {row["benchmark"]: row["verdict"] for row in rows}


@pytest.mark.parametrize(
    ("jump", "exit_code", "verdict"),
    [
        (0.01, 1, "regressed"),  # time_a barely moves between runs: +30 % is a regression
        (0.30, 0, "inconclusive"),  # it jumps by 30 % between runs: +30 % cannot be told apart
    ],
)
def test_compare_with_history(tmp_path: Path, jump: float, exit_code: int, verdict: str) -> None:
    shas = [commit(i) for i in range(20)]
    write_history(tmp_path / "results", shas, jump=jump)
    base = tmp_path / "results" / "box" / f"{shas[-1][:8]}-py3.12.json"
    base_a = json.loads(base.read_text())["results"]["s.time_a"][0][0]
    head = write_result(tmp_path / "head", commit(40), date=2_000_000_000_000, a=1.3 * base_a)
    code, verdicts = cli_compare(tmp_path, base, head)
    assert (code, verdicts["s.time_a"]) == (1, "regressed")  # without history: always
    code, verdicts = cli_compare(
        tmp_path, base, head, "--history", str(tmp_path / "results"), "--history-commits", "15"
    )
    assert (code, verdicts["s.time_a"], verdicts["s.time_b"]) == (exit_code, verdict, "unchanged")


def test_compare_history_option_errors_are_one_line(tmp_path: Path) -> None:
    shas = [commit(i) for i in range(5)]
    write_history(tmp_path, shas)
    base = tmp_path / "box" / f"{shas[0][:8]}-py3.12.json"
    head = tmp_path / "box" / f"{shas[1][:8]}-py3.12.json"
    result = CliRunner().invoke(cli, ["compare", str(base), str(head), "--history", str(tmp_path)])
    assert result.exit_code == 2
    assert "error:" in result.stderr and "history mode needs at least" in result.stderr
    assert "Traceback" not in result.output


def test_history_needs_two_sides(tmp_path: Path) -> None:
    write_history(tmp_path, [commit(i) for i in range(12)])
    single = tmp_path / "box" / f"{commit(0)[:8]}-py3.12.json"
    result = CliRunner().invoke(cli, ["compare", str(single), "--history", str(tmp_path)])
    assert result.exit_code == 2
    assert "--history needs BASE and HEAD" in result.stderr


def test_compare_files_with_history_finds_benchmarks_json_in_the_history(tmp_path: Path) -> None:
    """``compare base.json head.json --history results/``: files copied out of asv's layout,
    no benchmarks.json beside them; the history folder has one (the README's example)."""
    shas = [commit(i) for i in range(20)]
    write_history(tmp_path / "results", shas)
    for name, sha in (("base.json", shas[-2]), ("head.json", shas[-1])):
        source = tmp_path / "results" / "box" / f"{sha[:8]}-py3.12.json"
        (tmp_path / name).write_bytes(source.read_bytes())
    base, head = tmp_path / "base.json", tmp_path / "head.json"
    without = CliRunner().invoke(cli, ["compare", str(base), str(head)])
    assert without.exit_code == 2 and "no benchmarks.json for" in without.stderr
    code, verdicts = cli_compare(
        tmp_path, base, head, "--history", str(tmp_path / "results"), "--history-commits", "15"
    )
    assert code == 0
    assert set(verdicts) == {"s.time_a", "s.time_b"}
