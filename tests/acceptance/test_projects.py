"""A new user's first hour on two foreign-looking asv projects (tests/acceptance/projects.py):
the README's quick start, ``perfguard run``, and the composite action's steps run as bash, each
with the verdicts a user must get: the 30 % slowdown regressed, untouched code neither regressed
nor improved, the benchmark broken on head newly failing.

The action's steps run in order, its install step included (into a fresh venv that the later
steps then use), and the README's two workflows then take the action's real artifact to a
comment on the local GitHub double.

Both projects keep asv's environments in one directory (``env_dir``, a field asv's config
documents), so the suite builds asv's two virtualenvs once, not once per project.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import asv.config
import pytest

from tests.acceptance import projects
from tests.github.conftest import REPO, TOKEN
from tests.github.double import GitHubDouble
from tests.github.test_steps import run_step, step
from tests.helpers import readme
from tests.readme.test_workflows import PR, comment_from_artifact, keep_pr_number

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
FLAGGED = {"regressed", "improved"}


@pytest.fixture(scope="session")
def env_dir(asv_envs: Path) -> Path:
    return asv_envs / "env"


@pytest.fixture(scope="module", params=["shapes", "minibus"])
def project(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, env_dir: Path
) -> projects.Project:
    base = tmp_path_factory.mktemp(request.param)
    make = projects.shapes if request.param == "shapes" else projects.minibus
    return make(base / "repo", base / "home", env_dir)


def rows(report: dict[str, Any]) -> dict[str, str]:
    """label -> verdict of a JSON report."""
    return {row["label"]: row["verdict"] for row in report["rows"]}


def check_verdicts(project: projects.Project, verdicts: dict[str, str], where: str) -> None:
    assert verdicts.get(project.slowed) == "regressed", (where, verdicts)
    wrong = {name: verdicts.get(name) for name in project.untouched}
    assert not {n: v for n, v in wrong.items() if v is None or v in FLAGGED}, (where, verdicts)
    if project.failing is not None:
        assert verdicts.get(project.failing) == "newly-failing", (where, verdicts)


def sh(project: projects.Project, text: str, cwd: Path | None = None) -> Any:
    """A README command in the project's shell."""
    return readme.run(text, cwd=cwd or project.root, env=project.env())


@pytest.fixture(scope="module")
def asv_ran(project: projects.Project) -> projects.Project:
    """The quick start's two asv runs, in the config's folder (where a user runs asv)."""
    for side in (
        readme.command("asv run --record-samples HEAD^!"),
        readme.command("asv run --record-samples main^!"),
    ):
        done = sh(project, side, cwd=project.config_dir)
        # asv itself exits 2 when a benchmark failed: the head of `shapes` has a broken one
        failed = project.failing is not None and "HEAD" in side
        assert done.returncode == (2 if failed else 0), done.stdout + done.stderr
    return project


def test_quick_start(asv_ran: projects.Project) -> None:
    """After asv's runs, perfguard compare from the repository's root."""
    project = asv_ran
    shown = sh(project, readme.command("perfguard compare main HEAD"))
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert re.search(r"^1 regressed\b", shown.stdout, re.M), shown.stdout
    as_json = sh(project, readme.command("perfguard compare main HEAD --format json > perf.json"))
    assert as_json.returncode == 1, as_json.stderr
    report = json.loads((project.root / "perf.json").read_text(encoding="utf-8"))
    check_verdicts(project, rows(report), "perfguard compare main HEAD")
    listed = sh(
        project,
        readme.command(
            'jq -r \'.rows[] | select(.verdict == "regressed") | "\\(.label) '
            "\\(.change * 100 | round)%\"' perf.json"
        ),
    )
    assert listed.returncode == 0, listed.stderr
    [(name, percent)] = [line.rsplit(" ", 1) for line in listed.stdout.splitlines()]
    assert name == project.slowed
    assert 25 <= int(percent.rstrip("%")) <= 35, listed.stdout


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*.json")}


def test_perfguard_run_then_rereport_from_the_rounds_file(asv_ran: projects.Project) -> None:
    """After the quick start: asv's own result files stay byte for byte as asv wrote them."""
    project = asv_ran
    before = snapshot(project.results_dir)
    assert before, "the quick start left no asv results"
    done = sh(project, readme.command("perfguard run --output rounds.json"))
    after = snapshot(project.results_dir)
    assert {name: after.get(name) == data for name, data in before.items()} == dict.fromkeys(
        before, True
    ), "perfguard run changed asv's result files"
    assert done.returncode == 1, done.stdout + done.stderr
    assert "regressed" in done.stdout
    table = sh(project, readme.command("perfguard compare rounds.json"))
    assert table.returncode == 1, table.stderr
    assert table.stdout == done.stdout
    again = sh(
        project,
        readme.command("perfguard compare rounds.json --format json --json-file report.json"),
    )
    assert again.returncode == 1, again.stderr
    report = json.loads((project.root / "report.json").read_text(encoding="utf-8"))
    check_verdicts(project, rows(report), "perfguard run")
    assert report["base"]["commit"] == project.base
    assert report["head"]["commit"] == project.head
    described = {row["label"]: row for row in report["rows"]}
    for label, (kind, unit, direction, assumed) in project.kinds.items():
        row = described[label]
        assert (row["kind"], row["unit"], row["direction"], row["direction_assumed"]) == (
            kind, unit, direction, assumed,
        ), row  # fmt: skip


