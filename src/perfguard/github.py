"""GitHub REST over one requests Session: the sticky PR comment, a PR's head sha, commit status.

The session is a parameter (tests hand one pointed at a local double). Transient faults are
retried by one policy, :class:`GitHubRetry`, honouring ``retry-after`` and the ``x-ratelimit-*``
headers: urllib3 applies it up to the response headers, and :meth:`GitHubClient._request`
applies the same policy to a body cut or stalled after the headers (which urllib3 cannot see,
requests reads the body after urllib3 returned). Every call goes through that one method. The
policy has a deadline (``budget``), so the whole command's retrying is bounded. POST is never
retried blindly: after a failed create the comments are listed again and the marked comment, if
the failed request did create it, is updated instead. Only comments written by the token's own
login are ours (``GET /user``; the Actions bot for the workflow token); and after every write
the newest of ours is kept and the others are deleted, so overlapping runs converge to one
comment. A pagination
``link`` to another origin is refused, so the token only ever goes to the API base URL. Every
requests exception becomes a :class:`~perfguard.errors.GitHubError` here, with the token
redacted from its message.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests
import requests.adapters
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from perfguard.errors import ConfigError, GitHubError, GitHubTransientError
from perfguard.gitrefs import is_full_sha
from perfguard.report.fit import GITHUB_COMMENT_LIMIT, fit_comment_body

MAX_COMMENT_CHARS = GITHUB_COMMENT_LIMIT
"""GitHub refuses a longer comment body with 422 (counted by :mod:`perfguard.report.fit`)."""

DEFAULT_API_URL = "https://api.github.com"
ACTIONS_BOT = "github-actions[bot]"
"""Who writes with the Actions ``GITHUB_TOKEN``, which GitHub refuses ``GET /user`` (403)."""
API_VERSION = "2022-11-28"
DEFAULT_RETRY_BUDGET = 90.0
"""Seconds after which no call is retried or started any more (the command then exits 3)."""
MAX_STATUS_DESCRIPTION = 140
STATUS_STATES = ("error", "failure", "pending", "success")

_SPENT = "; the retry budget is spent (--retry-budget)"
_TRANSIENT_5XX = frozenset({500, 502, 503, 504})
_REPO_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def is_rate_limited(status: int, headers: Mapping[str, str]) -> bool:
    """GitHub's primary and secondary rate limits answer 403 or 429 (see RESEARCH.md)."""
    if status == 429:
        return True
    if status != 403:
        return False
    return bool(headers.get("retry-after")) or headers.get("x-ratelimit-remaining") == "0"


