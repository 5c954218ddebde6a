"""One benchmark, one round: base and head workers side by side, sampled in alternation.

A shared machine has slow and fast phases that last for seconds, and processes whose memory
layout makes them persistently a few percent faster or slower. Measured on this project's
2-core VM, the per-round log-ratio of two separate fresh processes (asv's way) had a spread of
8-18 %; two workers kept alive together, pinned to one CPU, sampled in alternation, with the
same memory layout, brought it to about 2 % (docs/run.md, "How a round is measured").

So every round starts two fresh workers (:mod:`.benchworker`), one per commit, and:

- pins both to the same CPU, drawn per round;
- gives both the same hash seed and the same stack layout, drawn per round: address-space
  randomisation is off in the workers, and an environment variable pads both environments
  (whose sizes differ by their paths) to one size plus a random offset, so that layout
  effects are shared within a round and average out across rounds instead of biasing one side;
- takes ``pairs`` samples from each in alternation, the order of every pair drawn at random.

The round's paired value is the median over its pairs of ln(head / base).
"""

from __future__ import annotations

import json
import math
import os
import random
import selectors
import statistics
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

WORKER = Path(__file__).with_name("benchworker.py")
PAD_VARIABLE = "PERFGUARD_LAYOUT_PAD"
ADDR_NO_RANDOMIZE = 0x0040000
"""Linux personality flag: no address-space randomisation for the process and its exec."""
LAUNCHER = (
    "import ctypes, os, signal, sys\n"
    "libc = ctypes.CDLL(None)\n"
    "try:\n"
    f"    libc.personality({ADDR_NO_RANDOMIZE})\n"
    "except (AttributeError, OSError):\n"
    "    pass\n"
    "launcher = os.getpid()\n"
    "worker = os.fork()\n"
    "if worker == 0:\n"
    "    try:\n"
    "        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the launcher\n"
    "    except (AttributeError, OSError):\n"
    "        pass\n"
    "    if os.getppid() != launcher:\n"
    "        os._exit(1)\n"
    "    os.execv(sys.argv[1], sys.argv[1:])\n"
    "_, status = os.waitpid(worker, 0)\n"
    "code = os.waitstatus_to_exitcode(status)\n"
    "os._exit(code if code >= 0 else 128 - code)\n"
)
"""Sets the personality (it survives fork and exec), then starts the worker as its own child.

Not an exec of itself: Linux keeps a process's peak RSS across exec, so a worker exec'd from
the perfguard process would report perfguard's own peak as its ``peakmem``. Forked from this
small launcher, its peak starts at the launcher's few megabytes, as asv's forkserver children
do. The worker dies with the launcher (``PR_SET_PDEATHSIG``), so stopping one stops both.
"""
SIDES = ("base", "head")


class WorkerError(Exception):
    """A worker died, timed out or broke the protocol; the message says which.

    Private signalling, not a PerfguardError: it never reaches the user. ``measure`` catches
    it and records it as that side's failed round (``SideSamples.error``), which the report
    shows as the benchmark's failure.
    """


@dataclass(frozen=True, slots=True, kw_only=True)
class Launch:
    """How to start a Python in one asv environment: its executable and environment."""

    python: str
    env: Mapping[str, str]


@dataclass(slots=True, kw_only=True)
class SideSamples:
    """What one side's worker gave in one round."""

    samples: list[float] = field(default_factory=list)
    number: int | None = None
    skipped: bool = False
    error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Layout:
    """What both workers of a round share: CPU, hash seed, stack offset, order of the pairs."""

    cpu: int | None
    hash_seed: int
    pad: int
    orders: tuple[bool, ...]
    """Per pair: True if base is sampled first."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PairedRound:
    base: SideSamples
    head: SideSamples
    layout: Layout

    @property
    def log_ratio(self) -> float | None:
        """Median over the pairs of ln(head / base); None unless both sides gave values."""
        ratios = [
            math.log(h / b)
            for b, h in zip(self.base.samples, self.head.samples, strict=False)
            if b > 0 and h > 0 and math.isfinite(b) and math.isfinite(h)
        ]
        return statistics.median(ratios) if ratios else None


def draw_layout(rng: random.Random, pairs: int, *, base_first: bool) -> Layout:
    """The round's shared conditions; the first pair's order is the round's, the rest drawn."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return Layout(
        cpu=rng.choice(cpus) if cpus else None,
        hash_seed=rng.randrange(2**32),
        pad=rng.randrange(4096),
        orders=(base_first, *(rng.random() < 0.5 for _ in range(pairs - 1))),
    )


def _stack_bytes(argv: list[str], env: Mapping[str, str]) -> int:
    """What execve copies onto the new stack: argv and environment strings, the file name."""
    return (
        sum(len(a.encode()) + 1 for a in argv)
        + sum(len(k.encode()) + len(v.encode()) + 2 for k, v in env.items())
        + len(argv[0].encode())
        + 1
    )


