"""The REST client's pieces: link parsing, retry waits, redaction, errors at the boundary."""

from __future__ import annotations

import time

import pytest
import requests
from urllib3 import HTTPResponse

from perfguard.errors import ConfigError, GitHubError
from perfguard.github import (
    MAX_COMMENT_CHARS,
    GitHubClient,
    GitHubRetry,
    is_rate_limited,
    make_session,
    next_link,
    origin,
    parse_repo,
    redact,
)
from perfguard.report.fit import fit_comment_body, fits_comment
from tests.github.conftest import HEAD_SHA, REPO, TOKEN
from tests.github.double import GitHubDouble


def response(status: int, headers: dict[str, str]) -> HTTPResponse:
    return HTTPResponse(body=b"", status=status, headers=headers, preload_content=False)


def test_next_link() -> None:
    header = (
        '<https://api.github.com/r?page=1>; rel="prev", '
        '<https://api.github.com/r?page=3>; rel="next", '
        '<https://api.github.com/r?page=9>; rel="last"'
    )
    assert next_link(header) == "https://api.github.com/r?page=3"
    assert next_link('<https://x/?page=1>; rel="first"') is None
    assert next_link(None) is None


def test_origin_is_scheme_host_and_port_with_defaults() -> None:
    assert origin("https://API.github.com/r?page=2") == origin("https://api.github.com:443/")
    assert origin("http://127.0.0.1:8080/x") != origin("http://127.0.0.1:8081/x")
    assert origin("http://api.github.com/") != origin("https://api.github.com/")
    assert origin("https://api.github.com.evil.example/") != origin("https://api.github.com")


def test_retry_deadline_exhausts_and_caps_every_wait() -> None:
    retry = GitHubRetry(total=99, backoff_factor=100, deadline=time.monotonic() + 2)
    assert not retry.is_exhausted()
    assert 1 < retry.get_retry_after(response(429, {"retry-after": "3600"})) <= 2  # type: ignore[operator]
    spent = GitHubRetry(total=99, deadline=time.monotonic() - 1)
    assert spent.is_exhausted() and spent.new().is_exhausted()
    assert spent.get_backoff_time() == 0


def test_retry_waits_honour_retry_after_and_ratelimit_reset_capped() -> None:
    retry = GitHubRetry(total=3, max_wait=5.0)
    assert retry.get_retry_after(response(429, {"retry-after": "2"})) == 2
    assert retry.get_retry_after(response(429, {"retry-after": "3600"})) == 5.0
    reset = str(int(time.time()) + 3)
    waited = retry.get_retry_after(
        response(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset})
    )
    assert waited is not None and 1.5 < waited <= 3
    assert retry.get_retry_after(response(403, {"x-ratelimit-remaining": "0"})) is None
    assert retry.get_retry_after(response(500, {})) is None
    assert retry.new(total=1).max_wait == 5.0


def test_which_answers_are_rate_limits() -> None:
    assert is_rate_limited(429, {})
    assert is_rate_limited(403, {"retry-after": "1"})
    assert is_rate_limited(403, {"x-ratelimit-remaining": "0"})
    assert not is_rate_limited(403, {"x-ratelimit-remaining": "12"})
    assert not is_rate_limited(500, {"retry-after": "1"})


def test_post_is_never_retried_on_5xx_but_get_is() -> None:
    retry = GitHubRetry(total=3)
    assert retry.is_retry("GET", 502)
    assert not retry.is_retry("POST", 502)
    assert retry.is_retry("POST", 429)
    assert not retry.is_retry("GET", 404)


def test_redaction_and_repo_parsing() -> None:
    assert redact(f"Bearer {TOKEN} failed", TOKEN) == "Bearer *** failed"
    assert redact("no secret", None) == "no secret"
    assert parse_repo("octo/app.js") == ("octo", "app.js")
    for bad in ("octo", "octo/app/x", "../x", "octo/app x"):
        with pytest.raises(ConfigError):
            parse_repo(bad)


