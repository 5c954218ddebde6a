"""The markdown report (PR comment body): layout, escaping that keeps names inert, size cap."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from perfguard.errors import ConfigError
from perfguard.models import Verdict
from perfguard.report import sticky_marker
from perfguard.report.markdown import (
    CELL_LIMIT,
    GITHUB_COMMENT_LIMIT,
    MIN_MAX_CHARS,
    escape_cell,
    render_markdown,
)
from tests.helpers.comparisons import budget, comparison, many_rows, row, run_info
from tests.perfguard.test_report_terminal import report_comparison

TABLE_ROW = re.compile(r"^\| (?!Benchmark \|)(?!:--)", re.MULTILINE)
NOTE = re.compile(r"… (\d+) more rows not shown \(see the JSON report / workflow artifact\)")

EXPECTED = """\
<!-- perfguard:sticky-comment key=default -->
**perfguard: 2 regressions, 1 newly failing, 1 broken budget** · 2 regressed, 1 newly failing, \
1 improved, 1 fixed, 1 inconclusive, 1 incomparable, 1 new, 1 removed, 1 unchanged, 1 skipped, \
1 budget broken (threshold 5%)

Base <code>111111111111</code> (ci-runner, virtualenv-py3.11) → head <code>222222222222</code> \
(ci-runner, virtualenv-py3.11)

> [!WARNING]
> base and head were measured on different machines

### Regressions (3)

| Benchmark | Base | Head | Change | Interval | Verdict |
|:--|--:|--:|--:|--:|:--|
| bus.track\\_queue\\_depth | 40.0 items | 60.0 items | +50.0% | [+47.0%, +53.0%] | \
**regressed** (direction assumed) |
| bench.time\\_slow | 2.00 ms | 2.60 ms | +30.0% | [+27.4%, +32.6%] | **regressed** |
| bench.time\\_broken | 1.00 ms | failed |  |  | **newly failing** (head failed) |

### Improvements (2)

| Benchmark | Base | Head | Change | Interval | Verdict |
|:--|--:|--:|--:|--:|:--|
| bus.track\\_rate | 12.3k events/s | 15.4k events/s | +25.0% | [+22.5%, +27.5%] | improved |
| bench.time\\_fixed | failed | 1.00 ms |  |  | fixed (base failed) |

### Budgets (2)

| Benchmark | Limit | Head | Status |
|:--|--:|--:|:--|
| bus.Command.time\\_p99 | &lt;= 10 ms | 12.3 ms | **BROKEN** |
| bus.Publish.track\\_throughput | &gt;= 10k events/s | 12.3k events/s | ok |

<details><summary>1 inconclusive</summary>

| Benchmark | Base | Head | Change | Interval | Verdict |
|:--|--:|--:|--:|--:|:--|
| bench.time\\_noisy | 1.00 ms | 1.04 ms | +4.0% | [-10.0%, +20.0%] | \
inconclusive (noise too large: could detect ±12%) |

</details>

<details><summary>1 incomparable</summary>

| Benchmark | Base | Head | Change | Interval | Verdict |
|:--|--:|--:|--:|--:|:--|
| bench.time\\_edited | 1.00 ms | 1.00 ms |  |  | incomparable (benchmark version changed) |

</details>

<details><summary>1 new</summary>

| Benchmark | Base | Head | Change | Interval | Verdict |
|:--|--:|--:|--:|--:|:--|
| bench.time\\_new | - | 1.00 ms |  |  | new |

</details>

<details><summary>1 removed</summary>

| Benchmark | Base | Head | Change | Interval | Verdict |
|:--|--:|--:|--:|--:|:--|
| bench.time\\_gone | 1.00 ms | - |  |  | removed |

</details>

<details><summary>1 unchanged</summary>

| Benchmark | Base | Head | Change | Interval | Verdict |
|:--|--:|--:|--:|--:|:--|
| bench.mem\\_list | 45.6 MB | 46.1 MB | +1.0% | [-1.0%, +3.0%] | unchanged |

</details>

<details><summary>1 skipped</summary>

| Benchmark | Base | Head | Change | Interval | Verdict |
|:--|--:|--:|--:|--:|:--|
| bench.time\\_skip | skipped | skipped |  |  | skipped (skipped on both sides) |

</details>

