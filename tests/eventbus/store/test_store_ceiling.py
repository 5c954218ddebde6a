"""scripts/store_ceiling.py runs end to end and prints every part of the bound it explains."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "store_ceiling.py"


def test_one_round_prints_each_part_and_the_estimate() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "1"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for part in ("1 asyncio", "2 asyncio", "3 store", "4 overwrite", "5 store"):
        line = next(line for line in lines if line.startswith(part))
        median = float(line.split("median")[1].split()[0])
        assert median > 0, line
    estimate = re.search(r"-> ([\d,]+) events/s", done.stdout)
    assert estimate is not None, done.stdout
    assert int(estimate.group(1).replace(",", "")) > 0