class GitHubRetry(Retry):
    """urllib3 Retry that knows GitHub's rate-limit headers and never repeats a POST blindly.

    - 429, and 403 with ``retry-after`` or ``x-ratelimit-remaining: 0``: wait as told (capped
      at ``max_wait``) and retry, any method (the request was not processed).
    - 500/502/503/504 and read errors: retried for idempotent methods only.
    - Any other 403 (permissions) is returned at once.
    - ``deadline`` (a ``time.monotonic()`` instant): past it the retries are exhausted, and no
      wait lasts beyond it, so a command's whole retrying is bounded whatever GitHub asks.
    """

    def __init__(
        self, *args: Any, max_wait: float = 60.0, deadline: float | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_wait = max_wait
        self.deadline = deadline

    def new(self, **kw: Any) -> GitHubRetry:
        retry = super().new(**kw)
        assert isinstance(retry, GitHubRetry)
        retry.max_wait = self.max_wait
        retry.deadline = self.deadline
        return retry

    def remaining(self) -> float:
        """Seconds left before the deadline (infinite without one)."""
        if self.deadline is None:
            return float("inf")
        return self.deadline - time.monotonic()

    def is_exhausted(self) -> bool:
        return super().is_exhausted() or self.remaining() <= 0

    def get_backoff_time(self) -> float:
        return max(0.0, min(super().get_backoff_time(), self.remaining()))

    def _is_method_retryable(self, method: str) -> bool:
        return method.upper() != "POST"

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code in (403, 429):
            return True  # whether it is a rate limit is decided in increment(), with headers
        return status_code in _TRANSIENT_5XX and self._is_method_retryable(method)

    def increment(  # type: ignore[override]
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Retry:
        if (
            response is not None
            and response.status == 403
            and not is_rate_limited(403, response.headers)
        ):
            # A permission error: hand the response back as it is (raise_on_status=False).
            raise MaxRetryError(_pool, url or "", None)
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        """``retry-after`` first, then ``x-ratelimit-reset`` when nothing remains; capped."""
        cap = max(0.0, min(self.max_wait, self.remaining()))
        header = response.headers.get("retry-after")
        if header:
            return min(self.parse_retry_after(header), cap)
        if response.headers.get("x-ratelimit-remaining") == "0":
            reset = response.headers.get("x-ratelimit-reset", "")
            if reset.isdigit():
                return min(max(0.0, float(reset) - time.time()), cap)
        return None


def make_session(
    *,
    retries: int = 4,
    backoff_factor: float = 1.0,
    backoff_max: float = 30.0,
    max_wait: float = 60.0,
    budget: float | None = DEFAULT_RETRY_BUDGET,
) -> requests.Session:
    """One Session for all calls, with GitHub-aware retries mounted for http and https.

    ``budget`` seconds from now on, nothing is retried (None: no deadline).
    """
    retry = GitHubRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        backoff_factor=backoff_factor,
        backoff_max=backoff_max,
        raise_on_status=False,
        respect_retry_after_header=True,
        max_wait=max_wait,
        deadline=None if budget is None else time.monotonic() + budget,
    )
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def redact(text: str, token: str | None) -> str:
    """Remove the token from any text that could reach a user or a log."""
    if token:
        text = text.replace(token, "***")
    return text


def parse_repo(repo: str) -> tuple[str, str]:
    """``OWNER/NAME`` -> (owner, name), or a clear error."""
    if not _REPO_RE.match(repo) or any(part in (".", "..") for part in repo.split("/")):
        raise ConfigError(f"--repo must look like OWNER/NAME, got {repo!r}")
    owner, name = repo.split("/")
    return owner, name


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in: what a token is bound to."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def next_link(link_header: str | None) -> str | None:
    """The ``rel="next"`` URL of a ``link`` header, if any."""
    if not link_header:
        return None
    for part in link_header.split(","):
        url, _, params = part.partition(";")
        if re.search(r'rel="?next"?', params):
            return url.strip().strip("<>")
    return None


@dataclass(frozen=True, slots=True)
class Comment:
    """An issue comment as GitHub returns it (the fields perfguard uses)."""

    id: int
    """GitHub numbers comments in the order it stores them: the highest id is the newest."""
    body: str
    html_url: str
    author: str = ""
    """``user.login``: who wrote it."""

    @property
    def where(self) -> str:
        return self.html_url or str(self.id)


@dataclass(frozen=True, slots=True)
class Marked:
    """The PR's comments that carry the marker, split by author."""

    ours: tuple[Comment, ...]
    """Written by the token's login: candidates for the sticky comment, oldest first."""
    foreign: tuple[Comment, ...]
    """Written by anyone else: never edited or deleted."""


@dataclass(frozen=True, slots=True)
class Issue:
    """An issue as GitHub returns it (the fields the alerts use)."""

    number: int
    title: str
    body: str
    state: str
    """``open`` or ``closed``."""
    html_url: str
    author: str = ""


@dataclass(frozen=True, slots=True)
class PullHead:
    """Where a pull request's head is: what an untrusted artifact's claim is checked against."""

    sha: str
    repo: str | None
    """``head.repo.full_name``; None when the head repository was deleted."""
    ref: str
    """``head.ref``, the head branch."""


@dataclass(frozen=True, slots=True)
class Upsert:
    """What :meth:`GitHubClient.upsert_sticky_comment` did."""

    action: str
    """``created``, ``updated``, or ``superseded`` (a concurrent run's newer comment is kept)."""
    comment: Comment
    """The one marked comment of ours that remains."""
    deleted: tuple[int, ...] = ()
    """Our other marked comments (duplicates), deleted."""
    foreign: tuple[Comment, ...] = ()
    """Marked comments by other logins, left untouched."""


class GitHubClient:
    """The few REST calls perfguard needs; every call has a timeout."""

    def __init__(
        self,
        session: requests.Session,
        *,
        token: str | None,
        api_url: str = DEFAULT_API_URL,
        timeout: float = 10.0,
        create_attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        create_backoff: float = 1.0,
    ) -> None:
        self._session = session
        self._token = token
        self.api_url = api_url.rstrip("/")
        self._timeout = timeout
        self._create_attempts = create_attempts
        self._sleep = sleep
        self._create_backoff = create_backoff

    # --- plumbing ---------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "perfguard",
        }
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _policy(self, url: str) -> Retry:
        """The session's retry policy for ``url`` (the one urllib3 applies up to the headers)."""
        adapter = self._session.get_adapter(url)
        retry = getattr(adapter, "max_retries", None)
        return retry if isinstance(retry, Retry) else Retry(0, read=False)

    def remaining(self) -> float:
        """Seconds left of the retry budget (infinite when the session has no deadline)."""
        policy = self._policy(self.api_url)
        return policy.remaining() if isinstance(policy, GitHubRetry) else float("inf")

    def _request(self, method: str, url: str, json: Any = None) -> requests.Response:
        """One call with its body read; transient faults retried; failures become GitHubError.

        urllib3 retries what happens up to the response headers. A body cut or stalled after
        them surfaces only here, when it is read, so it is retried here by the same policy
        (same counts, backoff and deadline): an idempotent method again, a POST never (the
        caller reconciles). The token is redacted from every message.
        """
        retry = self._policy(url)
        while True:
            remaining = self.remaining()
            if remaining <= 0:
                raise GitHubTransientError(
                    f"{method} {url} not sent: the retry budget is spent (--retry-budget)"
                )
            timeout = max(0.05, min(self._timeout, remaining))
            try:
                response = self._session.request(
                    method,
                    url,
                    headers=self._headers(),
                    json=json,
                    timeout=timeout,
                    stream=True,
                )
            except requests.RequestException as exc:
                # cause dropped: requests' exception holds the request, Authorization header
                # and all; the reason (redacted) is in the message.
                raise GitHubTransientError(
                    self._failed(method, url, exc, "after retries")
                ) from None
            try:
                response.content  # noqa: B018 - read the whole body now, inside the retry loop
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                response.close()
                fault = _body_fault(exc)
                try:
                    retry = retry.increment(method, url, error=fault)
                except HTTPError:
                    # cause dropped: as above, requests' exception holds the request
                    raise GitHubTransientError(
                        self._failed(method, url, exc, "while reading the answer")
                    ) from None
                retry.sleep()
                continue
            break
        if response.status_code >= 400:
            message = redact(_status_message(method, url, response), self._token)
            transient = response.status_code in _TRANSIENT_5XX or is_rate_limited(
                response.status_code, response.headers
            )
            if transient and self.remaining() <= 0:
                message += _SPENT
            kind = GitHubTransientError if transient else GitHubError
            raise kind(message, status=response.status_code)
        return response

    def _failed(self, method: str, url: str, exc: Exception, when: str) -> str:
        """The one-line, redacted reason for a transport failure."""
        reason = "timed out" if _is_timeout(exc) else "connection failed"
        spent = _SPENT if self.remaining() <= 0 else ""
        return redact(f"{method} {url} failed: {reason} ({when}){spent}", self._token)

    def url(self, path: str) -> str:
        return f"{self.api_url}{path}"

    # --- comments ---------------------------------------------------------------------------

    def comments_url(self, repo: str, pr: int) -> str:
        owner, name = parse_repo(repo)
        return self.url(f"/repos/{quote(owner)}/{quote(name)}/issues/{pr}/comments")

    def comment_url(self, repo: str, comment_id: int) -> str:
        owner, name = parse_repo(repo)
        return self.url(f"/repos/{quote(owner)}/{quote(name)}/issues/comments/{comment_id}")

    def list_comments(self, repo: str, pr: int) -> Iterator[Comment]:
        """Every comment of the PR, following the ``link`` header page by page."""
        for item in self._pages(self.comments_url(repo, pr) + "?per_page=100", "comments"):
            yield _comment(item)

    def _pages(self, first: str, what: str) -> Iterator[Any]:
        """The items of a list answer, page by page along the ``link`` header (same origin)."""
        url: str | None = first
        pages = 0
        while url is not None:
            pages += 1
            if pages > 1000:
                raise GitHubError(f"more than 1000 pages of {what}; giving up")
            response = self._request("GET", url)
            yield from _json(response, list)
            url = next_link(response.headers.get("link"))
            if url is not None and origin(url) != origin(self.api_url):
                # the token is for the API base URL only; a link elsewhere is not followed
                raise GitHubError(
                    redact(
                        f"GET {response.url}: its link header points to another origin"
                        f" ({url}), not {self.api_url}; refusing to send the token there",
                        self._token,
                    )
                )

    def token_login(self) -> str:
        """The login this token writes as, which the sticky comment's author must be.

        ``GET /user`` answers it for a personal token. GitHub refuses that call (403 "Resource
        not accessible by integration") to an installation token, which is what a workflow's
        ``GITHUB_TOKEN`` is; that token writes as ``github-actions[bot]``.
        """
        try:
            response = self._request("GET", self.url("/user"))
        except GitHubTransientError:
            raise
        except GitHubError as exc:
            if exc.status == 403:
                return ACTIONS_BOT
            raise
        login = _json(response, dict).get("login")
        if not isinstance(login, str) or not login:
            raise GitHubError("GET /user: the answer has no login")
        return login

    def marked_comments(self, repo: str, pr: int, marker: str, author: str) -> Marked:
        """Every comment carrying ``marker`` (all pages: a duplicate may be on any), by author.

        Logins compare case-insensitively, as GitHub treats them.
        """
        ours: list[Comment] = []
        foreign: list[Comment] = []
        for comment in self.list_comments(repo, pr):
            if marker in comment.body:
                mine = comment.author.casefold() == author.casefold()
                (ours if mine else foreign).append(comment)
        return Marked(tuple(sorted(ours, key=lambda c: c.id)), tuple(foreign))

    def create_comment(self, repo: str, pr: int, body: str) -> Comment:
        response = self._request("POST", self.comments_url(repo, pr), json={"body": body})
        return _comment(_json(response, dict))

    def update_comment(self, repo: str, comment_id: int, body: str) -> Comment:
        response = self._request("PATCH", self.comment_url(repo, comment_id), json={"body": body})
        return _comment(_json(response, dict))

    def delete_comment(self, repo: str, comment_id: int) -> bool:
        """Delete a comment; False if it was already gone (404: a concurrent run deleted it)."""
        try:
            self._request("DELETE", self.comment_url(repo, comment_id))
        except GitHubTransientError:
            raise
        except GitHubError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def upsert_sticky_comment(
        self, repo: str, pr: int, body: str, marker: str, *, author: str
    ) -> Upsert:
        """Leave exactly one marked comment by ``author`` on the PR, holding ``body``.

        Only comments by ``author`` (the token's login) are candidates; a marked comment by
        anyone else is reported in :attr:`Upsert.foreign` and never touched. When ours exist,
        the newest (highest id) is updated and the others deleted. A failed POST may still
        have created the comment (a 502 or a timeout after GitHub stored it), so each retry
        looks for ours again before creating. After a create the comments are listed again
        (:meth:`_converge`), so runs that created at the same time end with one comment.
        """
        if marker not in body:
            body = f"{marker}\n{body}"
        body = fit_comment_body(body)
        last_error: GitHubError | None = None
        foreign: tuple[Comment, ...] = ()
        for attempt in range(self._create_attempts):
            if attempt:
                wait = self._create_backoff * 2 ** (attempt - 1)
                if wait >= self.remaining():
                    break  # no time left for another attempt: report the last failure
                self._sleep(wait)
            marked = self.marked_comments(repo, pr, marker, author)
            foreign = marked.foreign
            if marked.ours:
                newest, *older = reversed(marked.ours)
                try:
                    updated = self.update_comment(repo, newest.id, body)
                except GitHubError as exc:
                    if exc.status != 404:
                        raise
                    last_error = exc  # a concurrent run deleted it for a newer one: look again
                    continue
                deleted = self._delete(repo, [c.id for c in older])
                return Upsert("updated", updated, deleted, foreign)
            try:
                created = self.create_comment(repo, pr, body)
            except GitHubTransientError as exc:
                last_error = exc
                continue
            return self._converge(repo, pr, marker, author, created)
        assert last_error is not None
        raise last_error

    def _converge(self, repo: str, pr: int, marker: str, author: str, created: Comment) -> Upsert:
        """After a create: keep the newest of ours, delete the rest.

        Every run decides from its own listing alone and deletes only ids below the highest it
        saw, so the newest comment is never deleted by anyone and all runs converge on it. If
        it is not the one this run created, a concurrent run posted after this one: its report
        is complete and newer, so it stays as it is and this run's comment goes.
        """
        marked = self.marked_comments(repo, pr, marker, author)
        ours = {c.id: c for c in marked.ours}
        ours.setdefault(created.id, created)  # a listing may lag behind the create
        survivor = ours[max(ours)]
        deleted = self._delete(repo, sorted(i for i in ours if i != survivor.id))
        action = "created" if survivor.id == created.id else "superseded"
        return Upsert(action, created if action == "created" else survivor, deleted, marked.foreign)

    def _delete(self, repo: str, ids: list[int]) -> tuple[int, ...]:
        """Delete our duplicate comments; ids already gone count as deleted."""
        for comment_id in ids:
            self.delete_comment(repo, comment_id)
        return tuple(ids)

    # --- issues (main-branch alerts) ------------------------------------------------------------

    def issues_url(self, repo: str) -> str:
        owner, name = parse_repo(repo)
        return self.url(f"/repos/{quote(owner)}/{quote(name)}/issues")

    def list_issues(self, repo: str, *, label: str) -> Iterator[Issue]:
        """Every issue (open and closed) with ``label``; pull requests, which GitHub lists among
        issues, are left out."""
        query = f"?labels={quote(label)}&state=all&per_page=100"
        for item in self._pages(self.issues_url(repo) + query, "issues"):
            if isinstance(item, dict) and "pull_request" not in item:
                yield _issue(item)

    def create_issue(self, repo: str, *, title: str, body: str, labels: list[str]) -> Issue:
        payload = {"title": title, "body": body, "labels": labels}
        return _issue(_json(self._request("POST", self.issues_url(repo), json=payload), dict))

    def update_issue(
        self,
        repo: str,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        state: str | None = None,
    ) -> Issue:
        """Change an issue's title, body or state (``closed`` with reason ``completed``)."""
        payload: dict[str, str] = {}
        if title is not None:
            payload["title"] = title
        if body is not None:
            payload["body"] = body
        if state is not None:
            payload["state"] = state
            if state == "closed":
                payload["state_reason"] = "completed"
        url = f"{self.issues_url(repo)}/{number}"
        return _issue(_json(self._request("PATCH", url, json=payload), dict))

    # --- pulls and statuses -------------------------------------------------------------------

    def pull_head_sha(self, repo: str, pr: int) -> str:
        """The head commit of a pull request, to check an artifact's claim against."""
        return self.pull_head(repo, pr).sha

    def pull_head(self, repo: str, pr: int) -> PullHead:
        """A pull request's head commit, repository and branch (``GET .../pulls/{n}``)."""
        owner, name = parse_repo(repo)
        response = self._request("GET", self.url(f"/repos/{quote(owner)}/{quote(name)}/pulls/{pr}"))
        data = _json(response, dict)
        head = data.get("head")
        if not isinstance(head, dict):
            raise GitHubError(f"GET pulls/{pr}: the answer has no head")
        sha, ref, head_repo = head.get("sha"), head.get("ref"), head.get("repo")
        if not isinstance(sha, str):
            raise GitHubError(f"GET pulls/{pr}: the answer has no head.sha")
        if not isinstance(ref, str):
            raise GitHubError(f"GET pulls/{pr}: the answer has no head.ref")
        full_name = head_repo.get("full_name") if isinstance(head_repo, dict) else None
        if head_repo is not None and not isinstance(full_name, str):
            raise GitHubError(f"GET pulls/{pr}: the answer has no head.repo.full_name")
        return PullHead(sha=sha, repo=full_name, ref=ref)

    def set_commit_status(
        self,
        repo: str,
        sha: str,
        *,
        state: str,
        context: str,
        description: str,
        target_url: str | None = None,
    ) -> None:
        """Create a commit status (``POST /repos/{o}/{r}/statuses/{sha}``)."""
        if state not in STATUS_STATES:
            raise ConfigError(f"status state must be one of {', '.join(STATUS_STATES)}")
        if not is_full_sha(sha):
            raise ConfigError(f"--sha must be a full 40-character commit sha, got {sha!r}")
        owner, name = parse_repo(repo)
        payload: dict[str, str] = {
            "state": state,
            "context": context,
            "description": description[:MAX_STATUS_DESCRIPTION],
        }
        if target_url:
            payload["target_url"] = target_url
        self._request(
            "POST", self.url(f"/repos/{quote(owner)}/{quote(name)}/statuses/{sha}"), json=payload
        )


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: requests and urllib3 nest the reason in args and ``reason``."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        nested += list(current.args)
        todo += [n for n in nested if isinstance(n, BaseException)]