_No per-round pictures: this report compares asv results, which keep no pairing; \
`perfguard run` measures paired rounds and its report draws them._
"""


def table_rows(text: str) -> int:
    return len(TABLE_ROW.findall(text))


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_the_whole_comment() -> None:
    assert render_markdown(report_comparison()) == EXPECTED


def test_the_sticky_marker_is_the_hidden_first_line() -> None:
    out = render_markdown(report_comparison(), marker_key="suite-bus")
    assert out.splitlines()[0] == sticky_marker("suite-bus")


@pytest.mark.parametrize("key", ["a\nb", "x-->y", "r\rr", "k" * 201])
def test_a_marker_key_that_could_break_out_of_the_comment_is_refused(key: str) -> None:
    with pytest.raises(ConfigError, match="comment key"):
        render_markdown(comparison(), marker_key=key)


def test_a_limit_too_small_for_any_report_is_refused() -> None:
    with pytest.raises(ConfigError, match=str(MIN_MAX_CHARS)):
        render_markdown(comparison(), max_chars=MIN_MAX_CHARS - 1)


def test_a_clean_run_says_no_regressions() -> None:
    c = comparison([row(Verdict.IMPROVED, ratio=0.8), row(Verdict.INCONCLUSIVE, ratio=1.1)])
    first = render_markdown(c).splitlines()[1]
    assert first.startswith("**perfguard: no regressions** · 0 regressed, 1 improved")


def test_status_counts_regressions_and_budgets_in_the_plural() -> None:
    c = comparison(
        [row(Verdict.REGRESSED, ratio=1.5, benchmark=f"b{i}") for i in range(2)],
        budgets=[budget(value=1.0), budget(value=2.0)],
    )
    assert (
        render_markdown(c)
        .splitlines()[1]
        .startswith("**perfguard: 2 regressions, 2 broken budgets**")
    )


def test_only_changed_leaves_out_unchanged_and_skipped_sections() -> None:
    out = render_markdown(report_comparison(), only_changed=True)
    assert "unchanged</summary>" not in out
    assert "skipped</summary>" not in out
    assert "1 inconclusive</summary>" in out
    assert "1 unchanged, 1 skipped" in out.splitlines()[1]


def test_budget_reasons_are_escaped_into_the_status_cell() -> None:
    c = comparison(budgets=[budget(value=None, ok=False, reason="no <head> value")])
    assert "| **BROKEN** (no &lt;head&gt; value) |" in render_markdown(c)


# --- escaping --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a|b", "a&#124;b"),
        ("`code`", "&#96;code&#96;"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("&amp; &#64;", "&amp;amp; &amp;#64;"),
        ("@octocat", "@\u200boctocat"),
        ("cc @org/team", "cc @\u200borg/team"),
        ("see #123", "see #123"),
        ("line\nbreak\r\nand\rmore", "line break  and more"),
        ("*bold* _it_ [x](http://y) ~s~", "\\*bold\\* \\_it\\_ \\[x\\](http\u200b://y) \\~s\\~"),
        ("see https://evil.example/x", "see https\u200b://evil.example/x"),
        ("HTTP://A.b and ftp://f", "HTTP\u200b://A.b and ftp\u200b://f"),
        ("www.evil.com WWW.x.org", "www\u200b.evil.com WWW\u200b.x.org"),
        ("time_https_www", "time\\_https\\_www"),
        ("$x^2$", "\\$x^2\\$"),
        ("back\\slash", "back\\\\slash"),
        ("tab\there\x00nul\u2028ls", "tab here nul ls"),
        ("time_x(n=10, kind='a')", "time\\_x(n=10, kind='a')"),
    ],
)
def test_escape_cell(raw: str, escaped: str) -> None:
    assert escape_cell(raw) == escaped


ESCAPED_PUNCTUATION = re.compile(r"\\[\\*_\[\]~$]")
ENTITY = re.compile(r"&(?:amp|lt|gt|#124|#96);")


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text() | st.builds("".join, st.lists(st.sampled_from(["https", "://", "www", ".", "x"]))))
def test_escaped_text_is_inert(text: str) -> None:
    out = escape_cell(text)
    for forbidden in ("|", "\n", "\r", "<", ">", "`"):
        assert forbidden not in out
    assert not re.search(r"@\w", out)
    assert not re.search(r"(?i)(?:https?|ftp)://|www\.", out)  # nothing GitHub autolinks
    # Every markdown punctuation character is backslash-escaped, every & starts our own entity.
    bare = ESCAPED_PUNCTUATION.sub("", out)
    assert not set(bare) & set("\\*_[]~$")
    assert "&" not in ENTITY.sub("", bare)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(name=st.text(min_size=1, max_size=60), unit=st.text(max_size=10))
def test_any_name_and_unit_stay_inside_their_row(name: str, unit: str) -> None:
    c = comparison(
        [row(Verdict.REGRESSED, benchmark=name, params=(("p", name),), unit=unit, ratio=1.3)]
    )
    out = render_markdown(c)
    rows = [line for line in out.splitlines() if line.startswith("| ") and "%" in line]
    assert len(rows) == 1
    assert rows[0].count("|") == 7  # six cells, whatever the name held
    assert "<script" not in out.lower()
    assert not re.search(r"@\w", out)


COMMONMARK_WITH_TABLES = MarkdownIt("commonmark").enable(["table", "strikethrough"])
OUR_HTML = re.compile(
    r"<!-- perfguard:sticky-comment key=default -->|</?code>|</details>"
    r"|<details><summary>[^<>]*</summary>"
)


MARKDOWN_HEAVY = st.text(
    alphabet=st.sampled_from("|`<>&@*_[]~$\\\n\r#!()/:;= aZ9") | st.characters(),
    min_size=1,
    max_size=80,
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(name=MARKDOWN_HEAVY)
@example("<script>alert(1)</script>")
@example("_em_ *em* **strong** ~~del~~ `code` $x$")
@example("[link](http://example.com) ![img](x.png) <http://auto.link>")
@example("&#124; &amp; &lt;b&gt; @octocat @org/team")
@example("a\n\n# heading\r\n- item")
def test_a_markdown_parser_sees_the_name_as_plain_text_in_its_cell(name: str) -> None:
    """Parse the comment with a CommonMark + GFM tables parser (markdown-it, as rich uses): the
    name's cell must hold one plain text run equal to the name, and the only HTML is ours."""
    c = comparison([row(Verdict.REGRESSED, benchmark=name, ratio=1.3)], warnings=[name])
    tokens = COMMONMARK_WITH_TABLES.parse(render_markdown(c))
    html = [t.content.strip() for t in tokens if t.type == "html_block"]
    for t in tokens:
        html += [child.content for child in t.children or () if child.type == "html_inline"]
    assert all(OUR_HTML.fullmatch(h) for h in html), html
    body_cells = [tokens[i + 1] for i, t in enumerate(tokens) if t.type == "td_open"]
    assert len(body_cells) == 6  # one row of six cells: nothing leaked into another cell
    children = body_cells[0].children or []
    assert {child.type for child in children} <= {"text"}
    visible = re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", " ", name).replace("@", "@\u200b")
    visible = re.sub("[\ud800-\udfff]", "\ufffd", visible)
    visible = re.sub(r"(?i)(?:https?|ftp)(?=://)|www(?=\.)", "\\g<0>\u200b", visible)
    assert "".join(child.content for child in children).strip() == visible.strip()


