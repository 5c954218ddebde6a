"""Machine fingerprints: what is recorded, and how a difference is reported."""

from __future__ import annotations

import os

import msgspec

from perfguard import fingerprint
from perfguard.fingerprint import Fingerprint

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7763 64-Core Processor
"""


def make(**changes: object) -> Fingerprint:
    base = Fingerprint(
        cpu="AMD EPYC 7763", cores=2, os="Linux 6.1", arch="x86_64", python="CPython 3.11.7"
    )
    return msgspec.structs.replace(base, **changes)


def test_cpu_model_reads_proc_cpuinfo_text() -> None:
    assert fingerprint.cpu_model(CPUINFO) == "AMD EPYC 7763 64-Core Processor"


def test_cpu_model_falls_back_to_platform() -> None:
    assert fingerprint.cpu_model("flags : sse\n") != ""


def test_current_describes_this_machine() -> None:
    here = fingerprint.current({"machine": "ci-1", "ram": 123})
    assert here.cores == os.cpu_count()
    assert here.python.startswith("CPython 3.")
    assert here.machine == {"machine": "ci-1", "ram": "123"}
    assert here.cpu == fingerprint.cpu_model()


def test_identical_fingerprints_raise_no_warning() -> None:
    assert fingerprint.differences(make(), make(machine={"machine": "other"})) == []
    assert fingerprint.mismatch_warning(make(), make()) is None


def test_every_differing_fact_is_named() -> None:
    other = make(cpu="Intel Xeon E5-2673", cores=4)
    assert fingerprint.differences(make(), other) == [
        "cpu: AMD EPYC 7763 vs Intel Xeon E5-2673",
        "cores: 2 vs 4",
    ]
    warning = fingerprint.mismatch_warning(make(), other)
    assert warning is not None
    assert "different fingerprints (cpu: AMD EPYC 7763 vs Intel Xeon E5-2673; cores: 2 vs 4)" in (
        warning
    )
