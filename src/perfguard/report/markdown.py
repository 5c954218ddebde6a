"""The markdown report: the body of perfguard's sticky PR comment and of the job summary.

Two promises shape this module. Text that comes from a project (benchmark names, parameters,
units, reasons, machine names) renders inert, whatever it contains: see :func:`escape_cell`.
And the body never exceeds ``max_chars`` (GitHub refuses comments over 65 536 characters): rows
are kept in order of importance and the rest are counted in a closing note.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from perfguard.errors import ConfigError
from perfguard.models import BudgetCheck, Comparison, Row, RunInfo, Verdict
from perfguard.report import format as fmt
from perfguard.report import sticky_marker
from perfguard.report.fit import GITHUB_COMMENT_LIMIT, comment_size, fit_comment_body
from perfguard.report.links import graph_url
from perfguard.report.pictures import NO_ROUNDS_NOTE, render_pictures

MIN_MAX_CHARS = 4_096
"""Room for the marker, the status, the commits, some warnings and a few rows; smaller limits
are refused."""
MARKER_KEY_LIMIT = 200
SIDE_LIMIT = 60
"""Longest machine or environment name shown (before escaping) in the commits line."""
CELL_LIMIT = 300
"""Longest a single cell's text gets (before escaping); longer text is cut with an ellipsis."""

_ESCAPES: dict[int, str] = {
    **dict.fromkeys((*range(32), *range(127, 160), 8232, 8233), " "),
    # Lone surrogates (possible in names read from JSON) cannot be sent as UTF-8.
    **dict.fromkeys(range(0xD800, 0xE000), "\ufffd"),
    ord("\\"): "\\\\",
    ord("&"): "&amp;",
    ord("<"): "&lt;",
    ord(">"): "&gt;",
    ord("|"): "&#124;",
    ord("`"): "&#96;",
    ord("@"): "@\u200b",
    ord("*"): "\\*",
    ord("_"): "\\_",
    ord("["): "\\[",
    ord("]"): "\\]",
    ord("~"): "\\~",
    ord("$"): "\\$",
}
_AUTOLINK = re.compile(r"(?:https?|ftp)(?=://)|www(?=\.)", re.IGNORECASE)
"""Where GitHub's extended autolinks start (cmark-gfm: ``http://``, ``https://``, ``ftp://``,
``www.``); e-mail addresses are already broken by the zero-width space after ``@``."""


def escape_cell(text: str) -> str:
    """``text`` made inert for a GitHub markdown table cell (or any inline position).

    - ``|``, backticks, ``<``, ``>`` and ``&`` become HTML entities: no cell breaks, no code spans,
      no HTML (``<script>``, ``<details>``), no entity tricks;
    - ``@`` gets a zero-width space after it, so ``@name`` notifies nobody (GitHub resolves
      entities before it looks for mentions, so ``&#64;`` would not be enough);
    - markdown punctuation (``\\ * _ [ ] ~ $``) is backslash-escaped: no emphasis, links or math;
    - newlines, carriage returns and other control characters become spaces, and lone
      surrogates (which cannot be encoded) become U+FFFD;
    - bare URLs get a zero-width space before ``://`` (``https://``, ``http://``, ``ftp://``)
      or after ``www``, so GitHub does not turn them into links.

    ``#123`` stays as it is: an issue link is harmless.
    """
    return _AUTOLINK.sub(lambda found: found[0] + "\u200b", text.translate(_ESCAPES))


