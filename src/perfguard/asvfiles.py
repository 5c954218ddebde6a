"""asv's JSON files (results format 2, ``benchmarks.json``, ``machine.json``) -> perfguard records.

This module knows asv's file formats and nothing else; finding the files for a commit lives in
:mod:`perfguard.results`. The format is the one asv 0.6 writes (``asv/results.py``,
``Results.save``): each benchmark is one row whose cells follow ``result_columns``, trailing empty
cells dropped, and a parameterized benchmark holds one entry per combination of its ``params`` in
``itertools.product`` order.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import itertools
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import msgspec

from perfguard.errors import InputError
from perfguard.models import Kind, Measurement, ResultSet, Status

RESULTS_FORMAT = 2
"""asv's ``Results.api_version``: the result file format this module reads."""
BENCHMARKS_FORMAT = 2
"""asv's ``Benchmarks.api_version``: the ``benchmarks.json`` format this module reads."""

log = logging.getLogger("perfguard.results")

_DEFAULT_UNITS = {
    Kind.TIME: "seconds",
    Kind.MEM: "bytes",
    Kind.PEAKMEM: "bytes",
    Kind.TRACK: "unit",
}
_KINDS = {
    "time": Kind.TIME,
    "memory": Kind.MEM,
    "peakmemory": Kind.PEAKMEM,
    "track": Kind.TRACK,
    "mem": Kind.MEM,
    "peakmem": Kind.PEAKMEM,
}
"""``benchmarks.json`` types: asv_runner writes memory and peakmemory; mem and peakmem too."""


def kind_of(benchmark_type: object) -> Kind:
    """The kind of an asv benchmark ``type``. A track benchmark may set its own ``type``; so may
    benchmark plugins. Both are read as track: compared, with the direction left to a rule or
    the unit."""
    return _KINDS.get(str(benchmark_type), Kind.TRACK)


_MAX_NAMES_SHOWN = 5
_NOT_PARAMETERIZED: list[tuple[Any, ...]] = [()]


@dataclass(frozen=True, slots=True)
class BenchmarkInfo:
    """What ``benchmarks.json`` says about one benchmark: what a result row alone does not."""

    kind: Kind
    unit: str
    param_names: tuple[str, ...] = ()
    version: str | None = None
    processes: int | None = None
    """asv's ``rounds`` (formerly ``processes``): how many processes its samples come from."""


_BENCHMARKS_CACHE: dict[bytes, Mapping[str, BenchmarkInfo]] = {}
_BENCHMARKS_CACHE_SIZE = 8


def read_json(path: Path, what: str) -> Any:
    """Parse a JSON file, turning every way it can fail into one :class:`InputError` line."""
    return decode_json(read_bytes(path, what), path, what)


def read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise InputError(f"{what} {path} does not exist") from exc
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc


def decode_json(raw: bytes, path: Path, what: str) -> Any:
    try:
        return msgspec.json.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        pass  # asv writes NaN for a skipped benchmark, which only the stdlib parser accepts
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} {path} is not UTF-8 JSON text ({exc.reason})") from exc
    except ValueError as exc:  # json.JSONDecodeError
        raise InputError(
            f"{what} {path} is not valid JSON, perhaps truncated ({exc}); re-create it with asv"
        ) from exc


def check_format(data: Any, path: Path, what: str, expected: int) -> dict[str, Any]:
    """The top-level object of an asv file, after checking its format ``version``."""
    if not isinstance(data, dict):
        raise InputError(f"{path} is not an {what}: expected a JSON object at the top")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise InputError(f"{path} is not an {what}: it has no format version")
    if version < expected:
        raise InputError(
            f"{path} is an {what} in the old format version {version}; run `asv update` to"
            f" upgrade it to version {expected}"
        )
    if version > expected:
        raise InputError(
            f"{path} is an {what} in format version {version}, newer than perfguard reads"
            f" ({expected}); upgrade perfguard"
        )
    return data


def load_benchmarks(path: Path) -> Mapping[str, BenchmarkInfo]:
    """Read ``benchmarks.json``: kind, unit, parameter names and code version per benchmark.

    Both sides of a comparison usually share one ``benchmarks.json``; it is parsed once per
    content (the cache is keyed on a hash of the bytes, so a rewritten file is read again).
    """
    raw = read_bytes(path, "asv benchmarks.json")
    key = hashlib.blake2b(raw, digest_size=16).digest()
    cached = _BENCHMARKS_CACHE.get(key)
    if cached is None:
        with _gc_paused():
            cached = _parse_benchmarks(raw, path)
        if len(_BENCHMARKS_CACHE) >= _BENCHMARKS_CACHE_SIZE:
            _BENCHMARKS_CACHE.clear()
        _BENCHMARKS_CACHE[key] = cached
    return cached


