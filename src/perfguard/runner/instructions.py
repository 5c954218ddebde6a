"""Counting the instructions a benchmark call executes: hardware counters or valgrind.

Standard library only: :mod:`.benchworker` loads this file by path under the *environment's*
Python (it cannot import perfguard), and perfguard imports it to probe what this machine
offers before a run.

Two counters, each around one region (a callable), so start-up, imports and setup are never
counted:

- ``perf``: ``perf_event_open`` on this thread, user-space instructions only
  (``exclude_kernel``, ``exclude_hv``), reset and enabled just before the region and disabled
  just after it.
- ``valgrind``: the worker runs under ``valgrind --tool=callgrind`` with collection off
  (:func:`valgrind_command`), and on x86-64 with instrumentation off too until the counting
  child turns it on (:func:`start_instrumentation`): the interpreter's start-up and imports
  run 3.6 times faster than instrumented (3.2 s against 11.5 s for ``import
  asv_runner.discovery``, native 0.3 s). The region is a call through a ctypes thunk, which
  goes through libffi's ``ffi_call``: collection is on only inside ``ffi_call`` and every exit
  from it dumps a file (``cg.PID.N``, N counting up per process) whose ``totals:`` line is the
  instructions (Ir) of that one region (callgrind zeroes its counters at each dump). A forked
  child writes its own ``cg.CHILDPID.N`` files (checked with valgrind 3.19). Every other
  ``ffi_call`` dumps too (see :class:`ValgrindCounter`).

Both include a constant cost of their own (the ioctl calls, or the thunk's entry and exit):
:class:`Region` measures it with an empty region and subtracts it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import os
import platform
import shutil
import struct
from collections.abc import Callable

PERF = "perf"
VALGRIND = "valgrind"
AUTO = "auto"
CHOICES = (AUTO, PERF, VALGRIND)

_PERF_EVENT_OPEN = {"x86_64": 298, "amd64": 298, "aarch64": 241, "arm64": 241}
"""``__NR_perf_event_open`` per machine (other architectures: no hardware counting)."""
_PERF_TYPE_HARDWARE = 0
_PERF_COUNT_HW_INSTRUCTIONS = 1
_ATTR_SIZE = 128  # PERF_ATTR_SIZE_VER7; the kernel accepts any known size
_DISABLED, _EXCLUDE_KERNEL, _EXCLUDE_HV = 1 << 0, 1 << 5, 1 << 6
_IOC_ENABLE, _IOC_DISABLE, _IOC_RESET = 0x2400, 0x2401, 0x2403

THUNK = ctypes.CFUNCTYPE(ctypes.c_int)
"""A C function pointer to a Python callable: calling it goes through libffi's ``ffi_call``."""
TOGGLE_SYMBOL = "ffi_call"


class CounterError(Exception):
    """No counting here; the message says why in one line."""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


class PerfCounter:
    """One ``perf_event_open`` file descriptor counting this thread's user instructions."""

    def __init__(self) -> None:
        number = _PERF_EVENT_OPEN.get(platform.machine().lower())
        if number is None:
            raise CounterError(f"perf_event_open: unknown syscall on {platform.machine()}")
        attr = bytearray(_ATTR_SIZE)
        flags = _DISABLED | _EXCLUDE_KERNEL | _EXCLUDE_HV
        # type, size, config; sample_period, sample_type, read_format; then the flag bits
        struct.pack_into("=IIQQQQQ", attr, 0, _PERF_TYPE_HARDWARE, _ATTR_SIZE,
                         _PERF_COUNT_HW_INSTRUCTIONS, 0, 0, 0, flags)  # fmt: skip
        self._libc = _libc()
        self._libc.syscall.restype = ctypes.c_long
        buffer = ctypes.create_string_buffer(bytes(attr), _ATTR_SIZE)
        fd = self._libc.syscall(
            ctypes.c_long(number),
            buffer,
            ctypes.c_int(0),
            ctypes.c_int(-1),
            ctypes.c_int(-1),
            ctypes.c_ulong(0),
        )
        if fd < 0:
            error = ctypes.get_errno()
            raise CounterError(
                f"perf_event_open for instructions failed: {os.strerror(error)}"
                " (no hardware counters here, e.g. a VM without a PMU, or"
                " /proc/sys/kernel/perf_event_paranoid forbids them)"
            )
        self.fd = int(fd)

    def count(self, region: Callable[[], object]) -> int:
        """Instructions executed in user space while ``region`` ran."""
        ioctl = self._libc.ioctl
        ioctl(self.fd, _IOC_RESET, 0)
        ioctl(self.fd, _IOC_ENABLE, 0)
        region()
        ioctl(self.fd, _IOC_DISABLE, 0)
        value: int = struct.unpack("=Q", os.read(self.fd, 8))[0]
        return value

    def close(self) -> None:
        os.close(self.fd)


def perf_available() -> str:
    """Empty if hardware instruction counters work here, else why not (one line)."""
    try:
        counter = PerfCounter()
    except (CounterError, OSError) as exc:
        return str(exc)
    try:
        if counter.count(lambda: sum(range(1000))) <= 0:
            return "perf_event_open counted no instructions (no PMU here)"
    except OSError as exc:
        return f"perf_event_open could not be read: {exc}"
    finally:
        counter.close()
    return ""


def valgrind_path() -> str | None:
    """The valgrind executable on PATH, if any."""
    return shutil.which(VALGRIND)