def render_markdown(
    comparison: Comparison,
    *,
    only_changed: bool = False,
    marker_key: str = "default",
    max_chars: int = GITHUB_COMMENT_LIMIT,
    site_url: str | None = None,
) -> str:
    """The PR comment body: marker, status, warnings, regressions and improvements, budgets, the
    rest folded in ``<details>``, then a picture per regression; never longer than
    ``max_chars``. With ``site_url`` (the published asv site, see
    :mod:`perfguard.report.links`) each regression and improvement links to its graph.

    Pictures get only the room the rows leave, and the fit check drops them first.

    Length is counted by :func:`perfguard.report.fit.comment_size` (the larger of characters
    and UTF-16 code units), so the limit holds whichever way GitHub counts.
    """
    if max_chars < MIN_MAX_CHARS:
        raise ConfigError(f"the markdown limit must be at least {MIN_MAX_CHARS} characters")
    bad_key = "\n" in marker_key or "\r" in marker_key or "-->" in marker_key
    if bad_key or len(marker_key) > MARKER_KEY_LIMIT:
        raise ConfigError(
            f"the comment key {marker_key[:MARKER_KEY_LIMIT]!r} must be one line without '-->',"
            f" at most {MARKER_KEY_LIMIT} characters"
        )
    sections = _sections(comparison, only_changed=only_changed, site_url=site_url)
    total_rows = sum(len(s.items) for s in sections)
    reserve = _size(_note(total_rows))
    head = _head(comparison, marker_key, max_chars - reserve)
    kept = _fill(sections, max_chars - _size(head) - reserve)
    dropped = total_rows - sum(kept.values())
    body = [head]
    for section in sorted(sections, key=lambda s: s.position):
        count = kept.get(section.title, 0)
        if count:
            body.append(section.render(count))
    if dropped:
        body.append(_note(dropped))
    pictures = render_pictures(comparison.regressions, lambda row: _html_text(row.label))
    if pictures == NO_ROUNDS_NOTE and _size("".join(body) + pictures) > max_chars:
        pictures = ""  # only a note, not worth a cut
    body.append(pictures)
    # The budget above keeps the rows within max_chars; the one fit check has the last word
    # (it drops pictures first).
    return fit_comment_body("".join(body), max_chars)


_size = comment_size
"""The one count of a body's length (:mod:`perfguard.report.fit`)."""


def _note(count: int) -> str:
    return f"\n… {count} more rows not shown (see the JSON report / workflow artifact)\n"


