"""`perfguard comment` against the local GitHub double: one sticky comment, whatever happens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from perfguard.report import sticky_marker
from tests.github.conftest import HEAD_SHA, REPO, TOKEN, Run
from tests.github.double import GitHubDouble

MARKER = sticky_marker("default")
FAST = ("--backoff", "0.01", "--timeout", "0.5")

Cli = Callable[..., Run]


def report(tmp_path: Path, text: str, name: str = "report.md") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def comment(cli: Cli, body: Path, *extra: str, pr: str = "7") -> Run:
    return cli("comment", "--repo", REPO, "--pr", pr, "--body-file", str(body), *FAST, *extra)


def test_first_run_creates_and_second_run_updates_the_same_comment(
    github: GitHubDouble, cli: Cli, tmp_path: Path
) -> None:
    github.add_comment(REPO, 7, "LGTM")
    first = comment(cli, report(tmp_path, "## perfguard\nfirst"))
    assert first.code == 0, first.err
    assert "created comment https://github.com/octo/app/pull/7#issuecomment-" in first.out

    second = comment(cli, report(tmp_path, "## perfguard\nsecond"))
    assert second.code == 0, second.err
    assert "updated comment" in second.out

    bodies = github.bodies_with(REPO, 7, MARKER)
    assert bodies == [f"{MARKER}\n## perfguard\nsecond"]
    assert next(c["body"] for c in github.comments(REPO, 7)) == "LGTM"
    calls = [(r.method, r.path.rsplit("/", 1)[-1]) for r in github.requests]
    # who am I (refused: the workflow token), list, create, list again; then the same + update
    assert calls == [
        ("GET", "user"),
        ("GET", "comments"),
        ("POST", "comments"),
        ("GET", "comments"),
        ("GET", "user"),
        ("GET", "comments"),
        ("PATCH", calls[-1][1]),
    ]


def test_marker_found_on_a_later_page_by_following_the_link_header(
    github: GitHubDouble, cli: Cli, tmp_path: Path
) -> None:
    for i in range(150):
        github.add_comment(REPO, 7, f"chatter {i}")
    github.add_comment(REPO, 7, f"{MARKER}\nold report", login="github-actions[bot]")
    for i in range(120):
        github.add_comment(REPO, 7, f"more chatter {i}")

    # Pages of 100 comments: under load one can take longer than FAST's 0.5 s and be retried.
    run = comment(cli, report(tmp_path, "new report"), "--timeout", "10")

    assert run.code == 0, run.err
    assert github.bodies_with(REPO, 7, MARKER) == [f"{MARKER}\nnew report"]
    lists = [r for r in github.requests if r.method == "GET" and r.path.endswith("/comments")]
    pages = [r.query.get("page", ["1"])[0] for r in lists]
    assert pages == ["1", "2", "3"]  # every page: a duplicate of ours may be on any
    assert len(github.comments(REPO, 7)) == 271


def test_marker_keys_keep_separate_comments(github: GitHubDouble, cli: Cli, tmp_path: Path) -> None:
    assert comment(cli, report(tmp_path, "suite a"), "--marker-key", "a").code == 0
    assert comment(cli, report(tmp_path, "suite b"), "--marker-key", "b").code == 0
    assert comment(cli, report(tmp_path, "suite a v2"), "--marker-key", "a").code == 0
    assert github.bodies_with(REPO, 7, sticky_marker("a")) == [f"{sticky_marker('a')}\nsuite a v2"]
    assert github.bodies_with(REPO, 7, sticky_marker("b")) == [f"{sticky_marker('b')}\nsuite b"]


def test_a_body_that_already_carries_the_marker_is_sent_as_is(
    github: GitHubDouble, cli: Cli, tmp_path: Path
) -> None:
    body = f"## report\n\n{MARKER}\n"
    assert comment(cli, report(tmp_path, body)).code == 0
    assert github.bodies_with(REPO, 7, MARKER) == [body]


def test_an_oversized_report_is_cut_to_fit_instead_of_being_refused(
    github: GitHubDouble, cli: Cli, tmp_path: Path
) -> None:
    big = "".join(f"| row {i} | {'x' * 60} |\n" for i in range(3000))
    run = comment(cli, report(tmp_path, big))
    assert run.code == 0, run.err
    [body] = github.bodies_with(REPO, 7, MARKER)
    assert len(body) <= 65536
    assert "report truncated" in body


def test_an_emoji_report_under_65536_characters_but_over_in_utf16_units_is_cut(
    github: GitHubDouble, cli: Cli, tmp_path: Path
) -> None:
    """40 000 characters, 80 000 UTF-16 units: counted the larger way, it is cut to fit."""
    grins = "\U0001f600" * 38
    big = "".join(f"| \U0001f680 {i} | {grins} |\n" for i in range(1000))
    assert len(big) < 65536 < len(big.encode("utf-16-le")) // 2
    run = comment(cli, report(tmp_path, big))
    assert run.code == 0, run.err
    [body] = github.bodies_with(REPO, 7, MARKER)
    assert len(body.encode("utf-16-le")) // 2 <= 65536
    assert "report truncated" in body


# --- faults: transient ones end with exactly one comment holding the latest body -----------

TRANSIENT = [
    # (fault, method it hits, after the request was processed?, a marked comment exists?)
    pytest.param("500", "GET", False, False, id="500-on-list"),
    pytest.param("502", "GET", False, True, id="502-on-list"),
    pytest.param("500", "POST", False, False, id="500-on-create"),
    pytest.param("502", "POST", True, False, id="502-after-create-stored"),
    pytest.param("502", "PATCH", False, True, id="502-on-update"),
    pytest.param("429", "POST", False, False, id="429-retry-after-on-create"),
    pytest.param("403-secondary", "POST", False, False, id="403-secondary-on-create"),
    pytest.param("403-secondary", "PATCH", False, True, id="403-secondary-on-update"),
    pytest.param("403-ratelimit", "GET", False, True, id="403-ratelimit-reset-on-list"),
    pytest.param("slow", "GET", False, False, id="slow-list"),
    pytest.param("slow", "POST", True, False, id="slow-after-create-stored"),
    pytest.param("slow", "PATCH", False, True, id="slow-update"),
    pytest.param("reset", "GET", False, True, id="reset-on-list"),
    pytest.param("reset", "POST", False, False, id="reset-on-create"),
    pytest.param("reset", "POST", True, False, id="reset-after-create-stored"),
    pytest.param("reset", "PATCH", True, True, id="reset-after-update-stored"),
    # after the headers: half the body, then a reset or a stall past the read timeout
    pytest.param("cut", "GET", False, True, id="cut-mid-body-on-list"),
    pytest.param("stall", "GET", False, True, id="stall-mid-body-on-list"),
    pytest.param("cut", "PATCH", True, True, id="update-applied-answer-cut"),
    pytest.param("stall", "PATCH", True, True, id="update-applied-answer-stalled"),
    pytest.param("cut", "POST", True, False, id="create-stored-answer-cut"),
]


@pytest.mark.parametrize(("kind", "method", "after", "existing"), TRANSIENT)
def test_transient_fault_leaves_exactly_one_comment_with_the_latest_body(
    github: GitHubDouble,
    cli: Cli,
    tmp_path: Path,
    kind: str,
    method: str,
    after: bool,
    existing: bool,
) -> None:
    if existing:
        github.add_comment(REPO, 7, f"{MARKER}\nold", login="github-actions[bot]")
    github.inject(kind, method=method, path="/issues/", after_processing=after)

    run = comment(cli, report(tmp_path, "latest"))

    assert run.code == 0, run.err
    assert [fault.times for fault in github.faults] == [0], "the fault never struck"
    assert github.bodies_with(REPO, 7, MARKER) == [f"{MARKER}\nlatest"]


PERMANENT = [
    pytest.param("403", "POST", "Resource not accessible by integration", id="403-permissions"),
    pytest.param("403", "GET", "Resource not accessible by integration", id="403-on-list"),
]


@pytest.mark.parametrize(("kind", "method", "message"), PERMANENT)
def test_permanent_fault_is_one_clear_line_and_exit_3(
    github: GitHubDouble, cli: Cli, tmp_path: Path, kind: str, method: str, message: str
) -> None:
    github.inject(kind, method=method, times=99)
    run = comment(cli, report(tmp_path, "latest"))
    assert run.code == 3
    assert run.err.count("\n") == 1
    assert run.err.startswith("error: ")
    assert message in run.err
    assert "permissions" in run.err
    assert github.bodies_with(REPO, 7, MARKER) == []


@pytest.mark.parametrize("kind", ["502", "slow"])  # 500 for good: see the entry-point test
def test_a_fault_that_never_clears_gives_exit_3_and_never_two_comments(
    github: GitHubDouble, cli: Cli, tmp_path: Path, kind: str
) -> None:
    github.inject(kind, method="POST", times=99, after_processing=True, delay=1.0)
    run = comment(cli, report(tmp_path, "latest"), "--retries", "1")
    # the create was stored before the failure, so the reconcile pass finds and updates it
    assert run.code == 0, run.err
    assert github.bodies_with(REPO, 7, MARKER) == [f"{MARKER}\nlatest"]

    github.inject(kind, method=".*", times=99, delay=1.0)
    run = comment(cli, report(tmp_path, "newer"), "--retries", "1")
    assert run.code == 3
    assert run.err.startswith("error: ") and run.err.count("\n") == 1
    assert github.bodies_with(REPO, 7, MARKER) == [f"{MARKER}\nlatest"]


@pytest.mark.parametrize("kind", ["slow", "stall"])
def test_a_timeout_that_never_clears_says_timed_out(
    github: GitHubDouble, cli: Cli, tmp_path: Path, kind: str
) -> None:
    github.inject(kind, method="GET", path="/comments$", times=99, delay=1.0)
    run = comment(cli, report(tmp_path, "latest"), "--retries", "1")
    assert run.code == 3
    assert run.err.startswith("error: GET ") and run.err.count("\n") == 1
    assert "timed out" in run.err and "connection failed" not in run.err
    assert [r.method for r in github.requests] == ["GET"] * 3  # /user, one try, one retry


def test_the_retry_budget_bounds_a_fault_that_never_clears(
    github: GitHubDouble, cli: Cli, tmp_path: Path
) -> None:
    github.inject("500", method="GET", times=10_000)
    started = time.monotonic()
    run = comment(cli, report(tmp_path, "x"), "--retries", "1000", "--retry-budget", "1")
    elapsed = time.monotonic() - started
    assert run.code == 3
    assert run.err.startswith("error: GET ") and run.err.count("\n") == 1
    assert "HTTP 500" in run.err and "retry budget is spent (--retry-budget)" in run.err
    assert len(github.requests) > 3  # it did retry, and stopped on time, not on the count
    # 1000 retries at --backoff 0.01 would wait 41 s by the 12th alone; a 1 s budget plus one
    # 0.5 s timeout ends far sooner, with room for a loaded machine.
    assert elapsed < 10.0


def test_a_link_to_another_origin_is_refused_and_gets_no_token(
    github: GitHubDouble, cli: Cli, tmp_path: Path
) -> None:
    github.add_comment(REPO, 7, "chatter")
    with GitHubDouble(token=TOKEN) as other:  # same host, another port: another origin
        github.inject("foreign-link", method="GET", path="/comments$", target=other.url)
        run = comment(cli, report(tmp_path, "x"))
    assert run.code == 3
    assert run.err.startswith("error: GET ") and run.err.count("\n") == 1
    assert f"link header points to another origin ({other.url}/" in run.err
    assert not any("authorization" in seen.headers for seen in other.requests)
    assert other.requests == []
    assert [r.method for r in github.requests] == ["GET", "GET"]  # /user, list; nothing written
    assert github.bodies_with(REPO, 7, MARKER) == []


def test_read_only_token_of_a_fork_pr_fails_with_exit_3(
    monkeypatch: pytest.MonkeyPatch, cli: Cli, tmp_path: Path
) -> None:
    with GitHubDouble(token=TOKEN, read_only=True) as double:
        monkeypatch.setenv("GITHUB_API_URL", double.url)
        run = comment(cli, report(tmp_path, "x"), "--token", TOKEN)
    assert double.violations == []
    assert run.code == 3
    assert "HTTP 403: Resource not accessible by integration" in run.err


def test_bad_credentials_fail_with_exit_3_without_echoing_the_token(
    github: GitHubDouble, cli: Cli, tmp_path: Path
) -> None:
    run = comment(cli, report(tmp_path, "x"), "--token", TOKEN + "-wrong")
    assert run.code == 3
    assert "HTTP 401: Bad credentials" in run.err
    assert "-wrong" not in run.err


def test_usage_errors_exit_2(github: GitHubDouble, cli: Cli, tmp_path: Path) -> None:
    body = report(tmp_path, "x")
    assert comment(cli, tmp_path / "missing.md").code == 2
    assert cli("comment", "--repo", "not-a-repo", "--pr", "7", "--body-file", str(body)).code == 2
    assert comment(cli, body, pr="0").code == 2
    assert comment(cli, body, "--status").code == 2
    bad_sha = comment(cli, body, "--status", "--sha", "abc", "--status-state-from", str(body))
    assert bad_sha.code == 2 and "40-character" in bad_sha.err
    assert github.requests == []


def test_no_token_is_a_usage_error(
    github: GitHubDouble, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    run = comment(cli, report(tmp_path, "x"))
    assert run.code == 2
    assert "GITHUB_TOKEN" in run.err


def test_dry_run_prints_what_would_be_sent_and_sends_nothing(
    github: GitHubDouble, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    json_report = report(tmp_path, json.dumps({"rows": []}), "report.json")
    run = comment(
        cli,
        report(tmp_path, "## hello"),
        "--dry-run",
        "--status",
        "--sha",
        HEAD_SHA,
        "--status-state-from",
        str(json_report),
    )
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines.pop(0) == (
        f"dry run: GET {github.url}/user for the token's login, whose comments are ours"
        " (github-actions[bot] if refused with 403, as for the workflow's GITHUB_TOKEN)"
    )
    assert lines[
        0
    ] == f"dry run: GET {github.url}/repos/octo/app/issues/7/comments?per_page=100 " + (
        f"(every page, looking for {MARKER})"
    )
    one = f"{github.url}/repos/octo/app/issues/comments/{{id}}"
    assert f"PATCH {one} (the newest of ours) if found" in lines[1]
    assert f"DELETE {one} for each other one of ours" in lines[1]
    assert json.loads(lines[2]) == {"body": f"{MARKER}\n## hello"}
    assert lines[3] == f"dry run: POST {github.url}/repos/octo/app/statuses/{HEAD_SHA}"
    assert json.loads(lines[4])["state"] == "success"
    assert github.requests == []


def test_status_reflects_the_json_report(github: GitHubDouble, cli: Cli, tmp_path: Path) -> None:
    rows = [
        {
            "label": "bench_bus.time_publish",
            "verdict": "regressed",
            "reason": "slower",
            "change": 0.2,
        },
        {"label": "bench_bus.time_other", "verdict": "unchanged"},
    ]
    json_report = report(tmp_path, json.dumps({"rows": rows}), "report.json")
    run = comment(
        cli,
        report(tmp_path, "body"),
        "--status",
        "--sha",
        HEAD_SHA,
        "--status-context",
        "perf/bus",
        "--status-state-from",
        str(json_report),
    )
    assert run.code == 0, run.err
    [status] = github.state.statuses
    assert status["sha"] == HEAD_SHA
    assert (status["state"], status["context"]) == ("failure", "perf/bus")
    assert status["description"] == "perfguard: 1 regressed"
    assert status["target_url"].startswith("https://github.com/octo/app/pull/7#issuecomment-")
    assert f"set status perf/bus=failure on {HEAD_SHA[:12]}" in run.out


@pytest.mark.integration
def test_real_entry_point_exit_3_and_token_redacted(github: GitHubDouble, tmp_path: Path) -> None:
    github.inject("500", times=99)
    body = report(tmp_path, "x")
    env = {**os.environ, "GITHUB_API_URL": github.url, "GITHUB_TOKEN": TOKEN}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "perfguard",
            "comment",
            "--repo",
            REPO,
            "--pr",
            "7",
            "--body-file",
            str(body),
            "--retries",
            "1",
            "--backoff",
            "0.01",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 3
    assert TOKEN not in proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: GET ")
    assert "HTTP 500" in proc.stderr


def test_everything_sent_is_free_of_the_token_outside_the_auth_header(
    github: GitHubDouble, cli: Cli, tmp_path: Path
) -> None:
    assert comment(cli, report(tmp_path, "x")).code == 0
    assert github.requests
    assert all(TOKEN not in text for text in github.all_traffic_text())
    assert {r.headers["authorization"] for r in github.requests} == {f"Bearer {TOKEN}"}


# --- the commit status says what the gate decided (the decided JSON report) ---------------

SLOWDOWN = Path(__file__).resolve().parent / "data/perf-rounds/session-slowdown.rounds.json"
"""A real rounds file: two benchmarks regressed by +134 % and +80 % (default 5 % threshold)."""
RUN_URL = "https://github.com/octo/app/actions/runs/4242"


def decided_report(cli: Cli, tmp_path: Path, pyproject: str) -> tuple[int, Path]:
    """`perfguard compare` under a PR's own [tool.perfguard]: its exit code and its report."""
    project = tmp_path / "pr-checkout"
    project.mkdir(exist_ok=True)
    (project / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    out = tmp_path / "report.json"
    run = cli(
        "compare", str(SLOWDOWN), "--config", str(project / "pyproject.toml"),
        "--json-file", str(out),
    )  # fmt: skip
    return run.code, out


def status_of(cli: Cli, github: GitHubDouble, tmp_path: Path, decided: Path) -> dict[str, str]:
    run = comment(
        cli, report(tmp_path, "body"), "--status", "--sha", HEAD_SHA,
        "--status-state-from", str(decided), "--status-url", RUN_URL,
    )  # fmt: skip
    assert run.code == 0, run.err
    [status] = github.state.statuses
    return status


@pytest.mark.parametrize(
    ("pyproject", "gate_code", "state", "description"),
    [
        (
            '[tool.perfguard]\nthreshold = "5%"\n',
            1,
            "failure",
            "perfguard: 2 regressed",
        ),
        (
            '[tool.perfguard]\nfail-on = "never"\n',
            0,
            "success",
            "perfguard: warn only (fail-on never): 2 regressed",
        ),
        (
            '[tool.perfguard]\nthreshold = "99%"\n',
            1,
            "failure",
            "perfguard: 1 regressed",
        ),
        (
            '[[tool.perfguard.rules]]\nmatch = "bench_bus.Sessions.*"\nignore = true\n',
            0,
            "success",
            "perfguard: no regression",
        ),
    ],
    ids=["gate-fails", "warn-only", "pr-raises-threshold", "pr-ignores-the-benchmarks"],
)
def test_the_status_says_what_the_prs_gate_decided(
    github: GitHubDouble,
    cli: Cli,
    tmp_path: Path,
    pyproject: str,
    gate_code: int,
    state: str,
    description: str,
) -> None:
    code, decided = decided_report(cli, tmp_path, pyproject)
    assert code == gate_code
    status = status_of(cli, github, tmp_path, decided)
    assert (status["state"], status["description"]) == (state, description)
    assert status["target_url"] == RUN_URL  # the perf run, not the comment
    assert status["context"] == "perfguard" and status["sha"] == HEAD_SHA
    assert len(status["description"]) <= 140


def test_a_report_with_a_forged_fail_on_or_a_bad_status_url_is_refused(
    github: GitHubDouble, cli: Cli, tmp_path: Path
) -> None:
    _, decided = decided_report(cli, tmp_path, "[tool.perfguard]\n")
    data = json.loads(decided.read_text(encoding="utf-8"))
    for forged in ("sometimes", ["never"], 0):
        decided.write_text(json.dumps({**data, "fail_on": forged}), encoding="utf-8")
        run = comment(
            cli, report(tmp_path, "body"), "--status", "--sha", HEAD_SHA,
            "--status-state-from", str(decided),
        )  # fmt: skip
        assert run.code == 2 and "fail_on must be one of" in run.err, run.err
    run = comment(
        cli, report(tmp_path, "body"), "--status", "--sha", HEAD_SHA,
        "--status-state-from", str(decided), "--status-url", "javascript:alert(1)",
    )  # fmt: skip
    assert run.code == 2 and "--status-url must be an http(s) URL" in run.err
    assert github.requests == [] and github.state.statuses == []


# --- the sticky comment is ours (marker AND author), and only one of ours remains ---------

BOT = "github-actions[bot]"


def test_a_foreign_marker_comment_is_left_untouched_and_ours_is_made_beside_it(
    github: GitHubDouble, cli: Cli, tmp_path: Path
) -> None:
    foreign = github.add_comment(REPO, 7, f"{MARKER}\nfake: all good", login="mallory")
    run = comment(cli, report(tmp_path, "real"))
    assert run.code == 0, run.err
    assert run.out.startswith("perfguard: created comment")
    [note] = run.err.splitlines()
    assert "written by another user untouched" in note
    assert f"#issuecomment-{foreign} by mallory" in note
    bodies = {c["user"]["login"]: c["body"] for c in github.comments(REPO, 7)}
    assert bodies == {"mallory": f"{MARKER}\nfake: all good", BOT: f"{MARKER}\nreal"}
    assert not any(
        r.method in ("PATCH", "DELETE") and str(foreign) in r.path for r in github.requests
    )


def test_two_of_our_marker_comments_become_one_the_newest_updated(
    github: GitHubDouble, cli: Cli, tmp_path: Path
) -> None:
    older = github.add_comment(REPO, 7, f"{MARKER}\nold 1", login=BOT)
    github.add_comment(REPO, 7, "chatter")
    newer = github.add_comment(REPO, 7, f"{MARKER}\nold 2", login=BOT)
    run = comment(cli, report(tmp_path, "latest"))
    assert run.code == 0, run.err
    assert f"updated comment https://github.com/octo/app/pull/7#issuecomment-{newer}" in run.out
    assert f"deleted 1 duplicate comment(s) of ours: {older}" in run.out
    assert [(c["id"], c["body"]) for c in github.comments(REPO, 7) if MARKER in c["body"]] == [
        (newer, f"{MARKER}\nlatest")
    ]


def test_a_delete_that_fails_transiently_is_retried(
    github: GitHubDouble, cli: Cli, tmp_path: Path
) -> None:
    github.add_comment(REPO, 7, f"{MARKER}\nold 1", login=BOT)
    github.add_comment(REPO, 7, f"{MARKER}\nold 2", login=BOT)
    github.inject("502", method="DELETE")
    run = comment(cli, report(tmp_path, "latest"))
    assert run.code == 0, run.err
    assert [r.method for r in github.requests].count("DELETE") == 2
    assert github.bodies_with(REPO, 7, MARKER) == [f"{MARKER}\nlatest"]


def test_a_lost_create_that_lands_beside_a_retried_one_ends_as_one(
    github: GitHubDouble, cli: Cli, tmp_path: Path
) -> None:
    # the first POST is stored but its answer is lost, and the retry's listing misses it
    # (as a lagging listing would): the retry creates a second; the re-list finds both.
    github.inject("502", method="POST", after_processing=True)
    original = github.handle
    hidden: list[bool] = [True]

    def lagging(method: str, path: str, *args: object) -> tuple[int, dict[str, str], object]:
        status, headers, data = original(method, path, *args)  # type: ignore[arg-type]
        if method == "GET" and path.endswith("/7/comments") and hidden[0] and data:
            hidden[0] = False
            return status, headers, []
        return status, headers, data

    github.handle = lagging  # type: ignore[method-assign]
    run = comment(cli, report(tmp_path, "latest"))
    assert run.code == 0, run.err
    assert [r.method for r in github.requests].count("POST") == 2
    assert github.bodies_with(REPO, 7, MARKER) == [f"{MARKER}\nlatest"]


def test_get_user_refused_falls_back_to_the_actions_bot(
    github: GitHubDouble, cli: Cli, tmp_path: Path
) -> None:
    github.add_comment(REPO, 7, f"{MARKER}\nold", login=BOT)
    run = comment(cli, report(tmp_path, "latest"))
    assert run.code == 0, run.err
    assert "updated comment" in run.out and run.err == ""
    assert github.requests[0].path == "/user"
    assert github.bodies_with(REPO, 7, MARKER) == [f"{MARKER}\nlatest"]


def test_a_personal_token_s_login_comes_from_get_user_and_author_overrides_it(
    monkeypatch: pytest.MonkeyPatch, cli: Cli, tmp_path: Path
) -> None:
    with GitHubDouble(token=TOKEN, login="octocat") as double:
        monkeypatch.setenv("GITHUB_API_URL", double.url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        mine = double.add_comment(REPO, 7, f"{MARKER}\nmine", login="octocat")
        bots = double.add_comment(REPO, 7, f"{MARKER}\nbot's", login=BOT)
        run = comment(cli, report(tmp_path, "v2"))
        assert run.code == 0, run.err
        assert f"updated comment https://github.com/octo/app/pull/7#issuecomment-{mine}" in run.out
        assert f"#issuecomment-{bots} by {BOT}" in run.err
        monkeypatch.setenv("PERFGUARD_COMMENT_AUTHOR", BOT)
        run = comment(cli, report(tmp_path, "v3"))
        assert run.code == 0, run.err
        assert f"#issuecomment-{bots}" in run.out and "by octocat" in run.err
        assert not any(r.path == "/user" for r in double.requests[-3:])
        bodies = {c["id"]: c["body"] for c in double.comments(REPO, 7)}
    assert double.violations == []
    assert bodies == {mine: f"{MARKER}\nv2", bots: f"{MARKER}\nv3"}


@pytest.mark.integration
def test_two_runs_started_together_end_with_exactly_one_comment(
    github: GitHubDouble, tmp_path: Path
) -> None:
    # Both lists are held until both runs are listing: both see no comment and both create.
    github.inject("barrier", method="GET", path="/7/comments$", parties=2, times=2, delay=30)
    env = {**os.environ, "GITHUB_API_URL": github.url, "GITHUB_TOKEN": TOKEN}
    procs = [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "perfguard", "comment", "--repo", REPO, "--pr", "7"),
                *("--body-file", str(report(tmp_path, f"run {i}", f"r{i}.md"))),
                *("--backoff", "0.01", "--timeout", "60"),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in (1, 2)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert [code for code, _, _ in results] == [0, 0], results
    assert [r.method for r in github.requests].count("POST") == 2  # they did overlap
    [body] = github.bodies_with(REPO, 7, MARKER)
    assert body in (f"{MARKER}\nrun 1", f"{MARKER}\nrun 2")
