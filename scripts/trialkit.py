"""What the measurement scripts share: git in their scratch repositories, and where the tools are.

The scripts (detector_quality.py, track_trials.py, scale_vs_asv.py, round_design.py,
run_time.py, shard_walltime.py) run as files, so ``scripts/`` is on ``sys.path`` and
``import trialkit`` finds this.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
"""The venv's bin directory: perfguard and asv as this Python installed them."""
GIT_ID = ["-c", "user.name=perfguard-trials", "-c", "user.email=trials@example.invalid"]


def git(repo: Path, *args: str) -> str:
    """``git -C repo ARGS`` with a fixed identity (scratch repositories have none); stdout."""
    done = subprocess.run(
        ["git", *GIT_ID, "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()
