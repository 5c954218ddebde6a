"""The terminal report: a worst-first table, the budgets beside it and a one-line summary.

Tables up to :data:`RICH_ROW_LIMIT` rows are drawn by rich. Larger ones go through
:func:`_plain_table`, which draws the same table character for character: rich measures and
wraps every cell and needs seconds for 10 000 rows, while a comparison of that size must render
in well under a second. Column widths and name breaks are decided here for both paths
(:func:`_fit`, :func:`_wrap`), which is what keeps them identical. Nothing is left out on
either path.
"""

from __future__ import annotations

import io
import operator
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from rich import box
from rich.cells import cell_len, get_character_cell_size
from rich.color import ColorSystem
from rich.console import Console
from rich.style import Style
from rich.table import Table
from rich.text import Text

from perfguard.models import BudgetCheck, Comparison, Row, RunInfo, Verdict
from perfguard.report import format as fmt

RICH_ROW_LIMIT = 200
"""Above this many rows a table is drawn by the fast plain-text path instead of rich."""

_VERDICT_STYLE = {
    Verdict.REGRESSED: "bold red",
    Verdict.NEWLY_FAILING: "bold red",
    Verdict.INCONCLUSIVE: "yellow",
    Verdict.INCOMPARABLE: "magenta",
    Verdict.IMPROVED: "green",
    Verdict.FIXED: "green",
    Verdict.NEW: "cyan",
    Verdict.REMOVED: "cyan",
    Verdict.UNCHANGED: "",
    Verdict.SKIPPED: "dim",
}
_RULE = "─"
_GAP = "  "
"""Between two columns: rich's left padding of one space plus box.SIMPLE's blank divider."""
_PADDING = (0, 0, 0, 1)
"""rich's cell padding (top, right, bottom, left): one space before each cell, so a table line
starts with one space and two separate its columns."""

_CONTROL_ESCAPES = {
    **{code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))},
    **{code: f"\\u{code:04x}" for code in range(0xD800, 0xE000)},
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
}


def terminal_text(text: str) -> str:
    """Control characters shown escaped (``\\x1b``, ``\\n``): a benchmark name must not be able
    to move the cursor, recolour the terminal or break a table row. Lone surrogates, which no
    terminal encoding can print, are shown escaped too (``\\ud800``)."""
    return text if text.isprintable() else text.translate(_CONTROL_ESCAPES)


@dataclass(frozen=True)
class _Column:
    header: str
    justify: str = "left"
    fold: bool = False
    """Breaks after dots and underscores, else anywhere, rather than at spaces (names have none)."""
    shrink_to: int | None = None
    """Narrowest the column wraps to when the table is too wide; ``None``: it never wraps."""
    share: int = 1
    """Its weight when wrapping columns split the room left by the others."""


# Narrowest widths chosen so that a table fits 80 columns: values wrap at their unit
# ("12.3k" over "events/s"); changes and intervals never wrap.
_ROW_COLUMNS = (
    _Column("benchmark", fold=True, shrink_to=16, share=3),
    _Column("base", justify="right", shrink_to=8),
    _Column("head", justify="right", shrink_to=8),
    _Column("change", justify="right"),
    _Column("interval", justify="right"),
    _Column("verdict", shrink_to=12, share=2),
)
_BUDGET_COLUMNS = (
    _Column("benchmark", fold=True, shrink_to=16, share=3),
    _Column("limit", justify="right", shrink_to=8),
    _Column("head", justify="right", shrink_to=8),
    _Column("status", shrink_to=10, share=2),
)


def render_terminal(
    comparison: Comparison, *, only_changed: bool = False, color: bool = False, width: int = 120
) -> str:
    """The report for a terminal or a CI log; ANSI colour codes only when ``color`` is true.

    ``only_changed`` hides unchanged and skipped rows; the summary still counts every row.
    """
    parts: list[str] = []
    for warning in comparison.warnings:
        text = _paragraph(f"WARNING: {terminal_text(warning)}", width)
        parts.append(_styled(text, "bold red", color) + "\n")
    sides = f"base {_side(comparison.base)} -> head {_side(comparison.head)}"
    if _cells(sides) > width:
        sides = f"base {_side(comparison.base)}\nhead {_side(comparison.head)}"
    parts.append(sides + "\n")
    rows = fmt.visible_rows(comparison, only_changed=only_changed)
    if rows:
        parts.append(
            _table(_ROW_COLUMNS, [_row_cells(r) for r in rows], _row_styles(rows), color, width)
        )
        parts.extend(
            _paragraph(note, width) + "\n" for note in fmt.footnotes(rows, comparison.counted_by)
        )
    else:
        parts.append("No benchmarks to show.\n" if only_changed else "No benchmarks compared.\n")
    if comparison.budgets:
        budgets = comparison.budgets
        parts.append("\nBudgets\n")
        parts.append(
            _table(
                _BUDGET_COLUMNS,
                [_budget_cells(b) for b in budgets],
                ["" if b.ok else "bold red" for b in budgets],
                color,
                width,
            )
        )
    if comparison.shards:
        parts.append("\n")
        parts.extend(
            _paragraph(terminal_text(line), width) + "\n" for line in fmt.shard_lines(comparison)
        )
    summary = _paragraph(fmt.summary_line(comparison), width)
    parts.append("\n" + _styled(summary, "bold red" if comparison.failed else "bold", color) + "\n")
    # Table padding leaves trailing spaces: noise in CI logs and in copied text.
    return "\n".join(line.rstrip() for line in "".join(parts).split("\n"))


