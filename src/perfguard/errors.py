"""The errors a user can cause, each with its exit code and a message that says how to fix it.

One boundary (``perfguard.cli.main``) prints ``error: <message>`` and exits with ``exit_code``;
nothing below it prints or exits. Every ``PerfguardError`` subclass is defined here (a test
checks it); a module may keep a private exception for its own signalling if it never reaches
the user (``perfguard.runner.pairs.WorkerError`` becomes a failed side of a round).
"""

from __future__ import annotations

EXIT_OK = 0
"""No regression (or ``--fail-on never``)."""
EXIT_REGRESSION = 1
"""A regression or a broken budget was found."""
EXIT_USAGE = 2
"""Bad usage or bad input: a missing or corrupt file, an unknown commit, bad configuration."""
EXIT_GITHUB = 3
"""Talking to GitHub failed (comment, status); the comparison's own result is reported apart."""
EXIT_INTERNAL = 70
"""A bug in perfguard: a crash log was written."""


class PerfguardError(Exception):
    """Base of every error a user can cause; the message is one line that says what to do."""

    exit_code: int = EXIT_USAGE


class InputError(PerfguardError):
    """A results file, directory or commit that cannot be read or found."""


class ConfigError(PerfguardError):
    """Invalid ``[tool.perfguard]`` configuration or command-line values."""


class NoCounterError(PerfguardError):
    """``--metric instructions``: neither hardware counters nor valgrind are available."""


class GitError(PerfguardError):
    """git could not resolve a ref, or is not available."""


class AsvError(PerfguardError):
    """asv could not build, install or discover: the message says which and why."""


class GitHubError(PerfguardError):
    """The GitHub API refused or failed a request after retries.

    ``status`` is the HTTP status of GitHub's answer, when there was one: some callers take a
    404 (already deleted) or a 403 (``GET /user`` refused to an integration token) as an answer.
    """

    exit_code = EXIT_GITHUB

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class GitHubTransientError(GitHubError):
    """A failure that may pass on a later try: 5xx, rate limit, timeout, dropped connection.

    The client retries it; the last one reaches the user as any GitHubError does.
    """


class DependencyError(PerfguardError):
    """An optional dependency a command needs is not installed: the message says which extra."""