def test_very_long_cells_are_cut() -> None:
    c = comparison([row(Verdict.REGRESSED, benchmark="n" * 5000, ratio=1.3)])
    out = render_markdown(c)
    assert "n" * (CELL_LIMIT - 1) + "…" in out
    assert "n" * CELL_LIMIT not in out


# --- size cap ----------------------------------------------------------------------------------


def test_ten_thousand_rows_fit_github_with_a_note_counting_the_rest() -> None:
    c = many_rows(10_000)
    out = render_markdown(c)
    assert utf16_len(out) <= GITHUB_COMMENT_LIMIT
    assert len(out) > GITHUB_COMMENT_LIMIT - 1_000  # the space is used, not wasted
    note = NOTE.search(out)
    assert note is not None
    assert table_rows(out) + int(note.group(1)) == 10_000
    # Regressions, inconclusive rows and improvements all fit; unchanged ones were cut.
    assert "### Regressions (67)" in out
    assert "### Improvements (67)" in out
    assert "<details><summary>66 inconclusive</summary>" in out
    assert re.search(r"<summary>9800 unchanged \(first \d+ shown\)</summary>", out)
    assert out.count("<details>") == out.count("</details>")


def test_less_important_sections_go_first_when_space_runs_out() -> None:
    c = many_rows(2_000, changed_every=2)  # 1000 changed rows: not even they all fit
    out = render_markdown(c, max_chars=20_000)
    assert utf16_len(out) <= 20_000
    assert re.search(r"### Regressions \(334, first \d+ shown\)", out)
    assert "Improvements" not in out
    assert "unchanged" not in out.split("\n", 3)[3]
    note = NOTE.search(out)
    assert note is not None
    assert table_rows(out) + int(note.group(1)) == 2_000


