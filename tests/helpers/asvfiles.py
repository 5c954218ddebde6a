"""Write asv result files and benchmarks.json exactly as asv 0.6 does, for tests.

Files come out the way ``asv.results.Results.save`` writes them (format version 2, compact JSON,
NaN for a skipped benchmark, empty columns as null and trailing ones dropped), and
``tests/perfguard/test_results_asvfiles.py`` checks that asv itself reads them back.

Typical use::

    path = write_results_dir(
        tmp_path / "results", "box", "a" * 40, "py3.12",
        benchmarks={"suite.time_sort": dict(params=[["10", "100"]], param_names=["n"])},
        results={"suite.time_sort": dict(result=[1.0, 2.0], samples=[[1.0, 1.1], [2.0, 2.1]])},
    )

A benchmark spec (``benchmarks``) takes ``type`` (time, mem, peakmem, track), ``unit``,
``params`` (a list of lists of value reprs), ``param_names`` and ``version``; a result spec
(``results``) takes ``result``, ``samples``, ``ci`` ((low, high) pairs), ``q`` ((q25, q75)
pairs), ``number``, ``repeat``, ``version`` and ``params``, each with one entry per parameter
combination, and ``duration`` (seconds for the whole benchmark, default 1). For a benchmark
without parameters, a bare number or a flat list of samples is accepted in place of the
one-entry list. ``result=None`` marks a failed benchmark, a NaN
``result`` a skipped one.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

RESULT_COLUMNS = [
    "result",
    "params",
    "version",
    "started_at",
    "duration",
    "stats_ci_99_a",
    "stats_ci_99_b",
    "stats_q_25",
    "stats_q_75",
    "stats_number",
    "stats_repeat",
    "samples",
    "profile",
]
"""asv 0.6's column order (``Results.save``)."""

DEFAULT_UNITS = {"time": "seconds", "mem": "bytes", "peakmem": "bytes", "track": "unit"}
ASV_TYPES = {"mem": "memory", "peakmem": "peakmemory"}
"""What asv_runner writes as ``type`` for the mem and peakmem kinds."""
MACHINE_INFO = {
    "arch": "x86_64",
    "cpu": "Test CPU @ 2.0GHz",
    "num_cpu": "2",
    "os": "Linux 6.1.0",
    "ram": "24000000",
}
"""What ``asv machine --yes`` records, besides the machine name."""

STARTED_AT = 1_700_000_000_000
"""A fixed JavaScript timestamp, so that written files are reproducible."""

SKIPPED = math.nan
"""asv's result value for a skipped benchmark (``failed`` is ``None``)."""


def benchmark_entry(
    name: str,
    *,
    type: str = "time",
    unit: str | None = None,
    params: Sequence[Sequence[str]] = (),
    param_names: Sequence[str] | None = None,
    version: str = "v1",
) -> dict[str, Any]:
    """One ``benchmarks.json`` entry with the keys asv writes.

    ``type`` is a perfguard kind (time, mem, peakmem, track), written as asv names it (``mem`` as
    ``memory``, ``peakmem`` as ``peakmemory``); any other string is written unchanged, like the
    custom ``type`` a track benchmark may declare.
    """
    return {
        "code": f"def {name.rsplit('.', 1)[-1]}(self): pass",
        "name": name,
        "param_names": list(param_names)
        if param_names is not None
        else [f"param{i + 1}" for i in range(len(params))],
        "params": [list(p) for p in params],
        "timeout": 60.0,
        "type": ASV_TYPES.get(type, type),
        "unit": unit or DEFAULT_UNITS.get(type, "unit"),
        "version": version,
    }