def _parse_benchmarks(raw: bytes, path: Path) -> Mapping[str, BenchmarkInfo]:
    what = "asv benchmarks.json"
    data = check_format(decode_json(raw, path, what), path, what, BENCHMARKS_FORMAT)
    benchmarks: dict[str, BenchmarkInfo] = {}
    for name, entry in data.items():
        if name == "version":
            continue
        if not isinstance(entry, dict):
            raise InputError(f"{path}: entry {name!r} is not a JSON object; re-run `asv run`")
        kind = kind_of(entry.get("type"))
        unit = entry.get("unit")
        param_names = entry.get("param_names")
        version = entry.get("version")
        processes = entry.get("rounds", entry.get("processes"))
        benchmarks[name] = BenchmarkInfo(
            kind=kind,
            unit=unit if isinstance(unit, str) and unit else _DEFAULT_UNITS[kind],
            param_names=tuple(map(str, param_names)) if isinstance(param_names, list) else (),
            version=version if isinstance(version, str) else None,
            processes=processes
            if isinstance(processes, int) and not isinstance(processes, bool) and processes > 0
            else None,
        )
    return MappingProxyType(benchmarks)


def load_durations(path: Path) -> dict[str, float]:
    """Seconds asv spent on each benchmark of one result file (its ``duration`` column: all
    of the benchmark's combinations and processes), for estimating how long a run takes.

    Empty when the file has no durations or is not a readable result file: an estimate does
    without them, so nothing here fails a run.
    """
    try:
        data = check_format(
            read_json(path, "asv result file"), path, "asv result file", RESULTS_FORMAT
        )
    except InputError:
        return {}
    columns, rows = data.get("result_columns"), data.get("results")
    if not isinstance(columns, list) or "duration" not in columns or not isinstance(rows, dict):
        return {}
    at = columns.index("duration")
    durations = {}
    for name, row in rows.items():
        cell = row[at] if isinstance(row, list) and len(row) > at else None
        if isinstance(cell, (int, float)) and not isinstance(cell, bool) and cell > 0:
            durations[str(name)] = float(cell)
    return durations


def load_machine_info(path: Path) -> dict[str, str]:
    """asv's ``machine.json`` as strings; optional, so a missing or broken one only warns."""
    if not path.is_file():
        return {}
    try:
        data = read_json(path, "asv machine.json")
    except InputError as exc:
        log.warning("ignoring %s", exc)
        return {}
    if not isinstance(data, dict):
        log.warning("ignoring %s: expected a JSON object", path)
        return {}
    return {key: str(value) for key, value in data.items() if key != "version"}


def load_result_file(
    path: Path,
    benchmarks: Mapping[str, BenchmarkInfo],
    *,
    benchmarks_source: Path,
    machine_json: Mapping[str, str] | None = None,
) -> ResultSet:
    """Read one asv result file: one :class:`Measurement` per benchmark and parameter combination.

    Benchmarks that ``benchmarks.json`` does not describe are skipped with a warning: without it
    their kind and unit are unknown, and guessing them could flip a verdict. If it describes none
    of them, the wrong ``benchmarks.json`` was given, which is an error.
    """
    if path.name in ("benchmarks.json", "machine.json"):
        raise InputError(
            f"{path} is asv's {path.name}, not a result file; pass a <commit>-<env>.json file"
        )
    with _gc_paused():
        return _parse_result_file(path, benchmarks, benchmarks_source, machine_json)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large acyclic trees.

    A result file of 10 000 benchmarks allocates about a million objects; the collector's
    passes over them took about a third of the reading time, and none of them form cycles.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _parse_result_file(
    path: Path,
    benchmarks: Mapping[str, BenchmarkInfo],
    benchmarks_source: Path,
    machine_json: Mapping[str, str] | None,
) -> ResultSet:
    data = check_format(read_json(path, "asv result file"), path, "asv result file", RESULTS_FORMAT)
    try:
        commit, env = data["commit_hash"], data["env_name"]
        run_params, columns, rows = data["params"], data["result_columns"], data["results"]
    except KeyError as exc:
        raise InputError(f"{path} is not an asv result file: it has no {exc} key") from exc
    if not (
        isinstance(commit, str)
        and isinstance(env, str)
        and isinstance(run_params, dict)
        and isinstance(columns, list)
        and isinstance(rows, dict)
    ):
        raise InputError(f"{path} is not an asv result file: a top-level key has the wrong type")
    if "result" not in columns:
        raise InputError(f"{path} is not an asv result file: result_columns has no 'result'")

    measurements: list[Measurement] = []
    absent: list[str] = []
    reader = _RowReader(columns, path)
    for name, row in rows.items():
        info = benchmarks.get(name)
        if info is None:
            absent.append(name)
            continue
        reader.read(name, row, info, measurements)
    if absent:
        _report_absent(path, benchmarks_source, absent, all_absent=len(absent) == len(rows))

    machine_info = {**(machine_json or {}), **{k: str(v) for k, v in run_params.items()}}
    date = data.get("date")
    if not isinstance(date, int) or isinstance(date, bool):
        date = None  # asv always writes it; without it a history is ordered by git alone
    return ResultSet(
        commit=commit,
        machine=machine_info.get("machine", "unknown"),
        env=env,
        source=str(path),
        machine_info=machine_info,
        measurements=tuple(measurements),
        date=date,
    )