def test_budgets_are_kept_before_inconclusive_and_improved_rows() -> None:
    c = comparison(
        [row(Verdict.IMPROVED, ratio=0.5, benchmark=f"b.time_{i}") for i in range(500)],
        budgets=[budget(value=1.0)],
    )
    out = render_markdown(c, max_chars=MIN_MAX_CHARS)
    assert "### Budgets (1)" in out
    assert re.search(r"### Improvements \(500, first \d+ shown\)", out)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    max_chars=st.integers(min_value=MIN_MAX_CHARS, max_value=40_000),
    count=st.integers(min_value=0, max_value=600),
    changed_every=st.integers(min_value=1, max_value=7),
)
def test_never_over_the_limit(max_chars: int, count: int, changed_every: int) -> None:
    c = many_rows(count, changed_every=changed_every)
    out = render_markdown(c, max_chars=max_chars)
    assert utf16_len(out) <= max_chars
    note = NOTE.search(out)
    dropped = int(note.group(1)) if note else 0
    assert table_rows(out) + dropped == count


def test_a_section_is_left_out_whole_when_not_even_its_header_fits() -> None:
    outcomes = set()
    for length in range(20, 160, 3):
        c = comparison(
            [row(Verdict.REGRESSED, benchmark=f"{i}" + "r" * length, ratio=1.3) for i in range(30)]
            + [row(Verdict.IMPROVED, benchmark="b.time_better", ratio=0.5)]
        )
        out = render_markdown(c, max_chars=MIN_MAX_CHARS)
        assert utf16_len(out) <= MIN_MAX_CHARS
        regressions = re.search(r"### Regressions \(30(, first (\d+) shown)?\)", out)
        assert regressions is not None
        improvements = "### Improvements (1)" in out
        # Improvements only ever appear after every regression is shown.
        assert not (improvements and regressions.group(1))
        note = NOTE.search(out)
        assert table_rows(out) + (int(note.group(1)) if note else 0) == 31
        outcomes.add((bool(regressions.group(1)), improvements))
    assert outcomes == {(False, True), (False, False), (True, False)}


def test_lone_surrogates_in_names_become_replacement_characters() -> None:
    c = comparison([row(Verdict.REGRESSED, benchmark="a\ud800b", ratio=1.3)])
    out = render_markdown(c)
    assert "a\ufffdb" in out
    out.encode("utf-8")  # postable


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    text=st.text(alphabet="&<>|@\U0001f680x", min_size=1000, max_size=3000),
    rows=st.integers(min_value=0, max_value=50),
)
def test_hostile_runs_and_warnings_cannot_push_the_comment_over_the_limit(
    text: str, rows: int
) -> None:
    side = run_info(text[:40], machine=text, env=text)
    c = comparison(
        [row(Verdict.REGRESSED, benchmark=text, ratio=1.3) for _ in range(rows)],
        warnings=[text] * 5,
        base=side,
        head=side,
    )
    out = render_markdown(c, max_chars=MIN_MAX_CHARS, marker_key="k" * 200)
    assert utf16_len(out) <= MIN_MAX_CHARS
    note = NOTE.search(out)
    assert table_rows(out) + (int(note.group(1)) if note else 0) == rows


def test_characters_outside_the_bmp_count_twice() -> None:
    emoji = "\U0001f680" * 40
    c = comparison([row(Verdict.REGRESSED, benchmark=f"{emoji}{i}", ratio=1.3) for i in range(300)])
    out = render_markdown(c, max_chars=10_000)
    assert len(out) < utf16_len(out) <= 10_000


def test_a_flood_of_warnings_is_capped_too() -> None:
    c = comparison([row(Verdict.REGRESSED, ratio=1.3)], warnings=["w" * 250] * 1_000)
    out = render_markdown(c, max_chars=10_000)
    assert utf16_len(out) <= 10_000
    assert re.search(r"> … \d+ more warnings not shown", out)
    assert "### Regressions (1)" in out