def write_json(path: Path, data: Any) -> Path:
    """Write JSON the way asv does (compact, NaN allowed), creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def write_benchmarks_json(
    results_dir: Path, benchmarks: Mapping[str, Mapping[str, Any]], *, merge: bool = True
) -> Path:
    """Write ``<results_dir>/benchmarks.json``; with ``merge``, keep entries already there."""
    path = results_dir / "benchmarks.json"
    data: dict[str, Any] = {}
    if merge and path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
    data.update({name: benchmark_entry(name, **dict(spec)) for name, spec in benchmarks.items()})
    data["version"] = 2
    return write_json(path, data)


def write_machine_json(machine_dir: Path, machine: str, **info: str) -> Path:
    """Write ``<results_dir>/<machine>/machine.json`` as ``asv machine`` does."""
    return write_json(
        machine_dir / "machine.json", {**MACHINE_INFO, **info, "machine": machine, "version": 1}
    )


def result_row(spec: Mapping[str, Any], params: Sequence[Sequence[str]], version: str) -> list[Any]:
    """One benchmark's row under :data:`RESULT_COLUMNS`, as ``Results.save`` builds it."""
    params = [list(p) for p in spec.get("params", params)]
    size = len(list(itertools.product(*params)))
    flat = not params

    def per_combination(key: str) -> list[Any] | None:
        value = spec.get(key)
        if value is None:
            return None
        if flat and (not isinstance(value, list) or _is_flat_samples(key, value)):
            value = [value]
        assert len(value) == size, f"{key}: {len(value)} entries for {size} combinations"
        return list(value)

    result = per_combination("result")
    ci = per_combination("ci")
    q = per_combination("q")
    cells = {
        "result": result,
        "params": params,
        "version": spec.get("version", version),
        "started_at": STARTED_AT,
        "duration": spec.get("duration", 1.0),
        "stats_ci_99_a": _column(ci, 0),
        "stats_ci_99_b": _column(ci, 1),
        "stats_q_25": _column(q, 0),
        "stats_q_75": _column(q, 1),
        "stats_number": per_combination("number"),
        "stats_repeat": per_combination("repeat"),
        "samples": per_combination("samples"),
        "profile": None,
    }
    row = [_none_if_all_none(cells[c]) if c != "params" else cells[c] for c in RESULT_COLUMNS]
    while row and row[-1] is None:
        row.pop()
    return row


def result_file_data(
    *,
    commit: str,
    env: str,
    machine: str,
    results: Mapping[str, Mapping[str, Any]],
    benchmarks: Mapping[str, Mapping[str, Any]] | None = None,
    python: str = "3.12",
    machine_info: Mapping[str, str] | None = None,
    date: int = STARTED_AT,
) -> dict[str, Any]:
    """The JSON object of one result file (format version 2)."""
    benchmarks = benchmarks or {}
    rows = {}
    for name, spec in results.items():
        bench = benchmarks.get(name, {})
        rows[name] = result_row(spec, bench.get("params", ()), bench.get("version", "v1"))
    return {
        "commit_hash": commit,
        "env_name": env,
        "date": date,
        "params": {**MACHINE_INFO, **(machine_info or {}), "machine": machine, "python": python},
        "python": python,
        "requirements": {},
        "env_vars": {},
        "result_columns": RESULT_COLUMNS,
        "results": rows,
        "durations": {"<build>": 1.0},
        "version": 2,
    }


def write_results_dir(
    root: Path,
    machine: str,
    commit: str,
    env: str,
    *,
    benchmarks: Mapping[str, Mapping[str, Any]],
    results: Mapping[str, Mapping[str, Any]],
    machine_info: Mapping[str, str] | None = None,
    python: str = "3.12",
) -> Path:
    """Write one commit's results in asv's layout; returns ``<root>/<machine>/<hash8>-<env>.json``.

    ``benchmarks`` is merged into ``<root>/benchmarks.json``, so several commits can be written
    into one directory; ``<root>/<machine>/machine.json`` is (re)written too.
    """
    write_benchmarks_json(root, benchmarks)
    write_machine_json(root / machine, machine, **(machine_info or {}))
    data = result_file_data(
        commit=commit,
        env=env,
        machine=machine,
        results=results,
        benchmarks=benchmarks,
        python=python,
        machine_info=machine_info,
    )
    return write_json(root / machine / f"{commit[:8]}-{env}.json", data)


def _is_flat_samples(key: str, value: list[Any]) -> bool:
    return key == "samples" and bool(value) and not isinstance(value[0], list)


def _column(pairs: list[Any] | None, index: int) -> list[Any] | None:
    if pairs is None:
        return None
    return [None if pair is None else pair[index] for pair in pairs]


def _none_if_all_none(value: Any) -> Any:
    if isinstance(value, list) and all(x is None for x in value):
        return None
    return value
