#!/usr/bin/env python
"""The fault table of ``perfguard comment``: each GitHub fault scenario, run for real.

Every row starts ``perfguard comment`` as a subprocess (as a workflow step does) against the
local GitHub double of the tests (tests/github/double.py), with a fault injected or a state
prepared, and prints: our and foreign marked comments at the end, the exit code(s), the wall
time (interpreter start-up included), and the POST/DELETE calls seen. Run from the checkout:

    .venv/bin/python scripts/comment_faults.py

``--backoff 0.01 --timeout 0.5`` keep the retries short, so the wall time shows the number of
attempts rather than GitHub's real back-off.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from perfguard.report import sticky_marker
from tests.github.double import BOT, GitHubDouble

TOKEN = "ghs_perfguardTestToken0123456789abcdefXYZ"
REPO = "octo/app"
MARKER = sticky_marker("default")


def marked(double: GitHubDouble) -> tuple[int, int]:
    found = [c for c in double.comments(REPO, 7) if MARKER in c["body"]]
    ours = sum(c["user"]["login"] == BOT for c in found)
    return ours, len(found) - ours


def row(name: str, setup: Callable[[GitHubDouble], object], body: Path, runs: int = 1) -> None:
    with GitHubDouble(token=TOKEN) as double:
        setup(double)
        env = {**os.environ, "GITHUB_API_URL": double.url, "GITHUB_TOKEN": TOKEN}
        command = [
            sys.executable, "-m", "perfguard", "comment", "--repo", REPO, "--pr", "7",
            "--body-file", str(body), "--backoff", "0.01", "--timeout", "0.5",
        ]  # fmt: skip
        start = time.monotonic()
        processes = [
            subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for _ in range(runs)
        ]
        codes = [p.wait(timeout=300) for p in processes]
        wall = time.monotonic() - start
        for p in processes:
            assert p.stderr is not None
            p.stderr.close()
        ours, foreign = marked(double)
        calls = {m: sum(r.method == m for r in double.requests) for m in ("POST", "DELETE")}
        print(
            f"| {name} | {ours} / {foreign} | {', '.join(map(str, codes))} | {wall:.2f} s"
            f" | {calls['POST']} / {calls['DELETE']} | {len(double.violations)} |"
        )


def own(body: str) -> Callable[[GitHubDouble], object]:
    return lambda double: double.add_comment(REPO, 7, f"{MARKER}\n{body}", login=BOT)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        body = Path(folder, "report.md")
        body.write_text("report", encoding="utf-8")
        print("| fault | marked comments at end (ours / foreign) | exit | wall | POSTs / DELETEs"
              " | API violations |")  # fmt: skip
        print("|---|---|---|---|---|---|")

        def with_fault(kind: str, **where: object) -> Callable[[GitHubDouble], object]:
            def setup(double: GitHubDouble) -> None:
                own("old")(double)
                double.inject(kind, **where)

            return setup

        row("500 on list", with_fault("500", method="GET", path="/comments$"), body)
        row("reset mid-body on list", with_fault("cut", method="GET", path="/comments$"), body)
        row("body stall past the read timeout on list",
            with_fault("stall", method="GET", path="/comments$", delay=2.0), body)  # fmt: skip
        row("PATCH applied, answer cut mid-body",
            with_fault("cut", method="PATCH", after_processing=True), body)  # fmt: skip
        row("POST applied, answer lost (no comment before)",
            lambda d: d.inject("502", method="POST", after_processing=True), body)  # fmt: skip
        row("foreign marker present",
            lambda d: d.add_comment(REPO, 7, f"{MARKER}\nfake", login="mallory"), body)  # fmt: skip
        row("two own markers present", lambda d: (own("a")(d), own("b")(d)), body)
        row("DELETE of a duplicate answered 502 once",
            lambda d: (own("a")(d), own("b")(d), d.inject("502", method="DELETE")),
            body)  # fmt: skip
        row("two concurrent runs (both list before either posts)",
            lambda d: d.inject("barrier", method="GET", path="/7/comments$", parties=2, times=2,
                               delay=30), body, runs=2)  # fmt: skip
        row("GET /user refused (403) -> github-actions[bot]", own("old"), body)


if __name__ == "__main__":
    main()
