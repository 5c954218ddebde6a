"""Alerts on main: one GitHub issue per open regression change point of the history.

The history's change points (``perfguard history --format json``) say where each benchmark's
level stepped. A *regression* step is open until a later step of the same series brings the
level back to within the threshold of where it was before the regression; then it has
*recovered*. :func:`plan` turns the open and recovered regressions and the issues already on
GitHub into the calls that keep exactly one issue per regression:

- an open regression without an issue gets one (created once: its marker carries the change
  point's id, so a later run finds it);
- an open one whose issue is open gets its body brought up to date (only if it changed);
- a recovered one whose issue is open gets the recovery written into it and is closed;
- an issue somebody closed by hand stays closed (the alert was seen and dismissed), and an
  issue of a change point the report no longer shows (it left the analysed window) is left
  as it is: only a recovery closes an alert.

Only issues written by the token's own login and carrying an alert marker are ours, as for
the PR comment: a marker copied into someone else's issue is never edited.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from perfguard.errors import InputError
from perfguard.github import Issue
from perfguard.report.fit import fit_comment_body

MARKER = "<!-- perfguard-alert:{id} -->"
_MARKER_RE = re.compile(r"<!-- perfguard-alert:([A-Za-z0-9_.:-]{1,80}) -->")
DEFAULT_LABEL = "perf-regression"


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One change point of one series (a benchmark and parameter combination)."""

    id: str
    """Stable across runs: the same step of the same series keeps it."""
    series: str
    """The benchmark with its parameters, as reports show it."""
    benchmark: str
    regression: bool
    change: float
    """Relative size, signed as the values moved (``0.12``: 12 % higher)."""
    interval: tuple[float, float] | None
    before: float
    after: float
    unit: str
    lower_is_better: bool
    threshold: float
    good: str
    """The last commit at the old level."""
    bad: str
    """The first commit at the new level."""
    bisect: str = ""
    """The ``asv find`` command for the range (the history report's own)."""
    paired_bisect: str = ""
    """The ``perfguard bisect`` command for the range, when the report gives one."""
    params: tuple[tuple[str, str], ...] = ()
    """The parameter combination, for the graph's address."""
    graph_url: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """A regression step, and the later step that undid it if there is one."""

    step: Step
    recovered_by: Step | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """One call :func:`plan` asks for: ``create``, ``update`` or ``close``."""

    kind: str
    alert: Alert
    title: str
    body: str
    issue: Issue | None = None


def alerts(steps: Iterable[Step]) -> list[Alert]:
    """Every regression step, each with the first later step of its series that brings the
    level back within the threshold of the level before it (None while it is open)."""
    by_series: dict[str, list[Step]] = {}
    for step in steps:
        by_series.setdefault(step.series, []).append(step)
    found: list[Alert] = []
    for series_steps in by_series.values():  # in the report's order: oldest first
        for index, step in enumerate(series_steps):
            if not step.regression:
                continue
            recovery = next(
                (later for later in series_steps[index + 1 :] if _back(step, later.after)),
                None,
            )
            found.append(Alert(step=step, recovered_by=recovery))
    return found


def _back(regression: Step, level: float) -> bool:
    """Is ``level`` within the threshold of the level before ``regression``?"""
    limit = regression.before * (1 + regression.threshold)
    if regression.lower_is_better:
        return level <= limit
    return level >= regression.before * (1 - regression.threshold)


def marker(step_id: str) -> str:
    return MARKER.format(id=step_id)


def marked_id(body: str) -> str | None:
    found = _MARKER_RE.search(body)
    return found.group(1) if found else None


def title(alert: Alert) -> str:
    step = alert.step
    word = "slower" if step.lower_is_better else "lower"
    size = f"{abs(step.change) * 100:.1f} % {word}"
    prefix = "[recovered] " if alert.recovered_by is not None else ""
    return f"{prefix}perf regression: {step.series} {size} since {step.bad[:8]}"


