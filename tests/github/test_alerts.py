"""``perfguard alerts`` against the local GitHub double: one issue per open regression.

The history reports are JSON documents of ``perfguard history`` (schema version 1), written
here with the fields that command writes; the series move the way a main branch does: a step
up (a regression), held for a while, then back down (a recovery) or not.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from perfguard.alerts import marker
from tests.github.conftest import REPO, Run
from tests.github.double import BOT, GitHubDouble
from tests.helpers import readme

Cli = Callable[..., Run]
LABEL = "perf-regression"


def sha(position: int) -> str:
    """A commit id that shows its position in its first eight digits."""
    return f"{position:08x}" + "c" * 32


def point(
    ident: str,
    label: str,
    position: int,
    change: float,
    before: float,
    *,
    direction: str = "lower",
    threshold: float = 0.05,
) -> dict[str, Any]:
    """One change point as ``perfguard history --format json`` writes it."""
    worse = (change > 0) == (direction == "lower")
    good, bad = sha(position - 1), sha(position)
    return {
        "id": ident,
        "benchmark": label.split("(")[0],
        "params": {},
        "label": label,
        "kind": "time",
        "unit": "seconds",
        "direction": direction,
        "direction_assumed": False,
        "threshold": threshold,
        "verdict": "regressed" if worse else "improved",
        "position": position,
        "last_good": good,
        "first_bad": bad,
        "before": before,
        "after": before * (1 + change),
        "change": change,
        "interval": [change - 0.02, change + 0.02],
        "confidence": 0.999,
        "p_value": 1e-6,
        "points_before": 10,
        "points_after": 10,
        "bisect": f"asv find {good[:8]}..{bad[:8]} {label.split('(')[0]}",
    }


def report(tmp_path: Path, points: list[dict[str, Any]], name: str = "history.json") -> Path:
    path = tmp_path / name
    document = {
        "schema_version": 1,
        "machine": "github-ubuntu-latest",
        "env": "py3.12",
        "change_points": sorted(points, key=lambda p: -p["position"]),  # newest first
    }
    path.write_text(json.dumps(document))
    return path


def ours(github: GitHubDouble) -> list[dict[str, Any]]:
    return [i for i in github.issues(REPO) if i["user"]["login"] == BOT]


def test_an_open_regression_gets_one_issue_kept_up_to_date(
    github: GitHubDouble, cli: Cli, tmp_path: Path
) -> None:
    first = report(tmp_path, [point("a1", "bench.time_parse", 20, 0.12, 1e-3)])
    done = cli("alerts", str(first), "--repo", REPO)
    assert done.code == 0, done.err
    [issue] = ours(github)
    assert issue["state"] == "open"
    assert [label["name"] for label in issue["labels"]] == [LABEL]
    assert marker("a1") in issue["body"]
    assert "bench.time_parse" in issue["title"] and "12.0 % slower" in issue["title"]
    assert "asv find 00000013..00000014 bench.time_parse" in issue["body"]
    assert f"| first bad commit | `{sha(20)}` |" in issue["body"]

    again = cli("alerts", str(first), "--repo", REPO)  # nothing changed: no write
    assert again.code == 0 and "already up to date" in again.out
    writes = [r for r in github.requests if r.method in ("POST", "PATCH")]
    assert len(writes) == 1

    # The next run measured more: the same step, now with a narrower interval.
    later = point("a1", "bench.time_parse", 20, 0.11, 1e-3)
    assert cli("alerts", str(report(tmp_path, [later], "h2.json")), "--repo", REPO).code == 0
    [issue] = ours(github)
    assert "11.0 % slower" in issue["title"] and issue["state"] == "open"


def test_a_recovered_regression_is_closed_with_the_recovery_written(
    github: GitHubDouble, cli: Cli, tmp_path: Path
) -> None:
    up = point("b1", "bench.time_io", 10, 0.20, 2e-3)
    cli("alerts", str(report(tmp_path, [up])), "--repo", REPO)
    [issue] = ours(github)
    assert issue["state"] == "open"

    down = point("b2", "bench.time_io", 30, -0.17, 2.4e-3)  # back to ~1.99e-3
    done = cli("alerts", str(report(tmp_path, [up, down], "h2.json")), "--repo", REPO)
    assert done.code == 0 and "closed (recovered)" in done.out
    [issue] = ours(github)
    assert issue["state"] == "closed" and issue["state_reason"] == "completed"
    assert f"**Recovered** at `{sha(30)}`" in issue["body"]
    assert issue["title"].startswith("[recovered] ")

    # A later run keeps it closed and opens nothing for the improvement itself.
    cli("alerts", str(report(tmp_path, [up, down], "h3.json")), "--repo", REPO)
    assert len(ours(github)) == 1 and ours(github)[0]["state"] == "closed"


def test_the_issue_links_the_graph_with_its_parameters_and_names_perfguard_bisect(
    github: GitHubDouble, cli: Cli, tmp_path: Path
) -> None:
    stepped = point("p1", "bench.Suite.time_x(n=100)", 12, 0.3, 1.0)
    stepped.update(
        benchmark="bench.Suite.time_x",
        params={"n": "100"},
        paired_bisect="perfguard bisect 0000000b 0000000c -b '^bench\\.Suite\\.time_x$'",
    )
    site = ("--site-url", "https://octo.github.io/app/")
    assert cli("alerts", str(report(tmp_path, [stepped])), "--repo", REPO, *site).code == 0
    [issue] = ours(github)
    assert "(https://octo.github.io/app/#bench.Suite.time_x?p-n=100)" in issue["body"]
    assert "perfguard bisect 0000000b 0000000c -b" in issue["body"]


def test_a_partial_recovery_keeps_the_alert_open(
    github: GitHubDouble, cli: Cli, tmp_path: Path
) -> None:
    up = point("c1", "bench.time_x", 10, 0.30, 1.0)
    half = point("c2", "bench.time_x", 20, -0.12, 1.3)  # 1.3 -> 1.144: still 14 % above
    cli("alerts", str(report(tmp_path, [up, half])), "--repo", REPO)
    [issue] = ours(github)
    assert issue["state"] == "open" and "Recovered" not in issue["body"]


def test_a_throughput_drop_is_the_regression_and_its_rise_the_recovery(
    github: GitHubDouble, cli: Cli, tmp_path: Path
) -> None:
    drop = point("d1", "bench.track_rate", 10, -0.15, 1000.0, direction="higher")
    cli("alerts", str(report(tmp_path, [drop])), "--repo", REPO)
    [issue] = ours(github)
    assert "15.0 % lower" in issue["title"] and "higher is better" in issue["body"]
    rise = point("d2", "bench.track_rate", 25, 0.17, 850.0, direction="higher")
    cli("alerts", str(report(tmp_path, [drop, rise], "h2.json")), "--repo", REPO)
    assert ours(github)[0]["state"] == "closed"


def test_issues_closed_by_hand_or_written_by_others_are_left_alone(
    github: GitHubDouble, cli: Cli, tmp_path: Path
) -> None:
    dismissed = github.add_issue(
        REPO, "old alert", f"{marker('e1')}\nseen", labels=(LABEL,), login=BOT, state="closed"
    )
    forged = github.add_issue(REPO, "copied", f"{marker('e2')}\nnot ours", labels=(LABEL,))
    points = [
        point("e1", "bench.time_a", 10, 0.2, 1.0),
        point("e2", "bench.time_b", 10, 0.2, 1.0),
    ]
    done = cli("alerts", str(report(tmp_path, points)), "--repo", REPO)
    assert done.code == 0
    by_number = {i["number"]: i for i in github.issues(REPO)}
    assert by_number[dismissed]["state"] == "closed" and by_number[dismissed]["body"].endswith(
        "seen"
    )
    assert by_number[forged]["body"].endswith("not ours")
    assert f"left issue https://github.com/{REPO}/issues/{forged}" in done.err
    # e2 gets an issue of its own; e1 (dismissed) gets none.
    mine = [i for i in ours(github) if i["number"] not in (dismissed,)]
    assert [marker("e2") in i["body"] for i in mine] == [True]


def test_a_change_point_gone_from_the_report_keeps_its_issue(
    github: GitHubDouble, cli: Cli, tmp_path: Path
) -> None:
    cli("alerts", str(report(tmp_path, [point("f1", "bench.time_f", 5, 0.2, 1.0)])), "--repo", REPO)
    cli("alerts", str(report(tmp_path, [], "empty.json")), "--repo", REPO)
    [issue] = ours(github)
    assert issue["state"] == "open"  # only a recovery closes an alert


def test_dry_run_needs_no_token_and_sends_nothing(
    github: GitHubDouble, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    path = report(tmp_path, [point("g1", "bench.time_g", 5, 0.2, 1.0)])
    done = cli("alerts", str(path), "--repo", REPO, "--dry-run")
    assert done.code == 0
    assert "dry run: open g1 bench.time_g" in done.out
    assert github.requests == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not valid JSON"),
        ('{"schema_version": 1}', "not a perfguard history JSON report"),
        ('{"schema_version": 2, "change_points": []}', "schema_version 2 is not 1"),
        ('{"schema_version": 1, "change_points": [{"id": "x"}]}', "a change point is malformed"),
    ],
)
def test_a_bad_report_is_one_line_exit_2(
    github: GitHubDouble, cli: Cli, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    done = cli("alerts", str(path), "--repo", REPO)
    assert done.code == 2 and message in done.err
    assert len(done.err.strip().splitlines()) == 1
    assert github.requests == []


def test_github_failing_is_exit_3(github: GitHubDouble, cli: Cli, tmp_path: Path) -> None:
    github.inject("500", method="POST", path="/issues$", times=100)
    path = report(tmp_path, [point("h1", "bench.time_h", 5, 0.2, 1.0)])
    done = cli("alerts", str(path), "--repo", REPO, "--retries", "1", "--backoff", "0")
    assert done.code == 3 and "HTTP 500" in done.err


def test_the_readme_alerts_commands(
    github: GitHubDouble, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's two commands as written, in a folder holding history.json."""
    repo = "OWNER/NAME"
    monkeypatch.chdir(tmp_path)
    report(tmp_path, [point("r1", "bench.time_r", 8, 0.25, 1.0)])
    dry = readme.command("perfguard alerts history.json --repo OWNER/NAME --dry-run")
    done = cli(*shlex.split(dry)[1:])
    assert done.code == 0 and "dry run: open r1 bench.time_r" in done.out
    assert github.requests == []
    linked = readme.command(
        "perfguard alerts history.json --repo OWNER/NAME --site-url https://OWNER.github.io/NAME/"
    )
    done = cli(*shlex.split(linked)[1:])
    assert done.code == 0, done.err
    [issue] = github.issues(repo)
    assert "[bench.time_r](https://OWNER.github.io/NAME/#bench.time_r)" in issue["body"]
