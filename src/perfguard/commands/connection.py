"""The GitHub connection options every command that talks to GitHub takes, and its client.

One set of names, defaults and retry rules for ``perfguard comment`` and ``perfguard alerts``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from perfguard.errors import ConfigError
from perfguard.github import DEFAULT_API_URL, DEFAULT_RETRY_BUDGET, GitHubClient, make_session

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True, kw_only=True)
class Connection:
    """Where and how to reach GitHub: the token, the API and the retry rules."""

    token: str | None
    api_url: str = DEFAULT_API_URL
    timeout: float = 10.0
    retries: int = 4
    backoff: float = 1.0
    retry_budget: float = DEFAULT_RETRY_BUDGET


def connection_options(command: F) -> F:
    """``--token --api-url --timeout --retries --backoff --retry-budget``; the command gets
    them as keyword arguments of those names (see :func:`connection_from`)."""
    options = [
        click.option(
            "--token",
            envvar="GITHUB_TOKEN",
            show_envvar=True,
            help="GitHub token [default: $GITHUB_TOKEN]. Never printed.",
        ),
        click.option(
            "--api-url",
            envvar="GITHUB_API_URL",
            default=DEFAULT_API_URL,
            show_default=True,
            help="REST base URL [env GITHUB_API_URL, for GitHub Enterprise].",
        ),
        click.option(
            "--timeout", type=float, default=10.0, show_default=True, help="Seconds per call."
        ),
        click.option("--retries", type=int, default=4, show_default=True, help="Retries per call."),
        click.option(
            "--backoff", type=float, default=1.0, show_default=True, help="Backoff factor, seconds."
        ),
        click.option(
            "--retry-budget",
            type=float,
            default=DEFAULT_RETRY_BUDGET,
            show_default=True,
            help="Seconds after which nothing is retried any more (then exit 3).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def connection_from(values: dict[str, Any]) -> Connection:
    """Take the connection options out of a command's keyword arguments."""
    return Connection(
        token=values.pop("token"),
        api_url=values.pop("api_url"),
        timeout=values.pop("timeout"),
        retries=values.pop("retries"),
        backoff=values.pop("backoff"),
        retry_budget=values.pop("retry_budget"),
    )


@contextmanager
def github_client(connection: Connection, *, dry_run: bool = False) -> Iterator[GitHubClient]:
    """A client with the connection's retry rules; a dry run sends no token."""
    if connection.retry_budget <= 0:
        raise ConfigError(f"--retry-budget must be positive seconds, got {connection.retry_budget}")
    with make_session(
        retries=connection.retries,
        backoff_factor=connection.backoff,
        max_wait=max(1.0, 60 * connection.backoff),
        budget=connection.retry_budget,
    ) as session:
        yield GitHubClient(
            session,
            token=None if dry_run else connection.token,
            api_url=connection.api_url,
            timeout=connection.timeout,
            create_backoff=connection.backoff,
        )