def body(alert: Alert, *, bisect: str | None = None) -> str:
    """The issue's text: what moved, where, how to pin the culprit, and its recovery."""
    step = alert.step
    interval = (
        f" (interval {step.interval[0] * 100:+.1f} % to {step.interval[1] * 100:+.1f} %)"
        if step.interval is not None
        else ""
    )
    lines = [
        marker(step.id),
        f"**{step.series}** moved {step.change * 100:+.1f} %{interval} on main: a regression"
        f" ({'lower' if step.lower_is_better else 'higher'} is better).",
        "",
        "| | |",
        "|---|---|",
        f"| level before | {_value(step.before, step.unit)} |",
        f"| level after | {_value(step.after, step.unit)} |",
        f"| last good commit | `{step.good}` |",
        f"| first bad commit | `{step.bad}` |",
    ]
    if step.graph_url:
        lines.append(f"| graph | [{step.benchmark}]({step.graph_url}) |")
    lines += [
        "",
        "Pin the culprit between the two commits:",
        "",
        "```bash",
        step.bisect or f"asv find {step.good[:8]}..{step.bad[:8]} {step.benchmark}",
    ]
    if step.paired_bisect:
        lines.append(f"{step.paired_bisect}   # or with paired runs")
    if bisect:
        lines.append(bisect)
    lines.append("```")
    if alert.recovered_by is not None:
        back = alert.recovered_by
        lines += [
            "",
            f"**Recovered** at `{back.bad}`: the level is back to {_value(back.after, step.unit)}"
            f" ({back.change * 100:+.1f} %), within {step.threshold * 100:g} % of where it was.",
        ]
    lines += ["", "_Kept up to date by perfguard alerts on every main-branch run._"]
    return fit_comment_body("\n".join(lines))


def _value(value: float, unit: str) -> str:
    return f"{value:.4g} {unit}".strip()


def plan(
    found: Sequence[Alert],
    issues: Iterable[Issue],
    *,
    author: str,
    bisect_command: Mapping[str, str] | None = None,
) -> tuple[list[Action], list[Issue]]:
    """The calls that leave one issue per regression; and the marked issues by other logins,
    which are left alone (the caller says so)."""
    ours: dict[str, Issue] = {}
    foreign: list[Issue] = []
    for issue in issues:
        step_id = marked_id(issue.body)
        if step_id is None:
            continue
        if issue.author.casefold() != author.casefold():
            foreign.append(issue)
            continue
        first = ours.get(step_id)
        if first is None or issue.number < first.number:  # the first one made is the alert
            ours[step_id] = issue
    actions: list[Action] = []
    for alert in found:
        existing = ours.get(alert.step.id)
        text = body(alert, bisect=(bisect_command or {}).get(alert.step.id))
        heading = title(alert)
        if existing is None:
            if alert.recovered_by is None:  # a recovered one that never had an issue: nothing
                actions.append(Action(kind="create", alert=alert, title=heading, body=text))
            continue
        if existing.state != "open":
            continue  # closed: by a recovery (done) or by a person (dismissed)
        if alert.recovered_by is not None:
            actions.append(
                Action(kind="close", alert=alert, title=heading, body=text, issue=existing)
            )
        elif existing.body != text or existing.title != heading:
            actions.append(
                Action(kind="update", alert=alert, title=heading, body=text, issue=existing)
            )
    return actions, foreign


def steps_from_report(report: Any, source: str) -> list[Step]:
    """The change points of a ``perfguard history`` JSON report (schema version 1), oldest
    first (by position in the history)."""
    if not isinstance(report, dict) or not isinstance(report.get("change_points"), list):
        raise InputError(f"{source}: not a perfguard history JSON report (no change_points)")
    if report.get("schema_version") != 1:
        raise InputError(
            f"{source}: history schema_version {report.get('schema_version')!r} is not 1"
        )
    steps: list[tuple[int, Step]] = []
    try:
        for point in report["change_points"]:
            interval = point.get("interval")
            bounds = (
                (float(interval[0]), float(interval[1]))
                if interval and None not in interval
                else None
            )
            step = Step(
                id=str(point["id"]),
                series=str(point["label"]),
                benchmark=str(point["benchmark"]),
                regression=point["verdict"] == "regressed",
                change=float(point["change"]),
                interval=bounds,
                before=float(point["before"]),
                after=float(point["after"]),
                unit=str(point.get("unit", "")),
                lower_is_better=point["direction"] == "lower",
                threshold=float(point["threshold"]),
                good=str(point["last_good"]),
                bad=str(point["first_bad"]),
                bisect=str(point.get("bisect") or ""),
                paired_bisect=str(point.get("paired_bisect") or "").replace("`", ""),
                params=tuple((str(k), str(v)) for k, v in (point.get("params") or {}).items()),
            )
            steps.append((int(point["position"]), step))
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise InputError(f"{source}: a change point is malformed ({exc!r})") from exc
    return [step for _, step in sorted(steps, key=lambda item: item[0])]
