"""`perfguard summary`: the step summary within 1 MiB, escaped and capped annotations."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from perfguard.actions import (
    STEP_SUMMARY_LIMIT,
    Finding,
    annotation_lines,
    escape_data,
    escape_property,
    findings_from_report,
    fit_summary,
    workflow_command,
)
from perfguard.errors import InputError
from tests.github.conftest import Run

Cli = Callable[..., Run]


def write_json(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def row(label: str, verdict: str = "regressed", change: float | None = 0.12) -> dict[str, object]:
    return {"label": label, "verdict": verdict, "reason": "slower beyond 5 %", "change": change}


def test_appends_markdown_and_annotates_regressions(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    markdown = tmp_path / "report.md"
    markdown.write_text("## perfguard\n| a | b |", encoding="utf-8")
    rows = [row("bench_bus.time_publish"), row("x", "unchanged"), row("y", "newly-failing", None)]

    run = cli(
        "summary", "--markdown", str(markdown), "--json", str(write_json(tmp_path, {"rows": rows}))
    )

    assert run.code == 0, run.err
    assert summary.read_text(encoding="utf-8") == "# earlier step\n## perfguard\n| a | b |\n"
    assert run.out.splitlines() == [
        "::error title=perfguard%3A regressed::bench_bus.time_publish (+12.0%25):"
        " slower beyond 5 %25",
        "::error title=perfguard%3A newly-failing::y: slower beyond 5 %25",
    ]


def test_annotations_are_capped_with_a_count_of_the_rest(cli: Cli, tmp_path: Path) -> None:
    rows = [row(f"b{i}") for i in range(14)]
    run = cli("summary", "--json", str(write_json(tmp_path, {"rows": rows})), "--level", "warning")
    lines = run.out.splitlines()
    assert len(lines) == 11
    assert all(line.startswith("::warning title=perfguard%3A ") for line in lines)
    assert lines[-1] == (
        "::warning title=perfguard%3A 4 more::"
        "and 4 more (see the step summary or the report artifact)"
    )


def test_hostile_benchmark_names_cannot_inject_workflow_commands(cli: Cli, tmp_path: Path) -> None:
    evil = "x\n::set-output name=a::b\r%0A,title=y::z"
    rows = [
        {"label": evil, "verdict": "regressed", "reason": "r\n::stop-commands::t", "change": 0.5}
    ]
    run = cli("summary", "--json", str(write_json(tmp_path, {"rows": rows})))
    [line] = run.out.splitlines()
    assert line == (
        "::error title=perfguard%3A regressed::x%0A::set-output name=a::b%0D%250A,title=y::z"
        " (+50.0%25): r%0A::stop-commands::t"
    )


def test_step_summary_never_grows_past_1_mib(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_bytes(b"x" * 1000 + b"\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    markdown = tmp_path / "report.md"
    markdown.write_text("| ü row |\n" * 200_000, encoding="utf-8")

    run = cli("summary", "--markdown", str(markdown))

    assert run.code == 0
    assert "truncated" in run.err
    data = summary.read_bytes()
    assert STEP_SUMMARY_LIMIT - 200 < len(data) <= STEP_SUMMARY_LIMIT
    text = data.decode("utf-8")
    assert text.rstrip().endswith("the full report is in the run's artifact.")
    assert "| ü row |\n\n> [!NOTE]" in text  # cut at a line end, never inside a character


def test_a_full_summary_gets_nothing_more() -> None:
    assert fit_summary("hello\n", STEP_SUMMARY_LIMIT - 3) == ""


def test_outside_actions_the_summary_is_skipped_with_a_note(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    markdown = tmp_path / "report.md"
    markdown.write_text("x", encoding="utf-8")
    run = cli("summary", "--markdown", str(markdown))
    assert run.code == 0
    assert "GITHUB_STEP_SUMMARY is not set" in run.err


def test_unwritable_summary_is_a_one_line_error(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "no-such-dir" / "summary.md"))
    markdown = tmp_path / "report.md"
    markdown.write_text("x", encoding="utf-8")
    run = cli("summary", "--markdown", str(markdown))
    assert run.code == 2
    assert run.err.startswith("error: cannot append to $GITHUB_STEP_SUMMARY")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('{"rows": 3}', "has no 'rows' list"),
        ("[]", "has no 'rows' list"),
    ],
)
def test_bad_json_reports_are_usage_errors(
    cli: Cli, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "report.json"
    path.write_text(content, encoding="utf-8")
    run = cli("summary", "--json", str(path))
    assert run.code == 2
    assert message in run.err


def test_missing_inputs_are_usage_errors(cli: Cli, tmp_path: Path) -> None:
    assert cli("summary").code == 2
    assert cli("summary", "--json", str(tmp_path / "nope.json")).code == 2
    assert (
        cli(
            "summary", "--json", str(write_json(tmp_path, {"rows": []})), "--max-annotations", "-1"
        ).code
        == 2
    )


def test_findings_read_defensively() -> None:
    report = {
        "comparison": {
            "rows": [
                "junk",
                {"benchmark": "b", "verdict": "regressed", "change": "n/a"},
                {"verdict": "newly-failing", "reason": None},
                {"label": "c", "verdict": "improved"},
            ]
        }
    }
    assert findings_from_report(report) == [
        Finding("b", "regressed", "", None),
        Finding("?", "newly-failing", "", None),
    ]
    with pytest.raises(InputError):
        findings_from_report({"comparison": 1})


def test_escaping_rules() -> None:
    assert escape_data("a%b\r\nc::d") == "a%25b%0D%0Ac::d"
    assert escape_property("t:1,2%\n") == "t%3A1%2C2%25%0A"
    assert workflow_command("notice", "hi") == "::notice::hi"
    assert annotation_lines([], limit=10) == []
