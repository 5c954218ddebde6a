"""GitHub Actions runner conventions: the step summary file, workflow-command annotations, and
the GitHub Pages address of the repository a workflow runs for.

Pure string building plus one append; no network. Workflow commands are escaped as the runner
expects (``%``, ``\\r``, ``\\n`` in data; also ``:`` and ``,`` in properties), so a benchmark name
cannot inject a command of its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfguard.errors import ConfigError, InputError

STEP_SUMMARY_LIMIT = 1024 * 1024
"""GitHub refuses a step summary over 1 MiB (per step)."""
DEFAULT_MAX_ANNOTATIONS = 10
"""GitHub shows about 10 annotations of a kind per step."""
FAILING_VERDICTS = ("regressed", "newly-failing")
BUDGET_BROKEN = "budget-broken"
TRUNCATION_NOTE = (
    "\n\n> [!NOTE]\n> perfguard truncated this report to stay within the step summary's 1 MiB;"
    " the full report is in the run's artifact.\n"
)


_REPOSITORY = re.compile(r"([A-Za-z0-9-]+)/([A-Za-z0-9._-]+)")


def pages_site_url(environ: Mapping[str, str]) -> str:
    """The GitHub Pages site of ``GITHUB_REPOSITORY``: ``https://<owner>.github.io/<repo>/``, or
    the user site ``https://<owner>.github.io/`` of a ``<owner>.github.io`` repository (Pages
    host names are lower case)."""
    found = _REPOSITORY.fullmatch(environ.get("GITHUB_REPOSITORY", ""))
    if found is None:
        raise ConfigError(
            "--site-url auto needs GITHUB_REPOSITORY (owner/repo, set on GitHub Actions);"
            " pass the site's URL instead"
        )
    owner, repo = found[1].lower(), found[2]
    if repo.lower() == f"{owner}.github.io":
        return f"https://{owner}.github.io/"
    return f"https://{owner}.github.io/{repo}/"


def escape_data(value: str) -> str:
    """Escape a workflow command's message."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape a workflow command's property value (``title=...``)."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def workflow_command(
    command: str, message: str, properties: Mapping[str, str] | None = None
) -> str:
    """``::command k=v,k=v::message`` with every part escaped."""
    props = ",".join(f"{key}={escape_property(val)}" for key, val in (properties or {}).items())
    return f"::{command}{' ' + props if props else ''}::{escape_data(message)}"


@dataclass(frozen=True, slots=True)
class Finding:
    """One row of the JSON report that deserves an annotation."""

    label: str
    verdict: str
    reason: str
    change: float | None


def findings_from_report(report: Any) -> list[Finding]:
    """Rows with a failing verdict and broken budgets, read defensively from the JSON report
    (``perfguard compare --json-file``).

    Accepts ``{"rows": [...]}`` (or ``{"comparison": {"rows": [...]}}``) with per-row ``label``
    (or ``benchmark``), ``verdict``, ``reason`` and ``change``; and ``budgets`` entries with
    ``benchmark``, ``ok`` and ``reason``.
    """
    rows: Any = None
    if isinstance(report, dict):
        rows = report.get("rows")
        if rows is None and isinstance(report.get("comparison"), dict):
            rows = report["comparison"].get("rows")
    if not isinstance(rows, list):
        raise InputError(
            "the JSON report has no 'rows' list; pass the file written by "
            "`perfguard compare --json-file FILE`"
        )
    findings = []
    for row in rows:
        if not isinstance(row, dict) or row.get("verdict") not in FAILING_VERDICTS:
            continue
        label = row.get("label") or row.get("benchmark") or "?"
        change = row.get("change")
        findings.append(
            Finding(
                label=str(label),
                verdict=str(row["verdict"]),
                reason=str(row.get("reason") or ""),
                change=float(change) if isinstance(change, (int, float)) else None,
            )
        )
    budgets = report.get("budgets") if isinstance(report, dict) else None
    for budget in budgets if isinstance(budgets, list) else []:
        if isinstance(budget, dict) and budget.get("ok") is False:
            findings.append(
                Finding(
                    label=str(budget.get("benchmark") or "?"),
                    verdict=BUDGET_BROKEN,
                    reason=str(budget.get("reason") or ""),
                    change=None,
                )
            )
    return findings


def annotation_lines(
    findings: Sequence[Finding], *, level: str = "error", limit: int = DEFAULT_MAX_ANNOTATIONS
) -> list[str]:
    """One ``::error``/``::warning`` per finding up to ``limit``, then a count of the rest."""
    lines = []
    for finding in findings[:limit]:
        change = "" if finding.change is None else f" ({finding.change:+.1%})"
        message = f"{finding.label}{change}: {finding.reason or finding.verdict}"
        title = f"perfguard: {finding.verdict}"
        lines.append(workflow_command(level, message, {"title": title}))
    rest = len(findings) - limit
    if rest > 0:
        lines.append(
            workflow_command(
                level,
                f"and {rest} more (see the step summary or the report artifact)",
                {"title": f"perfguard: {rest} more"},
            )
        )
    return lines


def fit_summary(markdown: str, used_bytes: int, limit: int = STEP_SUMMARY_LIMIT) -> str:
    """The part of ``markdown`` that still fits after ``used_bytes``, cut at a line end."""
    room = limit - used_bytes
    data = markdown.encode("utf-8")
    if len(data) <= room:
        return markdown
    note = TRUNCATION_NOTE.encode("utf-8")
    keep = room - len(note)
    if keep <= 0:
        return ""
    text = data[:keep].decode("utf-8", errors="ignore")
    newline = text.rfind("\n")
    if newline > 0:
        text = text[:newline]
    return text + TRUNCATION_NOTE


def append_step_summary(path: Path, markdown: str, limit: int = STEP_SUMMARY_LIMIT) -> int:
    """Append to the step summary file, never past ``limit`` bytes; returns bytes written."""
    used = path.stat().st_size if path.exists() else 0
    text = fit_summary(markdown if markdown.endswith("\n") else markdown + "\n", used, limit)
    data = text.encode("utf-8")
    with path.open("ab") as handle:
        handle.write(data)
    return len(data)


def load_json_report(path: Path) -> Any:
    """The JSON report, or a one-line error saying what is wrong with it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"JSON report not found: {path}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"JSON report {path} is not valid JSON ({exc})") from exc
