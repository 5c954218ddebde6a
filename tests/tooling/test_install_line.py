"""The README's install line works: run as written, in a fresh venv, from a clone of this repo.

perfguard is not on PyPI, so the README installs it from its git repository. The test takes that
exact line from README.md (``readme.command`` fails when it changes), swaps only the GitHub URL
for a ``file://`` URL of a local clone (GitHub is not reachable from tests), runs it with the new
venv's ``pip`` first on PATH, and checks that the installed ``perfguard`` starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from perfguard import __version__
from tests.helpers import readme

ROOT = Path(__file__).resolve().parents[2]
GITHUB_URL = "https://github.com/OWNER/perfguard"

pytestmark = pytest.mark.integration


def test_the_readme_install_line_installs_a_working_perfguard(tmp_path: Path) -> None:
    line = readme.command('pip install "git+https://github.com/OWNER/perfguard"')
    clone = tmp_path / "perfguard"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    assert line.count(GITHUB_URL) == 1
    local = line.replace(GITHUB_URL, clone.as_uri())
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", local],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    version = subprocess.run(
        [str(venv / "bin" / "perfguard"), "--version"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert version.returncode == 0, version.stderr
    assert __version__ in version.stdout
    # The venv's own copy, not this checkout's editable one.
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import perfguard; print(perfguard.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert where.stdout.strip().startswith(str(venv))
