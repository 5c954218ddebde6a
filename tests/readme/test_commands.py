"""The README's compare, history, GitHub and shell commands, run as written in a user's shell.

The data is real: Django's bundled asv results (examples/django-asv, measured on GitHub's
runners), filed under the commits of a small local git repository so that refs such as ``main``
and ``HEAD`` resolve as they do in a user's checkout (each result's ``commit_hash`` and file
name are the local commit's; the measurements are untouched).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.github.conftest import TOKEN
from tests.github.double import GitHubDouble
from tests.helpers import readme

ROOT = Path(__file__).resolve().parents[2]
DJANGO = ROOT / "examples/django-asv/results"
MACHINE = "ubuntu-latest"
ROUNDS = ROOT / "tests/github/data/perf-rounds/session-slowdown.rounds.json"
GIT = {
    "GIT_AUTHOR_NAME": "a user",
    "GIT_AUTHOR_EMAIL": "user@example.invalid",
    "GIT_COMMITTER_NAME": "a user",
    "GIT_COMMITTER_EMAIL": "user@example.invalid",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, env={**os.environ, **GIT}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with asv results for every commit: main at the older, HEAD (a feature
    branch) at the newest of Django's bundled results, history before them on main."""
    repo = tmp_path_factory.mktemp("django-like")
    files = sorted(
        (DJANGO / MACHINE).glob("*-conda-py3.12.json"),
        key=lambda p: json.loads(p.read_text(encoding="utf-8"))["date"],
    )
    assert len(files) >= 20
    (repo / "asv.conf.json").write_text(
        '{\n  // asv reads comments\n  "version": 1,\n  "project": "django-like",\n'
        '  "repo": ".",\n  "results_dir": ".asv/results",\n}\n',
        encoding="utf-8",
    )
    (repo / ".gitignore").write_text(".asv/\n", encoding="utf-8")
    git(repo, "init", "-q", "-b", "main")
    results = repo / ".asv/results"
    (results / MACHINE).mkdir(parents=True)
    shutil.copy(DJANGO / "benchmarks.json", results / "benchmarks.json")
    shutil.copy(DJANGO / MACHINE / "machine.json", results / MACHINE / "machine.json")
    for index, source in enumerate(files):
        if index == len(files) - 1:
            git(repo, "checkout", "-q", "-b", "feature")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "--allow-empty", "-m", f"commit {index}")
        commit = git(repo, "rev-parse", "HEAD")
        data = json.loads(source.read_text(encoding="utf-8"))
        data["commit_hash"] = commit
        (results / MACHINE / f"{commit[:8]}-conda-py3.12.json").write_text(
            json.dumps(data), encoding="utf-8"
        )
    return repo


