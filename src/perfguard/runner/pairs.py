"""One round: base and head workers side by side, every benchmark sampled in alternation.

A shared machine has slow and fast phases that last for seconds, and processes whose memory
layout makes them persistently a few percent faster or slower. Measured on this project's
2-core VM, the per-round log-ratio of two separate fresh processes (asv's way) had a spread of
8-18 %; two workers kept alive together, pinned to one CPU, sampled in alternation, with the
same memory layout, brought it to about 2 % (docs/run.md, "How a round is measured").

So every round starts two fresh workers (:mod:`.benchworker`), one per commit, which serve the
whole round (one import of each benchmark module per side and round, one forked child per
benchmark), and:

- pins both to the same CPU, drawn per round;
- gives both the same hash seed and the same stack layout, drawn per round: address-space
  randomisation is off in the workers, and an environment variable pads both environments
  (whose sizes differ by their paths) to one size plus a random offset, so that layout
  effects are shared within a round and average out across rounds instead of biasing one side;
- takes ``pairs`` samples from each in alternation, the order of every pair drawn at random.

The round's paired value is the median over its pairs of ln(head / base). A worker that runs
over a benchmark's timeout or dies is killed and replaced by a fresh one (same layout) for the
rest of the round; a benchmark child that crashes fails only its benchmark.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import selectors
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from perfguard.runner import instructions

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
PAIR_SECONDS = 2.0
"""Most seconds of sampling one benchmark combination gets per round (both sides together),
after its first pair: ``pairs`` short samples of a fast body take milliseconds, but a body of
seconds (a heavy ``time_`` with ``number = 1``, a ``track_`` that runs a whole workload) would
cost ``2 x pairs`` calls a round. asv caps a process's samples by time the same way
(``repeat``'s ``max_time``). The round's value is the median over the pairs it took."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Counting:
    """How a round's workers count instructions: ``perf`` (hardware counters) or
    ``valgrind`` (the worker runs under callgrind, ``valgrind`` is its executable)."""

    counter: str
    valgrind: str = ""

    def spec(self, dumps: str) -> str:
        """The worker's ``COUNTER`` argument; ``dumps``: where callgrind writes."""
        return f"valgrind:{dumps}" if self.counter == "valgrind" else self.counter

    def wrapper(self, dumps: str) -> tuple[str, ...]:
        if self.counter != "valgrind":
            return ()
        return tuple(instructions.valgrind_command(self.valgrind, dumps))


class WorkerError(Exception):
    """A worker died, timed out or broke the protocol; the message says which.

    Private signalling, not a PerfguardError: it never reaches the user. :class:`Round`
    catches it and records it as that side's failed benchmark (``SideSamples.error``), which
    the report shows as the benchmark's failure, and replaces the worker.
    """


@dataclass(frozen=True, slots=True, kw_only=True)
class Launch:
    """How to start a Python in one asv environment: its executable and environment."""

    python: str
    env: Mapping[str, str]


@dataclass(slots=True, kw_only=True)
class SideSamples:
    """What one side's worker gave for one benchmark in one round."""

    samples: list[float] = field(default_factory=list)
    number: int | None = None
    paired: bool = False
    """Sampled once per pair (``time_``, ``track_``), not once per process."""
    skipped: bool = False
    error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Layout:
    """What both workers of a round share: CPU, hash seed, stack offset."""

    cpu: int | None
    hash_seed: int
    pad: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PairedRound:
    base: SideSamples
    head: SideSamples
    layout: Layout
    orders: tuple[bool, ...]
    """Per pair: True if base is sampled first."""

    @property
    def log_ratio(self) -> float | None:
        """Median over the pairs of ln(head / base); None unless both sides gave values."""
        ratios = [
            math.log(h / b)
            for b, h in zip(self.base.samples, self.head.samples, strict=False)
            if b > 0 and h > 0 and math.isfinite(b) and math.isfinite(h)
        ]
        return statistics.median(ratios) if ratios else None


def draw_layout(rng: random.Random) -> Layout:
    """The round's shared conditions."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return Layout(
        cpu=rng.choice(cpus) if cpus else None,
        hash_seed=rng.randrange(2**32),
        pad=rng.randrange(4096),
    )


def draw_orders(rng: random.Random, pairs: int, *, base_first: bool) -> tuple[bool, ...]:
    """One benchmark's pair orders: the first is the round's, the rest drawn."""
    return (base_first, *(rng.random() < 0.5 for _ in range(pairs - 1)))


def _stack_bytes(argv: list[str], env: Mapping[str, str]) -> int:
    """What execve copies onto the new stack: argv and environment strings, the file name."""
    return (
        sum(len(a.encode()) + 1 for a in argv)
        + sum(len(k.encode()) + len(v.encode()) + 2 for k, v in env.items())
        + len(argv[0].encode())
        + 1
    )


def worker_commands(
    launches: Mapping[str, Launch], args: Mapping[str, list[str]], layout: Layout
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
        prepared[side] = ([launch.python, str(WORKER), *args[side]], env)
    count = max(len(env) for _, env in prepared.values())
    for _, env in prepared.values():
        for i in range(count - len(env)):
            env[f"{PAD_VARIABLE}_{i}"] = ""
    target = max(_stack_bytes(argv, env) for argv, env in prepared.values()) + layout.pad
    for argv, env in prepared.values():
        env[PAD_VARIABLE] = "x" * (target - _stack_bytes(argv, env))
    return prepared


class Worker:
    """One running :mod:`.benchworker` process (with its launcher) and its line protocol."""

    def __init__(
        self, argv: list[str], env: dict[str, str], cwd: str, wrapper: tuple[str, ...] = ()
    ) -> None:
        """``wrapper``: a command the launcher runs the worker under (valgrind's)."""
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self.process = subprocess.Popen(
            [argv[0], "-S", "-c", LAUNCHER, *wrapper, *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            cwd=cwd,
            start_new_session=True,  # one process group: launcher, worker, benchmark child
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._in: IO[bytes] = self.process.stdin
        self._out: IO[bytes] = self.process.stdout

    def send(self, command: str) -> None:
        try:
            self._in.write(command.encode() + b"\n")
            self._in.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise WorkerError("worker exited") from exc

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
        return message

    def ask(self, command: str, timeout: float) -> dict[str, Any]:
        self.send(command)
        return self.receive(timeout)

    def output_size(self) -> int:
        return self._stderr.seek(0, os.SEEK_END)

    def output(self, since: int = 0) -> str:
        """Its standard error (the benchmarks' output and tracebacks) from byte ``since``."""
        self._stderr.seek(since)
        return self._stderr.read().decode(errors="replace").strip()

    def stop(self, *, kill: bool = False) -> None:
        """Ask it to exit; kill it (its whole process group) if it does not in a few seconds.

        ``kill``: at once, for a worker that broke the protocol or ran over its timeout.
        """
        if kill:
            self._kill()
        if self.process.poll() is None:
            with contextlib.suppress(OSError):  # it may be dying: a broken pipe
                self._in.write(b"quit\n")
                self._in.flush()
        # Its own step: after a failed flush, close() still closes the pipe (and raises again).
        with contextlib.suppress(OSError):
            self._in.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._kill()
            self.process.wait()
        self._out.close()

    def _kill(self) -> None:
        with contextlib.suppress(OSError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.kill()

    def close(self) -> None:
        self._stderr.close()


def _ended(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"benchmark process was killed by {name}"
    return f"benchmark process exited with code {code}"


class Round:
    """Both sides' workers for one round; :meth:`measure` runs one benchmark combination.

    ``cache_root``: per side, where ``setup_cache`` directories live for the whole run (one
    ``setup_cache`` per side and run, as asv does). The workers start on first use.
    ``counting``: the workers count instructions instead of timing (:class:`Counting`).
    """

    def __init__(
        self,
        launches: Mapping[str, Launch],
        benchmark_dir: str,
        extra_params: Mapping[str, Any],
        layout: Layout,
        cache_root: Path,
        counting: Counting | None = None,
    ) -> None:
        self.layout = layout
        self._workdir = tempfile.TemporaryDirectory(prefix="perfguard-round-")
        self._wrapper: tuple[str, ...] = ()
        counter: list[str] = []
        if counting is not None:
            dumps = os.path.join(self._workdir.name, "counts")
            os.mkdir(dumps)
            counter = [counting.spec(dumps)]
            self._wrapper = counting.wrapper(dumps)
        cpu = "" if layout.cpu is None else str(layout.cpu)
        args = {}
        for side in SIDES:
            (cache_root / side).mkdir(parents=True, exist_ok=True)
            # setup may write files: one directory each
            os.mkdir(os.path.join(self._workdir.name, side))
            args[side] = [
                benchmark_dir,
                json.dumps(dict(extra_params)),
                cpu,
                str(cache_root / side),
                *counter,
            ]
        self._commands = worker_commands(launches, args, layout)
        self._workers: dict[str, Worker] = {}
        self.started = dict.fromkeys(SIDES, 0)
        """Workers started per side this round (more than one after a timeout or crash)."""

    def _worker(self, side: str) -> Worker:
        if side in self._workers and self._workers[side].process.poll() is not None:
            gone = self._workers.pop(side)  # it died between benchmarks: a fresh one
            gone.stop()
            gone.close()
        if side not in self._workers:
            argv, env = self._commands[side]
            self._workers[side] = Worker(
                argv, env, cwd=os.path.join(self._workdir.name, side), wrapper=self._wrapper
            )
            self.started[side] += 1
        return self._workers[side]

    def measure(
        self,
        benchmark_id: str,
        *,
        pairs: int,
        orders: tuple[bool, ...],
        timeout: float,
        start_timeout: float | None = None,
        once: bool = False,
        pair_seconds: float | None = PAIR_SECONDS,
    ) -> PairedRound:
        """One benchmark combination for base and head: ``pairs`` samples each, alternating.

        ``start_timeout``: for the start (import, ``setup_cache``, ``setup``, calibration),
        default ``timeout``. Benchmarks sampled once per process (``mem_``, ``peakmem_``, a
        ``track_`` with ``once_per_process``, or ``once``: a rule says so) give one sample each.
        ``pair_seconds``: no new pair starts once the pairs taken have used that long (at least
        one pair is taken; None: no cap).
        """
        result = {side: SideSamples() for side in SIDES}
        since: dict[str, int] = {}
        live: set[str] = set()
        for side in SIDES:  # both start (import, setup, calibration) at the same time
            worker = self._worker(side)
            since[side] = worker.output_size()
            try:
                worker.send(f"bench {benchmark_id}")
            except WorkerError as exc:
                self._discard(side, result[side], since[side], exc)
        for side in SIDES:
            if side not in self._workers:
                continue
            try:
                answer = self._workers[side].receive(start_timeout or timeout)
            except WorkerError as exc:
                self._discard(side, result[side], since[side], exc)
                continue
            if "ended" in answer:  # no child, or it died before it was ready
                result[side].error = str(answer.get("error") or _ended(int(answer["ended"])))
                continue
            live.add(side)
            if "error" in answer:
                result[side].error = str(answer["error"])
            elif answer.get("skip"):
                result[side].skipped = True
            else:
                result[side].number = int(answer.get("number") or 1)
                result[side].paired = bool(answer.get("paired"))
        ready = [side for side in SIDES if result[side].number is not None]
        if ready:  # one side alone still gives its value (the other's failure is the news)
            paired = not once and all(result[side].paired for side in ready)
            count = pairs if paired else 1
            for side in ready:
                result[side].paired = paired
            live -= self._alternate(result, orders[:count], timeout, since, ready, pair_seconds)
        for side in SIDES:
            if side in live and side in self._workers:
                self._end(side, result[side], since[side], timeout)
            if side in self._workers and result[side].error:
                output = self._workers[side].output(since[side])
                if output and output not in result[side].error:
                    result[side].error = f"{result[side].error.strip()}\n{output}"
            result[side].error = result[side].error.strip()
        return PairedRound(
            base=result["base"], head=result["head"], layout=self.layout, orders=orders
        )

    def _discard(self, side: str, result: SideSamples, since: int, exc: WorkerError) -> None:
        """Kill a side's worker that timed out or broke; the next benchmark gets a fresh one."""
        worker = self._workers.pop(side)
        worker.stop(kill=True)
        said = [result.error.strip(), str(exc), worker.output(since)]
        result.error = "\n".join(text for text in said if text)
        worker.close()

    def _end(self, side: str, result: SideSamples, since: int, timeout: float) -> None:
        """Let a side's benchmark child tear down and exit."""
        try:
            answer = self._workers[side].ask("end", timeout)
            code = int(answer["ended"])
        except (KeyError, ValueError, TypeError):
            self._discard(side, result, since, WorkerError(f"worker said {answer!r} to end"))
            return
        except WorkerError as exc:
            self._discard(side, result, since, exc)
            return
        if code != 0 and not result.error:
            result.error = f"teardown failed: {_ended(code)}"

    def _alternate(
        self,
        result: Mapping[str, SideSamples],
        orders: tuple[bool, ...],
        timeout: float,
        since: Mapping[str, int],
        ready: list[str],
        pair_seconds: float | None,
    ) -> set[str]:
        """Take the samples; returns the sides whose child is gone (no ``end`` to send)."""
        began = time.monotonic()
        for taken, base_first in enumerate(orders):
            if taken and pair_seconds is not None and time.monotonic() - began >= pair_seconds:
                return set()
            for side in SIDES if base_first else SIDES[::-1]:
                if side not in ready:
                    continue
                try:
                    answer = self._workers[side].ask("sample", timeout)
                except WorkerError as exc:
                    self._discard(side, result[side], since[side], exc)
                    return {side}
                if "ended" in answer:
                    result[side].error = _ended(int(answer["ended"]))
                    return {side}
                if "error" in answer:
                    result[side].error = str(answer["error"])
                    return set()
                if answer.get("skip"):
                    result[side].skipped = True
                    return set()
                result[side].samples.append(float(answer["value"]))
        return set()

    def close(self) -> None:
        for side in list(self._workers):
            worker = self._workers.pop(side)
            worker.stop()
            worker.close()
        self._workdir.cleanup()


@contextlib.contextmanager
def open_round(
    launches: Mapping[str, Launch],
    benchmark_dir: str,
    extra_params: Mapping[str, Any],
    layout: Layout,
    cache_root: Path,
    counting: Counting | None = None,
) -> Iterator[Round]:
    """A :class:`Round` whose workers are stopped at the end, whatever happened."""
    session = Round(launches, benchmark_dir, extra_params, layout, cache_root, counting)
    try:
        yield session
    finally:
        session.close()


def measure(
    launches: Mapping[str, Launch],
    benchmark_dir: str,
    benchmark_id: str,
    *,
    extra_params: Mapping[str, Any],
    pairs: int,
    rng: random.Random,
    base_first: bool,
    timeout: float,
    once: bool = False,
) -> PairedRound:
    """One benchmark (one parameter combination) in a round of its own (fresh workers)."""
    layout = draw_layout(rng)
    orders = draw_orders(rng, pairs, base_first=base_first)
    with (
        tempfile.TemporaryDirectory(prefix="perfguard-caches-") as caches,
        open_round(launches, benchmark_dir, extra_params, layout, Path(caches)) as session,
    ):
        return session.measure(benchmark_id, pairs=pairs, orders=orders, timeout=timeout, once=once)


__all__ = [
    "Counting",
    "Launch",
    "Layout",
    "PairedRound",
    "Round",
    "SideSamples",
    "WorkerError",
    "draw_layout",
    "draw_orders",
    "measure",
    "open_round",
]
