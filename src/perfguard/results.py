"""Find and read the asv results of one side of a comparison.

A side is named by a result file (``base.json``) or by a commit: a hash, a hash prefix or a git
ref, resolved with git and looked up in asv's results directory, laid out as
``<results_dir>/<machine>/<hash8>-<env>.json`` beside ``<results_dir>/benchmarks.json``.
Reading the files themselves is :mod:`perfguard.asvfiles`' job.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from perfguard.asvfiles import load_benchmarks, load_machine_info, load_result_file
from perfguard.errors import ConfigError, GitError, InputError
from perfguard.gitrefs import ancestors, resolve_commit
from perfguard.models import ResultSet

__all__ = ["load_result_set", "results_dir_from_config"]

_HEX = re.compile(r"[0-9a-fA-F]{4,40}")
_ANCESTORS_SEARCHED = 200
_NEAREST_SHOWN = 3
_KNOWN_SHOWN = 5
_CONFIG_NAMES = ("asv.conf.json", "asv.conf.jsonc")


@dataclass(frozen=True, slots=True)
class _ResultFile:
    """One ``<machine>/<hash8>-<env>.json`` in a results directory, known by its name only."""

    path: Path
    machine: str
    hash8: str
    env: str


def results_dir_from_config(repo: Path, config: Path | None = None) -> Path:
    """The results directory that asv.conf.json names (``results_dir``, default ``results``).

    A relative ``results_dir`` is taken relative to the config file's folder, which is where
    asv runs from.
    """
    if config is None:
        found = [repo / name for name in _CONFIG_NAMES if (repo / name).is_file()]
        if not found:
            raise ConfigError(
                f"no asv.conf.json in {repo}, so the results directory is unknown; pass"
                " --results-dir DIR, or run in the project's checkout"
            )
        config = found[0]
    try:
        text = config.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read asv config {config}: {exc}") from exc
    import json5  # only here: asv.conf.json may hold // comments, which stdlib json refuses

    try:
        data = json5.loads(text)
    except ValueError as exc:
        raise ConfigError(f"asv config {config} is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"asv config {config} is not a JSON object")
    results_dir = data.get("results_dir", "results")
    if not isinstance(results_dir, str) or not results_dir:
        raise ConfigError(f"asv config {config}: results_dir must be a non-empty path string")
    return config.parent / results_dir


def load_result_set(
    spec: str,
    *,
    results_dir: Path | None = None,
    repo: Path = Path("."),
    machine: str | None = None,
    env: str | None = None,
    benchmarks_json: Path | None = None,
) -> ResultSet:
    """Read one side of a comparison: ``spec`` is a result file if one exists, else a commit.

    A commit is resolved with git in ``repo`` and looked up in ``results_dir`` (default: the
    one asv.conf.json in ``repo`` names). Without git, or for a commit git does not know, a hex
    ``spec`` still matches result file names. ``machine``/``env`` pick one of several results
    for the commit; for a result file they must match what it holds.
    """
    path = Path(spec)
    if path.is_file():
        return _read(path, benchmarks_json, results_dir, machine=machine, env=env)
    if path.is_dir():
        raise InputError(
            f"{spec} is a directory; pass a result file, or a commit and --results-dir {spec}"
        )
    if path.suffix == ".json":
        raise InputError(f"result file {spec} does not exist")
    root = results_dir if results_dir is not None else results_dir_from_config(repo)
    candidates, commit = _files_for_commit(spec, repo, root, _scan(root))
    chosen = _choose(candidates, root, machine, env)
    result = _read(chosen.path, benchmarks_json, root)
    if not result.commit.lower().startswith(commit.lower()):
        raise InputError(
            f"{chosen.path} holds results for commit {result.commit[:12]}, not {commit}; its"
            " file name is wrong"
        )
    return result


def _read(
    path: Path,
    benchmarks_json: Path | None,
    results_dir: Path | None,
    *,
    machine: str | None = None,
    env: str | None = None,
) -> ResultSet:
    source = _find_benchmarks_json(path, benchmarks_json, results_dir)
    result = load_result_file(
        path,
        load_benchmarks(source),
        benchmarks_source=source,
        machine_json=load_machine_info(path.parent / "machine.json"),
    )
    if machine is not None and result.machine != machine:
        raise InputError(f"{path} was measured on machine {result.machine!r}, not {machine!r}")
    if env is not None and result.env != env:
        raise InputError(f"{path} was measured in environment {result.env!r}, not {env!r}")
    return result


def _find_benchmarks_json(path: Path, explicit: Path | None, results_dir: Path | None) -> Path:
    """``benchmarks.json`` beside the result file or one folder up (asv's layout), or as given."""
    if explicit is not None:
        if not explicit.is_file():
            raise InputError(f"benchmarks.json {explicit} does not exist")
        return explicit
    folder = path.absolute().parent
    looked = [folder / "benchmarks.json", folder.parent / "benchmarks.json"]
    if results_dir is not None:
        looked.append(results_dir.absolute() / "benchmarks.json")
    for candidate in dict.fromkeys(looked):
        if candidate.is_file():
            return candidate
    where = ", ".join(str(p) for p in dict.fromkeys(looked))
    raise InputError(
        f"no benchmarks.json for {path} (looked for {where}); pass it with --benchmarks-json"
        " (`asv run` writes it into the results directory)"
    )


def _scan(root: Path) -> list[_ResultFile]:
    """Every result file in a results directory, from file names alone (nothing is parsed)."""
    if not root.is_dir():
        raise InputError(
            f"results directory {root} does not exist; run `asv run` first, or pass --results-dir"
        )
    found = []
    for machine_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for entry in sorted(machine_dir.iterdir()):
            name = entry.name
            if name.endswith(".json") and name != "machine.json" and "-" in name:
                hash8, _, env = name[: -len(".json")].partition("-")
                found.append(_ResultFile(entry, machine_dir.name, hash8.lower(), env))
    if not found:
        raise InputError(
            f"results directory {root} is empty: no <machine>/<commit>-<env>.json result files;"
            " run `asv run` first, or pass --results-dir"
        )
    return found


def _files_for_commit(
    spec: str, repo: Path, root: Path, files: list[_ResultFile]
) -> tuple[list[_ResultFile], str]:
    """The result files of the commit ``spec`` names, and the commit (or prefix) it resolved to."""
    try:
        commit = resolve_commit(spec, repo)
    except GitError as exc:
        if not _HEX.fullmatch(spec):
            raise
        # A hash git does not know (no checkout, a shallow clone): match file names, as asv does.
        prefix = spec.lower()
        matches = [f for f in files if f.hash8.startswith(prefix[:8])]
        hashes = sorted({f.hash8 for f in matches})
        if not matches:
            raise InputError(
                f"no results in {root} for a commit starting with {spec!r}, and git cannot"
                f" resolve it: {exc}"
            ) from None
        if len(hashes) > 1:
            raise InputError(
                f"{spec!r} could be any of the commits {', '.join(hashes)} with results in"
                f" {root}; give more digits"
            ) from None
        return matches, prefix
    matches = [f for f in files if f.hash8 == commit[:8]]
    if not matches:
        raise InputError(_no_results(spec, commit, repo, root, files))
    return matches, commit


def _no_results(spec: str, commit: str, repo: Path, root: Path, files: list[_ResultFile]) -> str:
    """Say which commits near the asked one do have results, so the user can pick or measure."""
    name = commit[:8] if commit.startswith(spec.lower()) else f"{spec} ({commit[:8]})"
    known = {f.hash8 for f in files}
    history = ancestors(commit, repo, _ANCESTORS_SEARCHED)
    nearest = [(i, c[:8]) for i, c in enumerate(history) if c[:8] in known][:_NEAREST_SHOWN]
    if nearest:
        hint = "nearest ancestors with results: " + ", ".join(
            f"{h} ({i} commit{'s' if i > 1 else ''} back)" for i, h in nearest
        )
    else:
        shown = ", ".join(sorted(known)[:_KNOWN_SHOWN])
        more = ", ..." if len(known) > _KNOWN_SHOWN else ""
        hint = (
            f"none of its {len(history) - 1} nearest ancestors has any; results exist for"
            f" {len(known)} other commit(s): {shown}{more}"
        )
    return (
        f"no results for commit {name} in {root}; {hint}; measure it with `asv run {commit[:8]}^!`"
    )


def _choose(
    candidates: list[_ResultFile], root: Path, machine: str | None, env: str | None
) -> _ResultFile:
    """The one result file that ``machine``/``env`` select, or an error listing the choices."""
    chosen = [
        f
        for f in candidates
        if (machine is None or f.machine == machine) and (env is None or _env_matches(f.env, env))
    ]
    if len(chosen) == 1:
        return chosen[0]
    choices = ", ".join(f"--machine {f.machine} --env {f.env}" for f in candidates)
    commit = candidates[0].hash8
    if not chosen:
        asked = " ".join(
            f"{flag} {value}" for flag, value in (("--machine", machine), ("--env", env)) if value
        )
        raise InputError(f"commit {commit} has no results for {asked} in {root}; it has {choices}")
    raise InputError(
        f"commit {commit} has results from several machines or environments in {root}; choose"
        f" one: {choices}"
    )


def _env_matches(file_env: str, env: str) -> bool:
    """asv names a file after the environment, or after its md5 when the name is too long."""
    if file_env == env:
        return True
    digest = hashlib.md5(env.encode(), usedforsecurity=False).hexdigest()
    return len(env) >= 128 and file_env == f"env-{digest}"
