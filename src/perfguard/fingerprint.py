"""What machine a measurement came from, precisely enough to refuse comparing unlike with like.

The one home of "are these two sides from the same machine": perfguard's fingerprints (rounds
files) and asv's machine parameters (asv result files) alike.

A baseline measured on another CPU model, core count or Python build differs by several
percent for reasons that have nothing to do with the code (RESEARCH.md, "Noise"). Every
``perfguard run`` records a :class:`Fingerprint`; ``perfguard compare`` warns when two differ
and refuses under ``--strict``.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping

import msgspec

from perfguard.models import ResultSet

_CPU_FIELDS = ("model name", "Processor", "cpu model", "Hardware")
MACHINE_KEYS = ("machine", "cpu", "arch", "os", "num_cpu")
"""asv machine parameters that must agree for a comparison to be like with like."""


class Fingerprint(msgspec.Struct, frozen=True, kw_only=True):
    """The facts about a machine that change benchmark results."""

    cpu: str
    cores: int
    os: str
    arch: str
    python: str
    """Implementation, version and build, e.g. ``CPython 3.11.7 (main, Dec 2023) [GCC 12.2.0]``."""
    machine: dict[str, str] = msgspec.field(default_factory=dict)
    """asv's machine parameters (``machine``, ``cpu``, ``ram``, ...), as stored by asv."""

    def facts(self) -> dict[str, str]:
        """The fields that must agree, by name (asv's free-text ``machine`` name excluded)."""
        return {
            "cpu": self.cpu,
            "cores": str(self.cores),
            "os": self.os,
            "arch": self.arch,
            "python": self.python,
        }


def cpu_model(cpuinfo: str | None = None) -> str:
    """The CPU model from /proc/cpuinfo (Linux), else what the platform module says."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as stream:
                cpuinfo = stream.read()
        except OSError:
            cpuinfo = ""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in _CPU_FIELDS and value.strip():
            return value.strip()
    return platform.processor() or platform.machine() or "unknown"


def python_build() -> str:
    return (
        f"{platform.python_implementation()} {platform.python_version()} "
        f"({', '.join(platform.python_build())}) [{platform.python_compiler()}]"
    )


def current(machine: Mapping[str, str] | None = None) -> Fingerprint:
    """This machine's fingerprint, with asv's machine parameters attached."""
    uname = platform.uname()
    return Fingerprint(
        cpu=cpu_model(),
        cores=os.cpu_count() or 1,
        os=f"{uname.system} {uname.release}",
        arch=uname.machine,
        python=python_build(),
        machine={str(k): str(v) for k, v in (machine or {}).items()},
    )


def differences(base: Fingerprint, head: Fingerprint) -> list[str]:
    """Human lines for every fact that differs, e.g. ``cpu: Xeon E5 vs EPYC 7763``."""
    a, b = base.facts(), head.facts()
    return [f"{key}: {a[key]} vs {b[key]}" for key in a if a[key] != b[key]]


def mismatch_warning(base: Fingerprint, head: Fingerprint) -> str | None:
    """One warning sentence when the fingerprints differ, else None."""
    diff = differences(base, head)
    if not diff:
        return None
    return (
        "base and head were measured on machines with different fingerprints ("
        + "; ".join(diff)
        + "): differences may be the machines', not the code's"
    )


def differing_machine_keys(base: ResultSet, head: ResultSet) -> list[str]:
    """The asv machine parameters that both sides state and that differ."""
    return [
        key
        for key in MACHINE_KEYS
        if base.machine_info.get(key)
        and head.machine_info.get(key)
        and base.machine_info[key] != head.machine_info[key]
    ]


def asv_machines_differ(base: ResultSet, head: ResultSet) -> bool:
    return base.machine != head.machine or bool(differing_machine_keys(base, head))


def asv_machine_warning(base: ResultSet, head: ResultSet) -> str | None:
    """One warning sentence when asv's machine names or parameters differ, else None."""
    if not asv_machines_differ(base, head):
        return None
    detail = ", ".join(
        f"{key}: {base.machine_info.get(key)} vs {head.machine_info.get(key)}"
        for key in differing_machine_keys(base, head)
    )
    return (
        f"base and head were measured on different machines ({base.machine!r} vs "
        f"{head.machine!r}{'; ' + detail if detail else ''}): differences may be the "
        "machines', not the code's"
    )


def machine_mismatch(
    base: ResultSet,
    head: ResultSet,
    prints: tuple[Fingerprint | None, Fingerprint | None],
) -> list[str]:
    """Reasons the two sides come from different machines: fingerprints, else asv's params."""
    reasons = []
    if prints[0] is not None and prints[1] is not None:
        warning = mismatch_warning(prints[0], prints[1])
        if warning:
            reasons.append(warning)
    if asv_machines_differ(base, head):
        reasons.append(f"asv machine {base.machine!r} vs {head.machine!r}")
    return reasons