def _paragraph(text: str, width: int) -> str:
    """``text`` wrapped at spaces to ``width`` (continuation lines indented by two)."""
    return "\n".join(
        textwrap.wrap(text, width, subsequent_indent="  ", break_long_words=False) or [""]
    )


def _side(run: RunInfo) -> str:
    return terminal_text(f"{run.commit[:12]} ({run.machine}, {run.env})")


def _row_cells(row: Row) -> tuple[str, ...]:
    return (
        terminal_text(row.label),
        # Units come from benchmarks.json: as untrusted as names.
        terminal_text(fmt.format_measurement(row.base)),
        terminal_text(fmt.format_measurement(row.head)),
        fmt.format_change(row),
        fmt.format_interval(row),
        terminal_text(fmt.format_verdict(row)),
    )


def _row_styles(rows: Sequence[Row]) -> list[str]:
    return [_VERDICT_STYLE[r.verdict] for r in rows]


def _budget_cells(budget: BudgetCheck) -> tuple[str, ...]:
    status = fmt.budget_status(budget)
    if budget.reason:
        status = f"{status} ({budget.reason})"
    return (
        terminal_text(budget.benchmark),
        terminal_text(fmt.format_bound(budget)),
        terminal_text(fmt.format_value(budget.value, budget.unit)),
        terminal_text(status),
    )


def _styled(text: str, style: str, color: bool) -> str:
    if not color or not style:
        return text
    return Style.parse(style).render(text, color_system=ColorSystem.STANDARD)