_RUNNING_ON_VALGRIND = 0x1001
"""valgrind.h's ``VG_USERREQ__RUNNING_ON_VALGRIND``: answers 1 (or more) under valgrind."""
_START_INSTRUMENTATION = 0x43540004
"""Callgrind's client request ``VG_USERREQ__START_INSTRUMENTATION`` (valgrind's callgrind.h:
tool base ``('C' << 24) | ('T' << 16)``, the fifth request; it answers 0)."""
_CLIENT_REQUEST_X86_64 = bytes.fromhex(
    "4889f8"  # mov rax, rdi        (the request's argument block)
    "31d2"  # xor edx, edx          (the default result: 0, not under valgrind)
    "48c1c70348c1c70d48c1c73d48c1c733"  # rol rdi by 3, 13, 61, 51: valgrind's preamble
    "4887db"  # xchg rbx, rbx       (the request itself; a no-op natively)
    "4889d0"  # mov rax, rdx        (the result)
    "c3"  # ret
)
"""valgrind.h's ``VALGRIND_DO_CLIENT_REQUEST_EXPR`` for amd64 as a function of one argument
(the argument block), since Python cannot emit the instructions itself. Natively the rotations
add up to 128 bits and leave ``rdi`` as it was, so the call returns 0 and does nothing."""


def instrumentation_toggle() -> bool:
    """Whether this machine's workers start uninstrumented (:func:`start_instrumentation`)."""
    return platform.machine().lower() in ("x86_64", "amd64")


def start_instrumentation() -> bool:
    """Turn callgrind's instrumentation on in this process (and the children it forks next);
    True if a valgrind was there to answer. Not under valgrind, or on another machine: nothing
    happens, False. OSError if executable memory is refused (a hardened kernel)."""
    if not instrumentation_toggle():
        return False
    code = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    code.write(_CLIENT_REQUEST_X86_64)
    request = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.c_void_p)(
        ctypes.addressof(ctypes.c_char.from_buffer(code))
    )

    def ask(number: int) -> int:
        args = (ctypes.c_ulong * 6)(number, 0, 0, 0, 0, 0)
        return int(request(ctypes.addressof(args)))

    if not ask(_RUNNING_ON_VALGRIND):
        return False
    ask(_START_INSTRUMENTATION)
    return True


def valgrind_command(valgrind: str, out_dir: str) -> list[str]:
    """The prefix that runs a worker under callgrind, counting inside ``ffi_call`` only."""
    return [
        valgrind,
        "--tool=callgrind",
        "--collect-atstart=no",
        *(["--instr-atstart=no"] if instrumentation_toggle() else []),
        f"--toggle-collect={TOGGLE_SYMBOL}",
        f"--dump-after={TOGGLE_SYMBOL}",
        f"--callgrind-out-file={os.path.join(out_dir, 'cg.%p')}",
        "--log-fd=2",
        "-q",
    ]


class ValgrindCounter:
    """Reads back the dumps callgrind writes when a thunk call (one region) returns.

    Any other ``ffi_call`` also dumps (the worker's own ctypes calls, e.g. ``prctl`` after a
    fork), so the dumps are not counted by number: the ones made before a region are removed,
    and the region's count is the sum of the ones made during it (more than one when the
    benchmark itself calls through ctypes; measured: the sum includes those calls).
    """

    def __init__(self, out_dir: str) -> None:
        self.out_dir = out_dir

    def _dumps(self) -> list[str]:
        prefix = f"cg.{os.getpid()}."
        return [
            os.path.join(self.out_dir, name)
            for name in os.listdir(self.out_dir)
            if name.startswith(prefix) and name[len(prefix) :].isdigit()
        ]

    def count(self, region: Callable[[], object]) -> int:
        for stale in self._dumps():
            os.unlink(stale)

        def body() -> int:
            region()
            return 0

        THUNK(body)()
        dumps = self._dumps()
        if not dumps:
            raise CounterError(
                f"no callgrind dump in {self.out_dir}: is this process running under callgrind,"
                f" with collection toggled by {TOGGLE_SYMBOL}?"
            )
        total = 0
        for path in dumps:
            with open(path, encoding="utf-8") as fd:
                lines = [line for line in fd if line.startswith(("totals:", "summary:"))]
            os.unlink(path)
            if not lines:
                raise CounterError(f"callgrind dump {path} has no totals line")
            total += int(lines[-1].split()[1])
        return total

    def close(self) -> None:
        pass


class Region:
    """Counts calls with one counter, minus the counter's own cost (an empty region's count)."""

    def __init__(self, spec: str) -> None:
        """``spec``: ``perf`` or ``valgrind:OUT_DIR`` (what :mod:`.benchworker` is given)."""
        kind, _, where = spec.partition(":")
        self.counter: PerfCounter | ValgrindCounter = (
            PerfCounter() if kind == PERF else ValgrindCounter(where)
        )
        if kind == VALGRIND and instrumentation_toggle():
            try:
                started = start_instrumentation()
            except OSError as exc:
                raise CounterError(
                    f"callgrind's instrumentation could not be started: {exc}"
                ) from exc
            if not started:
                raise CounterError("not running under valgrind: nothing would be counted")
        self.overhead = min(self.counter.count(_empty) for _ in range(3))

    def count(self, region: Callable[[], object]) -> int:
        """Instructions of ``region`` alone (never below 0)."""
        return max(0, self.counter.count(region) - self.overhead)


def _empty() -> None:
    return None
