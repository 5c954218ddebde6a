"""``perfguard comment``: keep one sticky comment with the report on a pull request.

Optionally sets a commit status from the JSON report. Talking to GitHub can fail (exit 3); that
never changes the comparison's own result, which was decided and reported by ``compare``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from perfguard.actions import (
    BUDGET_BROKEN,
    FAILING_VERDICTS,
    findings_from_report,
    load_json_report,
)
from perfguard.commands.connection import (
    Connection,
    connection_from,
    connection_options,
    github_client,
)
from perfguard.errors import EXIT_OK, ConfigError, InputError
from perfguard.github import ACTIONS_BOT, GitHubClient, Upsert, parse_repo
from perfguard.gitrefs import is_full_sha
from perfguard.policy import FailOn
from perfguard.report import sticky_marker
from perfguard.report.fit import fit_comment_body


def read_body(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError(f"report file not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read report file {path}: {exc}") from exc


def with_marker(body: str, marker: str) -> str:
    """The comment body: the report, carrying the hidden marker, within GitHub's limit."""
    if marker not in body:
        body = f"{marker}\n{body}"
    return fit_comment_body(body)


def status_from_report(path: Path) -> tuple[str, str]:
    """(state, description) for the commit status: what the gate that wrote the report decided.

    ``failure`` when something regressed (or a budget broke) under ``fail_on: regression``;
    under ``fail_on: never`` (warn only) ``success``, with the findings in the description.
    A report without ``fail_on`` (older perfguard) was gated with ``regression``.
    """
    report = load_json_report(path)
    fail_on = report.get("fail_on", FailOn.REGRESSION.value) if isinstance(report, dict) else None
    values = [choice.value for choice in FailOn]
    if fail_on not in values:
        raise InputError(
            f"JSON report {path}: fail_on must be one of {', '.join(values)},"
            f" got {str(fail_on)[:40]!r}"
        )
    findings = findings_from_report(report)
    if not findings:
        return "success", "perfguard: no regression"
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.verdict] = counts.get(finding.verdict, 0) + 1
    found = ", ".join(f"{counts[v]} {v}" for v in (*FAILING_VERDICTS, BUDGET_BROKEN) if v in counts)
    if fail_on == FailOn.NEVER.value:
        return "success", f"perfguard: warn only (fail-on never): {found}"
    return "failure", f"perfguard: {found}"


def check_status_url(url: str | None) -> None:
    """``--status-url`` must be an absolute http(s) URL (GitHub refuses anything else)."""
    if url is not None and not url.startswith(("https://", "http://")):
        raise ConfigError(f"--status-url must be an http(s) URL, got {url[:80]!r}")


MAX_LISTED = 5
"""Foreign marked comments named on the stderr note (a hostile PR may post hundreds)."""


def report_upsert(done: Upsert) -> None:
    """What happened to the PR's marked comments: stdout, and one stderr line for foreign ones."""
    verb = {"superseded": "kept a concurrent run's newer"}.get(done.action, done.action)
    click.echo(f"perfguard: {verb} comment {done.comment.where}")
    if done.deleted:
        ids = ", ".join(str(i) for i in done.deleted)
        click.echo(f"perfguard: deleted {len(done.deleted)} duplicate comment(s) of ours: {ids}")
    if done.foreign:
        named = ", ".join(f"{c.where} by {c.author or '?'}" for c in done.foreign[:MAX_LISTED])
        more = len(done.foreign) - MAX_LISTED
        named += f" and {more} more" if more > 0 else ""
        click.echo(
            f"perfguard: warning: left {len(done.foreign)} comment(s) carrying the marker but"
            f" written by another user untouched: {named}",
            err=True,
        )


def _print_dry_run(
    client: GitHubClient,
    repo: str,
    pr: int,
    body: str,
    marker: str,
    author: str | None,
    sha: str | None,
    status_context: str,
    state_description: tuple[str, str] | None,
    status_url: str | None = None,
) -> None:
    """What would be sent: method, URL and JSON body of each call (no token needed)."""
    comments = client.comments_url(repo, pr)
    if author:
        click.echo(f"dry run: only comments by {author} (--author) are ours")
    else:
        click.echo(
            f"dry run: GET {client.url('/user')} for the token's login, whose comments are ours"
            f" ({ACTIONS_BOT} if refused with 403, as for the workflow's GITHUB_TOKEN)"
        )
    click.echo(f"dry run: GET {comments}?per_page=100 (every page, looking for {marker})")
    one = f"{client.comment_url(repo, 0)[:-1]}{{id}}"
    click.echo(
        f"dry run: PATCH {one} (the newest of ours) if found, else POST {comments} and GET"
        f" again; DELETE {one} for each other one of ours"
    )
    click.echo(json.dumps({"body": body}, ensure_ascii=False))
    if state_description is not None:
        state, description = state_description
        click.echo(f"dry run: POST {client.url(f'/repos/{repo}/statuses/{sha}')}")
        payload = {"state": state, "context": status_context, "description": description}
        if status_url:
            payload["target_url"] = status_url
        click.echo(json.dumps(payload))


