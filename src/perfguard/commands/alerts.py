"""``perfguard alerts``: one GitHub issue per open regression of the main-branch history.

Reads the JSON of ``perfguard history`` and keeps the repository's alert issues in step with it
(see :mod:`perfguard.alerts`): created once, updated, closed on recovery. Talking to GitHub can
fail (exit 3); the history's own result was decided by ``perfguard history``.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from perfguard import alerts
from perfguard.actions import load_json_report
from perfguard.commands.connection import connection_from, connection_options, github_client
from perfguard.errors import EXIT_OK, ConfigError
from perfguard.github import ACTIONS_BOT, parse_repo
from perfguard.report import links


def graph_link(site_url: str | None, step: alerts.Step) -> str | None:
    """The benchmark's graph on the published asv site, its parameters selected: the report's
    links (:mod:`perfguard.report.links`: the URL checked, ``auto`` for the repository's
    Pages)."""
    site = links.site_url(site_url, os.environ)
    return None if site is None else links.graph_url(site, step.benchmark, step.params)


@click.command(
    "alerts",
    epilog="""\b
Examples:
  perfguard alerts history.json --repo octo/app --dry-run
  perfguard alerts history.json --repo octo/app --site-url https://octo.github.io/app/
\b
Exit codes: 0 done, 2 usage or input error, 3 GitHub API failure (after retries,
or when --retry-budget is spent).""",
)
@click.argument("report", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--repo", envvar="GITHUB_REPOSITORY", required=True, help="OWNER/NAME.")
@click.option(
    "--label",
    default=alerts.DEFAULT_LABEL,
    show_default=True,
    help="The label alert issues carry (GitHub creates it on first use).",
)
@click.option(
    "--author",
    envvar="PERFGUARD_COMMENT_AUTHOR",
    show_envvar=True,
    help="Login whose marked issues are ours [default: the token's, from GET /user;"
    f" {ACTIONS_BOT} when GitHub refuses that, as for the workflow token].",
)
@click.option(
    "--site-url",
    help="The published asv site, to link each benchmark's graph; 'auto': the repository's"
    " GitHub Pages (from GITHUB_REPOSITORY).",
)
@click.option("--dry-run", is_flag=True, help="Print what would be done; needs no token.")
@connection_options
def command(**options: Any) -> int:
    """Keep one GitHub issue per open regression change point of the history."""
    connection = connection_from(options)
    repo, label = options["repo"], options["label"].strip()
    parse_repo(repo)
    if not label:
        raise ConfigError("--label must not be empty")
    path: Path = options["report"]
    steps = [
        replace(step, graph_url=graph_link(options["site_url"], step))
        for step in alerts.steps_from_report(load_json_report(path), str(path))
    ]
    found = alerts.alerts(steps)
    open_count = sum(1 for a in found if a.recovered_by is None)
    click.echo(
        f"perfguard: {len(found)} regression change point(s) in {path}, {open_count} open",
        err=True,
    )
    with github_client(connection, dry_run=options["dry_run"]) as client:
        if options["dry_run"]:
            issues_url = client.issues_url(repo)
            click.echo(f"dry run: GET {issues_url}?labels={label}&state=all (every page)")
            for alert in found:
                status = "recovered" if alert.recovered_by is not None else "open"
                click.echo(
                    f"dry run: {status} {alert.step.id} {alert.step.series}: create if it has no"
                    " issue, update it if open, close it when recovered"
                )
                payload = {"title": alerts.title(alert), "body": alerts.body(alert)}
                click.echo(json.dumps(payload, ensure_ascii=False))
            return EXIT_OK
        if not connection.token:
            raise ConfigError("no GitHub token: set GITHUB_TOKEN or pass --token")
        author = (options["author"] or "").strip() or client.token_login()
        actions, foreign = alerts.plan(found, client.list_issues(repo, label=label), author=author)
        for action in actions:
            if action.kind == "create":
                made = client.create_issue(
                    repo, title=action.title, body=action.body, labels=[label]
                )
                click.echo(f"perfguard: opened {made.html_url or made.number}: {action.title}")
            else:
                assert action.issue is not None
                done = client.update_issue(
                    repo,
                    action.issue.number,
                    title=action.title,
                    body=action.body,
                    state="closed" if action.kind == "close" else None,
                )
                verb = "closed (recovered)" if action.kind == "close" else "updated"
                click.echo(f"perfguard: {verb} {done.html_url or done.number}")
        if not actions:
            click.echo("perfguard: alert issues already up to date")
        for issue in foreign[:5]:
            click.echo(
                f"perfguard: warning: left issue {issue.html_url or issue.number} by"
                f" {issue.author or '?'} untouched: it carries an alert marker but is not ours",
                err=True,
            )
    return EXIT_OK
