"""Crash tests: SIGKILL a writer process at random moments; every acknowledged event survives.

One store directory is reused over all the kills, so later rounds recover logs that earlier
rounds left behind. After each kill the log is opened in strict mode (any corruption raises):
a crash may only leave a torn tail, and every event the writer reported as acknowledged must
be readable with its payload.

Writers are forked from a pre-imported zygote process (see crash_writer.py) so a round costs
milliseconds, not an interpreter start. A SIGKILL does not tear a single small ``write`` (the
kernel finishes it) and the store writes each group commit with one ``write``, so these kills
leave whole records; torn and damaged files are made directly in test_recovery.py.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from eventbus.store import FileEventStore

from .support import run

WRITER = Path(__file__).with_name("crash_writer.py")
KILLS = 100
SEED = 20261121


@contextmanager
def zygote(directory: Path) -> Iterator[subprocess.Popen[str]]:
    src = str(Path(__file__).resolve().parents[3] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(directory)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        yield proc
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
        assert proc.stdout is not None
        proc.stdout.close()


def kill_round(proc: subprocess.Popen[str], run_id: int, seed: int, acks: int) -> list[str]:
    """Fork a writer, SIGKILL it after ``acks`` acknowledgements; return every ack it printed."""
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(f"{run_id} {seed}\n")
    proc.stdin.flush()
    lines: list[str] = []
    pid = None
    while pid is None or len(lines) < acks:
        line = proc.stdout.readline()
        assert line, "the zygote died"
        if line.startswith("pid "):
            pid = int(line.split()[1])
        else:
            assert not line.startswith("dead "), f"writer exited on its own: {line}"
            lines.append(line)
    os.kill(pid, signal.SIGKILL)
    while not (line := proc.stdout.readline()).startswith("dead "):
        assert line, "the zygote died"
        lines.append(line)
    status = int(line.split()[2])
    assert os.WIFSIGNALED(status)
    assert os.WTERMSIG(status) == signal.SIGKILL
    return lines


async def recovered(directory: Path) -> dict[int, str]:
    async with FileEventStore(directory, strict=True) as store:
        found = {e.position: e.payload.decode() async for e in store.replay()}
        assert store.recovery.clean
        return found


@pytest.mark.integration
def test_every_acknowledged_event_survives_sigkill(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    acked: dict[int, str] = {}
    with zygote(tmp_path) as proc:
        for round_id in range(KILLS):
            seed = rng.randrange(1 << 30)
            for line in kill_round(proc, round_id, seed, rng.choice((0, 1, 3, 10, 30, 100))):
                position, event_id = line.split()
                assert acked.setdefault(int(position), event_id) == event_id
            found = run(recovered(tmp_path))
            lost = {p: v for p, v in acked.items() if found.get(p) != v}
            assert not lost, f"round {round_id}: acknowledged events lost or changed: {lost}"
            assert sorted(found) == list(range(1, len(found) + 1))
    assert len(acked) > 2000
    assert len(list(tmp_path.glob("*.seg"))) > 3
