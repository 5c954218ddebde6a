"""From a comparison to GitHub: the real markdown and JSON renderers write the report files the
commands read; hostile benchmark names stay inert in the comment and in the annotations."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from markdown_it import MarkdownIt

from perfguard.models import Verdict
from perfguard.report import sticky_marker
from perfguard.report.json_report import render_json
from perfguard.report.markdown import render_markdown
from tests.github.conftest import HEAD_SHA, REPO, Run
from tests.github.double import GitHubDouble
from tests.helpers.comparisons import budget, comparison, row

Cli = Callable[..., Run]

HOSTILE = [
    "bench.time_pipe|col|`tick`",
    "bench.time_<script>alert(1)</script>",
    "bench.time_ping @octocat and @github/security",
    "bench.time_multi\nline\r\n| injected | row |",
    "bench.time_[link](https://evil.example)_**bold**",
]


def write_reports(tmp_path: Path) -> tuple[Path, Path]:
    rows = [row(Verdict.REGRESSED, benchmark=name, ratio=1.3, reason="slower") for name in HOSTILE]
    rows.append(row(Verdict.UNCHANGED, benchmark="bench.time_fine"))
    result = comparison(rows, budgets=[budget(ok=False, value=1.0, reason="below the minimum")])
    markdown = tmp_path / "report.md"
    markdown.write_text(render_markdown(result), encoding="utf-8")
    report = tmp_path / "report.json"
    report.write_text(render_json(result), encoding="utf-8")
    return markdown, report


def test_hostile_names_render_inert_in_the_sticky_comment(
    github: GitHubDouble, cli: Cli, tmp_path: Path
) -> None:
    markdown, report = write_reports(tmp_path)
    run = cli(
        "comment",
        "--repo",
        REPO,
        "--pr",
        "7",
        "--body-file",
        str(markdown),
        "--backoff",
        "0.01",
        "--status",
        "--sha",
        HEAD_SHA,
        "--status-state-from",
        str(report),
    )
    assert run.code == 0, run.err
    [body] = github.bodies_with(REPO, 7, sticky_marker())
    assert body.count(sticky_marker()) == 1  # the renderer's marker is reused, not doubled

    tokens = MarkdownIt("commonmark").enable("table").parse(body)
    html = [t.content for t in tokens if t.type in ("html_block", "html_inline")]
    html += [c.content for t in tokens for c in (t.children or []) if c.type == "html_inline"]
    assert not any("<script" in h.lower() for h in html)
    links = [c for t in tokens for c in (t.children or []) if c.type == "link_open"]
    assert not any("evil.example" in str(link.attrs.get("href")) for link in links)
    code = [c for t in tokens for c in (t.children or []) if c.type == "code_inline"]
    assert not any("tick" in c.content for c in code)
    assert "@octocat" not in body and "@github/security" not in body
    assert "@\u200boctocat" in body and "&lt;script&gt;" in body  # the names are there, inert
    for table in _tables(tokens):
        widths = {len(cells) for cells in table}
        assert len(widths) == 1, "a name broke a table row"

    [status] = github.state.statuses
    assert status["state"] == "failure"
    assert status["description"] == "perfguard: 5 regressed, 1 budget-broken"


def test_annotations_from_the_real_json_report(cli: Cli, tmp_path: Path) -> None:
    _, report = write_reports(tmp_path)
    run = cli("summary", "--json", str(report))
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert len(lines) == 6
    assert all(line.startswith("::error title=perfguard%3A ") for line in lines)
    assert lines[-1].startswith("::error title=perfguard%3A budget-broken::")
    multi = next(line for line in lines if "time_multi" in line)
    assert "%0A" in multi and "\n" not in multi


def _tables(tokens: list) -> list[list[list[str]]]:  # type: ignore[type-arg]
    """Each table as rows of cell texts."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] | None = None
    cells: list[str] | None = None
    for token in tokens:
        if token.type == "table_open":
            current = []
        elif token.type == "table_close" and current is not None:
            tables.append(current)
            current = None
        elif token.type == "tr_open":
            cells = []
        elif token.type == "tr_close" and current is not None and cells is not None:
            current.append(cells)
        elif token.type == "inline" and cells is not None and current is not None:
            cells.append(token.content)
    return tables


def test_json_fields_the_commands_read_are_in_the_report(tmp_path: Path) -> None:
    _, report = write_reports(tmp_path)
    data = json.loads(report.read_text(encoding="utf-8"))
    first = data["rows"][0]
    assert {"label", "verdict", "reason", "change"} <= set(first)
    assert data["budgets"][0]["ok"] is False
