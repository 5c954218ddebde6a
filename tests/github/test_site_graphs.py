"""Every graph of the published site is drawn: the grid of a site built by
scripts/ci/publish-site (as pages.yml builds it) from a real asv history with several commits
and one benchmark of every type (tests/github/data/site-history, made by make_site_fixture.py),
opened in headless Chromium. A screenshot of the grid is kept under test-artifacts/."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Page, Response, sync_playwright

from perfguard.report.links import graph_url
from tests.github.test_pages import CHROMIUM, CHROMIUM_ARGS, ROOT, local_only, publish, serve

DATA = Path(__file__).resolve().parent / "data"
HISTORY = DATA / "site-history"
SUITE = DATA / "site-suite/benchmarks"
ARTIFACTS = ROOT / "test-artifacts"
MEASURED = {
    "bench_kinds.Kinds.mem_list",
    "bench_kinds.Kinds.peakmem_build",
    "bench_kinds.Kinds.time_sum",
    "bench_kinds.Kinds.track_count",
    "bench_kinds.Params.time_join",
    "bench_kinds.Params.track_length",
}
NEVER_MEASURED = "bench_kinds.NotMeasured.time_never"
COMMITS = 4

# Per grid tile: the points flot holds and how many pixels of its canvas have the series colour.
TILES_JS = """() => $('.benchmark-plot').map((i, element) => {
    const plot = $(element).data('plot');
    if (!plot) return [[element.id, 0, 0]];
    const series = plot.getData()[0];
    const probe = document.createElement('canvas').getContext('2d');
    probe.fillStyle = series.color;
    probe.fillRect(0, 0, 1, 1);
    const [r, g, b] = probe.getImageData(0, 0, 1, 1).data;
    const canvas = element.querySelector('canvas.flot-base');
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let coloured = 0;
    for (let p = 0; p < pixels.length; p += 4) {
        const near = Math.abs(pixels[p] - r) + Math.abs(pixels[p + 1] - g)
            + Math.abs(pixels[p + 2] - b) < 60;
        if (pixels[p + 3] > 0 && near) coloured++;
    }
    const points = series.data.filter(point => point[1] !== null).length;
    return [[element.id.replace('summarygrid-', ''), points, coloured]];
}).get()"""


def test_site_fixture_has_every_benchmark_type_on_several_commits() -> None:
    suite = json.loads((HISTORY / "benchmarks.json").read_text(encoding="utf-8"))
    assert {b["type"] for k, b in suite.items() if k != "version"} == {
        "time",
        "memory",
        "peakmemory",
        "track",
    }
    assert any(b["params"] for k, b in suite.items() if k != "version")
    assert NEVER_MEASURED in suite
    files = sorted((HISTORY / "fixture-box").glob("*-*.json"))
    assert len(files) == COMMITS
    for file in files:
        assert set(json.loads(file.read_text(encoding="utf-8"))["results"]) == MEASURED


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    yield from serve(publish(tmp_path, HISTORY, SUITE))


def wait_for_grid(page: Page, summaries: list[Response], count: int) -> None:
    """Until asv's grid has fetched a summary graph for each of its ``count`` tiles and flot
    has drawn every one that loaded (it draws in the fetch's callback). Generous deadlines: a
    missing graph shows as a failed response below, not as a timeout."""
    deadline = time.monotonic() + 60
    while len(summaries) < count and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    loaded = sum(1 for response in summaries if response.ok)
    page.wait_for_function(
        "n => $('.benchmark-plot').filter((i, e) => $(e).data('plot')).length >= n",
        arg=loaded,
        timeout=60_000,
    )


@dataclass
class Grid:
    """What the browser saw of the site's grid."""

    failed: list[str] = field(default_factory=list)
    """Responses of 400 or more, and page errors."""
    summaries: list[Response] = field(default_factory=list)
    tiles: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Per tile: the points flot holds, and how many pixels have the series colour."""


def open_grid(site: str, screenshot: Path) -> Grid:
    grid = Grid()

    def on_response(response: Response) -> None:
        if "/graphs/summary/" in response.url:
            grid.summaries.append(response)
        if response.status >= 400:
            grid.failed.append(f"{response.status} {response.url}")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.route("**/*", local_only)
            page = context.new_page()
            page.on("response", on_response)
            page.on("pageerror", lambda exc: grid.failed.append(f"page error: {exc}"))
            page.goto(f"{site}/", wait_until="networkidle")
            page.wait_for_selector(".benchmark-plot", timeout=30_000)
            tiles_shown = page.evaluate("() => $('.benchmark-plot').length")
            wait_for_grid(page, grid.summaries, tiles_shown)
            grid.tiles = {name: (n, drawn) for name, n, drawn in page.evaluate(TILES_JS)}
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return grid


@pytest.mark.integration
def test_every_summary_graph_of_the_grid_is_drawn(site: str, tmp_path: Path) -> None:
    grid = open_grid(site, tmp_path / "site-grid.png")
    ARTIFACTS.mkdir(exist_ok=True)
    kept = ARTIFACTS / "site-grid.png"
    shutil.copy(tmp_path / "site-grid.png", kept)
    print(f"grid screenshot: {kept}")
    assert grid.failed == []
    assert set(grid.tiles) == MEASURED  # the never-measured benchmark is not a blank tile
    assert len(grid.summaries) == len(MEASURED)
    for name, (points, coloured) in grid.tiles.items():
        assert points == COMMITS, name
        assert coloured > 20, f"{name}: the plot is blank"


@pytest.mark.integration
def test_a_benchmark_with_one_result_is_a_dot_not_a_blank_tile(tmp_path: Path) -> None:
    """A benchmark new (or edited) at the newest commit has one point: asv's line through it
    draws nothing."""
    history = tmp_path / "one-commit"
    shutil.copytree(HISTORY, history)
    for result in sorted((history / "fixture-box").glob("*-*.json"))[1:]:
        result.unlink()
    for site in serve(publish(tmp_path, history, SUITE)):
        grid = open_grid(site, tmp_path / "one-commit-grid.png")
    assert grid.failed == []
    assert set(grid.tiles) == MEASURED
    for name, (points, coloured) in grid.tiles.items():
        assert points == 1, name
        assert coloured > 10, f"{name}: the plot is blank"


@pytest.mark.integration
def test_the_reports_graph_link_opens_that_graph_with_its_params_selected(site: str) -> None:
    """The address the PR comment links to, read by asv's own JavaScript on the built site:
    the parameterized benchmark's graph with only the linked combination drawn."""
    suite = json.loads((HISTORY / "benchmarks.json").read_text(encoding="utf-8"))
    values = suite["bench_kinds.Params.time_join"]["params"]
    params = (("n", values[0][1]), ("kind", values[1][0]))  # n=100, kind='a'
    url = graph_url(f"{site}/", "bench_kinds.Params.time_join", params)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.route("**/*", local_only)
            page = context.new_page()
            page.goto(url, wait_until="networkidle")
            page.wait_for_function(
                "() => $('#main-graph').data('plot')"
                " && $('#main-graph').data('plot').getData().length > 0",
                timeout=60_000,
            )
            parsed = page.evaluate("() => $.asv.parse_hash_string(window.location.hash)")
            drawn = page.evaluate(
                """() => $('#main-graph').data('plot').getData()
                    .filter(s => s.data.length > 0).map(s => s.label || '')"""
            )
        finally:
            browser.close()
    assert parsed["location"] == ["bench_kinds.Params.time_join"]
    assert parsed["params"] == {"p-n": ["100"], "p-kind": ["'a'"]}
    assert len(drawn) == 1, drawn  # asv's default would draw all four combinations