def _is_timeout(exc: BaseException) -> bool:
    """A timeout anywhere in the chain (requests reports a retried one as ConnectionError).

    urllib3's NewConnectionError (a refused connection) subclasses ConnectTimeoutError for
    history's sake; it is not a timeout.
    """
    return any(
        isinstance(c, (requests.Timeout, ReadTimeoutError, ConnectTimeoutError, TimeoutError))
        and not isinstance(c, NewConnectionError)
        for c in _causes(exc)
    )


def _body_fault(exc: BaseException) -> HTTPError:
    """The urllib3 read error behind a failed body read, for the retry policy to count."""
    for cause in _causes(exc):
        if isinstance(cause, (ReadTimeoutError, ProtocolError)):
            return cause
    return ProtocolError(type(exc).__name__)


def _status_message(method: str, url: str, response: requests.Response) -> str:
    detail = ""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        detail = f": {data['message']}"
    hint = ""
    if response.status_code in (401, 403, 404) and not is_rate_limited(
        response.status_code, response.headers
    ):
        hint = " (check the token and its permissions: pull-requests: write, statuses: write)"
    if is_rate_limited(response.status_code, response.headers):
        hint = " (rate limited; try again later)"
    return f"{method} {url} -> HTTP {response.status_code}{detail}{hint}"


