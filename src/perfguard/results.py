"""Find and read the asv results of one side of a comparison.

A side is named by a result file (``base.json``) or by a commit: a hash, a hash prefix or a git
ref, resolved with git and looked up in asv's results directory, laid out as
``<results_dir>/<machine>/<hash8>-<env>.json`` beside ``<results_dir>/benchmarks.json``.
Reading the files themselves is :mod:`perfguard.asvfiles`' job.
"""

from __future__ import annotations

from pathlib import Path

from perfguard import asvproject
from perfguard.asvfiles import load_benchmarks, load_machine_info, load_result_file
from perfguard.errors import ConfigError, GitError, InputError
from perfguard.gitrefs import HASH_PREFIX, ancestors, resolve_commit
from perfguard.models import ResultSet

__all__ = ["environments_of", "load_result_set", "load_results_history", "results_dir_from_config"]

COMPARE_HINT = "run in the checkout (or pass --repo), or pass result files"
"""What a user of ``compare`` can do when refs cannot resolve (compare has ``--repo``)."""
_ANCESTORS_SEARCHED = 200
_NEAREST_SHOWN = 3
_KNOWN_SHOWN = 5


def results_dir_from_config(repo: Path, config: Path | None = None) -> Path:
    """The results directory of the asv project in ``repo`` (or of ``config``), as asv sees it.

    A missing configuration says how to do without one (``--results-dir``).
    """
    if config is None:
        try:
            config = asvproject.find_config(repo)
        except ConfigError as exc:
            raise ConfigError(
                f"{exc}; or pass the results directory with --results-dir DIR"
            ) from exc
    return asvproject.load(config).results_dir


def load_result_set(
    spec: str,
    *,
    results_dir: Path | None = None,
    repo: Path = Path("."),
    machine: str | None = None,
    env: str | None = None,
    benchmarks_json: Path | None = None,
    history_dir: Path | None = None,
) -> ResultSet:
    """Read one side of a comparison: ``spec`` is a result file if one exists, else a commit.

    A commit is resolved with git in ``repo`` and looked up in ``results_dir`` (default: the
    one asv.conf.json in ``repo`` names). Without git, or for a commit git does not know, a hex
    ``spec`` still matches result file names. ``machine``/``env`` pick one of several results
    for the commit; for a result file they must match what it holds. ``history_dir`` (history
    mode's asv results) is one more place where ``benchmarks.json`` may be.
    """
    path = Path(spec)
    if path.is_file():
        return _read(path, benchmarks_json, (results_dir, history_dir), machine=machine, env=env)
    if path.is_dir():
        raise InputError(
            f"{spec} is a directory; pass a result file, or a commit and --results-dir {spec}"
        )
    if path.suffix == ".json":
        raise InputError(f"result file {spec} does not exist")
    root = results_dir if results_dir is not None else results_dir_from_config(repo)
    candidates, commit = _files_for_commit(spec, repo, root, asvproject.scan(root))
    chosen = _choose(candidates, root, machine, env)
    result = _read(chosen.path, benchmarks_json, (root, history_dir))
    if not result.commit.lower().startswith(commit.lower()):
        raise InputError(
            f"{chosen.path} holds results for commit {result.commit[:12]}, not {commit}; its"
            " file name is wrong"
        )
    return result


def environments_of(
    spec: str, *, results_dir: Path | None = None, repo: Path = Path("."), machine: str | None
) -> list[str]:
    """The environments (as in the file names) with results for the commit ``spec``.

    They come from one machine: ``machine``, or the only one the commit has results from.
    """
    if Path(spec).is_file():
        raise InputError(
            f"{spec} is one result file of one environment; give commits to compare every"
            " environment (--env all), or leave --env out"
        )
    root = results_dir if results_dir is not None else results_dir_from_config(repo)
    candidates, _ = _files_for_commit(spec, repo, root, asvproject.scan(root))
    machines = sorted({f.machine for f in candidates})
    if machine is not None:
        candidates = [f for f in candidates if f.machine == machine]
        if not candidates:
            raise InputError(
                f"commit {spec} has no results from machine {machine!r} in {root}; it has"
                f" {', '.join(machines)}"
            )
    elif len(machines) > 1:
        raise InputError(
            f"commit {spec} has results from several machines in {root} ({', '.join(machines)});"
            " choose one with --machine"
        )
    return sorted({f.env for f in candidates})


def _read(
    path: Path,
    benchmarks_json: Path | None,
    results_dirs: tuple[Path | None, ...],
    *,
    machine: str | None = None,
    env: str | None = None,
) -> ResultSet:
    source = _find_benchmarks_json(path, benchmarks_json, results_dirs)
    result = load_result_file(
        path,
        load_benchmarks(source),
        benchmarks_source=source,
        machine_json=load_machine_info(path.parent / asvproject.MACHINE_JSON),
    )
    if machine is not None and result.machine != machine:
        raise InputError(f"{path} was measured on machine {result.machine!r}, not {machine!r}")
    if env is not None and result.env != env:
        raise InputError(f"{path} was measured in environment {result.env!r}, not {env!r}")
    return result


