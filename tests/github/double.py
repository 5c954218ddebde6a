"""A local GitHub REST double: real HTTP on 127.0.0.1, checked against GitHub's OpenAPI subset.

It stores issues, issue comments, pull requests and commit statuses; paginates with ``link``
headers as GitHub does (``per_page`` up to 100, default 30); answers with GitHub's own documented
examples (from the committed subset) filled with the stored data; and refuses what GitHub refuses
(bad credentials, read-only tokens writing, bodies over 65536 characters, unknown API versions).
Every request it receives and every response it sends is validated against
``tests/fixtures/openapi/github-subset.json``; violations are collected in ``violations`` (the
fixture fails the test on any).

Faults (:meth:`GitHubDouble.inject`) reproduce what GitHub and networks do: 500, 502, 429 with
``retry-after``, 403 secondary rate limit, a response slower than the client's timeout, and a
connection reset; optionally *after* the request was processed (the comment was stored, then
the answer was lost), which is what makes a blind POST retry create two comments. Faults after
the headers: ``cut`` sends the real answer's headers and half its body, then resets the
connection; ``stall`` sends the same and then holds the rest back past the client's timeout
(both always process the request first: a PATCH is applied, a POST stored). ``foreign-link``
answers a list with a ``link`` whose next page is on another origin (``target``). ``barrier``
holds each matching request until ``parties`` of them are waiting (or ``delay`` passed), then
answers them normally: two clients started together then really overlap (both list before
either creates).

Identity: by default the token is an installation token like the Actions ``GITHUB_TOKEN``:
``GET /user`` is refused with GitHub's 403 "Resource not accessible by integration" and what it
writes is by ``github-actions[bot]``. ``login=NAME`` makes it a personal token of ``NAME``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30Validator

SUBSET = Path(__file__).resolve().parent.parent / "fixtures/openapi/github-subset.json"
SPEC: dict[str, Any] = json.loads(SUBSET.read_text(encoding="utf-8"))
OPENAPI = OpenAPI.from_dict(SPEC)
EXAMPLES = SPEC["components"]["examples"]
BASIC_ERROR = OAS30Validator(SPEC["components"]["schemas"]["basic-error"])
DOCS = "https://docs.github.com/rest"

_COMMENTS = re.compile(r"^/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/issues/(?P<n>\d+)/comments$")
_COMMENT = re.compile(r"^/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/issues/comments/(?P<id>\d+)$")
_ISSUES = re.compile(r"^/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/issues$")
_ISSUE = re.compile(r"^/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/issues/(?P<n>\d+)$")
_PULL = re.compile(r"^/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/pulls/(?P<n>\d+)$")
_STATUS = re.compile(r"^/repos/(?P<o>[^/]+)/(?P<r>[^/]+)/statuses/(?P<sha>[^/]+)$")
BOT = "github-actions[bot]"


@dataclass
class Fault:
    """One injected failure for requests matching ``method`` and ``path`` (a regex)."""

    kind: str
    """``500``, ``502``, ``429``, ``403-secondary``, ``403-ratelimit``, ``403``, ``slow``,
    ``reset``, ``cut``, ``stall``, ``foreign-link``, ``barrier``."""
    method: str = ".*"
    path: str = ".*"
    times: int = 1
    after_processing: bool = False
    retry_after: int = 1
    delay: float = 3.0
    """How long a ``slow`` answer (or a ``stall``'s rest of the body) is held back."""
    target: str = ""
    """The origin a ``foreign-link`` points the next page to."""
    parties: int = 2
    """How many requests a ``barrier`` waits for before letting them all through."""
    gate: threading.Barrier | None = None


@dataclass
class Seen:
    """A request as the double received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class State:
    comments: dict[tuple[str, str, int], list[dict[str, Any]]] = field(default_factory=dict)
    pulls: dict[tuple[str, str, int], tuple[str, str, str]] = field(default_factory=dict)
    """(head sha, head repository full name, head branch) per pull request."""
    statuses: list[dict[str, Any]] = field(default_factory=list)
    issues: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    next_id: int = 1000


class GitHubDouble:
    """Start with ``with GitHubDouble(token=...) as gh:``; ``gh.url`` is the API base URL."""

    def __init__(self, *, token: str, read_only: bool = False, login: str | None = None) -> None:
        self.token = token
        self.read_only = read_only
        self.login = login
        """None: an integration token (``GET /user`` refused, writes as the Actions bot)."""
        self.state = State()
        self.faults: list[Fault] = []
        self.requests: list[Seen] = []
        self.violations: list[str] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._open: set[socket.socket] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), daemon=True
        )
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> GitHubDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()  # wake any "slow" handler so every thread ends
        self._server.shutdown()
        with self._lock:
            for connection in self._open:  # end idle keep-alive reads
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._thread.join()

    # --- test-facing helpers -----------------------------------------------------------------

    def inject(self, kind: str, **kwargs: Any) -> None:
        fault = Fault(kind, **kwargs)
        if kind == "barrier":
            fault.gate = threading.Barrier(fault.parties, timeout=fault.delay)
        with self._lock:
            self.faults.append(fault)

    def add_pull(
        self,
        repo: str,
        number: int,
        head_sha: str,
        *,
        head_repo: str | None = None,
        head_ref: str = "feature",
    ) -> None:
        """A pull request whose head is ``head_ref`` of ``head_repo`` (default: ``repo``)."""
        owner, name = repo.split("/")
        self.state.pulls[(owner, name, number)] = (head_sha, head_repo or repo, head_ref)

    def add_comment(self, repo: str, number: int, body: str, login: str = "someone") -> int:
        """A comment written by ``login`` (perfguard's own are by :data:`BOT` by default)."""
        owner, name = repo.split("/")
        with self._lock:
            return self._store_comment(owner, name, number, body, login)["id"]  # type: ignore[no-any-return]

    def add_issue(
        self,
        repo: str,
        title: str,
        body: str,
        *,
        labels: tuple[str, ...] = (),
        login: str = "someone",
        state: str = "open",
    ) -> int:
        """An issue written by ``login``; returns its number."""
        owner, name = repo.split("/")
        with self._lock:
            issue = self._store_issue(owner, name, title, body, list(labels), login)
            if state == "closed":
                issue.update(state="closed", state_reason="completed", closed_at=_now())
            return int(issue["number"])

    def issues(self, repo: str) -> list[dict[str, Any]]:
        owner, name = repo.split("/")
        return list(self.state.issues.get((owner, name), []))

    def comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        owner, name = repo.split("/")
        return list(self.state.comments.get((owner, name, number), []))

    def bodies_with(self, repo: str, number: int, marker: str) -> list[str]:
        return [c["body"] for c in self.comments(repo, number) if marker in c["body"]]

    def all_traffic_text(self) -> Iterator[str]:
        """Everything perfguard sent except the Authorization header (for leak checks)."""
        for seen in self.requests:
            yield seen.path + json.dumps(seen.query)
            yield json.dumps(
                {k: v for k, v in seen.headers.items() if k.lower() != "authorization"}
            )
            yield seen.body.decode("utf-8", errors="replace")

    # --- behaviour ----------------------------------------------------------------------------

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if (
                    fault.times > 0
                    and re.fullmatch(fault.method, method)
                    and re.search(fault.path, path)
                ):
                    fault.times -= 1
                    return fault
        return None

    def _store_comment(
        self, owner: str, name: str, number: int, body: str, login: str
    ) -> dict[str, Any]:
        self.state.next_id += 1
        cid = self.state.next_id
        comment = copy.deepcopy(EXAMPLES["issue-comment"]["value"])
        base = f"{self.url}/repos/{owner}/{name}"
        comment.update(
            id=cid,
            node_id=f"IC_{cid}",
            url=f"{base}/issues/comments/{cid}",
            html_url=f"https://github.com/{owner}/{name}/pull/{number}#issuecomment-{cid}",
            issue_url=f"{base}/issues/{number}",
            body=body,
            created_at=_now(),
            updated_at=_now(),
        )
        comment["user"]["login"] = login
        self.state.comments.setdefault((owner, name, number), []).append(comment)
        return comment

    def _store_issue(
        self, owner: str, name: str, title: str, body: str, labels: list[str], login: str
    ) -> dict[str, Any]:
        """A new issue, numbered after every issue and pull request of the repository."""
        stored = self.state.issues.setdefault((owner, name), [])
        pulls = [n for (o, r, n) in self.state.pulls if (o, r) == (owner, name)]
        number = max([0, *pulls, *(i["number"] for i in stored)]) + 1
        self.state.next_id += 1
        issue = copy.deepcopy(EXAMPLES["issue"]["value"])
        issue.pop("pull_request", None)  # the example is a pull request's issue
        # GitHub answers an open issue's state_reason with null; the schema's nullable enum
        # without null in it makes the validator refuse that, and the field is optional.
        issue.pop("state_reason", None)
        base = f"{self.url}/repos/{owner}/{name}"
        template = issue["labels"][0]
        issue.update(
            id=self.state.next_id,
            node_id=f"I_{self.state.next_id}",
            number=number,
            title=title,
            body=body,
            state="open",
            closed_at=None,
            closed_by=None,
            labels=[
                {**template, "name": label, "url": f"{base}/labels/{label}"} for label in labels
            ],
            url=f"{base}/issues/{number}",
            html_url=f"https://github.com/{owner}/{name}/issues/{number}",
            created_at=_now(),
            updated_at=_now(),
        )
        issue["user"] = {**issue["user"], "login": login}
        stored.append(issue)
        return issue

    def _issues(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        payload: Any,
        key: tuple[str, str],
    ) -> tuple[int, dict[str, str], Any]:
        """``GET``/``POST /repos/{o}/{r}/issues``: list (labels, state filters) or create."""
        if method == "GET":
            wanted = [x for x in query.get("labels", [""])[0].split(",") if x]
            state = query.get("state", ["open"])[0]
            items = [
                issue
                for issue in self.state.issues.get(key, [])
                if (state == "all" or issue["state"] == state)
                and all(w in {label["name"] for label in issue["labels"]} for w in wanted)
            ]
            return self._page(path, query, items)
        if len(payload.get("body") or "") > 65536:
            return 422, {}, _validation_failed("body is too long (maximum is 65536 characters)")
        labels = [x if isinstance(x, str) else x["name"] for x in payload.get("labels", [])]
        issue = self._store_issue(
            *key, payload["title"], payload.get("body") or "", labels, self.login or BOT
        )
        return 201, {"location": issue["url"]}, issue

    def _issue(
        self, key: tuple[str, str], number: int, payload: Any
    ) -> tuple[int, dict[str, str], Any]:
        """``PATCH /repos/{o}/{r}/issues/{n}``: title, body, state (and its reason)."""
        for issue in self.state.issues.get(key, []):
            if issue["number"] == number:
                if len(payload.get("body") or "") > 65536:
                    return (
                        422,
                        {},
                        _validation_failed("body is too long (maximum is 65536 characters)"),
                    )
                for name in ("title", "body"):
                    if isinstance(payload.get(name), str):
                        issue[name] = payload[name]
                if payload.get("state") in ("open", "closed"):
                    closing = payload["state"] == "closed"
                    issue.update(
                        state=payload["state"],
                        state_reason=payload.get("state_reason", "completed")
                        if closing
                        else "reopened",
                        closed_at=_now() if closing else None,
                    )
                issue["updated_at"] = _now()
                return 200, {}, issue
        return 404, {}, {"message": "Not Found", "documentation_url": DOCS, "status": "404"}

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, dict[str, str], Any]:
        """The API itself: (status, headers, JSON body)."""
        if headers.get("authorization") != f"Bearer {self.token}":
            return (
                401,
                {},
                {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"},
            )
        version = headers.get("x-github-api-version")
        if version is not None and version != "2022-11-28":
            return (
                400,
                {},
                {"message": f"API version {version} is not supported.", "documentation_url": DOCS},
            )
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            return 400, {}, {"message": "Problems parsing JSON", "documentation_url": DOCS}
        if "/statuses/" in path:
            needs = {"POST": "state"}.get(method)
        elif _ISSUES.match(path):
            needs = {"POST": "title"}.get(method)
        elif _ISSUE.match(path):
            needs = None  # an issue PATCH may change any of title, body, state
        else:
            needs = {"POST": "body", "PATCH": "body"}.get(method)
        if needs and not (isinstance(payload, dict) and isinstance(payload.get(needs), str)):
            return 422, {}, _validation_failed(f"{needs} wasn't supplied")
        if method in ("POST", "PATCH", "DELETE") and self.read_only:
            return (
                403,
                {},
                {
                    "message": "Resource not accessible by integration",
                    "documentation_url": DOCS,
                    "status": "403",
                },
            )
        if path == "/user":
            return self._user()
        with self._lock:
            if m := _ISSUES.match(path):
                return self._issues(method, path, query, payload, (m["o"], m["r"]))
            if (m := _ISSUE.match(path)) and method == "PATCH":
                return self._issue((m["o"], m["r"]), int(m["n"]), payload or {})
            if m := _COMMENTS.match(path):
                key = (m["o"], m["r"], int(m["n"]))
                if method == "GET":
                    return self._page(path, query, self.state.comments.get(key, []))
                if len(payload["body"]) > 65536:
                    return (
                        422,
                        {},
                        _validation_failed("body is too long (maximum is 65536 characters)"),
                    )
                return (
                    201,
                    {"location": ""},
                    self._store_comment(*key, payload["body"], self.login or BOT),
                )
            if m := _COMMENT.match(path):
                for comments in self.state.comments.values():
                    for comment in comments:
                        if comment["id"] == int(m["id"]) and method == "DELETE":
                            comments.remove(comment)
                            return 204, {}, None
                        if comment["id"] == int(m["id"]):
                            if len(payload["body"]) > 65536:
                                return (
                                    422,
                                    {},
                                    _validation_failed(
                                        "body is too long (maximum is 65536 characters)"
                                    ),
                                )
                            comment["body"] = payload["body"]
                            comment["updated_at"] = _now()
                            return 200, {}, comment
                return 404, {}, {"message": "Not Found", "documentation_url": DOCS, "status": "404"}
            if m := _PULL.match(path):
                head = self.state.pulls.get((m["o"], m["r"], int(m["n"])))
                if head is None:
                    return (
                        404,
                        {},
                        {"message": "Not Found", "documentation_url": DOCS, "status": "404"},
                    )
                pull = copy.deepcopy(EXAMPLES["pull-request"]["value"])
                pull["number"] = int(m["n"])
                sha, head_repo, head_ref = head
                pull["head"].update(
                    sha=sha, ref=head_ref, label=f"{head_repo.split('/')[0]}:{head_ref}"
                )
                pull["head"]["repo"].update(
                    full_name=head_repo,
                    name=head_repo.split("/")[1],
                    fork=head_repo != f"{m['o']}/{m['r']}",
                )
                pull["head"]["repo"]["owner"]["login"] = head_repo.split("/")[0]
                pull[
                    "requested_teams"
                ] = []  # GitHub's example lacks team.type, required by the schema
                return 200, {}, pull
            if m := _STATUS.match(path):
                status = copy.deepcopy(EXAMPLES["status"]["value"])
                status.update(
                    state=payload["state"],
                    context=payload.get("context", "default"),
                    description=payload.get("description"),
                    target_url=payload.get("target_url"),
                )
                self.state.statuses.append({"sha": m["sha"], **status})
                return 201, {"location": ""}, status
        return 404, {}, {"message": "Not Found", "documentation_url": DOCS, "status": "404"}

    def _user(self) -> tuple[int, dict[str, str], Any]:
        """``GET /user``: the personal token's user, or GitHub's 403 to an integration token."""
        if self.login is None:
            return (
                403,
                {},
                {
                    "message": "Resource not accessible by integration",
                    "documentation_url": f"{DOCS}/users/users#get-the-authenticated-user",
                    "status": "403",
                },
            )
        example = "private-user-response-with-public-and-private-profile-information"
        user = copy.deepcopy(EXAMPLES[example]["value"])
        user.update(login=self.login, user_view_type="private")
        return 200, {}, user

    def _page(
        self, path: str, query: dict[str, list[str]], items: list[dict[str, Any]]
    ) -> tuple[int, dict[str, str], Any]:
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        last = max(1, -(-len(items) // per_page))
        links = []

        def link(number: int, rel: str) -> str:
            return f'<{self.url}{path}?per_page={per_page}&page={number}>; rel="{rel}"'

        if page > 1:
            links += [link(page - 1, "prev"), link(1, "first")]
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        headers = {"link": ", ".join(links)} if links else {}
        return 200, headers, items[(page - 1) * per_page : page * per_page]

    # --- validation ---------------------------------------------------------------------------

    def validate_request(self, seen: Seen) -> None:
        if seen.headers.get("accept") != "application/vnd.github+json":
            self.violations.append(
                f"{seen.method} {seen.path}: Accept is not application/vnd.github+json"
            )
        if seen.headers.get("x-github-api-version") != "2022-11-28":
            self.violations.append(f"{seen.method} {seen.path}: no X-GitHub-Api-Version")
        try:
            OPENAPI.validate_request(self._mock_request(seen))
        except Exception as exc:
            self.violations.append(f"request {seen.method} {seen.path}: {_why(exc)}")

    def validate_response(
        self, seen: Seen, status: int, headers: dict[str, str], data: Any
    ) -> None:
        if status >= 400 and not self._documented(seen, status):
            errors = list(BASIC_ERROR.iter_errors(data))
            if errors:
                self.violations.append(f"error answer {status}: {errors[0].message}")
            return
        payload = b"" if data is None else json.dumps(data).encode()
        try:
            OPENAPI.validate_response(
                self._mock_request(seen),
                MockResponse(payload, status_code=status, headers=headers),
            )
        except Exception as exc:
            self.violations.append(f"response {status} to {seen.method} {seen.path}: {_why(exc)}")

    def _documented(self, seen: Seen, status: int) -> bool:
        for template, operations in SPEC["paths"].items():
            pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
            if re.match(pattern, seen.path):
                operation = operations.get(seen.method.lower(), {})
                return str(status) in operation.get("responses", {})
        return False

    def _mock_request(self, seen: Seen) -> MockRequest:
        return MockRequest(
            "https://api.github.com",
            seen.method.lower(),
            seen.path,
            args={k: v[0] for k, v in seen.query.items()},
            headers=seen.headers,
            data=seen.body or None,
        )


def _handler_for(double: GitHubDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            with double._lock:
                double._open.add(self.connection)

        def finish(self) -> None:
            with double._lock:
                double._open.discard(self.connection)
            super().finish()

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            seen = Seen(
                self.command,
                split.path,
                parse_qs(split.query),
                {k.lower(): v for k, v in self.headers.items()},
                body,
            )
            with double._lock:
                double.requests.append(seen)
            double.validate_request(seen)
            fault = double._take_fault(self.command, split.path)
            if fault is not None and fault.gate is not None:
                with contextlib.suppress(threading.BrokenBarrierError):
                    fault.gate.wait()  # until the other party arrives (or delay passed)
                fault = None
            after_headers = fault is not None and fault.kind in ("cut", "stall", "foreign-link")
            early = None if fault is None or after_headers else fault
            if early is not None and not early.after_processing and self._fail(early):
                return
            status, headers, data = double.handle(
                self.command, split.path, seen.query, seen.headers, body
            )
            if early is not None and early.after_processing and self._fail(early):
                return
            if fault is not None and fault.kind == "foreign-link":
                headers = {
                    **headers,
                    "link": f'<{fault.target}{split.path}?per_page=100&page=2>; rel="next"',
                }
            double.validate_response(seen, status, headers, data)
            self._send(status, headers, data, fault if after_headers else None)

        def _fail(self, fault: Fault) -> bool:
            """Act out a fault; True when the answer was the fault itself."""
            if fault.kind == "reset":
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                self.rfile.close()
                self.connection.close()
                return True
            if fault.kind == "slow":
                # Answer nothing until past the client's timeout (ends early at shutdown).
                double._release.wait(fault.delay)
                self.close_connection = True
                return True
            answers = {
                "500": (500, {}, {"message": "Server Error"}),
                "502": (502, {}, {"message": "Server Error"}),
                "429": (
                    429,
                    {"retry-after": str(fault.retry_after)},
                    {"message": "API rate limit exceeded", "documentation_url": DOCS},
                ),
                "403-secondary": (
                    403,
                    {"retry-after": str(fault.retry_after)},
                    {
                        "message": "You have exceeded a secondary rate limit."
                        " Please wait a few minutes before you try again.",
                        "documentation_url": DOCS,
                    },
                ),
                "403-ratelimit": (
                    403,
                    {
                        "x-ratelimit-remaining": "0",
                        "x-ratelimit-limit": "5000",
                        "x-ratelimit-reset": str(int(time.time()) + fault.retry_after),
                    },
                    {
                        "message": "API rate limit exceeded for installation.",
                        "documentation_url": DOCS,
                    },
                ),
                "403": (
                    403,
                    {},
                    {
                        "message": "Resource not accessible by integration",
                        "documentation_url": DOCS,
                    },
                ),
            }
            status, headers, data = answers[fault.kind]
            self._send(status, headers, data)
            return True

        def _send(
            self, status: int, headers: dict[str, str], data: Any, fault: Fault | None = None
        ) -> None:
            """The answer; a ``cut`` or ``stall`` fault sends only the headers and half the body."""
            payload = b"" if data is None else json.dumps(data).encode()
            if fault is not None and fault.kind in ("cut", "stall"):
                self._send_half(status, headers, payload, fault)
                return
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json; charset=utf-8")
                self.send_header("content-length", str(len(payload)))
                self.send_header("x-github-api-version-selected", "2022-11-28")
                for key, value in headers.items():
                    if value:
                        self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                self.close_connection = True  # the client gave up (timeout); nothing to do

        def _send_half(
            self, status: int, headers: dict[str, str], payload: bytes, fault: Fault
        ) -> None:
            self.close_connection = True
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json; charset=utf-8")
                self.send_header("content-length", str(len(payload)))
                for key, value in headers.items():
                    if value:
                        self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                if fault.kind == "stall":
                    double._release.wait(fault.delay)  # past the client's read timeout
                    return
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.rfile.close()
                self.connection.close()
            except OSError:
                pass  # the client gave up first; nothing to do

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_PATCH(self) -> None:
            self._serve()

        def do_DELETE(self) -> None:
            self._serve()

    return Handler


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _validation_failed(message: str) -> dict[str, Any]:
    return {
        "message": "Validation Failed",
        "errors": [
            {"resource": "IssueComment", "code": "custom", "field": "body", "message": message}
        ],
        "documentation_url": DOCS,
        "status": "422",
    }


def _why(exc: Exception) -> str:
    cause = exc.__cause__ or exc
    errors = getattr(cause, "schema_errors", None)
    if errors:
        first = errors[0]
        return f"{list(first.absolute_path)}: {first.message[:200]}"
    return f"{type(cause).__name__}: {str(cause)[:200]}"
