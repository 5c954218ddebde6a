"""The build cache between PR runs, for real: asv's environments kept the way the workflows keep
them (scripts/ci/asv-cache names the folders and the key; actions/cache stores and restores
those folders; here a tar archive does), and a second run on the same base does not build it
and estimates its rounds from the first.

The project's build command logs each build (asv runs it only when its build cache has no wheel
for the commit) and its install command logs each install, so the test reads what asv did
rather than timing it. Real asv, real git, real ``perfguard run`` (two rounds).
"""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.github.test_scripts import cache_outputs
from tests.github.test_steps import run_step
from tests.perfguard.test_run_integration import CONFIG, PACKAGE, commit_scale, git, init_tiny

pytestmark = pytest.mark.integration

BUILD = (
    "import os, shutil; open(os.environ['BUILD_LOG'], 'a').write('build ' + "
    "os.environ['ASV_COMMIT'] + chr(10)); shutil.copytree('src/tiny', '{build_cache_dir}/tiny')"
)
INSTALL = (
    "import os, shutil, sys, sysconfig; t = sysconfig.get_paths()['purelib'] + '/tiny'; "
    "shutil.rmtree(t, ignore_errors=True); shutil.copytree(sys.argv[1] + '/tiny', t); "
    "open(os.environ['BUILD_LOG'], 'a').write('install ' + os.environ['ASV_COMMIT'] + chr(10))"
)
CACHED_CONFIG = {
    **CONFIG,
    # Built into asv's build cache ({build_cache_dir}, one folder per commit), installed from it.
    "build_command": [f'python -c "{BUILD}"'],
    "install_command": [f'python -c "{INSTALL}" {{build_cache_dir}}'],
}


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str, str, str]:
    """main at the base; two PR heads on it, one after the other."""
    repo = tmp_path / "repo"
    repo.mkdir()
    base = init_tiny(repo, config=CACHED_CONFIG, gitignore=".asv/\nperf-*/\n")
    git(repo, "checkout", "-q", "-b", "pr")
    first = commit_scale(repo, PACKAGE + "\n# first push\n", "first push")
    second = commit_scale(repo, PACKAGE + "\n# second push\n", "second push")
    return repo, base, first, second


def measure(repo: Path, head: str, out: str, env: dict[str, str]) -> tuple[list[str], str]:
    """The measuring job's two steps (cache key, then measure), as bash; what asv did, and
    what perfguard said."""
    log = Path(env["BUILD_LOG"])
    log.write_text("")
    output = repo.parent / f"{out}.github-output"
    output.write_text("")
    keyed = run_step(
        f'scripts/ci/asv-cache main "{head}"', {**env, "GITHUB_OUTPUT": str(output)}, repo
    )
    env["CACHE"] = json.dumps(cache_outputs(keyed, output))
    done = run_step(f'scripts/ci/measure main "{head}" {out} 2', env, repo, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return log.read_text().splitlines(), done.stderr


def test_a_second_pr_run_on_the_same_base_does_not_build_the_base(
    repo: tuple[Path, str, str, str], tmp_path: Path
) -> None:
    root, base, first, second = repo
    for script in ("asv-cache", "measure", "refs.bash"):  # the action's copy of scripts/ci
        (root / "scripts/ci").mkdir(parents=True, exist_ok=True)
        (root / "scripts/ci" / script).symlink_to(Path(__file__).parents[2] / "scripts/ci" / script)
    (tmp_path / "home").mkdir()
    env = {
        "HOME": str(tmp_path / "home"),
        "BUILD_LOG": str(tmp_path / "asv.log"),
        "PERFGUARD_RUN_ARGS": "--pairs 2 -a warmup_time=0 -a sample_time=0.001",
    }

    built, said = measure(root, first, "perf-1", env)
    assert sorted(built) == sorted(
        [f"build {base}", f"install {base}", f"build {first}", f"install {first}"]
    )
    assert "estimated from perfguard's rule" in said  # nothing measured before
    cache = json.loads(env["CACHE"])
    folders = [Path(p) for p in cache["path"].splitlines()]
    assert folders == [root / ".asv/env", root / ".asv/env-perfguard", root / ".asv/perfguard"]

    # The job ends: actions/cache stores the folders; the runner is gone; the next job of the PR
    # gets a fresh checkout and restores them (same key: same base).
    archive = tmp_path / "cache.tar"
    with tarfile.open(archive, "w") as tar:
        for folder in folders:
            tar.add(folder, arcname=str(folder.relative_to(root)))
    for folder in folders:
        subprocess.run(["rm", "-rf", str(folder)], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="tar")

    # The base comes from asv's build cache (installed again, not built); the new head is built.
    # The rounds are estimated from the first run's, kept with the environments.
    built, said = measure(root, second, "perf-2", env)
    assert sorted(built) == sorted([f"install {base}", f"build {second}", f"install {second}"])
    assert f"estimated from the earlier run {root}/.asv/perfguard/ci-last.rounds.json" in said
    assert json.loads(env["CACHE"])["key"] == cache["key"] == cache["restore-keys"] + base
    for out in ("perf-1", "perf-2"):
        assert (root / out / "base-sha").read_text().strip() == base
        assert (root / out / "rounds.json").is_file()
