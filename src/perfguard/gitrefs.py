"""Commit names -> full hashes, with the git command line (the only git perfguard needs)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from perfguard.errors import GitError

FULL_SHA = re.compile(r"[0-9a-f]{40}")
"""A full commit sha as git prints it and GitHub's API wants it (use with ``fullmatch``)."""
HASH_PREFIX = re.compile(r"[0-9a-fA-F]{4,40}")
"""What could name a commit by its hash: 4 to 40 hex digits, either case (asv's file names)."""


def is_full_sha(text: str | None) -> bool:
    return text is not None and FULL_SHA.fullmatch(text) is not None


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``git -C repo args...``, captured, never raising on git's own failure (check returncode)."""
    try:
        return subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise GitError("git is not installed or not on PATH") from exc


def is_git_repo(repo: Path) -> bool:
    """True when ``repo`` is inside a git work tree (or is a bare repository)."""
    return git(repo, "rev-parse", "--git-dir").returncode == 0


def output(repo: Path, *args: str) -> str | None:
    """git's stripped stdout, or None when git failed."""
    done = git(repo, *args)
    return done.stdout.strip() if done.returncode == 0 else None


def resolve_commit(ref: str, repo: Path, *, hint: str = "run in the project's checkout") -> str:
    """The full hash of a commit named by a hash, a hash prefix or a ref (``main``, ``HEAD~1``).

    ``hint`` ends the error when ``repo`` is no git repository: what the caller's user can do
    (only the options that command has).
    """
    if not ref or ref.startswith("-"):
        raise GitError(f"{ref!r} is not a commit or ref name")
    done = git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if done.returncode == 0:
        return done.stdout.strip()
    if not is_git_repo(repo):
        raise GitError(
            f"{repo.resolve()} is not a git repository, so {ref!r} cannot be resolved as a"
            f" commit; {hint}"
        )
    raise GitError(f"unknown commit or ref {ref!r} in the git repository {repo.resolve()}")


def ancestors(commit: str, repo: Path, limit: int) -> list[str]:
    """Full hashes of ``commit`` and its ancestors, nearest first, at most ``limit`` of them."""
    done = git(repo, "rev-list", f"--max-count={limit}", commit, "--")
    return done.stdout.split() if done.returncode == 0 else []
