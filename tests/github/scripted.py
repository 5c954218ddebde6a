"""Shared by the tests of scripts/ci: subprocesses with a private git identity, and a
repository with a perfguard recorder for scripts/ci/measure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "perfguard tests",
    "GIT_AUTHOR_EMAIL": "tests@perfguard.invalid",
    "GIT_COMMITTER_NAME": "perfguard tests",
    "GIT_COMMITTER_EMAIL": "tests@perfguard.invalid",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV, **(env or {})},
        cwd=cwd,
        timeout=120,
        check=False,
    )


FAKE_PERFGUARD = (
    f"#!{sys.executable}\n"
    + """\
# Records its arguments; for `run`, writes the --output rounds file and an asv result beside
# it (X.json -> X.asv-results/), as perfguard run does; for `merge`, an --output naming its
# inputs. `asv-project` (plumbing the script asks for paths) is the real one.
import json, os, pathlib, sys
args = sys.argv[1:]
if args[0] == "asv-project":
    os.execv(sys.executable, [sys.executable, "-m", "perfguard", *args])
with pathlib.Path("perfguard-calls.jsonl").open("a") as handle:
    handle.write(json.dumps(args) + "\\n")
if args[0] == "run":
    out = pathlib.Path(args[args.index("--output") + 1])
    out.write_text(json.dumps({"base": args[1], "head": args[2]}))
    machine = out.with_name(out.name.removesuffix(".json") + ".asv-results") / "box"
    if not os.environ.get("FAKE_EMPTY_SHARD"):  # a shard with no benchmark writes no samples
        machine.mkdir(parents=True, exist_ok=True)
        (machine / f"{args[2][:8]}-virtualenv-py3.12.json").write_text("{}")
if args[0] == "merge":
    out = pathlib.Path(args[args.index("--output") + 1])
    out.write_text(json.dumps({"merged": args[1:args.index("--output")]}))
"""
)


def measure_repo(tmp_path: Path) -> tuple[Path, str, str, dict[str, str]]:
    """A repository whose main moved on after the feature branched, and a perfguard recorder."""
    repo = tmp_path / "repo"
    repo.mkdir()
    assert run("git", "init", "-q", "-b", "main", cwd=repo).returncode == 0
    (repo / "asv.conf.json").write_text(
        '{"version": 1, "repo": ".", "results_dir": "results"}', encoding="utf-8"
    )
    (repo / ".gitignore").write_text("results/\nperfguard-calls.jsonl\nout/\n", encoding="utf-8")
    run("git", "add", "-A", cwd=repo)
    run("git", "commit", "-qm", "base", cwd=repo)
    base = run("git", "rev-parse", "HEAD", cwd=repo).stdout.strip()
    run("git", "checkout", "-qb", "feature", cwd=repo)
    run("git", "commit", "-q", "--allow-empty", "-m", "head", cwd=repo)
    head = run("git", "rev-parse", "HEAD", cwd=repo).stdout.strip()
    run("git", "checkout", "-q", "main", cwd=repo)
    run("git", "commit", "-q", "--allow-empty", "-m", "main moves on", cwd=repo)
    fake = tmp_path / "perfguard"
    fake.write_text(FAKE_PERFGUARD, encoding="utf-8")
    fake.chmod(0o755)
    return repo, base, head, {"PERFGUARD": str(fake)}
