"""load_result_set: result files, commits and refs looked up in asv's results directory."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from perfguard.errors import ConfigError, GitError, InputError
from perfguard.gitrefs import resolve_commit
from perfguard.results import load_result_set, results_dir_from_config
from tests.helpers.asvfiles import write_benchmarks_json, write_json, write_results_dir

BENCH = "suite.time_x"
BENCHMARKS = {BENCH: {"version": "v1"}}


def results(root: Path, commit: str, *, machine: str = "box", env: str = "py3.12") -> Path:
    """One commit's results in asv's layout, its value recognisable by its commit."""
    value = int(commit[:6], 16) / 1e6
    return write_results_dir(
        root, machine, commit, env, benchmarks=BENCHMARKS, results={BENCH: {"result": value}}
    )


@dataclass(frozen=True)
class Repo:
    root: Path
    commits: list[str]
    """Oldest first; HEAD is the last."""

    @property
    def results_dir(self) -> Path:
        return self.root / ".asv" / "results"


def git(root: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    done = subprocess.run(
        ["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def git_repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """A git repo of five commits whose asv.conf.json (with comments) names .asv/results.

    Built once per module: tests only read git; each gets an empty results dir (``repo``).
    """
    root = tmp_path_factory.mktemp("repo")
    git(root, "init", "-q", "-b", "main")
    (root / "asv.conf.json").write_text(
        '{\n  // asv allows comments\n  "version": 1,\n  "repo": ".",\n'
        '  "results_dir": ".asv/results",\n}\n',
        encoding="utf-8",
    )
    git(root, "add", "asv.conf.json")
    commits = []
    for i in range(5):
        git(root, "commit", "-q", "--allow-empty", "-m", f"commit {i}")
        commits.append(git(root, "rev-parse", "HEAD"))
    return Repo(root, commits)


@pytest.fixture
def repo(git_repo: Repo) -> Iterator[Repo]:
    shutil.rmtree(git_repo.results_dir, ignore_errors=True)
    yield git_repo
    shutil.rmtree(git_repo.results_dir, ignore_errors=True)


# --- result files -------------------------------------------------------------------------


def test_a_result_file_is_read_with_the_benchmarks_json_of_its_results_dir(tmp_path: Path) -> None:
    path = results(tmp_path / "results", "a" * 40)
    result = load_result_set(str(path))
    assert (result.commit, result.machine, result.env) == ("a" * 40, "box", "py3.12")
    assert [m.benchmark for m in result.measurements] == [BENCH]
    assert result.machine_info["cpu"] == "Test CPU @ 2.0GHz"


def test_a_result_file_finds_benchmarks_json_beside_it(tmp_path: Path) -> None:
    path = results(tmp_path / "results", "a" * 40)
    flat = tmp_path / "flat"
    flat.mkdir()
    path.rename(flat / "base.json")
    write_benchmarks_json(flat, {BENCH: {"type": "track", "unit": "events/s"}})
    (measurement,) = load_result_set(str(flat / "base.json")).measurements
    assert measurement.unit == "events/s"


def test_an_explicit_benchmarks_json_wins(tmp_path: Path) -> None:
    path = results(tmp_path / "results", "a" * 40)
    elsewhere = tmp_path / "elsewhere"
    write_benchmarks_json(elsewhere, {BENCH: {"type": "mem"}})
    result = load_result_set(str(path), benchmarks_json=elsewhere / "benchmarks.json")
    assert result.measurements[0].unit == "bytes"


def test_a_missing_explicit_benchmarks_json_is_an_error(tmp_path: Path) -> None:
    path = results(tmp_path / "results", "a" * 40)
    with pytest.raises(InputError, match=f"benchmarks.json {tmp_path / 'nope.json'} does not"):
        load_result_set(str(path), benchmarks_json=tmp_path / "nope.json")


def test_a_result_file_without_benchmarks_json_says_where_it_looked(tmp_path: Path) -> None:
    path = results(tmp_path / "results", "a" * 40)
    (tmp_path / "results" / "benchmarks.json").unlink()
    with pytest.raises(InputError) as info:
        load_result_set(str(path), results_dir=tmp_path / "other")
    assert str(info.value) == (
        f"no benchmarks.json for {path} (looked for {path.parent / 'benchmarks.json'},"
        f" {tmp_path / 'results' / 'benchmarks.json'}, {tmp_path / 'other' / 'benchmarks.json'});"
        " pass it with --benchmarks-json (`asv run` writes it into the results directory)"
    )


def test_a_result_file_also_finds_benchmarks_json_in_the_given_results_dir(
    tmp_path: Path,
) -> None:
    path = results(tmp_path / "results", "a" * 40)
    (tmp_path / "results" / "benchmarks.json").rename(tmp_path / "benchmarks.json")
    assert load_result_set(str(path), results_dir=tmp_path).measurements


def test_a_result_file_from_another_machine_or_env_than_asked_is_an_error(tmp_path: Path) -> None:
    path = str(results(tmp_path / "results", "a" * 40))
    with pytest.raises(InputError, match=r"measured on machine 'box', not 'ci'"):
        load_result_set(path, machine="ci")
    with pytest.raises(InputError, match=r"measured in environment 'py3.12', not 'py3.13'"):
        load_result_set(path, env="py3.13")
    assert load_result_set(path, machine="box", env="py3.12").env == "py3.12"


def test_a_missing_json_file_or_a_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"result file base.json does not exist"):
        load_result_set("base.json", repo=tmp_path)
    with pytest.raises(InputError, match=rf"{tmp_path} is a directory; pass a result file"):
        load_result_set(str(tmp_path))


# --- commits in a results directory --------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "index"), [("main", 4), ("HEAD", 4), ("HEAD~2", 2), ("main^", 3), ("full", 0)]
)
def test_refs_and_hashes_resolve_with_git(repo: Repo, spec: str, index: int) -> None:
    for commit in repo.commits:
        results(repo.results_dir, commit)
    spec = repo.commits[0] if spec == "full" else spec
    assert load_result_set(spec, repo=repo.root).commit == repo.commits[index]


def test_a_hash_prefix_resolves_with_git(repo: Repo) -> None:
    results(repo.results_dir, repo.commits[1])
    assert load_result_set(repo.commits[1][:7], repo=repo.root).commit == repo.commits[1]


def test_an_explicit_results_dir_wins_over_asv_conf(repo: Repo, tmp_path: Path) -> None:
    results(tmp_path / "mine", repo.commits[4], env="mine")
    result = load_result_set("HEAD", repo=repo.root, results_dir=tmp_path / "mine")
    assert result.env == "mine"


def test_an_unknown_ref_is_a_git_error(repo: Repo) -> None:
    results(repo.results_dir, repo.commits[0])
    with pytest.raises(GitError) as info:
        load_result_set("no-such-branch", repo=repo.root)
    assert str(info.value) == (
        f"unknown commit or ref 'no-such-branch' in the git repository {repo.root.resolve()}"
    )


def test_a_commit_without_results_names_the_nearest_ancestors_with_results(repo: Repo) -> None:
    for index in (0, 1, 3):
        results(repo.results_dir, repo.commits[index])
    with pytest.raises(InputError) as info:
        load_result_set("main", repo=repo.root)
    head, c3, c1, c0 = (repo.commits[i][:8] for i in (4, 3, 1, 0))
    assert str(info.value) == (
        f"no results for commit main ({head}) in {repo.results_dir}; nearest ancestors with"
        f" results: {c3} (1 commit back), {c1} (3 commits back), {c0} (4 commits back);"
        f" measure it with `asv run {head}^!`"
    )


def test_a_commit_without_results_or_ancestors_with_results_lists_known_commits(
    repo: Repo,
) -> None:
    results(repo.results_dir, repo.commits[4])
    others = sorted(f"{i:08x}" for i in range(6))
    for other in others:
        results(repo.results_dir, other + "0" * 32)
    with pytest.raises(InputError) as info:
        load_result_set(repo.commits[2], repo=repo.root)
    c2 = repo.commits[2][:8]
    known = sorted([*others, repo.commits[4][:8]])
    assert str(info.value) == (
        f"no results for commit {c2} in {repo.results_dir}; none of its 2 nearest ancestors has"
        f" any; results exist for 7 other commit(s): {', '.join(known[:5])}, ...; measure it"
        f" with `asv run {c2}^!`"
    )


def test_a_missing_results_dir_is_an_error(repo: Repo) -> None:
    with pytest.raises(InputError) as info:
        load_result_set("main", repo=repo.root)
    assert str(info.value) == (
        f"results directory {repo.results_dir} does not exist; run `asv run` first, or pass"
        " --results-dir"
    )


def test_an_empty_results_dir_is_an_error(repo: Repo) -> None:
    write_benchmarks_json(repo.results_dir, BENCHMARKS)
    (repo.results_dir / "box").mkdir()
    write_json(repo.results_dir / "box" / "machine.json", {"machine": "box", "version": 1})
    with pytest.raises(InputError, match=rf"results directory {repo.results_dir} is empty"):
        load_result_set("main", repo=repo.root)


def test_several_machines_or_environments_need_a_choice(repo: Repo) -> None:
    head = repo.commits[4]
    results(repo.results_dir, head, machine="box", env="py3.12")
    results(repo.results_dir, head, machine="box", env="py3.13")
    results(repo.results_dir, head, machine="ci", env="py3.12")
    choices = "--machine box --env py3.12, --machine box --env py3.13, --machine ci --env py3.12"
    with pytest.raises(InputError) as info:
        load_result_set("main", repo=repo.root)
    assert str(info.value) == (
        f"commit {head[:8]} has results from several machines or environments in"
        f" {repo.results_dir}; choose one: {choices}"
    )
    with pytest.raises(InputError, match="several machines or environments"):
        load_result_set("main", repo=repo.root, machine="box")
    with pytest.raises(InputError) as info:
        load_result_set("main", repo=repo.root, machine="laptop", env="py3.12")
    assert str(info.value) == (
        f"commit {head[:8]} has no results for --machine laptop --env py3.12 in"
        f" {repo.results_dir}; it has {choices}"
    )
    chosen = load_result_set("main", repo=repo.root, machine="box", env="py3.13")
    assert (chosen.machine, chosen.env) == ("box", "py3.13")
    assert load_result_set("main", repo=repo.root, machine="ci").machine == "ci"


def test_a_long_environment_name_matches_asvs_hashed_file_name(repo: Repo) -> None:
    env = "virtualenv-py3.12-" + "-".join(f"package{i}" for i in range(20))
    hashed = "env-" + hashlib.md5(env.encode()).hexdigest()
    path = results(repo.results_dir, repo.commits[4], env=hashed)
    results(repo.results_dir, repo.commits[4], env="short")
    data = path.read_text(encoding="utf-8").replace(
        f'"env_name": "{hashed}"', f'"env_name": "{env}"'
    )
    path.write_text(data, encoding="utf-8")
    assert load_result_set("main", repo=repo.root, env=env).env == env


def test_a_result_file_named_for_another_commit_is_an_error(repo: Repo) -> None:
    path = results(repo.results_dir, repo.commits[0])
    path.rename(path.with_name(f"{repo.commits[4][:8]}-py3.12.json"))
    with pytest.raises(InputError, match=r"holds results for commit .*its file name is wrong"):
        load_result_set("main", repo=repo.root)


# --- without git -----------------------------------------------------------------------------


def test_without_git_a_ref_is_a_clear_error(tmp_path: Path) -> None:
    results(tmp_path / "results", "a" * 40)
    with pytest.raises(GitError) as info:
        load_result_set("main", repo=tmp_path, results_dir=tmp_path / "results")
    assert str(info.value) == (
        f"{tmp_path.resolve()} is not a git repository, so 'main' cannot be resolved as a"
        " commit; run in the checkout (or pass --repo), or pass result files"
    )


@pytest.mark.parametrize("spec", ["abcd", "ABCDEF12", "abcdef1234"])
def test_without_git_a_hash_prefix_matches_result_file_names(tmp_path: Path, spec: str) -> None:
    results(tmp_path / "results", "abcdef1234" + "0" * 30)
    results(tmp_path / "results", "12345678" + "0" * 32)
    result = load_result_set(spec, repo=tmp_path, results_dir=tmp_path / "results")
    assert result.commit == "abcdef1234" + "0" * 30


def test_without_git_a_longer_prefix_must_match_the_files_commit(tmp_path: Path) -> None:
    results(tmp_path / "results", "abcdef1234" + "0" * 30)
    with pytest.raises(InputError, match="holds results for commit abcdef123400, not abcdef1299"):
        load_result_set("abcdef1299", repo=tmp_path, results_dir=tmp_path / "results")


def test_without_git_an_ambiguous_prefix_lists_the_commits(tmp_path: Path) -> None:
    results(tmp_path / "results", "abcd0000" + "0" * 32)
    results(tmp_path / "results", "abcd1111" + "0" * 32)
    with pytest.raises(InputError) as info:
        load_result_set("abcd", repo=tmp_path, results_dir=tmp_path / "results")
    assert str(info.value) == (
        f"'abcd' could be any of the commits abcd0000, abcd1111 with results in"
        f" {tmp_path / 'results'}; give more digits"
    )


def test_without_git_an_unknown_hash_is_an_error(tmp_path: Path) -> None:
    results(tmp_path / "results", "a" * 40)
    with pytest.raises(InputError, match=r"no results in .* for a commit starting with 'bbbb',"):
        load_result_set("bbbb", repo=tmp_path, results_dir=tmp_path / "results")


def test_a_hash_git_does_not_know_still_matches_result_files(repo: Repo) -> None:
    results(repo.results_dir, "feedface" + "0" * 32)
    assert load_result_set("feedface", repo=repo.root).commit == "feedface" + "0" * 32


def test_without_git_installed_refs_are_a_clear_error(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results(repo.results_dir, repo.commits[4])
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(GitError, match="git is not installed or not on PATH"):
        load_result_set("main", repo=repo.root)


@pytest.mark.parametrize("ref", ["", "--all", "-h"])
def test_option_like_refs_are_refused(repo: Repo, ref: str) -> None:
    with pytest.raises(GitError, match="is not a commit or ref name"):
        resolve_commit(ref, repo.root)


# --- asv.conf.json -------------------------------------------------------------------------


def test_results_dir_comes_from_asv_conf_with_comments(repo: Repo) -> None:
    assert results_dir_from_config(repo.root) == repo.root / ".asv" / "results"


def test_results_dir_defaults_to_results_beside_the_config(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "asv.conf.jsonc"
    write_json(config, {"version": 1, "repo": "."})
    assert results_dir_from_config(tmp_path / "conf") == tmp_path / "conf" / "results"
    assert results_dir_from_config(tmp_path, config) == tmp_path / "conf" / "results"


def test_an_absolute_results_dir_stays_absolute(tmp_path: Path) -> None:
    write_json(tmp_path / "asv.conf.json", {"version": 1, "repo": ".", "results_dir": "/srv/r"})
    assert results_dir_from_config(tmp_path) == Path("/srv/r")


def test_no_asv_conf_says_how_to_pass_the_results_dir(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_result_set("main", repo=tmp_path)
    assert str(info.value) == (
        f"no asv.conf.json (or asv.conf.jsonc) in {tmp_path} or {tmp_path / 'benchmarks'}; run"
        " in the project's checkout, or name the file with --asv-config; or pass the results"
        " directory with --results-dir DIR"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{results_dir: ", "not valid JSON"),
        ("[1]", "not a JSON object"),
        ('{"version": 1, "repo": ".", "results_dir": 3}', "results_dir must be a non-empty path"),
        ('{"version": 1, "repo": ".", "results_dir": ""}', "results_dir must be a non-empty path"),
        ('{"version": 1}', "No repo specified"),
    ],
)
def test_a_bad_asv_conf_is_a_config_error(tmp_path: Path, content: str, message: str) -> None:
    config = tmp_path / "asv.conf.json"
    config.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as info:
        results_dir_from_config(tmp_path)
    assert str(config) in str(info.value)


def test_an_asv_conf_that_is_a_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"asv configuration {tmp_path} is a directory"):
        results_dir_from_config(tmp_path, tmp_path)
