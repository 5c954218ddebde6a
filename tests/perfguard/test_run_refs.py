"""Which commits ``perfguard run`` measures: named refs, or the merge base with the default."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from perfguard.errors import GitError
from perfguard.runner.refs import default_branch, resolve_pair

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        [*GIT, "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def commit(repo: Path, name: str) -> str:
    (repo / name).write_text(name)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", name)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    return tmp_path


def test_default_base_is_the_merge_base_with_main(repo: Path) -> None:
    fork = commit(repo, "a")
    commit(repo, "b")  # main moves on after the branch point
    git(repo, "checkout", "-q", "-b", "feature", fork)
    head = commit(repo, "c")
    base_ref, base, head_ref, head_hash = resolve_pair(None, None, repo)
    assert (base, head_ref, head_hash) == (fork, "HEAD", head)
    assert base_ref == "merge-base(main, HEAD)"


def test_origin_head_wins_over_local_names(repo: Path) -> None:
    commit(repo, "a")
    git(repo, "update-ref", "refs/remotes/origin/trunk", "HEAD")
    git(repo, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/trunk")
    assert default_branch(repo) == "origin/HEAD"


def test_master_is_found_when_there_is_no_main(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "master")
    commit(tmp_path, "a")
    assert default_branch(tmp_path) == "master"


def test_named_refs_are_resolved(repo: Path) -> None:
    first = commit(repo, "a")
    second = commit(repo, "b")
    assert resolve_pair("HEAD~1", "main", repo) == ("HEAD~1", first, "main", second)


def test_no_default_branch_says_to_name_base(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "work")
    commit(tmp_path, "a")
    with pytest.raises(GitError, match="name BASE explicitly"):
        resolve_pair(None, "HEAD", tmp_path)


def test_unrelated_history_has_no_merge_base(repo: Path) -> None:
    commit(repo, "a")
    git(repo, "checkout", "-q", "--orphan", "island")
    commit(repo, "b")
    with pytest.raises(GitError, match="no merge base with main"):
        resolve_pair(None, None, repo)


def test_git_missing_is_one_line(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(repo))
    with pytest.raises(GitError, match="git is not installed"):
        default_branch(repo)