def _find_benchmarks_json(
    path: Path, explicit: Path | None, results_dirs: tuple[Path | None, ...]
) -> Path:
    """``benchmarks.json`` as given, else beside the result file or one folder up (asv's
    layout), else at the top of a results directory the user named (results, history)."""
    if explicit is not None:
        if not explicit.is_file():
            raise InputError(f"benchmarks.json {explicit} does not exist")
        return explicit
    folder = path.absolute().parent
    looked = [folder / asvproject.BENCHMARKS_JSON, folder.parent / asvproject.BENCHMARKS_JSON]
    looked += [d.absolute() / asvproject.BENCHMARKS_JSON for d in results_dirs if d is not None]
    for candidate in dict.fromkeys(looked):
        if candidate.is_file():
            return candidate
    where = ", ".join(str(p) for p in dict.fromkeys(looked))
    raise InputError(
        f"no benchmarks.json for {path} (looked for {where}); pass it with --benchmarks-json"
        " (`asv run` writes it into the results directory)"
    )


def _files_for_commit(
    spec: str, repo: Path, root: Path, files: list[asvproject.ResultFile]
) -> tuple[list[asvproject.ResultFile], str]:
    """The result files of the commit ``spec`` names, and the commit (or prefix) it resolved to."""
    try:
        commit = resolve_commit(spec, repo, hint=COMPARE_HINT)
    except GitError as exc:
        if not HASH_PREFIX.fullmatch(spec):
            raise
        # A hash git does not know (no checkout, a shallow clone): match file names, as asv does.
        prefix = spec.lower()
        matches = [f for f in files if f.hash8.startswith(prefix[:8])]
        hashes = sorted({f.hash8 for f in matches})
        if not matches:
            raise InputError(
                f"no results in {root} for a commit starting with {spec!r}, and git cannot"
                f" resolve it: {exc}"
            ) from exc
        if len(hashes) > 1:
            raise InputError(
                f"{spec!r} could be any of the commits {', '.join(hashes)} with results in"
                f" {root}; give more digits"
            ) from exc
        return matches, prefix
    matches = [f for f in files if f.hash8 == commit[:8]]
    if not matches:
        raise InputError(_no_results(spec, commit, repo, root, files))
    return matches, commit


def _no_results(
    spec: str, commit: str, repo: Path, root: Path, files: list[asvproject.ResultFile]
) -> str:
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
    candidates: list[asvproject.ResultFile], root: Path, machine: str | None, env: str | None
) -> asvproject.ResultFile:
    """The one result file that ``machine``/``env`` select, or an error listing the choices."""
    chosen = [
        f
        for f in candidates
        if (machine is None or f.machine == machine)
        and (env is None or asvproject.env_matches(f.env, env))
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


_LINEAGE_LIMIT = 100_000
"""Ancestors of the tip git is asked for when it orders a history."""


def load_results_history(
    root: Path,
    *,
    machine: str | None = None,
    env: str | None = None,
    repo: Path | None = None,
    tip: str | None = None,
) -> tuple[list[ResultSet], str]:
    """Every result of one machine and environment in ``root``, oldest first, and the order used.

    With a git ``repo`` and a commit ``tip``: the results of ``tip`` and its ancestors in git
    order (``"git"``); results of other commits are left out. When git cannot say (no
    repository, ``tip`` unknown, none of the results is an ancestor): all results, ordered by
    the commit date asv stored (``"date"``). The one reader of a results history: history
    mode's noise floors and ``perfguard history``'s change points both start here.
    """
    folder = asvproject.machine_dir(root, machine, what="history directory")
    newest: dict[tuple[str, str], asvproject.ResultFile] = {}
    for found in asvproject.result_files(folder):
        base_env = found.env.removesuffix(f".rerun{found.rerun}") if found.rerun else found.env
        if env is not None and not asvproject.env_matches(base_env, env):
            continue
        # One result per commit: a commit measured again (history-append's .rerunN) is one
        # point of the history, its newest measurement, not two.
        key = (found.hash8, base_env)
        if key not in newest or found.rerun > newest[key].rerun:
            newest[key] = found
    paths = [f.path for f in newest.values()]
    loaded = [(p, load_result_set(str(p), results_dir=root)) for p in paths]
    envs = sorted({r.env for _, r in loaded})
    if len(envs) > 1:
        raise InputError(
            f"history directory {folder} mixes environments ({', '.join(envs)}); choose one"
            " with --env"
        )
    ordered = _git_order(loaded, repo, tip)
    if ordered is not None:
        return ordered, "git"
    return [r for _, r in sorted(loaded, key=_stored_date)], "date"


def _stored_date(item: tuple[Path, ResultSet]) -> int:
    """The date :func:`load_result_set` already read, so no file is parsed twice."""
    path, results = item
    if results.date is None:
        raise InputError(f"{path} has no readable commit 'date'; is it an asv result file?")
    return results.date


def _git_order(
    loaded: list[tuple[Path, ResultSet]], repo: Path | None, tip: str | None
) -> list[ResultSet] | None:
    """Results of ``tip`` and its ancestors, oldest first; None when git cannot say."""
    if repo is None or tip is None:
        return None
    lineage = ancestors(tip, repo, _LINEAGE_LIMIT)
    if not lineage:
        return None
    position = {commit: i for i, commit in enumerate(lineage)}
    mine = [(position[r.commit], r) for _, r in loaded if r.commit in position]
    if not mine:
        return None
    return [r for _, r in sorted(mine, key=lambda item: -item[0])]
