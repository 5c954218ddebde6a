"""The history site that pages.yml publishes: `asv publish` over a small real results history
(this repository's bench_bus results on three of its commits, tests/github/data/asv-history,
made by make_history_fixture.py) opens in headless Chromium and draws a graph."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Route, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
HISTORY = Path(__file__).resolve().parent / "data/asv-history"
CHROMIUM = "/usr/bin/chromium"
BENCHMARK = "bench_bus.Sessions.track_session_create_close"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


def publish(
    tmp_path: Path, history: Path = HISTORY, benchmarks: Path = ROOT / "benchmarks"
) -> Path:
    """Build the site as pages.yml does: history as results_dir, scripts/ci/publish-site."""
    site = tmp_path / "site"
    shutil.copytree(history, site / "results")
    config = json.loads((ROOT / "asv.conf.json").read_text(encoding="utf-8"))
    config.update(
        repo=str(ROOT),
        benchmark_dir=str(benchmarks),
        results_dir="results",
        html_dir="html",
    )
    (site / "asv.conf.json").write_text(json.dumps(config), encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/ci/publish-site")],
        cwd=site,
        env={**os.environ, "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "identical to the CDN copy, integrity kept" in done.stdout
    print(done.stdout)
    return site / "html"


@pytest.fixture
def served_site(tmp_path: Path) -> Iterator[str]:
    yield from serve(publish(tmp_path))


def serve(html: Path) -> Iterator[str]:
    """Serve ``html`` on a free local port for the duration of the generator."""
    handler = functools.partial(_QuietHandler, directory=str(html))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def local_only(route: Route) -> None:
    """The site must be self-contained: anything not from the local server is refused."""
    if route.request.url.startswith("http://127.0.0.1:"):
        route.continue_()
    else:
        route.abort()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


def test_history_fixture_is_real_asv_results_of_this_repository() -> None:
    benchmarks = json.loads((HISTORY / "benchmarks.json").read_text(encoding="utf-8"))
    assert BENCHMARK in benchmarks
    files = sorted((HISTORY / "fixture-box").glob("*-*.json"))
    commits = [json.loads(f.read_text(encoding="utf-8"))["commit_hash"] for f in files]
    assert len(commits) == 3
    for commit in commits:
        done = subprocess.run(
            ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT, check=False
        )
        assert done.returncode == 0, f"{commit} is not a commit of this repository"


@pytest.mark.integration
def test_history_site_shows_a_graph_in_headless_chromium(served_site: str, tmp_path: Path) -> None:
    screenshot = tmp_path / "history-site.png"
    errors: list[str] = []
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800},
        )
        try:
            context.route("**/*", local_only)
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("requestfailed", lambda request: errors.append(f"failed: {request.url}"))
            page.goto(f"{served_site}/#{BENCHMARK}", wait_until="networkidle")
            page.wait_for_selector("#main-graph canvas.flot-base", timeout=15_000)
            shown = page.inner_text("body")
            points = page.evaluate(
                """() => {
                    const plot = $('#main-graph').data('plot');
                    return plot ? plot.getData().map(s => s.data.length) : [];
                }"""
            )
            page.screenshot(path=str(screenshot), full_page=False)
        finally:
            context.close()
    if os.environ.get("PERFGUARD_KEEP_SCREENSHOT"):  # to look at it: a path to copy it to
        shutil.copy(screenshot, os.environ["PERFGUARD_KEEP_SCREENSHOT"])
    assert errors == []
    assert BENCHMARK in shown
    assert points and max(points) == 3  # one point per benchmarked commit
    assert screenshot.stat().st_size > 10_000
