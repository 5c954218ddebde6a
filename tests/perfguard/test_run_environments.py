"""asv environments as users configure them: what asv cannot use here is asv's reason, in one
line, exit 2; several configured environments are named, and one is measured."""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfguard import asvproject
from perfguard.errors import AsvError
from perfguard.runner import asvenv

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
PERFGUARD_RUN = [sys.executable, "-m", "perfguard", "run", "HEAD~1", "HEAD", "--quick"]
PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"


def sh(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        list(args),
        cwd=cwd,
        env={**os.environ, **GIT_ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def quickstart_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository holding exactly what `asv quickstart --top-level` writes, two commits."""
    repo = tmp_path_factory.mktemp("quickstart")
    sh(sys.executable, "-m", "asv", "quickstart", "--top-level", cwd=repo)
    (repo / ".gitignore").write_text(".asv/\n", encoding="utf-8")
    sh("git", "init", "-q", "-b", "main", cwd=repo)
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-qm", "quickstart", cwd=repo)
    sh("git", "commit", "-q", "--allow-empty", "-m", "second", cwd=repo)
    return repo


def configured(repo: Path, tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the project's config with one setting changed, beside the project."""
    text = (repo / "asv.conf.json").read_text(encoding="utf-8")
    assert old in text
    text = text.replace(old, new).replace('"repo": "."', f'"repo": "{repo}"')
    text = text.replace('"env_dir": ".asv/env"', f'"env_dir": "{tmp_path / "env"}"')
    config = tmp_path / "asv.conf.json"
    config.write_text(text, encoding="utf-8")
    return config


def run_perfguard(config: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    home = config.parent / "home"
    home.mkdir(exist_ok=True)
    return subprocess.run(
        [*PERFGUARD_RUN, "--asv-config", str(config), "--machine", "tester", *extra],
        cwd=config.parent,
        env={**os.environ, **GIT_ENV, "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr
    assert "crash log" not in done.stderr and "Traceback" not in done.stderr
    return errors[0]


def test_rattler_without_py_rattler_is_asvs_reason_in_one_line(
    quickstart_project: Path, tmp_path: Path
) -> None:
    if importlib.util.find_spec("rattler") is not None:
        pytest.skip("py-rattler is installed here: asv can use rattler")
    config = configured(
        quickstart_project,
        tmp_path,
        '"environment_type": "virtualenv"',
        '"environment_type": "rattler"',
    )
    line = one_error_line(run_perfguard(config))
    assert line.startswith(
        f"error: asv cannot use environment_type 'rattler' with pythons {PYTHON}"
    )
    assert "Unknown environment type 'rattler'" in line  # asv's own words
    assert "rattler plugin needs py-rattler, which is not installed" in line


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("virtualenv:2.1", "No executable found for python 2.1"),
        ("nonesuch:3.12", "Unknown environment type 'nonesuch'"),
        ("3.12", "Unknown environment type '3.12'"),
    ],
)
def test_an_env_asv_cannot_make_is_asvs_reason(
    quickstart_project: Path, tmp_path: Path, spec: str, reason: str
) -> None:
    config = configured(quickstart_project, tmp_path, '"version": 1', '"version": 1')
    line = one_error_line(run_perfguard(config, "--env", spec))
    assert line.startswith(f"error: asv cannot use --env {spec} here: {reason}")
    # Only the asked environment's reason: the configured one is fine here.
    assert line.count("Unknown environment type") <= 1


def test_conda_without_conda_is_one_line(quickstart_project: Path, tmp_path: Path) -> None:
    if shutil.which("conda") or os.environ.get("CONDA_EXE"):
        pytest.skip("conda is installed here")
    config = configured(
        quickstart_project,
        tmp_path,
        '"environment_type": "virtualenv"',
        '"environment_type": "conda"',
    )
    line = one_error_line(run_perfguard(config))
    base = sh("git", "rev-parse", "HEAD~1", cwd=quickstart_project)
    assert line == (
        f"error: asv could not build or install the base commit {base[:8]} in"
        f" conda-py{PYTHON}: Could not find 'conda' in PATH"
    )


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def warnings() -> Iterator[Records]:
    handler = Records()
    logger = logging.getLogger("perfguard.runner")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def test_several_configured_environments_are_named_and_the_first_is_measured(
    quickstart_project: Path, tmp_path: Path, warnings: Records
) -> None:
    config = configured(
        quickstart_project,
        tmp_path,
        '"environment_type": "virtualenv",',
        '"environment_type": "virtualenv", "matrix": {"env": {"PERF_X": ["1", "2"]}},',
    )
    conf = asvproject.load_config(config)
    workspace = asvenv.Workspace(conf)
    first, second = (f"virtualenv-py{PYTHON}-PERF_X{n}" for n in (1, 2))
    assert workspace.env_name == first
    assert warnings.lines == [
        f"asv's configuration gives 2 environments ({first}, {second}); perfguard run measures"
        f" one, the first: {first} (choose another with --env, e.g. --env {second})"
    ]
    warnings.lines.clear()
    chosen = asvenv.Workspace(conf, second)  # an environment's name, as asv run -E takes it
    assert chosen.env_name == second
    assert warnings.lines == []


def test_a_python_asv_passes_over_is_said(
    quickstart_project: Path, tmp_path: Path, warnings: Records
) -> None:
    config = configured(
        quickstart_project,
        tmp_path,
        '"environment_type": "virtualenv",',
        f'"environment_type": "virtualenv", "pythons": ["{PYTHON}", "2.1"],',
    )
    workspace = asvenv.Workspace(asvproject.load_config(config))
    assert workspace.env_name == f"virtualenv-py{PYTHON}"
    assert warnings.lines == [
        "asv passes over part of its configuration here (No executable found for python 2.1);"
        f" measuring virtualenv-py{PYTHON}"
    ]


@pytest.mark.integration
def test_an_unreachable_package_index_is_pips_reason_in_one_line(
    quickstart_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A network error while asv installs the environment: a real pip against a closed port."""
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    config = configured(
        quickstart_project,
        tmp_path,
        '"environment_type": "virtualenv",',
        '"environment_type": "virtualenv", "matrix": {"req": {"perfguard-no-such-dist": [""]}},',
    )
    workspace = asvenv.Workspace(asvproject.load_config(config))
    base = sh("git", "rev-parse", "HEAD~1", cwd=quickstart_project)
    head = sh("git", "rev-parse", "HEAD", cwd=quickstart_project)
    with pytest.raises(AsvError) as info:
        workspace.prepare(base, head)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"asv could not build or install the base commit {base[:8]}")
    assert "returned non-zero exit status" in message  # asv's words
    assert message.endswith("(ERROR: No matching distribution found for perfguard-no-such-dist)")
    assert info.value.exit_code == 2
