"""Where an asv project keeps things: its configuration, and the layout of its results directory.

The one module that knows asv's project layout; :mod:`perfguard.asvfiles` knows the formats of
the JSON files inside it. The configuration is read by asv's own loader
(``asv.config.Config.load``: ``//`` comments, trailing commas, the version and ``repo`` checks)
and every relative path in it is taken relative to the config file's folder, which is where
asv runs from (``asv --config`` changes into it). A config is found as ``asv.conf.json`` or
``asv.conf.jsonc``, in the given folder or in its ``benchmarks/`` (a common layout).

Scripts that need a path from the configuration ask perfguard
(``perfguard asv-project results-dir``) instead of parsing it themselves.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asv import util
from asv.config import Config

from perfguard.errors import ConfigError, InputError

CONFIG_NAMES = ("asv.conf.json", "asv.conf.jsonc")
"""The names asv looks for (``asv.config._get_config_path``)."""
CONFIG_FOLDERS = (".", "benchmarks")
"""Where perfguard looks for them, in order, below the folder it starts from."""
BENCHMARKS_JSON = "benchmarks.json"
"""asv's description of the suite, at the top of a results directory."""
MACHINE_JSON = "machine.json"
"""asv's description of a machine, in its folder of a results directory."""
METADATA_FILES = frozenset({BENCHMARKS_JSON, MACHINE_JSON})
"""The files of a results directory that are not results (asv's ``iter_results_paths``)."""
PATH_SETTINGS = ("env_dir", "results_dir", "html_dir", "benchmark_dir")
"""The settings asv reads as paths relative to the config file's folder."""

_REMOTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^[^/\\]+@[^/\\]+:")
"""A ``repo`` that asv clones: a URL, or scp-like ``git@host:path``."""
_LONG_ENV_NAME = 128
"""asv names a result file after an environment's md5 from this many characters on."""


@dataclass(frozen=True, slots=True)
class AsvProject:
    """A loaded asv configuration; every path in :attr:`conf` is absolute."""

    config: Path
    """The absolute path of the config file."""
    conf: Any
    """asv's own ``Config`` object, as ``asv`` commands see it."""

    @property
    def folder(self) -> Path:
        return self.config.parent

    @property
    def results_dir(self) -> Path:
        return Path(self.conf.results_dir)

    @property
    def benchmark_dir(self) -> Path:
        return Path(self.conf.benchmark_dir)

    @property
    def html_dir(self) -> Path:
        return Path(self.conf.html_dir)

    @property
    def env_dir(self) -> Path:
        return Path(self.conf.env_dir)

    @property
    def repo(self) -> str:
        """The project's repository: an absolute local path, or the URL asv clones."""
        return str(self.conf.repo)

    @property
    def local_repo(self) -> Path | None:
        """The local checkout asv builds from, or None when ``repo`` is a remote URL."""
        return None if is_remote(self.repo) else Path(self.repo)


def is_remote(repo: str) -> bool:
    return bool(_REMOTE.match(repo))


def find_config(start: Path = Path(".")) -> Path:
    """``asv.conf.json`` or ``asv.conf.jsonc`` in ``start``, else in ``start/benchmarks``.

    Two of them in one folder is an error, as it is for asv: which one is meant is unclear.
    """
    for sub in CONFIG_FOLDERS:
        folder = start / sub if sub != "." else start
        found = [folder / name for name in CONFIG_NAMES if (folder / name).is_file()]
        if len(found) > 1:
            raise ConfigError(
                f"both {found[0]} and {found[1]} exist; asv would refuse to choose: remove one,"
                " or name it with --asv-config"
            )
        if found:
            return found[0]
    here = start.absolute()
    looked = " or ".join(str(here / sub) if sub != "." else str(here) for sub in CONFIG_FOLDERS)
    raise ConfigError(
        f"no asv.conf.json (or asv.conf.jsonc) in {looked}; run in the project's checkout,"
        " or name the file with --asv-config"
    )


def load(config: Path | None = None, *, start: Path = Path(".")) -> AsvProject:
    """The asv project of ``config``, or of the config :func:`find_config` finds from ``start``."""
    path = config if config is not None else find_config(start)
    return AsvProject(config=path.absolute(), conf=load_config(path))


