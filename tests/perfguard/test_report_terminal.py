"""The terminal report, rendered to strings and compared with what a reader should see."""

# ruff: noqa: E501  (expected terminal output is wider than source lines)

from __future__ import annotations

import dataclasses
import io
import re

import pytest
from rich.cells import cell_len
from rich.console import Console

from perfguard.commands.output import Outputs, render
from perfguard.models import Comparison, Kind, Verdict
from perfguard.report import terminal
from perfguard.report.markdown import render_markdown
from perfguard.report.terminal import render_terminal
from tests.helpers.comparisons import budget, comparison, estimate, every_verdict, many_rows, row

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def report_comparison() -> Comparison:
    """Every verdict, a track benchmark without a stated direction, budgets and a warning."""
    base = every_verdict()
    assumed = row(
        Verdict.REGRESSED,
        benchmark="bus.track_queue_depth",
        kind=Kind.TRACK,
        unit="items",
        base=40.0,
        ratio=1.5,
        direction_assumed=True,
    )
    return dataclasses.replace(
        base,
        rows=(*base.rows, assumed),
        warnings=("base and head were measured on different machines",),
    )


EXPECTED_110 = """\
WARNING: base and head were measured on different machines
base 111111111111 (ci-runner, virtualenv-py3.11) -> head 222222222222 (ci-runner, virtualenv-py3.11)
 benchmark                    base        head  change          interval  verdict
──────────────────────────────────────────────────────────────────────────────────────────────────────────────
 bus.track_queue_depth  40.0 items  60.0 items  +50.0%  [+47.0%, +53.0%]  regressed (direction assumed)
 bench.time_slow           2.00 ms     2.60 ms  +30.0%  [+27.4%, +32.6%]  regressed
 bench.time_broken         1.00 ms      failed                            newly failing (head failed)
 bench.time_noisy          1.00 ms     1.04 ms   +4.0%  [-10.0%, +20.0%]  inconclusive (noise too large: could
                                                                          detect ±12%)
 bench.time_edited         1.00 ms     1.00 ms                            incomparable (benchmark version
                                                                          changed)
 bus.track_rate              12.3k       15.4k  +25.0%  [+22.5%, +27.5%]  improved
                          events/s    events/s
 bench.time_fixed           failed     1.00 ms                            fixed (base failed)
 bench.time_new                  -     1.00 ms                            new
 bench.time_gone           1.00 ms           -                            removed
 bench.mem_list            45.6 MB     46.1 MB   +1.0%    [-1.0%, +3.0%]  unchanged
 bench.time_skip           skipped     skipped                            skipped (skipped on both sides)

Budgets
 benchmark                               limit            head  status
──────────────────────────────────────────────────────────────────────
 bus.Publish.track_throughput  >= 10k events/s  12.3k events/s  ok
 bus.Command.time_p99                 <= 10 ms         12.3 ms  BROKEN

2 regressed, 1 newly failing, 1 improved, 1 fixed, 1 inconclusive, 1 incomparable, 1 new, 1 removed, 1
  unchanged, 1 skipped, 1 budget broken (threshold 5%)
"""


def test_every_verdict_worst_first_with_budgets_warnings_and_summary() -> None:
    assert render_terminal(report_comparison(), width=110) == EXPECTED_110


def test_only_changed_hides_unchanged_and_skipped_rows_but_the_summary_counts_them() -> None:
    out = render_terminal(report_comparison(), only_changed=True, width=110)
    assert "bench.mem_list" not in out
    assert "bench.time_skip" not in out
    for kept in ("bench.time_slow", "bench.time_noisy", "bench.time_new", "bench.time_gone"):
        assert kept in out
    # The summary is the last paragraph (wrapped to the width).
    assert "1 unchanged, 1 skipped" in " ".join(out.split("\n\n")[-1].split())


def test_the_fast_path_draws_the_same_table_as_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn_by_rich = render_terminal(report_comparison(), width=110)
    monkeypatch.setattr(terminal, "RICH_ROW_LIMIT", 0)
    assert render_terminal(report_comparison(), width=110) == drawn_by_rich


