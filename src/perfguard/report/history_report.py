"""``perfguard history``'s reports: an :class:`~perfguard.changepoints.Analysis` -> str.

Three renderings of the same change points, newest first: a terminal table (rich), markdown
(names escaped as in the PR comment) and a JSON document with its own versioned schema
(``history-schema.json`` beside this module, described in docs/changepoints.md). No I/O here.
"""

from __future__ import annotations

import io
import json
from importlib import resources
from typing import Any

import msgspec
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from perfguard import __version__
from perfguard.changepoints import SCHEMA_VERSION, Analysis, ChangePoint, counts
from perfguard.report import format as fmt
from perfguard.report.fit import fit_comment_body
from perfguard.report.markdown import escape_cell


def summary_line(analysis: Analysis) -> str:
    """``2 regressions, 1 improvement in 40 series over 300 results (threshold 5%)``."""
    found = counts(analysis)
    regressed, improved = found["regressed"], found["improved"]
    return (
        f"{regressed} regression{'s' if regressed != 1 else ''},"
        f" {improved} improvement{'s' if improved != 1 else ''} in {analysis.series} series over"
        f" {len(analysis.commits)} results (threshold {fmt.format_threshold(analysis.threshold)})"
    )


def _range(c: ChangePoint) -> str:
    return f"{c.last_good[:8]}..{c.first_bad[:8]}"


def _interval(c: ChangePoint) -> str:
    return f"[{fmt.format_percent(c.low)}, {fmt.format_percent(c.high)}]"


def _levels(c: ChangePoint) -> str:
    return f"{fmt.format_value(c.before, c.unit)} -> {fmt.format_value(c.after, c.unit)}"


def _verdict(c: ChangePoint) -> str:
    return c.verdict.value + (" (direction assumed)" if c.direction_assumed else "")


def _header(analysis: Analysis) -> str:
    shift = "runner effect removed per result" if analysis.suite_shift_removed else "raw levels"
    return (
        f"history of {analysis.machine} / {analysis.env}: {len(analysis.commits)} results in"
        f" {analysis.order} order; {shift}; p < {analysis.alpha:g}"
    )


def render_terminal(analysis: Analysis, *, color: bool = False, width: int = 120) -> str:
    """A table of the change points, newest first, then how to bisect and the summary."""
    out = io.StringIO()
    console = Console(
        file=out, width=width, color_system="standard" if color else None, highlight=False
    )
    console.print(_header(analysis), soft_wrap=True)
    for warning in analysis.warnings:
        console.print(f"warning: {warning}", soft_wrap=True)
    if analysis.change_points:
        table = Table(box=box.SIMPLE, pad_edge=False, show_edge=False)
        # The benchmark name folds; the range, the numbers and the verdict never break.
        table.add_column("benchmark", overflow="fold", ratio=1)
        table.add_column("commits", no_wrap=True)
        table.add_column("levels", justify="right")
        table.add_column("change", justify="right", no_wrap=True)
        table.add_column("interval", justify="right", no_wrap=True)
        table.add_column("verdict", no_wrap=True)
        for c in analysis.change_points:
            style = "bold red" if c.regression else "green"
            table.add_row(
                Text(c.label),
                _range(c),
                _levels(c),
                fmt.format_percent(c.change),
                _interval(c),
                Text(_verdict(c), style=style),
            )
        console.print(table)
        console.print("To pin the culprit in a range (in the asv project):", soft_wrap=True)
        for c in analysis.change_points:
            console.print(f"  {c.bisect}", soft_wrap=True, markup=False)
            if c.paired_bisect is not None:
                console.print(f"    or paired: {c.paired_bisect}", soft_wrap=True, markup=False)
    console.print(summary_line(analysis), soft_wrap=True)
    return out.getvalue()


def render_markdown(analysis: Analysis) -> str:
    """Markdown for a step summary, an issue or a page; within GitHub's comment limit."""
    lines = [f"**perfguard history: {summary_line(analysis)}**", "", escape_cell(_header(analysis))]
    lines += ["", *(f"> warning: {escape_cell(w)}" for w in analysis.warnings)]
    if analysis.change_points:
        lines += [
            "",
            "| Benchmark | Commits | Levels | Change | Interval | Verdict |",
            "|:--|:--|--:|--:|--:|:--|",
        ]
        lines += [
            f"| {escape_cell(c.label)} | `{_range(c)}` | {escape_cell(_levels(c))} |"
            f" {fmt.format_percent(c.change)} | {escape_cell(_interval(c))} |"
            f" {'**regressed**' if c.regression else 'improved'}"
            f"{' (direction assumed)' if c.direction_assumed else ''} |"
            for c in analysis.change_points
        ]
        lines += ["", "<details><summary>Pin the culprit with asv find</summary>", "", "```bash"]
        for c in analysis.change_points:
            lines.append(c.bisect.replace("`", ""))
            if c.paired_bisect is not None:
                lines.append(c.paired_bisect.replace("`", "") + "   # or with paired runs")
        lines += ["```", "", "</details>"]
    return fit_comment_body("\n".join(lines) + "\n")


def _change_point(c: ChangePoint) -> dict[str, Any]:
    return {
        "id": c.id,
        "benchmark": c.benchmark,
        "params": dict(c.params),
        "label": c.label,
        "kind": c.kind.value,
        "unit": c.unit,
        "direction": c.direction.value,
        "direction_assumed": c.direction_assumed,
        "threshold": c.threshold,
        "verdict": c.verdict.value,
        "position": c.position,
        "last_good": c.last_good,
        "first_bad": c.first_bad,
        "before": c.before,
        "after": c.after,
        "change": c.change,
        "interval": [c.low, c.high],
        "confidence": c.confidence,
        "p_value": c.p_value,
        "points_before": c.points_before,
        "points_after": c.points_after,
        "bisect": c.bisect,
        "paired_bisect": c.paired_bisect,
    }


def render_json(analysis: Analysis, *, fail_since: str | None = None, failed: bool = False) -> str:
    """The analysis as a JSON document (``history-schema.json``); non-finite numbers are null."""
    document = {
        "schema_version": SCHEMA_VERSION,
        "perfguard_version": __version__,
        "machine": analysis.machine,
        "env": analysis.env,
        "order": analysis.order,
        "results": len(analysis.commits),
        "first_commit": analysis.commits[0] if analysis.commits else None,
        "last_commit": analysis.commits[-1] if analysis.commits else None,
        "threshold": analysis.threshold,
        "alpha": analysis.alpha,
        "suite_shift_removed": analysis.suite_shift_removed,
        "series": analysis.series,
        "warnings": list(analysis.warnings),
        "summary": {**counts(analysis), "fail_since": fail_since, "failed": failed},
        "change_points": [_change_point(c) for c in analysis.change_points],
    }
    encoded = msgspec.json.encode(document)
    return msgspec.json.format(encoded, indent=2).decode() + "\n"


def load_schema() -> dict[str, Any]:
    """The JSON Schema of :func:`render_json`'s output, as shipped in the package."""
    text = resources.files("perfguard.report").joinpath("history-schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
