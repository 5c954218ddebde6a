"""One place per test worker for asv's environments of the tests' small projects.

asv names an environment by its Python and requirements, so the tests' projects (same Python,
no requirements) all get the same one: building each project into the worker's shared
environments, instead of creating new virtualenvs per test file, saves two virtualenvs and
eight pip runs (~20 s of CPU) each time. The environments are real and rebuilt by asv as
needed; only their folder is shared. A worker runs one test file at a time (``--dist
loadfile``), so no two runs use them at once. Tests about the environments themselves (the
build cache, an unreachable index) keep their own.
"""

from __future__ import annotations

from pathlib import Path

TWIN_SUFFIX = "-perfguard"


def share_envs(config_dir: Path, shared: Path, env_dir: str = ".asv/env") -> None:
    """Make ``config_dir/env_dir`` (and perfguard's twin beside it) links into ``shared``."""
    for suffix in ("", TWIN_SUFFIX):
        link = config_dir / (env_dir + suffix)
        target = shared / ("env" + suffix)
        target.mkdir(parents=True, exist_ok=True)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target, target_is_directory=True)
