"""Commit names -> full hashes, with the git command line (the only git perfguard needs)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from perfguard.errors import GitError


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH; pass result files instead") from None


def is_git_repo(repo: Path) -> bool:
    """True when ``repo`` is inside a git work tree (or is a bare repository)."""
    return _git(repo, "rev-parse", "--git-dir").returncode == 0


def resolve_commit(ref: str, repo: Path) -> str:
    """The full hash of a commit named by a hash, a hash prefix or a ref (``main``, ``HEAD~1``)."""
    if not ref or ref.startswith("-"):
        raise GitError(f"{ref!r} is not a commit or ref name")
    done = _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if done.returncode == 0:
        return done.stdout.strip()
    if not is_git_repo(repo):
        raise GitError(
            f"{repo.resolve()} is not a git repository, so {ref!r} cannot be resolved as a"
            " commit; run in the checkout (or pass --repo), or pass result files"
        )
    raise GitError(f"unknown commit or ref {ref!r} in the git repository {repo.resolve()}")


def ancestors(commit: str, repo: Path, limit: int) -> list[str]:
    """Full hashes of ``commit`` and its ancestors, nearest first, at most ``limit`` of them."""
    done = _git(repo, "rev-list", f"--max-count={limit}", commit, "--")
    return done.stdout.split() if done.returncode == 0 else []
