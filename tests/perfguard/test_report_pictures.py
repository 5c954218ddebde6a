"""The per-regression picture: a Mermaid xychart of the per-round ratios with the threshold
line, folded, in the comment and the step summary; pictures are what the fit drops first."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

from perfguard.models import Direction, Verdict
from perfguard.report.fit import (
    PICTURE_END,
    PICTURE_START,
    comment_size,
    fit_comment_body,
)
from perfguard.report.markdown import render_markdown
from perfguard.report.pictures import NO_ROUNDS_NOTE, round_chart
from tests.helpers.comparisons import comparison, many_rows, row

ROUNDS = Path(__file__).parents[1] / "github/data/perf-rounds/session-slowdown.rounds.json"
LINE = re.compile(r"^    line \[(.*)\]$", re.MULTILINE)


def lines_of(chart: str) -> list[list[float]]:
    return [[float(x) for x in found.split(", ")] for found in LINE.findall(chart)]


def test_the_chart_has_the_ratios_and_the_threshold_line() -> None:
    slow = row(Verdict.REGRESSED, ratio=1.2)
    chart = round_chart(dataclasses.replace(slow, round_ratios=(1.1, 1.3, 1.2)))
    assert chart.startswith("```mermaid\n%%{init: ") and chart.endswith("```\n")
    assert "\nxychart-beta\n" in chart
    assert 'x-axis "round" [1, 2, 3]' in chart
    assert lines_of(chart) == [[1.1, 1.3, 1.2], [1.05, 1.05, 1.05]]
    rate = row(Verdict.REGRESSED, ratio=0.8, direction=Direction.HIGHER_IS_BETTER)
    chart = round_chart(dataclasses.replace(rate, round_ratios=(0.8, 0.9)))
    assert lines_of(chart)[1] == [round(1 / 1.05, 4)] * 2


def perfguard(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "perfguard", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


def test_a_run_report_draws_each_regressions_rounds_and_the_summary_gets_them(
    tmp_path: Path,
) -> None:
    report = tmp_path / "report.md"
    done = perfguard("compare", str(ROUNDS), "--markdown-file", str(report))
    assert done.returncode == 1, done.stderr
    body = report.read_text(encoding="utf-8")
    series = {s["benchmark"]: s for s in json.loads(ROUNDS.read_text())["series"]}
    charts = re.findall(
        r"<summary>Per-round ratios: <code>(.*?)</code></summary>(.*?)</details>", body, re.S
    )
    assert [name for name, _ in charts] == [
        "bench_bus.Sessions.track_session_create_close",
        "bench_bus.Sessions.track_session_create_subscribe_close",
    ]
    for name, chart in charts:
        ratios, threshold = lines_of(chart)
        assert ratios == [round(math.exp(d), 4) for d in series[name]["d"]]
        assert threshold == [1.05] * len(ratios)
    assert body.count(PICTURE_START) == body.count(PICTURE_END) == 2
    summary = tmp_path / "step-summary.md"
    summed = perfguard(
        "summary", "--markdown", str(report), env={"GITHUB_STEP_SUMMARY": str(summary)}
    )
    assert summed.returncode == 0, summed.stderr
    assert summary.read_text(encoding="utf-8").count("\nxychart-beta\n") == 2


def test_a_comparison_of_asv_results_says_why_there_is_no_picture() -> None:
    body = render_markdown(comparison(rows=(row(Verdict.REGRESSED, ratio=1.3),)))
    assert body.endswith(NO_ROUNDS_NOTE) and "mermaid" not in body
    assert NO_ROUNDS_NOTE not in render_markdown(comparison(rows=(row(),)))


def test_pictures_are_dropped_before_any_row() -> None:
    drawn = tuple(
        dataclasses.replace(r, round_ratios=(1.2,) * 30) if r.verdict is Verdict.REGRESSED else r
        for r in many_rows(400, changed_every=5).rows
    )
    assert any(r.round_ratios for r in drawn)
    for limit in (8_000, 20_000):
        plain = render_markdown(
            comparison(rows=tuple(dataclasses.replace(r, round_ratios=()) for r in drawn)),
            max_chars=limit,
        )
        pictured = render_markdown(comparison(rows=drawn), max_chars=limit)
        assert comment_size(pictured) <= limit
        rows = lambda text: text.count("\n| ")  # noqa: E731
        assert rows(pictured) == rows(plain)  # every row the comment had without pictures
        assert PICTURE_START not in pictured
        assert "truncated" not in pictured


def test_fit_drops_the_last_pictures_first_and_only_as_many_as_needed() -> None:
    picture = f"{PICTURE_START}<details>{'x' * 1000}</details>\n{PICTURE_END}"
    body = "head\n" + picture.replace("x", "a") + picture.replace("x", "b") + picture
    fitted = fit_comment_body(body, comment_size(body) - 10)
    assert "a" * 1000 in fitted and "b" * 1000 in fitted and "x" * 1000 not in fitted
    assert "(1 per-round pictures left out" in fitted
    assert fit_comment_body(body, comment_size(body)) == body