def _clip(text: str, limit: int = CELL_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cell(text: str) -> str:
    return escape_cell(_clip(text))


_HTML_TEXT = {
    **{k: v for k, v in _ESCAPES.items() if v in (" ", "\ufffd")},
    ord("&"): "&amp;",
    ord("<"): "&lt;",
    ord(">"): "&gt;",
    ord('"'): "&quot;",
    ord("@"): "@\u200b",
}


def _html_text(text: str) -> str:
    """``text`` made inert inside an HTML element (a ``<summary>``), where markdown escapes
    would show: entities, no control characters, no mentions, clipped like a cell."""
    return _clip(text).translate(_HTML_TEXT)


def _status(comparison: Comparison) -> str:
    """The bold first line: what a reviewer must know before anything else."""
    regressed = comparison.count(Verdict.REGRESSED)
    failing = comparison.count(Verdict.NEWLY_FAILING)
    broken = len(comparison.broken_budgets)
    problems = []
    if regressed:
        problems.append(f"{regressed} regression{'s' if regressed != 1 else ''}")
    if failing:
        problems.append(f"{failing} newly failing")
    if broken:
        problems.append(f"{broken} broken budget{'s' if broken != 1 else ''}")
    return f"**perfguard: {', '.join(problems) if problems else 'no regressions'}**"


def _side(run: RunInfo) -> str:
    machine, env = _clip(run.machine, SIDE_LIMIT), _clip(run.env, SIDE_LIMIT)
    return f"<code>{_cell(run.commit[:12])}</code> ({escape_cell(machine)}, {escape_cell(env)})"


def _head(comparison: Comparison, marker_key: str, room: int) -> str:
    """Marker, status, summary, commits and warnings: the part that is never dropped.

    Without warnings it is bounded (every part is clipped) and well inside
    :data:`MIN_MAX_CHARS`. Warnings are ours and short, but one could quote a long machine
    name: together they get at most a quarter of ``room`` and never more than it leaves, with
    a count of any left out.
    """
    lines = [
        sticky_marker(marker_key) + "\n",
        f"{_status(comparison)} · {fmt.summary_line(comparison)}\n\n",
        f"Base {_side(comparison.base)} → head {_side(comparison.head)}\n",
    ]
    more = "\n> … 999999 more warnings not shown\n"
    warning_room = min(room // 4, room - _size("".join(lines)) - len(more))
    used = 0
    for shown, warning in enumerate(comparison.warnings):
        block = f"\n> [!WARNING]\n> {_cell(warning)}\n"
        if used + _size(block) > warning_room:
            lines.append(f"\n> … {len(comparison.warnings) - shown} more warnings not shown\n")
            break
        lines.append(block)
        used += _size(block)
    # What the change column means when it is not head/base (short, ours: never dropped).
    lines.extend(
        f"\n{_cell(note)}\n" for note in fmt.footnotes(comparison.rows, comparison.counted_by)
    )
    lines.append(_shards(comparison, room // 4))
    return "".join(lines)


def _shards(comparison: Comparison, room: int) -> str:
    """Where each shard ran, within ``room`` (each line clipped like a cell; a count of the
    shards left out)."""
    shards = fmt.shard_lines(comparison)
    if not shards:
        return ""
    block = "\n"
    for shown, line in enumerate(shards):
        item = f"- {_cell(line)}\n"
        if _size(block + item) + len("- … 999 more shards\n") > room:
            return block + f"- … {len(shards) - shown} more shards\n"
        block += item
    return block


@dataclass(frozen=True)
class _Section:
    """One table of the comment; ``items`` are already in report order."""

    title: str
    position: int
    """Where it appears in the comment (importance, not this, decides what is kept)."""
    folded: bool
    header: str
    items: Sequence[Row] | Sequence[BudgetCheck]
    site_url: str | None = None
    """Where the rows' benchmark names link to their graphs (None: no links)."""

    def frame(self, shown: int) -> str:
        """Everything but the rows: heading or ``<details>``, table header, closing tag."""
        count = len(self.items)
        if self.folded:
            label = f"{count} {self.title.lower()}"
            if shown < count:
                label += f" (first {shown} shown)"
            return f"\n<details><summary>{label}</summary>\n\n{self.header}\n</details>\n"
        extra = f", first {shown} shown" if shown < count else ""
        return f"\n### {self.title} ({count}{extra})\n\n{self.header}"

    def line(self, index: int) -> str:
        item = self.items[index]
        if isinstance(item, BudgetCheck):
            cells = _budget_cells(item)
        else:
            cells = _row_cells(item, self.site_url)
        return "| " + " | ".join(cells) + " |\n"

    def render(self, shown: int) -> str:
        frame = self.frame(shown)
        rows = "".join(self.line(i) for i in range(shown))
        if self.folded:
            cut = frame.index("\n</details>")
            return frame[:cut] + rows + frame[cut:]
        return frame + rows


_ROW_HEADER = (
    "| Benchmark | Base | Head | Change | Interval | Verdict |\n|:--|--:|--:|--:|--:|:--|\n"
)
_BUDGET_HEADER = "| Benchmark | Limit | Head | Status |\n|:--|--:|--:|:--|\n"

# (title, verdicts, folded, position, importance). Position orders the comment; importance
# decides what is kept when space runs out (0 first). Budgets sit at position 2, importance 1.
_ROW_SECTIONS = (
    ("Regressions", (Verdict.REGRESSED, Verdict.NEWLY_FAILING), False, 0, 0),
    ("Improvements", (Verdict.IMPROVED, Verdict.FIXED), False, 1, 3),
    ("Inconclusive", (Verdict.INCONCLUSIVE,), True, 3, 2),
    ("Incomparable", (Verdict.INCOMPARABLE,), True, 4, 4),
    ("New", (Verdict.NEW,), True, 5, 5),
    ("Removed", (Verdict.REMOVED,), True, 6, 6),
    ("Unchanged", (Verdict.UNCHANGED,), True, 7, 7),
    ("Skipped", (Verdict.SKIPPED,), True, 8, 8),
)
_BUDGET_POSITION = 2
_BUDGET_IMPORTANCE = 1


_LINKED = ("Regressions", "Improvements")
"""The sections whose rows link to their graphs on the site: the flagged benchmarks."""


def _sections(
    comparison: Comparison, *, only_changed: bool, site_url: str | None = None
) -> list[_Section]:
    """Non-empty sections, most important first."""
    by_verdict: dict[Verdict, list[Row]] = {v: [] for v in Verdict}
    for row in comparison.rows:
        if not only_changed or fmt.is_changed(row):
            by_verdict[row.verdict].append(row)
    ranked: list[tuple[int, _Section]] = []
    for title, verdicts, folded, position, importance in _ROW_SECTIONS:
        rows = fmt.worst_first(_chain(by_verdict[v] for v in verdicts))
        if rows:
            site = site_url if title in _LINKED else None
            section = _Section(title, position, folded, _ROW_HEADER, rows, site)
            ranked.append((importance, section))
    if comparison.budgets:
        # Broken budgets first: they fail the gate.
        budgets = sorted(comparison.budgets, key=lambda b: b.ok)
        section = _Section("Budgets", _BUDGET_POSITION, False, _BUDGET_HEADER, budgets)
        ranked.append((_BUDGET_IMPORTANCE, section))
    return [section for _, section in sorted(ranked, key=lambda pair: pair[0])]


def _chain(groups: Iterable[list[Row]]) -> list[Row]:
    return [row for group in groups for row in group]


def _fill(sections: Sequence[_Section], room: int) -> dict[str, int]:
    """How many rows of each section fit in ``room``, filling the most important first.

    What is kept is always a prefix in importance order: a less important row is never shown
    while a more important one is left out. Rows are rendered only to measure the ones that
    might fit, so a 10 000-row comparison costs about as much as the rows that are shown.
    """
    kept: dict[str, int] = {}
    for section in sections:
        # The frame as long as it can get: with "first N shown" and N as wide as it can be.
        frame = _size(section.frame(len(section.items) - 1))
        if frame >= room:
            break
        room -= frame
        shown = 0
        while shown < len(section.items):
            cost = _size(section.line(shown))
            if cost > room:
                break
            room -= cost
            shown += 1
        if shown:
            kept[section.title] = shown
        if shown < len(section.items):
            break
    return kept


def _row_cells(row: Row, site_url: str | None = None) -> list[str]:
    label = _cell(row.label)
    if site_url is not None:  # graph_url percent-encodes: nothing in it ends the link
        label = f"[{label}]({graph_url(site_url, row.benchmark, row.params)})"
    return [
        label,
        _cell(fmt.format_measurement(row.base)),
        _cell(fmt.format_measurement(row.head)),
        _cell(fmt.format_change(row)),
        fmt.format_interval(row),
        _verdict_cell(row),
    ]


def _verdict_cell(row: Row) -> str:
    label = fmt.verdict_label(row.verdict)
    if row.verdict in (Verdict.REGRESSED, Verdict.NEWLY_FAILING):
        label = f"**{label}**"
    note = fmt.verdict_note(row)
    return f"{label} ({_cell(note)})" if note else label


def _budget_cells(budget: BudgetCheck) -> list[str]:
    status = "ok" if budget.ok else "**BROKEN**"
    if budget.reason:
        status = f"{status} ({_cell(budget.reason)})"
    return [
        _cell(budget.benchmark),
        _cell(fmt.format_bound(budget)),
        _cell(fmt.format_value(budget.value, budget.unit)),
        status,
    ]
