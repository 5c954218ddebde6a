"""Which commits to measure: the named refs, or the merge base of HEAD with the default branch."""

from __future__ import annotations

from pathlib import Path

from perfguard.errors import GitError
from perfguard.gitrefs import output, resolve_commit

DEFAULT_BRANCH_CANDIDATES = ("origin/HEAD", "main", "master", "origin/main", "origin/master")


def default_branch(repo: Path) -> str:
    """origin/HEAD (what the remote calls its default), else main, else master."""
    for name in DEFAULT_BRANCH_CANDIDATES:
        if output(repo, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}"):
            return name
    raise GitError(
        f"cannot tell the default branch of {repo} (no origin/HEAD, main or master): "
        "name BASE explicitly"
    )


def resolve_pair(base: str | None, head: str | None, repo: Path) -> tuple[str, str, str, str]:
    """(base ref, base hash, head ref, head hash); BASE defaults to the merge base with HEAD."""
    head_ref = head or "HEAD"
    head_hash = resolve_commit(head_ref, repo)
    if base:
        return base, resolve_commit(base, repo), head_ref, head_hash
    branch = default_branch(repo)
    merge_base = output(repo, "merge-base", branch, head_hash)
    if not merge_base:
        raise GitError(f"{head_ref} has no merge base with {branch}: name BASE explicitly")
    return f"merge-base({branch}, {head_ref})", merge_base, head_ref, head_hash
