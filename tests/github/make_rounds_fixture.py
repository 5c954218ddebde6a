"""Regenerate tests/github/data/perf-rounds/session-slowdown.rounds.json: a real rounds file of
`perfguard run` on this repository's own session benchmarks, with a known regression.

A throwaway clone gets one extra commit that slows down closing a session (``sum(range(400))``
in ``Session.close``); `perfguard run` then builds both commits with asv and measures
``bench_bus.Sessions`` in paired rounds. Run from the repository root:

    .venv/bin/python tests/github/make_rounds_fixture.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "data/perf-rounds/session-slowdown.rounds.json"
CLOSE = "            self.closed = True\n"
SLOWDOWN = (
    "            sum(range(400))  # fixture only: a deliberate slowdown of closing a session\n"
)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=fixture", "-c", "user.email=fixture@example.invalid", *args],
        cwd=repo, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="perf-rounds-") as tmp:
        clone = Path(tmp) / "clone"
        git(ROOT, "clone", "-q", str(ROOT), str(clone))
        session = clone / "src/eventbus/session.py"
        text = session.read_text(encoding="utf-8")
        assert CLOSE in text, "Session.close changed: update CLOSE"
        session.write_text(text.replace(CLOSE, CLOSE + SLOWDOWN, 1), encoding="utf-8")
        git(clone, "commit", "-qam", "session close: deliberate slowdown (fixture)")
        base, head = git(clone, "rev-parse", "HEAD~1"), git(clone, "rev-parse", "HEAD")
        perfguard = Path(sys.executable).parent / "perfguard"
        done = subprocess.run(
            [
                str(perfguard), "run", base, head, "-b", r"bench_bus\.Sessions\.",
                "--machine", "fixture-box", "--seed", "7", "--min-rounds", "5",
                "--max-rounds", "10", "--output", str(Path(tmp) / "rounds.json"),
            ],
            cwd=clone, env={**os.environ, "HOME": tmp}, check=False,
        )  # fmt: skip
        if done.returncode not in (0, 1):
            return done.returncode
        OUT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(Path(tmp) / "rounds.json", OUT)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