@pytest.mark.parametrize("width", [40, 80, 103, 110, 140, 200])
def test_fast_path_matches_rich_at_several_widths(
    monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    drawn_by_rich = render_terminal(report_comparison(), width=width)
    monkeypatch.setattr(terminal, "RICH_ROW_LIMIT", 0)
    assert render_terminal(report_comparison(), width=width) == drawn_by_rich


def test_no_ansi_codes_without_colour_even_when_the_environment_asks_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    assert "\x1b" not in render_terminal(report_comparison())
    assert "\x1b" not in render_terminal(many_rows(300))


@pytest.mark.parametrize("rows", [None, 300], ids=["rich", "fast-path"])
def test_colour_changes_nothing_but_the_colour(
    rows: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The caller decided on colour; the environment does not overrule it.
    monkeypatch.setenv("NO_COLOR", "1")
    c = report_comparison() if rows is None else many_rows(rows)
    coloured = render_terminal(c, color=True)
    assert "\x1b[1;31m" in coloured  # regressions in bold red
    assert "\x1b[32m" in coloured  # improvements in green
    plain = render_terminal(c, color=False)
    assert [line.rstrip() for line in ANSI.sub("", coloured).splitlines()] == plain.splitlines()


def test_long_names_get_the_larger_share_of_a_narrow_table() -> None:
    name = "query_benchmarks.query_delete_related.benchmark.QueryDeleteRel.time_query_del_rel"
    c = comparison(
        [
            row(Verdict.REGRESSED, benchmark=name, ratio=5.6),
            row(
                Verdict.INCONCLUSIVE, benchmark="b.time_x", ratio=1.25, low=0.8, high=1.9, mde=0.76
            ),
        ]
    )
    lines = render_terminal(c, width=120).splitlines()
    assert max(cell_len(line) for line in lines[1:-2]) == 120
    chunks = [line[1:].split("  ")[0] for line in lines[3:5]]
    assert "".join(chunks) == name  # two lines for the name...
    verdict = [line.rsplit("  ", 1)[1] for line in lines[5:7]]
    assert len(chunks[0]) >= 1.4 * max(map(len, verdict))  # ...which gets the larger share
    assert verdict[0].startswith("inconclusive")
    assert "+460%" in lines[3]


@pytest.mark.parametrize("limit", [200, 0], ids=["rich", "fast-path"])
def test_a_few_long_verdicts_wrap_rather_than_every_name(
    monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    monkeypatch.setattr(terminal, "RICH_ROW_LIMIT", limit)
    names = [f"suite.Class.time_case_number_{i:03d}(n=100, kind='long')" for i in range(30)]
    rows = [row(Verdict.UNCHANGED, benchmark=name) for name in names[1:]]
    rows.append(row(Verdict.INCONCLUSIVE, benchmark=names[0], ratio=1.04, mde=0.12))
    out = render_terminal(comparison(rows), width=120)
    for name in names:
        assert f" {name} " in out  # every name whole, on one line
    assert "inconclusive (noise too large: could detect ±12%)" not in out  # that one wraps
    assert "inconclusive (noise too large: could detect ±12%)" in " ".join(out.split())


def test_names_break_after_dots_and_underscores() -> None:
    name = "benchmarks.serialization.JsonEncoding.time_encode_large_nested_documents"
    out = render_terminal(comparison([row(Verdict.REGRESSED, benchmark=name, ratio=1.3)]), width=80)
    # 80 columns: base and head on a line each, then the header and its rule.
    chunks = [line[1:].split("  ")[0] for line in out.splitlines()[4:] if line.strip()][:-1]
    assert "".join(chunks) == name
    assert all(chunk[-1] in "._" for chunk in chunks[:-1])


def test_a_large_comparison_lists_every_row_on_the_fast_path() -> None:
    c = many_rows(1000)
    out = render_terminal(c, width=200)
    lines = out.splitlines()
    body = [line for line in lines if line.startswith(" suite")]
    assert len(body) == 1000
    labels_shown = [line[1:].split("  ")[0] for line in body]
    assert labels_shown[0] == "suite0.Class0.time_case_0(n=0, kind='k0')"  # a regression
    assert sorted(labels_shown) == sorted(r.label for r in c.rows)
    assert lines[-1] == "7 regressed, 7 improved, 6 inconclusive, 980 unchanged (threshold 5%)"


def test_long_names_fold_rather_than_being_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    name = "x" * 150
    c = comparison([row(Verdict.REGRESSED, benchmark=name, ratio=1.2)])
    for limit in (200, 0):
        monkeypatch.setattr(terminal, "RICH_ROW_LIMIT", limit)
        out = render_terminal(c, width=100)
        assert out.count("x") == 150
        assert "…" not in out
        assert max(cell_len(line) for line in out.splitlines()[:-1]) <= 100


def test_a_terminal_too_narrow_for_the_table_gets_long_lines_not_missing_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for limit in (200, 0):
        monkeypatch.setattr(terminal, "RICH_ROW_LIMIT", limit)
        out = render_terminal(report_comparison(), width=40)
        for header in ("benchmark", "base", "head", "change", "interval", "verdict", "status"):
            assert header in out
        assert "12.3k" in out and "events/s" in out  # a value may wrap at its unit
        assert "[-10.0%, +20.0%]" in out


def test_control_characters_in_names_are_shown_escaped_not_obeyed() -> None:
    name = "evil\x1b[31mred\nsecond line\rback\tand\x07bell"
    c = comparison(
        [row(Verdict.REGRESSED, benchmark=name, kind=Kind.TRACK, unit="ev\x1b[2J", ratio=1.2)],
        warnings=["machine \x1b]0;title\x07 changed"],
        budgets=[budget(f"{name}.b", unit="x\x1b[2J")],
    )
    out = render_terminal(c, width=200)
    assert "\x1b" not in out
    assert "\x07" not in out
    assert "\r" not in out
    assert "evil\\x1b[31mred\\nsecond line\\rback\\tand\\x07bell" in out
    assert "WARNING: machine \\x1b]0;title\\x07 changed" in out
    assert "0.0012 ev\\x1b[2J" in out
    assert "12.3k x\\x1b[2J" in out


@pytest.mark.parametrize("limit", [200, 0], ids=["rich", "fast-path"])
def test_lone_surrogates_are_shown_escaped(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    monkeypatch.setattr(terminal, "RICH_ROW_LIMIT", limit)
    c = comparison([row(Verdict.REGRESSED, benchmark="a\ud800b", ratio=1.2)])
    out = render_terminal(c)
    assert "a\\ud800b" in out
    out.encode("utf-8")  # printable


def test_rich_markup_in_names_is_printed_literally() -> None:
    c = comparison([row(Verdict.REGRESSED, benchmark="bench.[bold red]x[/]", ratio=1.2)])
    assert "bench.[bold red]x[/]" in render_terminal(c, color=True)


def test_wide_characters_fold_and_align_like_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    name = "基准.時間_測試" * 3
    c = comparison(
        [
            row(Verdict.REGRESSED, benchmark=name, ratio=1.2),
            row(Verdict.UNCHANGED, benchmark="ascii.time_x"),
        ]
    )
    drawn_by_rich = render_terminal(c, width=60)
    monkeypatch.setattr(terminal, "RICH_ROW_LIMIT", 0)
    out = render_terminal(c, width=60)
    assert out == drawn_by_rich
    lines = out.splitlines()
    table = lines[2 : lines.index("")]  # base and head take a line each at 60 columns
    assert all(cell_len(line) <= cell_len(table[1]) for line in table)
    first_column = [line.split("  ")[0].strip() for line in table[2:-1]]
    assert "".join(first_column) == name


def test_empty_comparisons_say_so() -> None:
    assert "No benchmarks compared." in render_terminal(comparison())
    only_unchanged = comparison([row(Verdict.UNCHANGED)])
    assert "No benchmarks to show." in render_terminal(only_unchanged, only_changed=True)


def test_budget_reasons_are_shown() -> None:
    c = comparison(budgets=[budget(value=None, ok=False, reason="no head measurement")])
    out = render_terminal(c)
    assert "BROKEN (no head measurement)" in out
    assert out.splitlines()[-1].endswith("1 budget broken (threshold 5%)")


def shifted_and_paired() -> list[Comparison]:
    """A suite shift removed from every time row, and the paired rows of a rounds file."""
    shifted = comparison(
        [
            row(
                Verdict.INCONCLUSIVE, benchmark=f"suite.Parsing.time_split_{i}", ratio=1.04, mde=0.3
            )
            for i in range(3)
        ]
    )
    shifted = dataclasses.replace(
        shifted,
        rows=tuple(
            dataclasses.replace(r, estimate=dataclasses.replace(r.estimate, shift=0.4))
            for r in shifted.rows
            if r.estimate is not None
        ),
        warnings=("8 of 8 time benchmarks moved together between base and head: " * 3,),
    )
    paired = comparison(
        [
            # The row: 3.33 -> 3.22 us shown, +8.7 % paired.
            row(
                Verdict.REGRESSED,
                benchmark="bench_bus.time_publish",
                base=3.33e-6,
                head=3.22e-6,
                est=estimate(1.087, low=1.05, high=1.12, method="paired"),
            ),
        ]
    )
    return [report_comparison(), shifted, paired]


@pytest.mark.parametrize("limit", [200, 0], ids=["rich", "fast-path"])
def test_the_report_fits_an_80_column_terminal(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    """Printed by rich on an 80-column console, not one line of the report wraps."""
    monkeypatch.setattr(terminal, "RICH_ROW_LIMIT", limit)
    for c in shifted_and_paired():
        text80 = render_terminal(c, width=80)
        console = Console(width=80, file=io.StringIO(), color_system=None, emoji=False)
        console.print(text80, end="", markup=False, highlight=False)
        assert console.file.getvalue() == text80
        assert max(cell_len(line) for line in text80.splitlines()) <= 80
    # Without a terminal (a CI log) the CLI draws at least 80 columns wide.
    assert render(shifted_and_paired()[0], "table", Outputs()).startswith("WARNING")


def test_a_change_that_is_not_head_over_base_is_labelled() -> None:
    """Issue 10: base/head columns that disagree with the change are marked and explained."""
    _, shifted, paired = shifted_and_paired()
    out = render_terminal(shifted, width=80)
    assert "+4.0%*" in out
    flat = " ".join(out.split())
    assert "* change and interval with the shift the whole suite shares removed" in flat
    out = render_terminal(paired, width=80)
    assert "3.33 us" in out and "3.22 us" in out and "+8.7%" in out
    assert "base, head: each side's median over the rounds of its fastest sample" in " ".join(
        out.split()
    )
    assert "*" not in out  # nothing was shifted
    markdown = render_markdown(paired)
    assert "base, head: each side's median over the rounds of its fastest sample" in markdown
