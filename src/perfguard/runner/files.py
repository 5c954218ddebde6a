"""Where one ``perfguard run`` writes, without ever touching a file asv or the user wrote.

Everything goes to perfguard's own directory beside asv's results (``<results_dir>/../perfguard``)
or beside ``--output``:

- ``<base12>-<head12>.rounds.json``: the rounds file (what ``perfguard compare`` re-reports);
- ``<base12>-<head12>.asv-results/``: the same run's samples in asv's results layout
  (``benchmarks.json``, ``<machine>/machine.json``, one result file per commit), a results
  directory of its own for ``asv publish`` or ``perfguard compare --results-dir``.

asv's own results directory is only read, never written: an asv result file holds every
benchmark asv measured for a commit, and replacing it with one run's selection would change what
``perfguard compare`` and ``asv publish`` say about that commit. A second run of the same two
commits is numbered (``.2.rounds.json``) so the first one stays; an explicit ``--output`` is
replaced, but only if it is a rounds file.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from perfguard import rounds
from perfguard.errors import InputError

DIRECTORY = "perfguard"
"""perfguard's directory, a sibling of asv's ``results_dir``."""
ROUNDS_SUFFIX = ".rounds.json"
ASV_RESULTS_SUFFIX = ".asv-results"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFiles:
    """The two places one run writes to, and what it had to do about earlier runs."""

    rounds: Path
    asv_results: Path
    note: str | None = None
    """Said on stderr: an earlier run's file that was kept (or, for ``--output``, replaced)."""


def perfguard_dir(results_dir: str | Path) -> Path:
    """``<results_dir>/../perfguard``: beside asv's results, outside them."""
    return Path(results_dir).parent / DIRECTORY


def run_stem(base: str, head: str) -> str:
    return f"{base[:12]}-{head[:12]}"


def rounds_files_for(results_dir: str | Path, base: str, head: str) -> list[Path]:
    """Every rounds file that ``perfguard run`` wrote by default for these two commits."""
    folder = perfguard_dir(results_dir)
    stem = run_stem(base, head)
    found = [*folder.glob(f"{stem}{ROUNDS_SUFFIX}"), *folder.glob(f"{stem}.*{ROUNDS_SUFFIX}")]
    return sorted(set(found))


def asv_results_beside(rounds_path: Path) -> Path:
    """``X.rounds.json`` (or ``X.json``, or ``X``) -> ``X.asv-results``, in the same folder."""
    name = rounds_path.name
    for suffix in (ROUNDS_SUFFIX, ".json"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return rounds_path.with_name(name[: -len(suffix)] + ASV_RESULTS_SUFFIX)
    return rounds_path.with_name(name + ASV_RESULTS_SUFFIX)


def claim(results_dir: str | Path, base: str, head: str, output: Path | None) -> RunFiles:
    """Reserve this run's files: a fresh numbered name by default, ``output`` if given."""
    if output is not None:
        return _explicit(output)
    folder = perfguard_dir(results_dir)
    stem = run_stem(base, head)
    first = folder / f"{stem}{ROUNDS_SUFFIX}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {folder}: {exc.strerror or exc}") from exc
    for number in range(1, 10_000):
        name = stem if number == 1 else f"{stem}.{number}"
        path = folder / f"{name}{ROUNDS_SUFFIX}"
        results = folder / f"{name}{ASV_RESULTS_SUFFIX}"
        if not _reserve(path, results):
            continue
        note = None
        if number > 1:
            note = (
                f"an earlier run of these commits is kept in {first}"
                f"{f' (and {number - 2} more)' if number > 2 else ''}; this run writes {path}"
            )
        return RunFiles(rounds=path, asv_results=results, note=note)
    raise InputError(f"{folder} holds 9999 runs of {stem}: remove some or pass --output")


def _reserve(path: Path, results: Path) -> bool:
    """Create both names exclusively (two runs at once never share one)."""
    if path.exists():
        return False
    try:
        results.mkdir()
    except FileExistsError:
        return False
    except OSError as exc:
        raise InputError(f"cannot create {results}: {exc.strerror or exc}") from exc
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except OSError as exc:
        results.rmdir()
        if exc.errno == errno.EEXIST:
            return False
        raise InputError(f"cannot create {path}: {exc.strerror or exc}") from exc
    return True


def _explicit(output: Path) -> RunFiles:
    """``--output FILE``: asked for by name, so replaced, but never a file that is not ours."""
    note = None
    if output.exists():
        if output.is_dir() or (output.stat().st_size > 0 and not rounds.is_rounds_file(output)):
            raise InputError(
                f"--output {output} exists and is not a perfguard rounds file: "
                "not overwriting it (choose another path)"
            )
        note = f"replacing the earlier rounds file {output} (--output)"
    results = asv_results_beside(output)
    try:
        results.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {results}: {exc.strerror or exc}") from exc
    return RunFiles(rounds=output, asv_results=results, note=note)