def worker_commands(
    launches: Mapping[str, Launch], args: list[str], layout: Layout
) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Both workers' final argv and environment, padded to the same stack size plus ``pad``.

    The same number of variables (empty fillers), then one padding variable whose length
    makes the bytes execve copies onto the stack equal, plus the round's offset.
    """
    prepared = {}
    for side in SIDES:
        launch = launches[side]
        env = dict(launch.env)
        env["PYTHONHASHSEED"] = str(layout.hash_seed)
        env[PAD_VARIABLE] = ""
        prepared[side] = ([launch.python, str(WORKER), *args], env)
    count = max(len(env) for _, env in prepared.values())
    for _, env in prepared.values():
        for i in range(count - len(env)):
            env[f"{PAD_VARIABLE}_{i}"] = ""
    target = max(_stack_bytes(argv, env) for argv, env in prepared.values()) + layout.pad
    for argv, env in prepared.values():
        env[PAD_VARIABLE] = "x" * (target - _stack_bytes(argv, env))
    return prepared


class Worker:
    """One running :mod:`.benchworker` process and its line protocol."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str) -> None:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self.process = subprocess.Popen(
            [argv[0], "-S", "-c", LAUNCHER, *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            cwd=cwd,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._in: IO[bytes] = self.process.stdin
        self._out: IO[bytes] = self.process.stdout

    def receive(self, timeout: float) -> dict[str, Any]:
        with selectors.DefaultSelector() as selector:
            selector.register(self._out, selectors.EVENT_READ)
            if not selector.select(timeout):
                raise WorkerError(f"no answer within {timeout:g}s (asv timeout)")
        line = self._out.readline()
        if not line:
            self.process.wait()
            raise WorkerError(f"worker exited with code {self.process.returncode}")
        try:
            message: dict[str, Any] = json.loads(line)
        except ValueError as exc:
            raise WorkerError(f"worker said {line[:200]!r}") from exc
        if "error" in message:
            raise WorkerError(str(message["error"]).strip())
        return message

    def ask(self, command: str, timeout: float) -> dict[str, Any]:
        try:
            self._in.write(command.encode() + b"\n")
            self._in.flush()
        except BrokenPipeError as exc:
            raise WorkerError("worker exited") from exc
        return self.receive(timeout)

    def output(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace").strip()

    def stop(self, *, kill: bool = False) -> None:
        """Ask it to tear down and exit; kill it if it does not within a few seconds.

        ``kill``: at once, for a worker that broke the protocol or ran over its timeout.
        """
        if kill:
            self.process.kill()
        try:
            if self.process.poll() is None:
                self._in.write(b"quit\n")
                self._in.flush()
            self._in.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._out.close()

    def close(self) -> None:
        self._stderr.close()


def _start(worker: Worker, side: SideSamples, timeout: float) -> bool:
    try:
        ready = worker.receive(timeout)
    except WorkerError as exc:
        side.error = str(exc)
        return False
    if ready.get("skip"):
        side.skipped = True
        return False
    side.number = int(ready.get("number") or 1)
    return True


def measure(
    launches: Mapping[str, Launch],
    benchmark_dir: str,
    benchmark_id: str,
    *,
    kind: str,
    extra_params: Mapping[str, Any],
    pairs: int,
    rng: random.Random,
    base_first: bool,
    timeout: float,
) -> PairedRound:
    """Run one benchmark (one parameter combination) for base and head in alternation.

    Time benchmarks give ``pairs`` samples per side; the others one (asv's value of a
    process: a peak memory or a tracked figure is taken once per process, as asv does).
    """
    count = pairs if kind == "time" else 1
    layout = draw_layout(rng, count, base_first=base_first)
    args = [
        benchmark_dir,
        benchmark_id,
        json.dumps(dict(extra_params)),
        "" if layout.cpu is None else str(layout.cpu),
    ]
    result = {side: SideSamples() for side in SIDES}
    with tempfile.TemporaryDirectory(prefix="perfguard-worker-") as cwd:
        workers: dict[str, Worker] = {}
        try:
            for side, (argv, env) in worker_commands(launches, args, layout).items():
                os.mkdir(os.path.join(cwd, side))  # setup_cache may write files: one dir each
                workers[side] = Worker(argv, env, cwd=os.path.join(cwd, side))
            ready = {side: _start(workers[side], result[side], timeout) for side in SIDES}
            if all(ready.values()):
                _alternate(workers, result, layout, timeout)
        finally:
            for side, worker in workers.items():
                worker.stop(kill=bool(result[side].error))
                if result[side].error:
                    result[side].error = f"{result[side].error}\n{worker.output()}".strip()
                worker.close()  # after its output was read
    return PairedRound(base=result["base"], head=result["head"], layout=layout)


def _alternate(
    workers: Mapping[str, Worker],
    result: Mapping[str, SideSamples],
    layout: Layout,
    timeout: float,
) -> None:
    for base_first in layout.orders:
        for side in SIDES if base_first else SIDES[::-1]:
            try:
                answer = workers[side].ask("sample", timeout)
            except WorkerError as exc:
                result[side].error = str(exc)
                return
            if answer.get("skip"):
                result[side].skipped = True
                return
            result[side].samples.append(float(answer["value"]))


__all__ = ["Launch", "PairedRound", "SideSamples", "WorkerError", "measure"]