def test_fit_comment_body_cuts_at_a_line_end() -> None:
    body = "line\n" * 20
    cut = fit_comment_body(body, limit=60)
    assert len(cut) <= 60 or cut.startswith("line")
    assert fit_comment_body("short", limit=60) == "short"


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@pytest.mark.parametrize("astral", ["\U0001f600", "\U0001d11e"])  # an emoji, a music symbol
def test_a_body_of_astral_characters_is_measured_in_utf16_units(astral: str) -> None:
    """65536 characters can be 131072 UTF-16 units: the larger count decides."""
    under = astral * (MAX_COMMENT_CHARS // 2)  # exactly 65536 units: fits as it is
    assert fits_comment(under) and fit_comment_body(under) == under
    over = astral * (MAX_COMMENT_CHARS // 2) + "x"  # 65537 units, 32769 characters
    assert len(over) < MAX_COMMENT_CHARS and not fits_comment(over)
    cut = fit_comment_body(over)
    assert utf16_units(cut) <= MAX_COMMENT_CHARS and "report truncated" in cut
    lines = (astral * 99 + "\n") * 700  # 139300 units, 70000 characters: cut at a line end
    cut = fit_comment_body(lines)
    assert utf16_units(cut) <= MAX_COMMENT_CHARS and cut.split("\n\n_(report")[0].endswith(astral)
    assert cut.startswith(astral * 99 + "\n")


def test_the_markdown_renderer_and_the_comment_share_one_fit_check() -> None:
    from perfguard.report import markdown

    assert fit_comment_body is markdown.fit_comment_body
    assert markdown.GITHUB_COMMENT_LIMIT == MAX_COMMENT_CHARS


def test_pull_head_sha_and_status_through_the_double(github: GitHubDouble) -> None:
    github.add_pull(REPO, 12, HEAD_SHA)
    with make_session(backoff_factor=0.01) as session:
        client = GitHubClient(session, token=TOKEN, api_url=github.url, timeout=2)
        assert client.pull_head_sha(REPO, 12) == HEAD_SHA
        with pytest.raises(GitHubError, match="HTTP 404: Not Found"):
            client.pull_head_sha(REPO, 13)
        client.set_commit_status(
            REPO, HEAD_SHA, state="pending", context="c", description="d" * 300
        )
        assert len(github.state.statuses[0]["description"]) == 140
        with pytest.raises(ConfigError):
            client.set_commit_status(REPO, HEAD_SHA, state="maybe", context="c", description="")


def test_transport_failure_is_a_github_error_without_the_token() -> None:
    with make_session(retries=0) as session:
        client = GitHubClient(session, token=TOKEN, api_url="http://127.0.0.1:9", timeout=1)
        with pytest.raises(GitHubError) as info:
            client.pull_head_sha(REPO, 1)
    assert "connection failed" in str(info.value)
    assert TOKEN not in str(info.value)
    assert info.value.__cause__ is None  # requests' exception (with its URL) is not chained


def test_session_uses_one_adapter_with_github_retry() -> None:
    with make_session(retries=2) as session:
        adapter = session.get_adapter("https://api.github.com")
        assert isinstance(adapter, requests.adapters.HTTPAdapter)
        assert isinstance(adapter.max_retries, GitHubRetry)
        assert adapter.max_retries.total == 2


def test_the_double_flags_requests_and_answers_that_break_the_openapi_description() -> None:
    class Broken(GitHubDouble):
        def handle(
            self, method: str, path: str, *args: object
        ) -> tuple[int, dict[str, str], object]:
            if path.endswith("/pulls/1"):
                return 200, {}, {"number": "one"}  # not a pull request
            return super().handle(method, path, *args)  # type: ignore[arg-type]

    with Broken(token=TOKEN) as double, requests.Session() as session:
        headers = {
            "Authorization": f"Bearer {TOKEN}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        session.post(
            f"{double.url}/repos/o/r/issues/1/comments", json={"bdy": "x"}, headers=headers
        )
        session.get(f"{double.url}/repos/o/r/pulls/1", headers=headers)
        session.get(f"{double.url}/repos/o/r/issues/1/comments?per_page=100")
    assert [v.split(":")[0] for v in double.violations] == [
        "request POST /repos/o/r/issues/1/comments",  # its own 422 answer was valid
        "response 200 to GET /repos/o/r/pulls/1",
        "GET /repos/o/r/issues/1/comments",  # no Accept
        "GET /repos/o/r/issues/1/comments",  # no API version
    ]