def sh(text: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    done = readme.run(text, cwd=cwd, env={**GIT, **env})
    assert "Traceback" not in done.stderr, done.stderr
    return done


def report(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_compare_two_result_files_in_asvs_layout(checkout: Path, tmp_path: Path) -> None:
    """The quick start's second form: two files named as asv names them, benchmarks.json one
    folder up."""
    results = checkout / ".asv/results"
    older, newer = (
        results / MACHINE / f"{git(checkout, 'rev-parse', ref)[:8]}-conda-py3.12.json"
        for ref in ("main", "HEAD")
    )
    box = tmp_path / "results/mymachine"
    box.mkdir(parents=True)
    shutil.copy(older, box / "1a2b3c4d-virtualenv-py3.11.json")
    shutil.copy(newer, box / "5e6f7a8b-virtualenv-py3.11.json")
    shutil.copy(results / "benchmarks.json", tmp_path / "results/benchmarks.json")
    done = sh(
        readme.command(
            "perfguard compare results/mymachine/1a2b3c4d-virtualenv-py3.11.json "
            "results/mymachine/5e6f7a8b-virtualenv-py3.11.json"
        ),
        tmp_path,
    )
    assert done.returncode in (0, 1), done.stderr
    assert "(threshold 5%)" in done.stdout


def test_history_mode_commands(checkout: Path, tmp_path: Path) -> None:
    done = sh(readme.command("perfguard compare main HEAD --history .asv/results"), checkout)
    assert done.returncode in (0, 1), done.stderr
    assert "(threshold 5%)" in done.stdout

    results = checkout / ".asv/results"
    shutil.copytree(results, tmp_path / "results")
    for name, ref in (("base.json", "main"), ("head.json", "HEAD")):
        commit = git(checkout, "rev-parse", ref)
        shutil.copy(results / MACHINE / f"{commit[:8]}-conda-py3.12.json", tmp_path / name)
    files = sh(
        readme.command(
            "perfguard compare base.json head.json --history results/ --history-commits 50"
        ),
        tmp_path,
    )
    assert files.returncode in (0, 1), files.stderr
    assert files.stdout.splitlines()[-1] == done.stdout.splitlines()[-1]  # the same summary


def test_the_json_report_and_jq(checkout: Path) -> None:
    done = sh(readme.command("perfguard compare main HEAD --format json > perf.json"), checkout)
    assert done.returncode in (0, 1), done.stderr
    regressed = [r for r in report(checkout / "perf.json")["rows"] if r["verdict"] == "regressed"]
    listed = sh(
        readme.command(
            'jq -r \'.rows[] | select(.verdict == "regressed") | "\\(.label) '
            "\\(.change * 100 | round)%\"' perf.json"
        ),
        checkout,
    )
    assert listed.returncode == 0, listed.stderr
    assert [line.rsplit(" ", 1)[0] for line in listed.stdout.splitlines()] == [
        r["label"] for r in regressed
    ]


def test_the_site_url_and_picture_commands(tmp_path: Path) -> None:
    (tmp_path / "perf-out").mkdir()
    shutil.copy(ROUNDS, tmp_path / "perf-out/rounds.json")
    graph = "bench_bus.Sessions.track_session_create_close"
    explicit = readme.command(
        "perfguard compare perf-out/rounds.json --site-url https://OWNER.github.io/REPO/"
        " --markdown-file report.md"
    )
    auto = readme.command(
        "GITHUB_REPOSITORY=OWNER/REPO perfguard compare perf-out/rounds.json --site-url auto"
        " --markdown-file report.md"
    )
    for command, site in (
        (explicit, "https://OWNER.github.io/REPO/"),
        (auto, "https://owner.github.io/REPO/"),
    ):
        done = sh(command, tmp_path)
        assert done.returncode == 1, done.stderr  # the fixture's two regressions
        body = (tmp_path / "report.md").read_text(encoding="utf-8")
        assert f"]({site}#{graph})" in body
        assert body.count("\nxychart-beta\n") == 2


@pytest.mark.integration
def test_the_comment_commands(checkout: Path, github: GitHubDouble) -> None:
    made = sh(
        readme.command(
            "perfguard compare main HEAD --markdown-file report.md --json-file report.json"
        ),
        checkout,
    )
    assert made.returncode in (0, 1), made.stderr
    assert (checkout / "report.md").is_file() and (checkout / "report.json").is_file()
    env = {"GITHUB_API_URL": github.url, "GITHUB_TOKEN": TOKEN}
    head_sha = git(checkout, "rev-parse", "HEAD")

    dry = sh(
        readme.command(
            "perfguard comment --repo OWNER/NAME --pr 123 --body-file report.md --dry-run"
        ),
        checkout,
        **env,
    )
    assert dry.returncode == 0, dry.stderr
    assert "/repos/OWNER/NAME/issues/123/comments" in dry.stdout
    assert github.requests == []

    posted = sh(
        readme.command("perfguard comment --repo OWNER/NAME --pr 123 --body-file report.md"),
        checkout,
        **env,
    )
    assert posted.returncode == 0, posted.stderr
    status = sh(
        readme.command(
            "perfguard comment --repo OWNER/NAME --pr 123 --body-file report.md "
            '--status --sha "$HEAD_SHA" --status-context perfguard --status-state-from report.json'
        ),
        checkout,
        HEAD_SHA=head_sha,
        **env,
    )
    assert status.returncode == 0, status.stderr
    assert len(github.comments("OWNER/NAME", 123)) == 1  # the second run edited it
    [state] = github.state.statuses
    failed = report(checkout / "report.json")["summary"]["failed"]
    assert (state["state"], state["context"]) == ("failure" if failed else "success", "perfguard")
    assert TOKEN not in dry.stdout + posted.stdout + status.stdout + status.stderr


def test_the_summary_commands(checkout: Path, tmp_path: Path) -> None:
    made = sh(
        readme.command(
            "perfguard compare main HEAD --markdown-file report.md --json-file report.json"
        ),
        checkout,
    )
    assert made.returncode in (0, 1), made.stderr
    summary = tmp_path / "summary.md"
    plain = sh(
        readme.command("perfguard summary --markdown report.md --json report.json"),
        checkout,
        GITHUB_STEP_SUMMARY=str(summary),
    )
    assert plain.returncode == 0, plain.stderr
    assert summary.read_text(encoding="utf-8").startswith(
        (checkout / "report.md").read_text(encoding="utf-8")[:200]
    )
    warned = sh(
        readme.command(
            "perfguard summary --markdown report.md --json report.json --level warning "
            "--max-annotations 5"
        ),
        checkout,
        GITHUB_STEP_SUMMARY=str(summary),
    )
    assert warned.returncode == 0, warned.stderr
    assert "::error" not in warned.stdout
    assert len(warned.stdout.splitlines()) <= 6  # at most 5, then one that counts the rest


def test_the_history_commands(checkout: Path) -> None:
    """`perfguard history` on the checkout's results: the table, the JSON report (its schema,
    the same document on stdout and in the file) and the gate, which fails exactly when a
    regression change point starts at HEAD~1 or HEAD."""
    from perfguard.report.history_report import load_schema

    table = sh(readme.command("perfguard history .asv/results"), checkout)
    assert table.returncode == 0, table.stderr
    results = len(list((checkout / ".asv/results" / MACHINE).glob("*.json"))) - 1
    assert f"series over {results} results (threshold 5%)" in table.stdout

    made = sh(
        readme.command("perfguard history .asv/results --format json --json-file changes.json"),
        checkout,
    )
    assert made.returncode == 0, made.stderr
    document = json.loads(made.stdout)
    assert document == report(checkout / "changes.json")
    jsonschema.validate(document, load_schema())
    assert document["results"] == results

    gate = sh(
        readme.command("perfguard history .asv/results --repo . --fail-since HEAD~1"), checkout
    )
    newest = {git(checkout, "rev-parse", ref) for ref in ("HEAD", "HEAD~1")}
    failing = [
        c
        for c in document["change_points"]
        if c["verdict"] == "regressed" and c["first_bad"] in newest
    ]
    assert gate.returncode == (1 if failing else 0), gate.stderr


def test_shell_completion(tmp_path: Path) -> None:
    """The README's line defines bash completion; completing `perfguard com` offers compare
    and comment, `perfguard compare --hist` offers the history options."""
    line = readme.command('eval "$(_PERFGUARD_COMPLETE=bash_source perfguard)"')
    complete = 'COMPREPLY=(); _perfguard_completion perfguard; echo "${COMPREPLY[@]}"'
    script = (
        f"{line}\n"
        "complete -p perfguard\n"
        f"COMP_WORDS=(perfguard com); COMP_CWORD=1; {complete}\n"
        f"COMP_WORDS=(perfguard compare --hist); COMP_CWORD=2; {complete}\n"
    )
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", script],
        cwd=tmp_path,
        env={
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    declared, commands, options = done.stdout.splitlines()
    assert "perfguard" in declared
    assert set(commands.split()) == {"compare", "comment"}
    assert set(options.split()) == {"--history", "--history-commits"}


@pytest.mark.integration
def test_the_development_lint_line() -> None:
    """ruff and mypy over the whole checkout, as the README's development section says."""
    done = readme.run(
        readme.command(
            ".venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy"
        ),
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
