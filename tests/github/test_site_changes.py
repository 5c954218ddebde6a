"""The site's change-points page (scripts/ci/publish-site writes changes.html): built from a
real results history with known steps, opened in headless Chromium, its link followed to the
benchmark's graph on the same site."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.github.test_alerts_job import history_checkout
from tests.github.test_pages import CHROMIUM, CHROMIUM_ARGS, local_only, serve
from tests.perfguard.test_changepoints import STEP_AT

ROOT = Path(__file__).resolve().parents[2]


def publish_history(tmp_path: Path) -> Path:
    """asv publish + publish-site over the perf-history results of a small main branch."""
    repo, _ = history_checkout(tmp_path)
    site = tmp_path / "site"
    site.mkdir()
    subprocess.run(
        f"git -C {repo} archive perf-history results | tar -x -C {site}", shell=True, check=True
    )
    config = {
        "version": 1,
        "project": "app",
        "repo": str(repo),
        "branches": ["main"],
        "benchmark_dir": str(ROOT / "benchmarks"),
        "results_dir": "results",
        "html_dir": "html",
    }
    (site / "asv.conf.json").write_text(json.dumps(config), encoding="utf-8")
    (tmp_path / "home").mkdir()
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/ci/publish-site")],
        cwd=site,
        env={**os.environ, "HOME": str(tmp_path / "home"), "ASV_MACHINE": "box"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "note: changes.html: 3 change point(s)" in done.stdout, done.stdout
    return site / "html"


def test_the_change_points_page_lists_them_and_links_each_to_its_graph(tmp_path: Path) -> None:
    html = publish_history(tmp_path)
    page_text = (html / "changes.html").read_text(encoding="utf-8")
    assert 'href="index.html#s.time_step"' in page_text
    errors: list[str] = []
    for generator in serve(html):
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                context = browser.new_context()
                context.route("**/*", local_only)
                page = context.new_page()
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.goto(f"{generator}/index.html", wait_until="networkidle")
                page.click("#nav-li-changes a")  # asv's navigation bar leads to the page
                page.wait_for_selector("table")
                assert page.url.endswith("/changes.html")
                rows = page.eval_on_selector_all(
                    "tr.regressed td:first-child, tr.improved td:first-child",
                    "cells => cells.map(c => c.textContent)",
                )
                assert sorted(rows) == ["s.time_faster", "s.time_step", "s.track_rate"]
                page.click("text=s.time_step")
                page.wait_for_selector("#main-graph canvas.flot-base", timeout=15_000)
                assert page.url.endswith("index.html#s.time_step")
                assert "s.time_step" in page.inner_text("body")
                points = page.evaluate(
                    "() => $('#main-graph').data('plot').getData().map(s => s.data.length)"
                )
                assert max(points) > STEP_AT  # the whole history, the step inside it
                page.screenshot(path=str(tmp_path / "changes.png"))
            finally:
                browser.close()
        assert errors == []
    keep = os.environ.get("PERFGUARD_KEEP_SCREENSHOT_DIR")
    if keep:
        shutil.copy(tmp_path / "changes.png", Path(keep) / "changes.png")