def _json(response: requests.Response, kind: type) -> Any:
    try:
        data = response.json()
    except ValueError as exc:
        raise GitHubError(f"{response.request.method} {response.url}: answer is not JSON") from exc
    if not isinstance(data, kind):
        raise GitHubError(f"{response.request.method} {response.url}: unexpected answer shape")
    return data


def _comment(item: Any) -> Comment:
    if not isinstance(item, dict) or not isinstance(item.get("id"), int):
        raise GitHubError("a comment in GitHub's answer has no id")
    body = item.get("body")
    user = item.get("user")
    login = user.get("login") if isinstance(user, dict) else None
    return Comment(
        id=item["id"],
        body=body if isinstance(body, str) else "",
        html_url=str(item.get("html_url", "")),
        author=login if isinstance(login, str) else "",
    )


def _issue(item: Any) -> Issue:
    if not isinstance(item, dict) or not isinstance(item.get("number"), int):
        raise GitHubError("an issue in GitHub's answer has no number")
    user = item.get("user")
    login = user.get("login") if isinstance(user, dict) else None
    return Issue(
        number=item["number"],
        title=str(item.get("title") or ""),
        body=item["body"] if isinstance(item.get("body"), str) else "",
        state=str(item.get("state") or "open"),
        html_url=str(item.get("html_url", "")),
        author=login if isinstance(login, str) else "",
    )