def _table(
    columns: Sequence[_Column],
    cells: Sequence[tuple[str, ...]],
    styles: Sequence[str],
    color: bool,
    width: int,
) -> str:
    """One table as text; the last column carries the row's style (the verdict or status).

    Column widths are decided here (:func:`_fit`) for both paths, so a table looks the same
    whichever draws it. When even the narrowest layout is wider than ``width`` the table is
    drawn wider than asked: long lines are better than columns silently dropped.
    """
    sizes = [sorted(map(_cells, column_cells)) for column_cells in zip(*cells, strict=True)]
    header = [_cells(column.header) for column in columns]
    natural = [max(h, column[-1]) for h, column in zip(header, sizes, strict=True)]
    # Names count whole; other wrapping columns (verdicts) by their 90th percentile.
    typical = [
        n if column.fold else max(h, sizes_i[(len(sizes_i) - 1) * 9 // 10])
        for column, n, h, sizes_i in zip(columns, natural, header, sizes, strict=True)
    ]
    widths = _fit(columns, natural, typical, width)
    if len(cells) > RICH_ROW_LIMIT:
        return _plain_table(columns, cells, styles, color, widths)
    table = Table(box=box.SIMPLE, show_edge=False, header_style="bold", padding=_PADDING)
    for column, column_width in zip(columns, widths, strict=True):
        table.add_column(
            column.header,
            justify="right" if column.justify == "right" else "left",
            overflow="fold",
            no_wrap=column.shrink_to is None,
            width=column_width,
        )
    folds = [i for i, column in enumerate(columns) if column.fold]
    for row_cells, style in zip(cells, styles, strict=True):
        texts = [Text(c) for c in row_cells[:-1]] + [Text(row_cells[-1], style=style)]
        for i in folds:
            # Our own break points (after dots and underscores), the same as the fast path's.
            texts[i] = Text("\n".join(_wrap(row_cells[i], columns[i], widths[i])))
        table.add_row(*texts)
    # Every setting explicit: the CLI has already read NO_COLOR, FORCE_COLOR and the TTY.
    console = Console(
        file=io.StringIO(),
        width=sum(widths) + _overhead(columns),
        color_system="standard" if color else None,
        force_terminal=color,
        no_color=not color,
    )
    console.print(table)
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


def _plain_table(
    columns: Sequence[_Column],
    cells: Sequence[tuple[str, ...]],
    styles: Sequence[str],
    color: bool,
    widths: Sequence[int],
) -> str:
    """The fast path for large tables: rich's ``box.SIMPLE`` look, without its per-cell cost."""
    lines = [_line([c.header for c in columns], columns, widths)]
    if color:
        lines[0] = Style.parse("bold").render(lines[0], color_system=ColorSystem.STANDARD)
    lines.append(_RULE * (sum(widths) + _overhead(columns)))
    right = [column.justify == "right" for column in columns]
    for row_cells, style in zip(cells, styles, strict=True):
        row_style = style if color else ""
        if "".join(row_cells).isascii() and all(map(operator.le, map(len, row_cells), widths)):
            # The common case, kept lean: one line, no wide characters.
            padded = [
                text.rjust(w) if r else text.ljust(w)
                for text, w, r in zip(row_cells, widths, right, strict=True)
            ]
            if row_style:
                padded[-1] = _styled(padded[-1], row_style, True)
            lines.append(f" {_GAP.join(padded)}")
            continue
        wrapped = [
            _wrap(text, column, w)
            for text, column, w in zip(row_cells, columns, widths, strict=True)
        ]
        height = max(len(parts) for parts in wrapped)
        for n in range(height):
            line_cells = [parts[n] if n < len(parts) else "" for parts in wrapped]
            lines.append(_line(line_cells, columns, widths, row_style))
    return "\n".join(lines) + "\n"


def _overhead(columns: Sequence[_Column]) -> int:
    """Characters a table line spends outside its cells: one space at the start plus the gaps."""
    return 1 + len(_GAP) * (len(columns) - 1)


def _fit(
    columns: Sequence[_Column], natural: Sequence[int], typical: Sequence[int], width: int
) -> list[int]:
    """Column widths: natural ones when the table fits ``width``, else narrower wrapping columns.

    The wrapping columns first split the room the others leave by their ``share``, each asking
    for its *typical* width (whole names; the 90th percentile of verdicts); what is left goes
    to their longest cells. So a column of short verdicts with a few long reasons wraps those
    few rows, rather than every benchmark name wrapping to make room for them. No column goes
    below ``shrink_to``: a very narrow terminal gets long lines rather than fragments.
    """
    widths = list(natural)
    flex = [i for i, c in enumerate(columns) if c.shrink_to is not None]
    room = width - _overhead(columns) - sum(w for i, w in enumerate(widths) if i not in flex)
    if sum(widths[i] for i in flex) <= room:
        return widths
    floors = {i: min(natural[i], columns[i].shrink_to or 0) for i in flex}
    shares = {i: columns[i].share for i in flex}
    first = _split(room, {i: max(typical[i], floors[i]) for i in flex}, shares, floors)
    left = room - sum(first.values())
    extra = _split(left, {i: natural[i] - first[i] for i in flex}, shares, dict.fromkeys(flex, 0))
    for i in flex:
        widths[i] = first[i] + extra[i]
    return widths


def _split(
    room: int, demand: dict[int, int], shares: dict[int, int], floors: dict[int, int]
) -> dict[int, int]:
    """Share ``room`` out by ``shares``: nobody gets more than its demand or less than its floor
    (so the total exceeds ``room`` only when the floors do)."""
    given: dict[int, int] = {}
    pending = list(demand)
    while pending:
        total = sum(shares[i] for i in pending)
        quota = {i: room * shares[i] / total for i in pending}
        # A floor above the quota is granted first; then a demand below it. Either changes
        # the room left for the others: repeat.
        settled = [i for i in pending if floors[i] >= quota[i]]
        for i in settled:
            given[i] = floors[i]
        if not settled:
            settled = [i for i in pending if demand[i] <= quota[i]]
            for i in settled:
                given[i] = demand[i]
        if not settled:
            break
        for i in settled:
            room -= given[i]
            pending.remove(i)
    if pending:
        total = sum(shares[i] for i in pending)
        for i in pending:
            given[i] = room * shares[i] // total
        given[pending[0]] += room - sum(given[i] for i in pending)  # rounding: to the name
    return given


def _cells(text: str) -> int:
    """Terminal cells ``text`` takes (wide characters take two); plain ``len`` for ASCII."""
    return len(text) if text.isascii() else cell_len(text)


def _wrap(text: str, column: _Column, width: int) -> list[str]:
    if _cells(text) <= width:
        return [text]
    if not column.fold:
        return textwrap.wrap(text, width, break_on_hyphens=False) or [""]
    parts = []
    while _cells(text) > width:
        cut = _fold_at(text, width)
        parts.append(text[:cut])
        text = text[cut:]
    parts.append(text)
    return parts


_BREAK_AFTER = "._(,/- "
"""Where a benchmark name reads well broken: after a dot, an underscore, a comma..."""


def _fold_at(text: str, width: int) -> int:
    """Where to cut ``text`` so the first part fits ``width`` cells: after the last natural
    break in its last two thirds, else exactly at the width."""
    end = width
    if not text.isascii():
        used = end = 0
        while used + get_character_cell_size(text[end]) <= width:
            used += get_character_cell_size(text[end])
            end += 1
        end = max(end, 1)
    best = max(text.rfind(char, 0, end) for char in _BREAK_AFTER) + 1
    return best if best > end // 3 else end


def _line(
    cells: Sequence[str], columns: Sequence[_Column], widths: Sequence[int], style: str = ""
) -> str:
    padded = [
        (text.rjust if column.justify == "right" else text.ljust)(width - _cells(text) + len(text))
        for text, column, width in zip(cells, columns, widths, strict=True)
    ]
    if style:
        padded[-1] = _styled(padded[-1], style, True)
    return " " + _GAP.join(padded)
