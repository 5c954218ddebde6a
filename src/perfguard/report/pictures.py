"""A small picture per regression that GitHub draws inline without a hosted image: a Mermaid
``xychart-beta`` of the per-round head/base ratios with the threshold line, folded in
``<details>``.

Only numbers and perfguard's own words go inside the chart; the benchmark's name (project
text) is in the ``<summary>``, made inert by the caller. Every picture is wrapped in
:data:`~perfguard.report.fit.PICTURE_START` / ``PICTURE_END``, so the one body-fit check drops
pictures first when a body is too long.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from perfguard.models import Direction, Row
from perfguard.report.fit import PICTURE_END, PICTURE_START

NO_ROUNDS_NOTE = (
    "\n_No per-round pictures: this report compares asv results, which keep no pairing;"
    " `perfguard run` measures paired rounds and its report draws them._\n"
)


_SMALL = (
    '%%{init: {"xyChart": {"width": 600, "height": 320}, "themeVariables": {"xyChart":'
    ' {"plotColorPalette": "#cf222e, #8c959f"}}}}%%'
)
"""Small, the ratios red and the threshold grey (Mermaid's default palette draws the first line
nearly white)."""


def threshold_ratio(row: Row) -> float:
    """The head/base ratio past which the row is worse than its threshold."""
    if row.direction is Direction.HIGHER_IS_BETTER:
        return 1.0 / (1.0 + row.threshold)
    return 1.0 + row.threshold


def round_chart(row: Row) -> str:
    """The Mermaid chart of ``row``'s per-round ratios (it must have some)."""
    ratios = row.round_ratios
    limit = threshold_ratio(row)
    low = min(*ratios, limit, 1.0)
    high = max(*ratios, limit, 1.0)
    pad = (high - low) * 0.1 or 0.01
    rounds = ", ".join(str(i) for i in range(1, len(ratios) + 1))
    return (
        f"```mermaid\n{_SMALL}\nxychart-beta\n"
        f'    title "head / base per round; flat line: the {row.threshold * 100:g}% threshold"\n'
        f'    x-axis "round" [{rounds}]\n'
        f'    y-axis "head / base" {low - pad:.4f} --> {high + pad:.4f}\n'
        f"    line [{', '.join(f'{r:.4f}' for r in ratios)}]\n"
        f"    line [{', '.join(f'{limit:.4f}' for _ in ratios)}]\n"
        "```\n"
    )


def render_pictures(rows: Sequence[Row], label: Callable[[Row], str]) -> str:
    """One folded picture per row with per-round data, ``label`` giving its escaped name; the
    note instead when none of ``rows`` has rounds (a comparison of asv results)."""
    drawn = [row for row in rows if row.round_ratios]
    if not drawn:
        return NO_ROUNDS_NOTE if rows else ""
    parts = []
    for row in drawn:
        parts.append(
            f"{PICTURE_START}<details><summary>Per-round ratios: <code>{label(row)}</code>"
            "</summary>\n\n"
            f"{round_chart(row)}\n</details>\n{PICTURE_END}"
        )
    return "\n" + "".join(parts)
