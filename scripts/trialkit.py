"""What the measurement scripts share: git in their scratch repositories, where the tools are,
and one `perfguard run` of a trial.

The scripts (detector_quality.py, track_trials.py, instruction_trials.py, scale_vs_asv.py,
round_design.py, run_time.py, shard_walltime.py) run as files, so ``scripts/`` is on
``sys.path`` and ``import trialkit`` finds this.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
"""The venv's bin directory: perfguard and asv as this Python installed them."""
GIT_ID = ["-c", "user.name=perfguard-trials", "-c", "user.email=trials@example.invalid"]


def git(repo: Path, *args: str) -> str:
    """``git -C repo ARGS`` with a fixed identity (scratch repositories have none); stdout."""
    done = subprocess.run(
        ["git", *GIT_ID, "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def paired_run(
    repo: Path, base: str, head: str, options: list[str], env: dict[str, str], keep: Path
) -> tuple[dict[str, Any], float]:
    """``perfguard run BASE HEAD OPTIONS`` in ``repo``, never gating (``--fail-on never``),
    its rounds file kept at ``keep``: the JSON report and the run's wall time in seconds."""
    report = repo.parent / "perfguard-report.json"
    report.unlink(missing_ok=True)
    keep.parent.mkdir(parents=True, exist_ok=True)
    keep.unlink(missing_ok=True)
    started = time.monotonic()
    done = subprocess.run(
        [
            str(BIN / "perfguard"), "run", base, head, *options,
            "--output", str(keep), "--fail-on", "never",
            "--format", "json", "--json-file", str(report),
        ],
        cwd=repo, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"perfguard run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(report.read_text()), seconds
