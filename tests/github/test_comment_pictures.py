"""`perfguard comment` against the local GitHub double: a body over GitHub's limit loses its
pictures before any row (the one body-fit check, report/fit.py)."""

from __future__ import annotations

from pathlib import Path

from perfguard.report import sticky_marker
from perfguard.report.fit import PICTURE_END, PICTURE_START
from tests.github.conftest import REPO
from tests.github.double import GitHubDouble
from tests.github.test_comment import FAST, Cli


def test_an_oversized_report_drops_its_pictures_and_keeps_every_row(
    github: GitHubDouble, cli: Cli, tmp_path: Path
) -> None:
    rows = "".join(f"| row {i} | {'x' * 60} |\n" for i in range(850))  # ~62 000 characters
    picture = (
        f"{PICTURE_START}<details>\n\n```mermaid\n{'y' * 3000}\n```\n</details>\n{PICTURE_END}"
    )
    body_file = tmp_path / "report.md"
    body_file.write_text(rows + picture + picture, encoding="utf-8")
    run = cli("comment", "--repo", REPO, "--pr", "7", "--body-file", str(body_file), *FAST)
    assert run.code == 0, run.err
    [body] = github.bodies_with(REPO, 7, sticky_marker("default"))
    assert len(body) <= 65536
    assert rows in body  # every row, whole
    assert "mermaid" not in body and "report truncated" not in body
    assert "(2 per-round pictures left out to fit the comment limit)" in body
