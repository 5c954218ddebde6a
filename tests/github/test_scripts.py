"""The helpers the workflows call, run as the workflows run them (real subprocesses, real git)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.github.conftest import HEAD_SHA, REPO, TOKEN
from tests.github.double import GitHubDouble
from tests.github.scripted import measure_repo, run

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "scripts/ci"
# --- verify-pr ----------------------------------------------------------------------------


def artifact(tmp_path: Path, pr: str, sha: str) -> Path:
    directory = tmp_path / "artifact"
    directory.mkdir(exist_ok=True)
    (directory / "pr-number").write_text(pr, encoding="utf-8")
    (directory / "head-sha").write_text(sha, encoding="utf-8")
    return directory


def verify(
    github: GitHubDouble, directory: Path, *extra: str, output: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {"GITHUB_API_URL": github.url, "GITHUB_TOKEN": TOKEN}
    if output is not None:
        env["GITHUB_OUTPUT"] = str(output)
    done = run(
        sys.executable,
        str(CI / "verify-pr"),
        "--repo",
        REPO,
        "--artifact-dir",
        str(directory),
        *extra,
        env=env,
    )
    assert TOKEN not in done.stdout + done.stderr
    return done


def test_verify_pr_accepts_a_matching_artifact(github: GitHubDouble, tmp_path: Path) -> None:
    github.add_pull(REPO, 42, HEAD_SHA)
    output = tmp_path / "out"
    done = verify(
        github, artifact(tmp_path, "42\n", HEAD_SHA + "\n"), "--expect-sha", HEAD_SHA, output=output
    )
    assert done.returncode == 0, done.stderr
    assert output.read_text() == f"verified=true\npr-number=42\nhead-sha={HEAD_SHA}\n"
    assert [r.path for r in github.requests] == ["/repos/octo/app/pulls/42"]


def test_verify_pr_does_not_comment_on_a_stale_head(github: GitHubDouble, tmp_path: Path) -> None:
    github.add_pull(REPO, 42, "f" * 40)
    output = tmp_path / "out"
    done = verify(github, artifact(tmp_path, "42", HEAD_SHA), output=output)
    assert done.returncode == 0
    assert "verified=false" in output.read_text()
    assert done.stdout.startswith("::notice::PR #42 head is now ffffffffffff")


@pytest.mark.parametrize(
    ("pr", "sha", "message"),
    [
        ("42; curl evil", HEAD_SHA, "pr-number is malformed"),
        ("0", HEAD_SHA, "pr-number is malformed"),
        ("9" * 200, HEAD_SHA, "pr-number is malformed"),
        ("42", HEAD_SHA.upper(), "head-sha is malformed"),
        ("42", "$(id)", "head-sha is malformed"),
    ],
)
def test_verify_pr_refuses_malformed_artifacts(
    github: GitHubDouble, tmp_path: Path, pr: str, sha: str, message: str
) -> None:
    done = verify(github, artifact(tmp_path, pr, sha))
    assert done.returncode == 2
    assert message in done.stderr
    assert github.requests == []


def test_verify_pr_refuses_a_sha_other_than_the_runs(github: GitHubDouble, tmp_path: Path) -> None:
    done = verify(github, artifact(tmp_path, "42", HEAD_SHA), "--expect-sha", "a" * 40)
    assert done.returncode == 2
    assert "differs from the workflow run's head sha" in done.stderr


FORK = "mallory/app"


@pytest.mark.parametrize(
    ("head_repo", "head_ref", "message"),
    [
        (
            FORK,
            "feature",
            f"head is {FORK}:feature, not in the workflow run's head repository {REPO}",
        ),
        (REPO, "other", f"head is {REPO}:other, not the workflow run's head branch feature"),
    ],
    ids=["other-repository", "other-branch"],
)
def test_verify_pr_refuses_a_pr_of_another_head_than_the_runs(
    github: GitHubDouble, tmp_path: Path, head_repo: str, head_ref: str, message: str
) -> None:
    """A fork pushes PR #42's own commit: its run's sha matches #42's head, so only the head
    repository and branch tell that the artifact's "PR #42" is not the run's PR."""
    github.add_pull(REPO, 42, HEAD_SHA, head_repo=head_repo, head_ref=head_ref)
    output = tmp_path / "out"
    done = verify(
        github,
        artifact(tmp_path, "42", HEAD_SHA),
        "--expect-sha", HEAD_SHA, "--expect-repo", REPO, "--expect-branch", "feature",
        output=output,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == f"error: artifact names PR #42 whose {message}\n"
    assert not output.exists()  # nothing says verified: the comment steps do not run
    assert "verified" not in done.stdout


def test_verify_pr_accepts_the_runs_own_fork_pr(github: GitHubDouble, tmp_path: Path) -> None:
    """The run's head repository and branch, matched case-insensitively for the repository."""
    github.add_pull(REPO, 42, HEAD_SHA, head_repo=FORK, head_ref="feature")
    output = tmp_path / "out"
    done = verify(
        github,
        artifact(tmp_path, "42", HEAD_SHA),
        "--expect-repo", "Mallory/App", "--expect-branch", "feature",
        output=output,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert output.read_text() == f"verified=true\npr-number=42\nhead-sha={HEAD_SHA}\n"
    assert done.stdout == f"verified: PR #42 head {HEAD_SHA}\n"


def test_verify_pr_api_failure_is_exit_3(github: GitHubDouble, tmp_path: Path) -> None:
    done = verify(github, artifact(tmp_path, "404", HEAD_SHA))
    assert done.returncode == 3
    assert "HTTP 404" in done.stderr


def test_verify_pr_missing_files_are_exit_2(github: GitHubDouble, tmp_path: Path) -> None:
    done = verify(github, tmp_path)
    assert done.returncode == 2
    assert "no readable pr-number" in done.stderr


# --- history-append -----------------------------------------------------------------------


def results(tmp_path: Path, name: str, commits: list[str], content: str = "{}") -> Path:
    directory = tmp_path / name
    machine = directory / "runner"
    machine.mkdir(parents=True)
    (machine / "machine.json").write_text('{"machine": "runner"}', encoding="utf-8")
    (directory / "benchmarks.json").write_text(f'{{"from": "{name}"}}', encoding="utf-8")
    for commit in commits:
        (machine / f"{commit}-virtualenv-py3.12.json").write_text(
            content + commit, encoding="utf-8"
        )
    return directory


def append(remote: Path, directory: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run(
        sys.executable,
        str(CI / "history-append"),
        "--remote",
        str(remote),
        "--results",
        str(directory),
        *extra,
    )


def history(remote: Path) -> set[str]:
    done = run("git", "--git-dir", str(remote), "ls-tree", "-r", "--name-only", "perf-history")
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    path = tmp_path / "remote.git"
    assert run("git", "init", "--quiet", "--bare", str(path)).returncode == 0
    return path


@pytest.mark.integration
def test_history_starts_the_branch_then_appends(remote: Path, tmp_path: Path) -> None:
    first = append(remote, results(tmp_path, "a", ["aaaaaaaa"]))
    assert first.returncode == 0, first.stderr
    assert "pushed" in first.stdout
    second = append(remote, results(tmp_path, "b", ["bbbbbbbb"]))
    assert second.returncode == 0, second.stderr
    assert history(remote) == {
        "results/benchmarks.json",
        "results/runner/machine.json",
        "results/runner/aaaaaaaa-virtualenv-py3.12.json",
        "results/runner/bbbbbbbb-virtualenv-py3.12.json",
    }
    same = results(tmp_path, "c", ["bbbbbbbb"])
    assert "pushed" in append(remote, same).stdout  # benchmarks.json is new metadata
    again = append(remote, same)
    assert again.returncode == 0
    assert again.stdout.strip() == "nothing new to append"


@pytest.mark.integration
def test_history_never_overwrites_a_result(remote: Path, tmp_path: Path) -> None:
    assert append(remote, results(tmp_path, "a", ["aaaaaaaa"], content="first")).returncode == 0
    rerun = append(remote, results(tmp_path, "b", ["aaaaaaaa"], content="second"))
    assert rerun.returncode == 0, rerun.stderr
    assert "kept the new one as aaaaaaaa-virtualenv-py3.12.rerun1.json" in rerun.stdout
    show = run(
        "git",
        "--git-dir",
        str(remote),
        "show",
        "perf-history:results/runner/aaaaaaaa-virtualenv-py3.12.json",
    )
    assert show.stdout == "firstaaaaaaaa"


@pytest.mark.integration
def test_a_push_that_loses_the_race_is_reapplied_on_the_new_tip(
    remote: Path, tmp_path: Path
) -> None:
    """Deterministic race: between B's commit and B's push, A pushes (from B's pre-push hook)."""
    assert append(remote, results(tmp_path, "seed", ["00000000"])).returncode == 0
    racer = results(tmp_path, "a", ["aaaaaaaa"])
    hook_dir = tmp_path / "hooks"
    hook_dir.mkdir()
    flag = tmp_path / "raced"
    hook = hook_dir / "pre-push"
    hook.write_text(
        "#!/bin/sh\n"
        f"if [ ! -e '{flag}' ]; then touch '{flag}'; "
        f"'{sys.executable}' '{CI / 'history-append'}' --remote '{remote}' --results '{racer}'"
        " >/dev/null; fi\n",
        encoding="utf-8",
    )
    hook.chmod(0o755)
    done = run(
        sys.executable,
        str(CI / "history-append"),
        "--remote",
        str(remote),
        "--results",
        str(results(tmp_path, "b", ["bbbbbbbb"])),
        env={
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "core.hooksPath",
            "GIT_CONFIG_VALUE_0": str(hook_dir),
        },
    )
    assert done.returncode == 0, done.stderr
    assert "push rejected (attempt 1)" in done.stderr
    assert "(attempt 2)" in done.stdout
    names = history(remote)
    for commit in ("00000000", "aaaaaaaa", "bbbbbbbb"):
        assert f"results/runner/{commit}-virtualenv-py3.12.json" in names


@pytest.mark.integration
def test_two_concurrent_appends_both_land(remote: Path, tmp_path: Path) -> None:
    assert append(remote, results(tmp_path, "seed", ["00000000"])).returncode == 0
    dirs = [results(tmp_path, f"r{i}", [f"{i}" * 8]) for i in range(1, 4)]
    outcomes: list[subprocess.CompletedProcess[str]] = []
    threads = [
        threading.Thread(target=lambda d=d: outcomes.append(append(remote, d))) for d in dirs
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [o.returncode for o in outcomes] == [0, 0, 0], [o.stderr for o in outcomes]
    names = history(remote)
    for i in range(1, 4):
        assert f"results/runner/{str(i) * 8}-virtualenv-py3.12.json" in names
    log = run("git", "--git-dir", str(remote), "log", "--oneline", "perf-history")
    assert len(log.stdout.splitlines()) == 4


@pytest.mark.integration
def test_history_append_with_results_runs_on_the_standard_library_alone(
    remote: Path, tmp_path: Path
) -> None:
    """pages.yml's pushing job installs nothing: ``python -S`` (no site-packages, so neither
    perfguard nor any dependency importable) must append all the same."""
    from perfguard.asvproject import METADATA_FILES

    done = run(
        sys.executable, "-S", str(CI / "history-append"), "--remote", str(remote),
        "--results", str(results(tmp_path, "a", ["aaaaaaaa"])),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "results/runner/aaaaaaaa-virtualenv-py3.12.json" in history(remote)
    namespace: dict[str, object] = {"__name__": "history_append"}
    exec(compile((CI / "history-append").read_text(encoding="utf-8"), "h", "exec"), namespace)
    assert set(namespace["METADATA"]) == METADATA_FILES  # type: ignore[call-overload]


def test_history_needs_results(remote: Path, tmp_path: Path) -> None:
    done = append(remote, tmp_path)
    assert done.returncode == 2
    assert "no asv result files" in done.stderr


def test_history_appends_the_asv_configs_results_by_default(remote: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    results(project, ".asv/results", ["aaaaaaaa"])
    config = quickstart_config(project)
    done = run(sys.executable, str(CI / "history-append"), "--remote", str(remote), cwd=project)
    assert done.returncode == 0, done.stderr
    assert "results/runner/aaaaaaaa-virtualenv-py3.12.json" in history(remote)
    config.write_text("{", encoding="utf-8")
    broken = run(sys.executable, str(CI / "history-append"), "--remote", str(remote), cwd=project)
    assert broken.returncode == 2
    assert broken.stderr.startswith("error: asv cannot use") and "not valid JSON" in broken.stderr


# --- history-pending ----------------------------------------------------------------------

MACHINE = "github-ubuntu-latest"


def git_out(repo: Path, *args: str) -> str:
    done = run("git", *args, cwd=repo)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def main_line(tmp_path: Path) -> tuple[Path, list[str], str]:
    """A repo whose main is c1..c5, c4 merging a branch with commit s1 (not first-parent)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git_out(repo, "init", "--quiet", "-b", "main")
    shas = []
    for i in range(1, 6):
        if i == 4:
            git_out(repo, "checkout", "--quiet", "-b", "side", "HEAD~1")
            git_out(repo, "commit", "--quiet", "--allow-empty", "-m", "s1")
            side = git_out(repo, "rev-parse", "HEAD")
            git_out(repo, "checkout", "--quiet", "main")
            git_out(repo, "merge", "--quiet", "--no-ff", "-m", "c4", "side")
        else:
            git_out(repo, "commit", "--quiet", "--allow-empty", "-m", f"c{i}")
        shas.append(git_out(repo, "rev-parse", "HEAD"))
    return repo, shas, side


def record(remote: Path, repo: Path, tmp_path: Path, *commits: str) -> None:
    """history-append the results of ``commits``, then fetch the branch as checkout would."""
    directory = tmp_path / f"results-{commits[0][:8]}"
    machine = directory / MACHINE
    machine.mkdir(parents=True)
    (machine / "machine.json").write_text(json.dumps({"machine": MACHINE}), encoding="utf-8")
    for commit in commits:
        (machine / f"{commit[:8]}-virtualenv-py3.12.json").write_text(
            json.dumps({"commit_hash": commit}), encoding="utf-8"
        )
    assert append(remote, directory).returncode == 0
    git_out(repo, "fetch", "--quiet", str(remote), "+perf-history:refs/remotes/origin/perf-history")


def pending(repo: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], list[str], str]:
    out, output = repo.parent / "hashes", repo.parent / "github-output"
    output.write_text("", encoding="utf-8")
    done = run(
        sys.executable, str(CI / "history-pending"), "--machine", MACHINE, "--output", str(out),
        *extra, cwd=repo, env={"GITHUB_OUTPUT": str(output)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done, out.read_text(encoding="ascii").split(), output.read_text(encoding="utf-8")


@pytest.mark.integration
def test_history_pending_lists_main_since_the_last_recorded_commit(
    remote: Path, tmp_path: Path
) -> None:
    repo, shas, side = main_line(tmp_path)
    record(remote, repo, tmp_path, shas[0], shas[1])
    done, listed, output = pending(repo)
    assert listed == shas[2:]  # c3, c4 (the merge), c5: oldest first; s1 is not main's
    assert side not in listed
    assert output == "count=3\n"
    assert "::notice::" not in done.stdout


@pytest.mark.integration
def test_history_pending_caps_and_skips_the_oldest_with_a_notice(
    remote: Path, tmp_path: Path
) -> None:
    repo, shas, _ = main_line(tmp_path)
    record(remote, repo, tmp_path, shas[0])
    done, listed, output = pending(repo, "--max", "2")
    assert listed == shas[3:]
    assert output == "count=2\n"
    assert done.stdout.startswith(
        f"::notice::2 older unrecorded commits skipped (cap 2): {shas[1][:12]}..{shas[2][:12]}"
    )
    capped = run(
        sys.executable, str(CI / "history-pending"), "--machine", MACHINE, "--output",
        str(tmp_path / "x"), cwd=repo, env={"PERF_HISTORY_MAX": "1"},
    )  # fmt: skip
    assert (tmp_path / "x").read_text(encoding="ascii").split() == [shas[4]]
    assert "3 older unrecorded commits skipped (cap 1)" in capped.stdout


@pytest.mark.integration
def test_history_pending_ignores_other_machines_and_colliding_prefixes(
    remote: Path, tmp_path: Path
) -> None:
    """Only MACHINE's files count, and only when their commit_hash is the commit itself."""
    repo, shas, _ = main_line(tmp_path)
    record(remote, repo, tmp_path, shas[0])
    directory = tmp_path / "others"
    (directory / "laptop").mkdir(parents=True)
    (directory / "laptop" / f"{shas[3][:8]}-virtualenv-py3.12.json").write_text(
        json.dumps({"commit_hash": shas[3]}), encoding="utf-8"
    )
    (directory / MACHINE).mkdir()
    (directory / MACHINE / f"{shas[2][:8]}-virtualenv-py3.12.json").write_text(
        json.dumps({"commit_hash": shas[2][:8] + "0" * 32}), encoding="utf-8"
    )
    assert append(remote, directory).returncode == 0
    git_out(repo, "fetch", "--quiet", str(remote), "+perf-history:refs/remotes/origin/perf-history")
    _, listed, _ = pending(repo)
    assert listed == shas[1:]


def test_history_pending_without_a_history_and_after_everything_is_recorded(
    remote: Path, tmp_path: Path
) -> None:
    repo, shas, _ = main_line(tmp_path)
    _, listed, output = pending(repo)
    assert listed == shas and output == "count=5\n"
    record(remote, repo, tmp_path, *shas)
    done, listed, output = pending(repo)
    assert listed == [] and output == "count=0\n"
    assert done.stdout == "0 commits to benchmark\n"
    bad = run(sys.executable, str(CI / "history-pending"), "--machine", MACHINE, "--output",
              str(tmp_path / "x"), "--max", "0", cwd=repo)  # fmt: skip
    assert bad.returncode == 2 and bad.stderr == "error: --max must be 1 to 9999, got '0'\n"


# --- coverage-badge -----------------------------------------------------------------------


@pytest.mark.integration
def test_coverage_badge_writes_svg_and_shields_endpoint(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text(
        "def f(x):\n    if x:\n        return 1\n    return 2\n\nf(1)\n", encoding="utf-8"
    )
    env = {"COVERAGE_FILE": str(tmp_path / ".coverage"), "COVERAGE_PROCESS_START": ""}
    measured = run(
        sys.executable,
        "-m",
        "coverage",
        "run",
        "--rcfile=/dev/null",
        "mod.py",
        cwd=tmp_path,
        env=env,
    )
    assert measured.returncode == 0, measured.stderr
    done = run(sys.executable, str(CI / "coverage-badge"), "out", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    svg = (tmp_path / "out/coverage.svg").read_text(encoding="utf-8")
    assert svg.startswith("<?xml") and "80%" in svg
    assert json.loads((tmp_path / "out/coverage.json").read_text(encoding="utf-8")) == {
        "schemaVersion": 1,
        "label": "coverage",
        "message": "80%",
        "color": "yellowgreen",
    }


def test_coverage_badge_without_data_is_exit_2(tmp_path: Path) -> None:
    done = run(sys.executable, str(CI / "coverage-badge"), "out", cwd=tmp_path)
    assert done.returncode == 2
    assert "no .coverage" in done.stderr
    assert run(sys.executable, str(CI / "coverage-badge"), cwd=tmp_path).returncode == 2


# --- measure ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "head"),
    [("main;id", HEAD_SHA), ("main", "HEAD"), ("main", "$(id)")],
)
def test_measure_refuses_unsafe_arguments(tmp_path: Path, base: str, head: str) -> None:
    done = run("bash", str(CI / "measure"), base, head, str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ")


def test_measure_runs_perfguard_run_on_merge_base_and_head(tmp_path: Path) -> None:
    """perfguard is replaced by a recorder here (tests/perfguard/test_run_integration.py runs
    the real one on real asv builds); what is checked is the script's own logic: merge base,
    arguments, outputs."""
    repo, base, head, env = measure_repo(tmp_path)

    done = run("bash", str(CI / "measure"), "main", head, "out", "3", cwd=repo, env=env)

    assert done.returncode == 0, done.stderr
    calls = [json.loads(line) for line in (repo / "perfguard-calls.jsonl").read_text().splitlines()]
    assert calls == [
        [
            "run", base, head, "--output", "out/rounds.json", "--fail-on", "never",
            "--min-rounds", "3", "--max-rounds", "3",
        ]
    ]  # fmt: skip
    assert (repo / "out/base-sha").read_text().strip() == base  # the merge base, not main's tip
    assert (repo / "out/head-sha").read_text().strip() == head
    assert json.loads((repo / "out/rounds.json").read_text()) == {"base": base, "head": head}
    assert (repo / f"out/results/box/{head[:8]}-virtualenv-py3.12.json").is_file()
    assert not (repo / "out/rounds.asv-results").exists()  # moved into results/, held once


def test_measure_refuses_an_out_dir_with_results_in_it(tmp_path: Path) -> None:
    repo, _, head, env = measure_repo(tmp_path)
    (repo / "out/results").mkdir(parents=True)
    (repo / "out/results/old.json").write_text("{}")

    done = run("bash", str(CI / "measure"), "main", head, "out", cwd=repo, env=env)

    assert done.returncode == 2
    assert done.stderr.startswith("error: out/results is not empty")
    assert not (repo / "perfguard-calls.jsonl").exists()  # refused before anything ran
    assert (repo / "out/results/old.json").read_text() == "{}"


def test_measure_defaults_to_5_to_10_rounds_and_passes_extra_options(tmp_path: Path) -> None:
    repo, _, head, env = measure_repo(tmp_path)
    env["PERFGUARD_RUN_ARGS"] = "--time-limit 30m"

    done = run("bash", str(CI / "measure"), "main", head, "out", cwd=repo, env=env)

    assert done.returncode == 0, done.stderr
    [call] = [
        json.loads(line) for line in (repo / "perfguard-calls.jsonl").read_text().splitlines()
    ]
    assert call[-6:] == ["--min-rounds", "5", "--max-rounds", "10", "--time-limit", "30m"]


@pytest.mark.parametrize("rounds", ["0", "1", "1000", "3x"])
def test_measure_refuses_a_bad_round_count(tmp_path: Path, rounds: str) -> None:
    """perfguard run needs two rounds at least: 1 is refused here, before anything runs."""
    repo, _, head, env = measure_repo(tmp_path)
    done = run("bash", str(CI / "measure"), "main", head, "out", rounds, cwd=repo, env=env)
    assert done.returncode == 2
    assert done.stderr == f"error: bad round count (2 to 999): {rounds}\n"
    assert not (repo / "perfguard-calls.jsonl").exists()


def quickstart_config(folder: Path) -> Path:
    """The asv.conf.json that `asv quickstart` writes (comments, trailing commas)."""
    done = run(sys.executable, "-m", "asv", "quickstart", "--top-level", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder / "asv.conf.json"


def test_measure_reads_the_config_asv_quickstart_writes(tmp_path: Path) -> None:
    repo, base, head, env = measure_repo(tmp_path)
    (repo / "asv.conf.json").unlink()
    (repo / "benchmarks").mkdir()
    config = quickstart_config(tmp_path)
    text = config.read_text(encoding="utf-8").replace('"repo": "."', '"repo": ".."')
    (repo / "benchmarks" / "asv.conf.json").write_text(text, encoding="utf-8")  # a common layout

    done = run("bash", str(CI / "measure"), "main", head, "out", "3", cwd=repo, env=env)

    assert done.returncode == 0, done.stderr
    # perfguard run's copy of the samples (beside the rounds file) is the artifact's results/
    assert (repo / f"out/results/box/{head[:8]}-virtualenv-py3.12.json").is_file()
    assert (repo / "out/base-sha").read_text().strip() == base


@pytest.mark.parametrize(
    ("content", "reason"),
    [("{", "not valid JSON"), ("[]", "not a JSON object"), ('{"version": 1}', "No repo")],
)
def test_measure_stops_on_a_broken_asv_config(tmp_path: Path, content: str, reason: str) -> None:
    repo, _, head, env = measure_repo(tmp_path)
    (repo / "asv.conf.json").write_text(content, encoding="utf-8")

    done = run("bash", str(CI / "measure"), "main", head, "out", "3", cwd=repo, env=env)

    assert done.returncode == 2
    assert done.stderr.startswith("error: asv cannot use") and reason in done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert not (repo / "perfguard-calls.jsonl").exists()  # perfguard run was never started


def calls(repo: Path) -> list[list[str]]:
    lines = (repo / "perfguard-calls.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_measure_passes_its_shard_to_perfguard_run(tmp_path: Path) -> None:
    repo, base, head, env = measure_repo(tmp_path)
    env["PERFGUARD_SHARD"] = "2/3"

    done = run("bash", str(CI / "measure"), "main", head, "out", "3", cwd=repo, env=env)

    assert done.returncode == 0, done.stderr
    [call] = calls(repo)
    assert call[:3] == ["run", base, head] and call[-2:] == ["--shard", "2/3"]
    assert "measured shard 2/3 of base" in done.stdout
    assert (repo / "out/head-sha").read_text().strip() == head


def test_measure_of_a_shard_with_nothing_to_measure_leaves_results_empty(tmp_path: Path) -> None:
    """More shards than benchmarks: perfguard run writes the shard's empty rounds file and no
    samples; the folder is still a shard folder merge-shards takes."""
    repo, _, head, env = measure_repo(tmp_path)
    done = run(
        "bash", str(CI / "measure"), "main", head, "out", "3", cwd=repo,
        env={**env, "PERFGUARD_SHARD": "5/5", "FAKE_EMPTY_SHARD": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert list((repo / "out/results").iterdir()) == []
    assert (repo / "out/rounds.json").is_file() and (repo / "out/head-sha").is_file()


@pytest.mark.parametrize("shard", ["0/3", "4/3", "1/0", "1", "1/3; id", "01/3", "-1/2"])
def test_measure_refuses_a_bad_shard(tmp_path: Path, shard: str) -> None:
    repo, _, head, env = measure_repo(tmp_path)
    env["PERFGUARD_SHARD"] = shard
    done = run("bash", str(CI / "measure"), "main", head, "out", cwd=repo, env=env)
    assert done.returncode == 2
    assert done.stderr == f"error: bad shard (K/N, 1 <= K <= N): {shard}\n"
    assert not (repo / "perfguard-calls.jsonl").exists()


def test_measure_forgets_which_commit_a_kept_environment_holds(tmp_path: Path) -> None:
    """A restored cache: asv's install marker of each kept environment goes (both commits are
    installed again now, from asv's build cache), the build cache itself stays."""
    repo, _, head, env = measure_repo(tmp_path)
    kept = {}
    for folder in ("env", "env-perfguard"):
        environment = repo / folder / "0123abcd"
        (environment / "asv-build-cache" / ("a" * 40)).mkdir(parents=True)
        (environment / "asv-build-cache" / ("a" * 40) / "pkg.whl").write_text("wheel")
        (environment / "asv-install-status.json").write_text('{"commit_hash": "aaaa"}')
        kept[folder] = environment

    done = run("bash", str(CI / "measure"), "main", head, "out", "3", cwd=repo, env=env)

    assert done.returncode == 0, done.stderr
    for environment in kept.values():
        assert not (environment / "asv-install-status.json").exists()
        assert (environment / "asv-build-cache" / ("a" * 40) / "pkg.whl").read_text() == "wheel"


# --- asv-cache ----------------------------------------------------------------------------


def cache_outputs(done: subprocess.CompletedProcess[str], output: Path) -> dict[str, str]:
    """$GITHUB_OUTPUT as the runner reads it: name=value lines and name<<DELIMITER blocks."""
    assert done.returncode == 0, done.stderr
    text = output.read_text(encoding="utf-8")
    assert done.stdout == text  # what it wrote, it also shows in the log
    found: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line:
            name, delimiter = line.split("<<", 1)
            found[name] = "\n".join(iter(lambda: next(lines), delimiter))
        else:
            name, value = line.split("=", 1)
            found[name] = value
    return found


def asv_cache(repo: Path, head: str, env: dict[str, str]) -> dict[str, str]:
    output = repo.parent / "github-output"
    output.write_text("", encoding="utf-8")
    done = run(
        "bash", str(CI / "asv-cache"), "main", head, cwd=repo,
        env={**env, "GITHUB_OUTPUT": str(output), "PYTHON": sys.executable},
    )  # fmt: skip
    return cache_outputs(done, output)


def test_asv_cache_keys_the_environments_by_config_python_and_merge_base(tmp_path: Path) -> None:
    repo, base, head, env = measure_repo(tmp_path)
    (repo / "asv.conf.json").write_text(
        '{"version": 1, "repo": ".", "env_dir": ".asv/env"}', encoding="utf-8"
    )
    outputs = asv_cache(repo, head, env)
    assert set(outputs) == {"path", "key", "restore-keys"}
    # the folders asv and perfguard run use: env_dir from the config, the twin beside it, and
    # perfguard's folder of earlier runs beside asv's results (asv's default: results/)
    assert outputs["path"].splitlines() == [
        f"{repo}/.asv/env",
        f"{repo}/.asv/env-perfguard",
        f"{repo}/perfguard",
    ]
    version = ".".join(map(str, sys.version_info[:3]))
    prefix = outputs["restore-keys"]
    assert prefix.startswith("perfguard-asv-") and f"-py{version}-" in prefix
    assert outputs["key"] == prefix + base  # the merge base, as measure measures it

    # another asv configuration is another lineage; the same configuration is the same key
    assert asv_cache(repo, head, env) == outputs
    (repo / "asv.conf.json").write_text(
        '{"version": 1, "repo": ".", "env_dir": ".asv/env", "build_cache_size": 9}',
        encoding="utf-8",
    )
    other = asv_cache(repo, head, env)
    assert other["restore-keys"] != prefix and other["key"].endswith(base)


def test_asv_cache_gives_each_shard_its_own_entry_restored_first_from_the_same_base(
    tmp_path: Path,
) -> None:
    """A shard's entry holds its own last run (the next run's estimate of that share); its
    environments may come from any entry of the same merge base, then of the configuration."""
    repo, base, head, env = measure_repo(tmp_path)
    whole = asv_cache(repo, head, env)
    second = asv_cache(repo, head, {**env, "PERFGUARD_SHARD": "2/3"})
    assert second["key"] == whole["key"] + "-shard-2-of-3" and whole["key"].endswith(base)
    assert second["restore-keys"].splitlines() == [whole["key"], whole["restore-keys"]]
    assert second["path"] == whole["path"]
    output = repo.parent / "github-output"
    done = run(
        "bash", str(CI / "asv-cache"), "main", head, cwd=repo,
        env={**env, "GITHUB_OUTPUT": str(output), "PERFGUARD_SHARD": "4/3"},
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == "error: bad shard (K/N, 1 <= K <= N): 4/3\n"


def test_measure_keeps_a_copy_of_its_rounds_file_for_the_next_runs_estimate(
    tmp_path: Path,
) -> None:
    repo, _, head, env = measure_repo(tmp_path)
    done = run("bash", str(CI / "measure"), "main", head, "out", "3", cwd=repo, env=env)
    assert done.returncode == 0, done.stderr
    kept = repo / "perfguard" / "ci-last.rounds.json"
    assert kept.read_bytes() == (repo / "out" / "rounds.json").read_bytes()


def test_asv_cache_key_names_the_commit_measure_measures_as_base(tmp_path: Path) -> None:
    repo, _, head, env = measure_repo(tmp_path)
    key = asv_cache(repo, head, env)["key"]
    done = run("bash", str(CI / "measure"), "main", head, "out", "3", cwd=repo, env=env)
    assert done.returncode == 0, done.stderr
    assert key.endswith("-" + (repo / "out/base-sha").read_text().strip())


@pytest.mark.parametrize(("base", "head"), [("main;id", HEAD_SHA), ("main", "HEAD")])
def test_asv_cache_refuses_unsafe_arguments(tmp_path: Path, base: str, head: str) -> None:
    done = run("bash", str(CI / "asv-cache"), base, head, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and len(done.stderr.splitlines()) == 1


def test_asv_cache_stops_on_a_broken_asv_config(tmp_path: Path) -> None:
    repo, _, head, env = measure_repo(tmp_path)
    (repo / "asv.conf.json").write_text("{", encoding="utf-8")
    done = run("bash", str(CI / "asv-cache"), "main", head, cwd=repo, env=env)
    assert done.returncode == 2
    assert done.stderr.startswith("error: asv cannot use") and done.stdout == ""


# --- merge-shards -------------------------------------------------------------------------


def shard_out(root: Path, k: int, base: str, head: str, results: dict[str, str]) -> Path:
    """What a sharded measuring job uploads (scripts/ci/measure's OUT_DIR)."""
    out = root / f"perf-shard-{k}"
    out.mkdir(parents=True)
    (out / "rounds.json").write_text(json.dumps({"shard": k}), encoding="utf-8")
    (out / "base-sha").write_text(base + "\n", encoding="ascii")
    (out / "head-sha").write_text(head + "\n", encoding="ascii")
    for rel, text in results.items():
        (out / "results" / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / "results" / rel).write_text(text, encoding="utf-8")
    return out


def asv_result(commit: str, benchmarks: list[str]) -> str:
    """An asv result file (format 2) holding ``benchmarks``."""
    return json.dumps({
        "commit_hash": commit, "env_name": "virtualenv-py3.12", "date": 1,
        "params": {"machine": "box"}, "python": "3.12", "requirements": {}, "env_vars": {},
        "result_columns": ["result"], "results": {name: [[1.0]] for name in benchmarks},
        "durations": dict.fromkeys(benchmarks, 0.5), "version": 2,
    })  # fmt: skip


def merge_shards(root: Path, out: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run(
        sys.executable, str(CI / "merge-shards"), str(root), str(out), env=env, cwd=out.parent
    )


def test_merge_shards_merges_rounds_and_joins_results_of_one_machine(tmp_path: Path) -> None:
    repo, base, head, env = measure_repo(tmp_path)
    root = tmp_path / "downloaded"
    name = f"box/{head[:8]}-virtualenv-py3.12.json"
    shard_out(root, 1, base, head, {"box/machine.json": "{}", name: asv_result(head, ["a.x"])})
    shard_out(root, 2, base, head, {"box/machine.json": "{}", name: asv_result(head, ["b.y"])})
    shard_out(root, 3, base, head, {"other/machine.json": "{}", "other/r.json": "{}"})

    done = merge_shards(root, repo / "perf-out", env)

    assert done.returncode == 0, done.stderr
    [call] = calls(repo)
    inputs = [str(root / f"perf-shard-{k}/rounds.json") for k in (1, 2, 3)]
    assert call == ["merge", *inputs, "--output", str(repo / "perf-out/rounds.json")]
    out = repo / "perf-out"
    assert json.loads((out / "rounds.json").read_text()) == {"merged": inputs}
    assert (out / "base-sha").read_text() == base + "\n"
    assert (out / "head-sha").read_text() == head + "\n"
    joined = json.loads((out / "results" / name).read_text())
    assert set(joined["results"]) == {"a.x", "b.y"} == set(joined["durations"])
    assert (out / "results/other/r.json").is_file()


def test_merge_shards_refuses_shards_of_other_commits(tmp_path: Path) -> None:
    repo, base, head, env = measure_repo(tmp_path)
    root = tmp_path / "downloaded"
    shard_out(root, 1, base, head, {})
    shard_out(root, 2, base, base, {})
    done = merge_shards(root, repo / "perf-out", env)
    assert done.returncode == 2
    assert done.stderr == (
        f"error: the shards measured different commits: head-sha {head[:12]} and"
        f" {base[:12]} (perf-shard-2)\n"
    )
    assert not (repo / "perfguard-calls.jsonl").exists()


def test_merge_shards_refuses_a_folder_without_shards_and_two_shards_of_one_name(
    tmp_path: Path,
) -> None:
    repo, base, head, env = measure_repo(tmp_path)
    root = tmp_path / "downloaded"
    root.mkdir()
    empty = merge_shards(root, repo / "perf-out", env)
    assert empty.returncode == 2
    assert empty.stderr == f"error: no shard folder with a rounds.json in {root}\n"
    name = f"box/{head[:8]}-virtualenv-py3.12.json"
    shard_out(root, 1, base, head, {name: asv_result(head, ["a.x"])})
    shard_out(root, 2, base, head, {name: asv_result(head, ["a.x", "b.y"])})
    twice = merge_shards(root, repo / "perf-out", env)
    assert twice.returncode == 2
    assert twice.stderr.startswith("error: ") and "repeats benchmarks of another shard: a.x" in (
        twice.stderr
    )
    assert len(twice.stderr.splitlines()) == 1


def test_merge_shards_passes_on_perfguard_merges_refusal(tmp_path: Path) -> None:
    repo, base, head, _ = measure_repo(tmp_path)
    root = tmp_path / "downloaded"
    shard_out(root, 1, base, head, {})
    refusing = tmp_path / "refusing"
    refusing.write_text("#!/bin/sh\necho 'error: shard 2 of 2 is missing' >&2\nexit 2\n")
    refusing.chmod(0o755)
    done = merge_shards(root, repo / "perf-out", {"PERFGUARD": str(refusing)})
    assert done.returncode == 2
    assert done.stderr == "error: shard 2 of 2 is missing\n"
    assert not (repo / "perf-out/head-sha").exists()


# --- vendor-site-assets, regen-openapi-subset ---------------------------------------------


def test_vendor_refuses_an_unknown_external_asset(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text(
        '<script src="https://cdn.example/new-lib.min.js"></script>', encoding="utf-8"
    )
    done = run(sys.executable, str(CI / "vendor-site-assets"), str(tmp_path))
    assert done.returncode != 0
    assert "unknown external asset: https://cdn.example/new-lib.min.js" in done.stderr
    assert (
        run(sys.executable, str(CI / "vendor-site-assets"), str(tmp_path / "nope")).returncode == 2
    )


def test_regen_keeps_the_operations_and_every_component_they_reference() -> None:
    namespace: dict[str, object] = {"__file__": str(ROOT / "scripts/regen-openapi-subset")}
    source = (ROOT / "scripts/regen-openapi-subset").read_text(encoding="utf-8")
    exec(compile(source, "regen-openapi-subset", "exec"), namespace)
    subset = namespace["subset"]
    operations = namespace["OPERATIONS"]
    assert callable(subset) and isinstance(operations, dict)
    ref = {"$ref": "#/components/schemas/a"}
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "t"},
        "servers": [],
        "paths": {
            path: {m: {"responses": {"200": ref}} for m in ("get", "post", "patch", "delete")}
            for path in operations
        },
        "components": {
            "schemas": {
                "a": {"properties": {"b": {"$ref": "#/components/schemas/b"}}},
                "b": {},
                "unused": {},
            },
        },
    }
    result = subset(spec)
    assert set(result["components"]["schemas"]) == {"a", "b"}
    one_comment = result["paths"]["/repos/{owner}/{repo}/issues/comments/{comment_id}"]
    assert set(one_comment) == {"patch", "delete"}  # only the methods perfguard calls
    committed = json.loads(
        (ROOT / "tests/fixtures/openapi/github-subset.json").read_text(encoding="utf-8")
    )
    assert set(committed["paths"]) == set(operations)
    assert committed["info"]["x-perfguard-subset"] == sorted(operations)


def test_publish_site_without_an_asv_configuration_is_a_one_line_exit_2(tmp_path: Path) -> None:
    done = run(sys.executable, str(CI / "publish-site"), "--config", str(tmp_path / "asv.json"))
    assert done.returncode == 2
    assert done.stderr == f"error: no asv configuration at {tmp_path / 'asv.json'}\n"


def test_publish_site_refuses_a_grid_script_it_does_not_know(tmp_path: Path) -> None:
    """A new asv whose grid script differs stops the build instead of shipping blank tiles."""
    namespace: dict[str, object] = {"__file__": str(CI / "publish-site")}
    source = (CI / "publish-site").read_text(encoding="utf-8")
    exec(compile(source, "publish-site", "exec"), namespace)
    draw_lone_points = namespace["draw_lone_points"]
    assert callable(draw_lone_points)
    (tmp_path / "summarygrid.js").write_text("$.plot(div, [{data: d}], opts);", encoding="utf-8")
    with pytest.raises(SystemExit, match="not the grid script publish-site knows"):
        draw_lone_points(tmp_path)