def _report_absent(path: Path, source: Path, absent: list[str], *, all_absent: bool) -> None:
    shown = ", ".join(sorted(absent)[:_MAX_NAMES_SHOWN])
    more = f" and {len(absent) - _MAX_NAMES_SHOWN} more" if len(absent) > _MAX_NAMES_SHOWN else ""
    if all_absent:
        raise InputError(
            f"{source} describes none of the benchmarks in {path} ({shown}{more}); pass the"
            " benchmarks.json of the same suite with --benchmarks-json"
        )
    log.warning(
        "%s: skipped %d benchmark(s) that %s does not describe: %s%s (refresh it with `asv run`"
        " or pass --benchmarks-json)",
        path,
        len(absent),
        source,
        shown,
        more,
    )


class _RowReader:
    """Turns result rows into Measurements; column positions are looked up once per file."""

    def __init__(self, columns: list[Any], path: Path) -> None:
        self.path = path
        # A column the file does not have points one past the end, at a padding None.
        self.width = len(columns) + 1
        where = {name: i for i, name in enumerate(columns)}

        def at(name: str) -> int:
            return where.get(name, len(columns))

        self.i_result, self.i_params, self.i_version = at("result"), at("params"), at("version")
        self.i_ci_a, self.i_ci_b = at("stats_ci_99_a"), at("stats_ci_99_b")
        self.i_q25, self.i_q75 = at("stats_q_25"), at("stats_q_75")
        self.i_number, self.i_repeat = at("stats_number"), at("stats_repeat")
        self.i_samples = at("samples")

    def corrupt(self, name: str, what: str) -> InputError:
        return InputError(f"{self.path}: benchmark {name!r} {what}; the file is corrupt")

    def read(self, name: str, row: Any, info: BenchmarkInfo, out: list[Measurement]) -> None:
        """Append one Measurement per parameter combination of this row to ``out``."""
        if not isinstance(row, list):
            raise self.corrupt(name, "is not a list of columns")
        if len(row) >= self.width:  # more cells than columns: the extra ones mean nothing
            row = row[: self.width - 1]
        row = row + [None] * (self.width - len(row))
        param_values = row[self.i_params]
        if not param_values:
            combinations: list[tuple[Any, ...]] = _NOT_PARAMETERIZED
            names: tuple[str, ...] = ()
        elif isinstance(param_values, list) and all(isinstance(p, list) for p in param_values):
            combinations = list(itertools.product(*param_values))
            names = info.param_names
            if len(names) != len(param_values):
                # asv's own default names, for a benchmarks.json of another version of the suite
                names = tuple(f"param{i + 1}" for i in range(len(param_values)))
        else:
            raise self.corrupt(name, "has malformed params")
        values, size = row[self.i_result], len(combinations)
        if values is not None and (not isinstance(values, list) or len(values) != size):
            raise self.corrupt(name, f"has {_describe(values)} where {size} results belong")
        # A cell is None or a list with one entry per combination; a malformed one raises
        # TypeError or IndexError below, which becomes a "corrupt" error.
        ci_a, ci_b = row[self.i_ci_a], row[self.i_ci_b]
        q25, q75 = row[self.i_q25], row[self.i_q75]
        numbers, repeats, samples = row[self.i_number], row[self.i_repeat], row[self.i_samples]
        version = row[self.i_version]
        version = version if isinstance(version, str) else None
        kind, unit = info.kind, info.unit
        try:
            for j, combination in enumerate(combinations):
                value = None if values is None else values[j]
                if value is None:
                    status, measured = Status.FAILED, None
                elif value != value:  # NaN: asv's mark for a skipped benchmark
                    status, measured = Status.SKIPPED, None
                else:
                    status, measured = Status.OK, float(value)
                a = ci_a and ci_a[j]
                b = ci_b and ci_b[j]
                lo = q25 and q25[j]
                hi = q75 and q75[j]
                raw = samples and samples[j]
                count = numbers and numbers[j]
                rounds = repeats and repeats[j]
                out.append(
                    Measurement(
                        benchmark=name,
                        params=tuple(zip(names, map(str, combination), strict=True))
                        if names
                        else (),
                        kind=kind,
                        unit=unit,
                        status=status,
                        value=measured,
                        samples=None if raw is None else tuple(map(float, raw)),
                        ci_99=None if a is None or b is None else (float(a), float(b)),
                        quartiles=None if lo is None or hi is None else (float(lo), float(hi)),
                        number=None if count is None else int(count),
                        repeat=None if rounds is None else int(rounds),
                        version=version,
                        processes=info.processes,
                    )
                )
        except (TypeError, ValueError, IndexError) as exc:
            raise self.corrupt(name, f"has a malformed value ({exc})") from exc


def _describe(cell: Any) -> str:
    if isinstance(cell, list):
        return f"{len(cell)} entries"
    return f"a {type(cell).__name__}"