def load_config(path: Path) -> Any:
    """asv's ``Config`` of ``path``, read by asv's loader, every relative path made absolute.

    Whatever asv refuses (bad JSON, not an object, no ``version`` or ``repo``, a newer format)
    is one :class:`~perfguard.errors.ConfigError` line that names the file.
    """
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise ConfigError(f"asv configuration {path} {what}; name asv.conf.json with --asv-config")
    try:
        conf = Config.load(str(path))
    except util.UserError as exc:
        reason = "not a JSON object" if not _is_object(path) else str(exc)
        raise ConfigError(_refused(path, reason)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read asv configuration {path}: {exc}") from exc
    except (ValueError, TypeError, AttributeError) as exc:  # json5 syntax; a JSON non-object
        raise ConfigError(_refused(path, _parse_problem(path, exc))) from exc
    root = path.absolute().parent
    for attr in PATH_SETTINGS:
        value = getattr(conf, attr)
        if not isinstance(value, str) or not value:
            raise ConfigError(f"asv configuration {path}: {attr} must be a non-empty path string")
        setattr(conf, attr, str((root / value).resolve()))
    if not isinstance(conf.repo, str):
        raise ConfigError(f"asv configuration {path}: repo must be a path or URL string")
    if not is_remote(conf.repo):
        conf.repo = str((root / conf.repo).resolve())
    return conf


def _refused(path: Path, reason: str) -> str:
    reason = reason.strip().rstrip(".").replace(str(path.absolute()), str(path))
    return f"asv cannot use {path} as its configuration: {reason}"


def _is_object(path: Path) -> bool:
    """Whether asv's parser reads ``path`` as a JSON object (asv's own checks assume one)."""
    try:
        return isinstance(util.load_json(str(path), js_comments=True), dict)
    except (ValueError, OSError, util.UserError):
        return True  # the parse error itself is the better message


def _parse_problem(path: Path, exc: Exception) -> str:
    if isinstance(exc, ValueError):
        hint = ""
        if path.suffix == ".toml":
            hint = "; it is TOML, and asv's configuration is asv.conf.json"
        return f"not valid JSON ({str(exc).replace('<string>:', 'line ')}){hint}"
    return "not a JSON object"


# --- the results directory: <results_dir>/<machine>/<hash8>-<env>.json ----------------------


@dataclass(frozen=True, slots=True)
class ResultFile:
    """One ``<machine>/<hash8>-<env>.json`` in a results directory, known by its name only."""

    path: Path
    machine: str
    hash8: str
    env: str

    @property
    def rerun(self) -> int:
        """N of a ``<hash8>-<env>.rerunN.json`` that scripts/ci/history-append keeps when a
        commit is measured again (0 for asv's own file): the highest is the newest."""
        found = _RERUN.search(self.path.stem)
        return int(found.group(1)) if found else 0


_RERUN = re.compile(r"\.rerun(\d+)$")


def result_file_name(commit: str, env: str) -> str:
    """asv's file name of a commit's results in one environment (``asv.results.get_filename``)."""
    if len(env) >= _LONG_ENV_NAME:
        env = "env-" + hashlib.md5(env.encode(), usedforsecurity=False).hexdigest()
    return f"{commit[:8]}-{env}.json"


def env_matches(file_env: str, env: str) -> bool:
    """Whether a file's environment part names ``env`` (asv uses an md5 for long names)."""
    return file_env == env or result_file_name("", env)[1:-5] == file_env


def is_result_file(path: Path) -> bool:
    return path.suffix == ".json" and path.name not in METADATA_FILES and "-" in path.stem


def machine_names(results_dir: Path) -> list[str]:
    """The machines with a folder in a results directory, sorted."""
    return sorted(p.name for p in results_dir.iterdir() if p.is_dir())


def machine_dir(results_dir: Path, machine: str | None, *, what: str = "results directory") -> Path:
    """The folder of ``machine``, or of the only machine; an error lists the choices."""
    if not results_dir.is_dir():
        raise InputError(f"{what} {results_dir} does not exist; pass an asv results directory")
    machines = machine_names(results_dir)
    if machine is not None:
        if machine not in machines:
            raise InputError(
                f"{what} {results_dir} has no machine {machine!r}; it has"
                f" {', '.join(machines) or 'none'}"
            )
        return results_dir / machine
    if len(machines) != 1:
        raise InputError(
            f"{what} {results_dir} has results of {len(machines)} machines"
            f" ({', '.join(machines) or 'none'}); choose one with --machine"
        )
    return results_dir / machines[0]


def result_files(folder: Path) -> list[ResultFile]:
    """The result files of one machine's folder, sorted by name (nothing is parsed)."""
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.is_file() and is_result_file(entry):
            hash8, _, env = entry.stem.partition("-")
            found.append(ResultFile(entry, folder.name, hash8.lower(), env))
    return found


def scan(results_dir: Path) -> list[ResultFile]:
    """Every result file of every machine in a results directory, from file names alone."""
    if not results_dir.is_dir():
        raise InputError(
            f"results directory {results_dir} does not exist; run `asv run` first, or pass"
            " --results-dir"
        )
    found = [f for m in machine_names(results_dir) for f in result_files(results_dir / m)]
    if not found:
        raise InputError(
            f"results directory {results_dir} is empty: no <machine>/<commit>-<env>.json result"
            " files; run `asv run` first, or pass --results-dir"
        )
    return found


FIELDS = ("config", "results-dir", "benchmark-dir", "html-dir", "env-dir", "repo")
"""What ``perfguard asv-project FIELD`` prints: an absolute path (or the repository's URL)."""


def field(project: AsvProject, name: str) -> str:
    """One of :data:`FIELDS` of ``project``, as a script wants it."""
    if name not in FIELDS:
        raise ConfigError(f"unknown asv project field {name!r}; one of {', '.join(FIELDS)}")
    value = project.config if name == "config" else getattr(project, name.replace("-", "_"))
    return str(value)