def run_comment(
    *,
    repo: str,
    pr: int,
    body_file: Path,
    marker_key: str,
    dry_run: bool,
    status: bool,
    sha: str | None,
    status_context: str,
    status_state_from: Path | None,
    connection: Connection,
    status_url: str | None = None,
    author: str | None = None,
) -> int:
    """Post or update the sticky comment (and the status); return the exit code."""
    parse_repo(repo)
    if pr <= 0:
        raise ConfigError(f"--pr must be a positive pull request number, got {pr}")
    if status and (sha is None or status_state_from is None):
        raise ConfigError("--status needs --sha and --status-state-from (the JSON report)")
    if status and not is_full_sha(sha):
        raise ConfigError(f"--sha must be a full 40-character commit sha, got {sha!r}")
    check_status_url(status_url)
    author = (author or "").strip() or None
    marker = sticky_marker(marker_key)
    body = with_marker(read_body(body_file), marker)
    state_description = (
        status_from_report(status_state_from) if status and status_state_from else None
    )
    with github_client(connection, dry_run=dry_run) as client:
        if dry_run:
            _print_dry_run(
                client,
                repo,
                pr,
                body,
                marker,
                author,
                sha,
                status_context,
                state_description,
                status_url,
            )
            return EXIT_OK
        if not connection.token:
            raise ConfigError("no GitHub token: set GITHUB_TOKEN or pass --token")
        done = client.upsert_sticky_comment(
            repo, pr, body, marker, author=author or client.token_login()
        )
        report_upsert(done)
        if state_description is not None and sha is not None:
            state, description = state_description
            client.set_commit_status(
                repo,
                sha,
                state=state,
                context=status_context,
                description=description,
                target_url=status_url or done.comment.html_url or None,
            )
            click.echo(f"perfguard: set status {status_context}={state} on {sha[:12]}")
    return EXIT_OK


@click.command(
    "comment",
    epilog="""\b
Examples:
  perfguard comment --repo octo/app --pr 12 --body-file report.md
  perfguard comment --repo octo/app --pr 12 --body-file report.md --dry-run
  perfguard comment --repo octo/app --pr 12 --body-file report.md \\
      --status --sha "$HEAD_SHA" --status-state-from report.json \\
      --status-url "https://github.com/octo/app/actions/runs/42"
\b
Exit codes: 0 posted, 2 usage or input error, 3 GitHub API failure (after retries,
or when --retry-budget is spent).""",
)
@click.option("--repo", envvar="GITHUB_REPOSITORY", required=True, help="OWNER/NAME.")
@click.option("--pr", type=int, required=True, help="Pull request number.")
@click.option(
    "--body-file",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Markdown report (`perfguard compare --markdown-file`).",
)
@click.option(
    "--marker-key", default="default", show_default=True, help="Which sticky comment to keep."
)
@click.option(
    "--author",
    envvar="PERFGUARD_COMMENT_AUTHOR",
    show_envvar=True,
    help="Login whose marked comments are ours [default: the token's, from GET /user;"
    f" {ACTIONS_BOT} when GitHub refuses that, as for the workflow token].",
)
@click.option("--dry-run", is_flag=True, help="Print what would be sent; needs no token.")
@click.option("--status", is_flag=True, help="Also set a commit status on --sha.")
@click.option("--sha", help="Commit for --status (the PR head).")
@click.option("--status-context", default="perfguard", show_default=True)
@click.option(
    "--status-state-from",
    type=click.Path(path_type=Path, dir_okay=False),
    help="JSON report (`perfguard compare --json-file`): failure when its gate failed;"
    " success when it passed or only warns (fail-on never), the findings in the description.",
)
@click.option(
    "--status-url",
    help="Where the status links to (the perf run) [default: the comment's URL].",
)
@connection_options
def command(**options: Any) -> int:
    """Post the markdown report as one PR comment, updated on every later run."""
    connection = connection_from(options)
    return run_comment(connection=connection, **options)