@pytest.fixture(scope="session")
def action_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The action's install step, run as bash with a fresh venv's ``python`` first on PATH, as
    on a runner after setup-python: it installs perfguard from the action's folder (this
    checkout) into that venv. The venv sees this venv's packages through a .pth file, so pip
    builds and installs perfguard itself and finds its dependencies already there (no
    download of scipy and friends, and this venv's editable perfguard is left alone: pip does
    not uninstall outside its environment)."""
    venv = tmp_path_factory.mktemp("runner") / "python"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    ours, theirs = (
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        for python in (sys.executable, str(venv / "bin/python"))
    )  # fmt: skip
    Path(theirs, "runner-packages.pth").write_text(ours + "\n", encoding="utf-8")
    path = f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"
    install = step(ACTION, "Install perfguard")["run"]
    done = run_step(install, {"ACTION_PATH": str(ROOT), "PATH": path}, venv)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert Path(theirs, "perfguard/__init__.py").is_file(), "the step did not install perfguard"
    return venv / "bin"


def test_the_composite_actions_steps(
    project: projects.Project, github: GitHubDouble, tmp_path: Path, action_bin: Path
) -> None:
    """action.yml's steps, in order, as the runner runs them, with the perfguard the install
    step installed."""
    runner_temp = tmp_path / "runner-temp"
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    env = {
        **project.env(),
        "PATH": f"{action_bin}{os.pathsep}{project.env()['PATH']}",
        "ACTION_PATH": str(ROOT),
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": github.url,
        "GITHUB_TOKEN": TOKEN,
        "PR_NUMBER": "5",
        "BASE": "main",
        "HEAD": project.head,
        "ROUNDS": "3",
        "THRESHOLD": "",
        "CONFIG": "",
        "FAIL_ON": "regression",
    }
    which = run_step("command -v perfguard", env, project.root)
    assert which.stdout.strip() == str(action_bin / "perfguard"), which.stdout
    measured = run_step(step(ACTION, "Benchmark base and head")["run"], env, project.root)
    assert measured.returncode == 0, measured.stdout + measured.stderr
    out = runner_temp / "perfguard"
    assert (out / "base-sha").read_text().strip() == project.base
    assert (out / "head-sha").read_text().strip() == project.head
    assert any((out / "results").rglob("*.json")), "measure copied no asv results"

    compared = run_step(step(ACTION, "compare")["run"], env, project.root)
    assert compared.returncode == 0, compared.stdout + compared.stderr
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert outputs == {"exit-code": "1", "report-dir": str(out)}
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    check_verdicts(project, rows(report), "action")
    assert f"::error title=perfguard%3A regressed::{project.slowed}" in compared.stdout
    assert "regressed" in summary.read_text(encoding="utf-8")

    commented = run_step(step(ACTION, "Sticky PR comment")["run"], env, project.root)
    assert commented.returncode == 0, commented.stderr
    [body] = [c["body"] for c in github.comments(REPO, 5)]
    assert "regressed" in body
    gate = run_step(step(ACTION, "Gate")["run"], {"EXIT_CODE": outputs["exit-code"]}, ROOT)
    assert gate.returncode == 1

    # The README's two workflows on this real artifact: perf.yml adds the PR number, then
    # perf-comment.yml (after the artifact is downloaded) checks it, renders, comments.
    keep_pr_number(out, project.root)
    shutil.copytree(out, tmp_path / "later-job/perf-report")
    github.add_pull(REPO, PR, project.head)
    posted = comment_from_artifact(github, tmp_path / "later-job", tmp_path)
    assert posted.returncode == 0, posted.stdout + posted.stderr
    [rendered] = [c["body"] for c in github.comments(REPO, PR)]
    assert project.slowed.replace("_", "\\_") in rendered


def test_the_config_is_asvs_own_template(project: projects.Project) -> None:
    """The config a user keeps: asv's comments and trailing comma, only documented fields
    changed; asv's own loader reads it, plain json cannot."""
    path = project.config_dir / "asv.conf.json"
    text = path.read_text(encoding="utf-8")
    assert "// The version of the config file format." in text
    assert '"html_dir": ".asv/html",' in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    diff = list(difflib.unified_diff(project.template.splitlines(), text.splitlines(), n=0))
    added = [line[1:] for line in diff if line.startswith("+") and not line.startswith("+++")]
    removed = [line[1:] for line in diff if line.startswith("-") and not line.startswith("---")]
    field = re.compile(r' *(?:// *)?"(\w+)":')

    # every added line sets an edited field; a removed line is an old value or a commented-out
    # suggestion (e.g. the lines of the quickstart's commented build_command) it replaced
    def key(line: str) -> str | None:
        match = field.match(line)
        return match.group(1) if match else None

    assert {key(line) for line in added} <= project.edited, added
    assert all(key(line) in project.edited or line.lstrip().startswith("//") for line in removed)
    assert len(added) == len(project.edited)
    conf = asv.config.Config.load(str(path))
    assert Path(conf.benchmark_dir).name in {"perf", "suites"}
