"""The report's links to the published asv site: the URL setting (``--site-url``,
``site-url`` in the configuration, ``auto`` from GITHUB_REPOSITORY) and asv's address of a
graph with its parameters. That asv's own JavaScript reads the address back is checked in a
browser in tests/github/test_site_graphs.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from perfguard.errors import ConfigError
from perfguard.models import Verdict
from perfguard.report.links import graph_url, site_url
from perfguard.report.markdown import render_markdown
from tests.helpers.comparisons import comparison, row

ROUNDS = Path(__file__).parents[1] / "github/data/perf-rounds/session-slowdown.rounds.json"
SITE = "https://example.github.io/proj/"


def test_auto_is_the_repositorys_github_pages_site() -> None:
    env = {"GITHUB_REPOSITORY": "PerfOrg/perfguard"}
    assert site_url("auto", env) == "https://perforg.github.io/perfguard/"
    user_site = {"GITHUB_REPOSITORY": "perforg/PerfOrg.github.io"}
    assert site_url("auto", user_site) == "https://perforg.github.io/"


def test_no_setting_no_links_and_a_url_gets_its_slash() -> None:
    assert site_url(None, {"GITHUB_REPOSITORY": "o/r"}) is None  # never guessed
    assert site_url("https://bench.example.org/site", {}) == "https://bench.example.org/site/"


@pytest.mark.parametrize(
    "setting", ["ftp://x.org/", "https://x.org/a b", "https://x.org/)[x](javascript:1", "x.org"]
)
def test_a_url_that_could_break_the_markdown_is_refused(setting: str) -> None:
    with pytest.raises(ConfigError, match="plain http"):
        site_url(setting, {})


def test_auto_outside_github_actions_is_refused() -> None:
    with pytest.raises(ConfigError, match="GITHUB_REPOSITORY"):
        site_url("auto", {})


def test_graph_url_is_asvs_hash_with_params() -> None:
    assert graph_url(SITE, "b.C.time_x", ()) == f"{SITE}#b.C.time_x"
    assert (
        graph_url(SITE, "b.C.time_x", (("n", "10"), ("kind", "'a b'"), ("t", "(1, 2)")))
        == f"{SITE}#b.C.time_x?p-n=10&p-kind='a%20b'&p-t=%281%2C%202%29"
    )


def test_regressions_and_improvements_link_the_rest_do_not() -> None:
    rows = (
        row(Verdict.REGRESSED, benchmark="b.time_slow", ratio=1.3),
        row(Verdict.IMPROVED, benchmark="b.time_fast", ratio=0.7),
        row(Verdict.UNCHANGED, benchmark="b.time_same"),
    )
    body = render_markdown(comparison(rows=rows), site_url=SITE)
    assert f"[b.time\\_slow]({SITE}#b.time_slow)" in body
    assert f"[b.time\\_fast]({SITE}#b.time_fast)" in body
    assert "#b.time_same" not in body
    assert SITE not in render_markdown(comparison(rows=rows))


def perfguard(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "perfguard", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_compare_links_from_the_option_or_the_configuration(tmp_path: Path) -> None:
    clean = {"GITHUB_REPOSITORY": "perforg/perfguard"}
    by_option = perfguard(
        "compare",
        str(ROUNDS),
        "--format",
        "markdown",
        "--site-url",
        "auto",
        env=clean,
        cwd=tmp_path,
    )
    assert by_option.returncode == 1, by_option.stderr  # the fixture's regressions
    link = "(https://perforg.github.io/perfguard/#bench_bus.Sessions.track_session_create_close)"
    assert link in by_option.stdout
    (tmp_path / "perfguard.toml").write_text('site-url = "https://b.example.org/s"\n')
    by_config = perfguard("compare", str(ROUNDS), "--format", "markdown", env={}, cwd=tmp_path)
    assert "(https://b.example.org/s/#bench_bus.Sessions.track_session_create_close)" in (
        by_config.stdout
    )
    policy = tmp_path / "policy.toml"
    dumped = perfguard("compare", str(ROUNDS), "--policy-file", str(policy), env={}, cwd=tmp_path)
    assert dumped.returncode == 1
    assert 'site-url = "https://b.example.org/s"' in policy.read_text(encoding="utf-8")


def test_a_bad_site_url_is_a_one_line_exit_2(tmp_path: Path) -> None:
    done = perfguard("compare", str(ROUNDS), "--site-url", "javascript:x", env={}, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error: the site URL 'javascript:x'")
    assert "Traceback" not in done.stderr


def test_a_site_url_of_the_wrong_type_in_the_configuration_is_a_one_line_exit_2(
    tmp_path: Path,
) -> None:
    (tmp_path / "perfguard.toml").write_text("site-url = 3\n", encoding="utf-8")
    done = perfguard("compare", str(ROUNDS), env={}, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "error: perfguard.toml.site-url must be a string (a URL, or 'auto')"
    )
