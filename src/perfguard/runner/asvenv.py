"""asv's own machinery, driven from Python: configuration, environments, builds, one side's run.

perfguard keeps two asv environments of the same kind, one per commit, so that switching
between base and head in every round costs nothing: asv's regular environment (``env_dir``)
and a twin under ``<env_dir>-perfguard``. Each has asv's build cache, so a commit built once is
not built again, and a commit already installed in either environment is used where it is.
Every round runs in fresh paired worker processes, one per side (:mod:`.pairs`), started the
way asv starts its own benchmark processes.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import importlib
import itertools
import logging
import math
import os
import re
import statistics
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asv import environment, util
from asv.benchmarks import Benchmarks
from asv.machine import Machine, MachineCollection
from asv.repo import get_repo
from asv.results import Results
from asv.runner import BenchmarkResult

from perfguard.asvfiles import kind_of
from perfguard.errors import AsvError, PerfguardError
from perfguard.models import Kind, Params
from perfguard.runner.pairs import Launch, SideSamples

log = logging.getLogger("perfguard.runner")

TWIN_SUFFIX = "-perfguard"
"""The second environment lives in ``<env_dir>-perfguard``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """One benchmark (one parameter combination) in one process of one round."""

    value: float | None
    """The round's value (the fastest of its samples for time benchmarks); None if failed."""
    skipped: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class PairOutcome:
    """One benchmark (one parameter combination) in one round, both sides."""

    base: Outcome
    head: Outcome
    log_ratio: float | None
    """The round's paired ln(head / base): the median over its sample pairs."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchmarkMeta:
    """What perfguard needs to know about one discovered benchmark."""

    name: str
    kind: Kind
    unit: str
    version: str | None
    combinations: tuple[Params, ...]


def selected_combinations(benchmarks: Any, name: str) -> list[tuple[int, Params]]:
    """The combinations of ``name`` that asv's ``-b`` selected (asv matches the regex against
    ``name(param, ...)``), with their index in asv's order: every one without a selection."""
    every = combinations(benchmarks[name])
    chosen = benchmarks.benchmark_selection.get(name)
    indices = range(len(every)) if chosen is None else sorted(chosen)
    return [(index, every[index]) for index in indices]


def combinations(info: Mapping[str, Any]) -> list[Params]:
    """Every parameter combination of one asv benchmark, in asv's order (``()`` if none)."""
    names = info.get("param_names") or []
    combos = [
        tuple(zip(names, values, strict=True)) for values in itertools.product(*info["params"])
    ]
    return combos or [()]


def machine_params(name: str | None, machine_file: Path | None = None) -> dict[str, str]:
    """asv's machine parameters: stored ones if asv knows the machine, else asv's defaults.

    Unlike ``asv run`` this never asks questions; it records the defaults as ``asv machine
    --yes`` would, so later ``asv`` commands see the same machine.
    """
    path = None if machine_file is None else str(machine_file)
    wanted = name or Machine.get_unique_machine_name()
    try:
        stored = MachineCollection.load(wanted, _path=path)
    except util.UserError:
        stored = {}
    if not stored:
        stored = Machine.get_defaults()
        if name:
            stored["machine"] = name
        MachineCollection.save(stored["machine"], stored, _path=path)
    return {str(k): str(v) for k, v in stored.items()}


def save_machine(results_dir: Path, params: Mapping[str, str]) -> None:
    """asv's ``<machine>/machine.json`` in ``results_dir`` (perfguard's, never asv's own)."""
    machine = Machine()
    machine.__dict__.update(params)
    machine.save(str(results_dir))


def _configured(conf: Any) -> str:
    pythons = ", ".join(map(str, conf.pythons))
    return f"environment_type {conf.environment_type!r} with pythons {pythons}"


_PLUGIN_PACKAGES = {"rattler": "py-rattler"}
"""The distribution to install for a module an asv plugin imports, where the names differ."""


def _plugin_problems(conf: Any, env_spec: str | None) -> list[str]:
    """Why asv does not know an environment type it ships a plugin for (``rattler`` without
    py-rattler): asv drops a plugin that fails to import, and says only "Unknown"."""
    wanted = env_spec.partition(":")[0] if env_spec else conf.environment_type
    if not wanted or not re.fullmatch(r"\w+", str(wanted)):
        return []
    try:
        importlib.import_module(f"asv.plugins.{wanted}")
    except ModuleNotFoundError as exc:
        if exc.name == f"asv.plugins.{wanted}":
            return []  # asv ships no such plugin: "Unknown environment type" says it all
        package = _PLUGIN_PACKAGES.get(str(exc.name), exc.name)
        return [f"asv's {wanted} plugin needs {package}, which is not installed ({exc})"]
    except ImportError as exc:
        return [f"asv's {wanted} plugin cannot be imported ({exc})"]
    return []


@contextlib.contextmanager
def asv_warnings() -> Iterator[list[str]]:
    """What asv logs as warnings meanwhile: its reasons for passing over an environment.

    asv logs through the root logger and, with ``verbose=True``, says there why an
    environment type or Python cannot be used (``EnvironmentUnavailable``).
    """
    caught: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            caught.append(" ".join(record.getMessage().split()))

    handler = Catch(logging.WARNING)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield caught
    finally:
        root.removeHandler(handler)


def one_line(exc: BaseException) -> str:
    """An exception from asv or its tools as one line, with the failed command's last words.

    asv's ``ProcessError`` names the command only; the reason (pip's "Could not find a
    version", a connection error) is the last line of its output.
    """
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, util.ProcessError):
        output = f"{exc.stderr or ''}\n{exc.stdout or ''}"
        last = [line.strip() for line in output.splitlines() if line.strip()]
        if last:
            text += f" ({last[-1]})" if len(last) == 1 else f" ({_reason(last)})"
    elif not isinstance(exc, (util.UserError, PerfguardError)):
        text = f"{type(exc).__name__}: {text}"
    return text


def _reason(lines: list[str]) -> str:
    """The line of a failed command's output that says why: an error line, else the last."""
    errors = [line for line in lines if line.lower().startswith(("error", "fatal"))]
    return (errors or lines)[-1]


class Workspace:
    """The asv configuration, repository and the two environments of one ``perfguard run``."""

    def __init__(self, conf: Any, env_spec: str | None = None) -> None:
        self.conf = conf
        twin_conf = copy.copy(conf)
        twin_conf.env_dir = conf.env_dir.rstrip("/\\") + TWIN_SUFFIX
        specs = [env_spec] if env_spec else None
        with asv_warnings() as reasons:
            try:
                self.repo = get_repo(conf)
                configured = 0
                if specs:  # asv lists the configured environments first: not this one's reasons
                    list(environment.get_environments(conf, None, verbose=True))
                    configured = len(reasons)
                    reasons.clear()
                main = list(environment.get_environments(conf, specs, verbose=True))
                del reasons[:configured]
                twin = list(environment.get_environments(twin_conf, specs, verbose=False))
            except (util.UserError, environment.EnvironmentUnavailable, RuntimeError) as exc:
                raise AsvError(f"asv cannot set up the environment: {one_line(exc)}") from exc
        if not main:
            asked = f"--env {env_spec}" if env_spec else _configured(conf)
            why = [r.rstrip(". ") for r in reasons] + _plugin_problems(conf, env_spec)
            raise AsvError(
                f"asv cannot use {asked} here: "
                + ("; ".join(dict.fromkeys(why)) or "it matches no environment asv can make")
            )
        if not main[0].can_install_project():
            raise AsvError(
                "perfguard run builds both commits, which an 'existing' environment "
                "(python=same) cannot: use environment_type virtualenv or conda"
            )
        if reasons:
            log.warning(
                "asv passes over part of its configuration here (%s); measuring %s",
                "; ".join(dict.fromkeys(r.rstrip(". ") for r in reasons)),
                main[0].name,
            )
        if len(main) > 1:
            log.warning(
                "asv's configuration gives %d environments (%s); perfguard run measures one,"
                " the first: %s (choose another with --env, e.g. --env %s)",
                len(main),
                ", ".join(env.name for env in main),
                main[0].name,
                main[1].name,
            )
        self.envs = (main[0], twin[0])

    @property
    def env_name(self) -> str:
        return str(self.envs[0].name)

    @property
    def python(self) -> str:
        return str(self.envs[0].python)

    def commit_date(self, commit: str) -> int:
        return int(self.repo.get_date(commit))

    def prepare(self, base: str, head: str) -> dict[str, Any]:
        """Create both environments and install base and head, one in each.

        The assignment keeps whatever is already installed where it is (no rebuild, no
        reinstall); asv's build cache makes any other install a wheel install.
        """
        first, second = self.envs
        installed = (first.installed_commit_hash, second.installed_commit_hash)
        if installed[0] == head or installed[1] == base:
            first, second = second, first
        chosen = {"base": first, "head": second}
        for side, commit in (("base", base), ("head", head)):
            env = chosen[side]
            try:
                env.create()
                env.install_project(self.conf, self.repo, commit)
            except Exception as exc:  # asv's or its environment tool's (network, solver, ...)
                raise AsvError(
                    f"asv could not build or install the {side} commit {commit[:8]} in"
                    f" {env.name}: {one_line(exc)}"
                ) from exc
        return chosen

    def discover(self, env: Any, commit: str, regex: str | None) -> Any:
        """asv's benchmark discovery in the base environment.

        Nothing is saved here (see :func:`save_benchmarks`): asv's own ``benchmarks.json``
        describes the user's results and stays as it is.

        Only ``commit`` is tried: asv's fallback to the branch tips would install another
        commit into the base environment.
        """
        only_this = copy.copy(self.conf)
        only_this.branches = []
        try:
            found = Benchmarks.discover(
                only_this, self.repo, [env], [commit], regex=[regex] if regex else []
            )
        except util.UserError as exc:
            raise AsvError(
                f"asv could not discover the benchmarks at {commit[:8]}: {exc or 'see above'}"
            ) from exc
        return found


def save_benchmarks(benchmarks: Any, results_dir: Path) -> None:
    """asv's ``benchmarks.json`` of the whole discovered suite (as ``asv run`` saves it), in
    ``results_dir``: perfguard's results copy, never asv's own results directory."""
    path = Benchmarks.get_benchmark_file_path(str(results_dir))
    util.write_json(path, benchmarks._all_benchmarks, Benchmarks.api_version)


def describe(benchmarks: Any) -> dict[str, BenchmarkMeta]:
    """perfguard's view of asv's discovered benchmarks, by name."""
    out: dict[str, BenchmarkMeta] = {}
    for name, info in benchmarks.items():
        out[name] = BenchmarkMeta(
            name=name,
            kind=kind_of(info["type"]),
            unit=str(info.get("unit") or "unit"),
            version=info.get("version"),
            combinations=tuple(combinations(info)),
        )
    return out


class SideRun:
    """One commit's samples as an asv result file, growing round by round (append_samples).

    The file goes to perfguard's own results directory (``results_dir``), never to asv's:
    asv's file for the commit holds what asv measured, and stays as it is.
    """

    def __init__(
        self,
        workspace: Workspace,
        env: Any,
        commit: str,
        params: Mapping[str, str],
        results_dir: Path,
    ):
        self.workspace = workspace
        self.results_dir = results_dir
        self.env = env
        self.commit = commit
        result_params = dict(params)
        result_params["python"] = env.python
        result_params.update(env.requirements)
        self.results = Results(
            result_params,
            env.requirements,
            commit,
            workspace.commit_date(commit),
            env.python,
            env.name,
            env.env_vars,
        )

    def record(self, info: Mapping[str, Any], measured: Mapping[int, SideSamples]) -> None:
        """Append one round's samples of one benchmark to the results, by combination index.

        What asv's own runner would have recorded: samples and ``number`` for time benchmarks,
        the samples (one call each) for ``track_`` benchmarks sampled in pairs, the value for
        the others, NaN for skipped and for combinations ``-b`` left out, None
        plus the worker's error for failed.
        """
        result: list[Any] = []
        samples: list[list[float] | None] = []
        numbers: list[int | None] = []
        errors = []
        for index in range(len(combinations(info))):
            side = measured.get(index)
            if side is not None and side.error:
                result.append(None)
                samples.append(None)
                numbers.append(None)
                errors.append(side.error)
            elif side is None or side.skipped or not side.samples:
                result.append(math.nan)
                samples.append(None)
                numbers.append(None)
            elif info["type"] == "time":
                result.append(True)
                samples.append(list(side.samples))
                numbers.append(side.number)
            elif side.paired and len(side.samples) > 1:
                # paired track_: asv's median over every sample recorded, one call each
                result.append(True)
                samples.append(list(side.samples))
                numbers.append(1)
            else:
                result.append(side.samples[0])
                samples.append(None)
                numbers.append(None)
        self.results.add_result(
            info,
            BenchmarkResult(
                result=result,
                samples=samples,
                number=numbers,
                errcode=1 if errors else 0,
                stderr="\n".join(errors),
                profile=None,
            ),
            started_at=datetime.datetime.now(datetime.timezone.utc),
            record_samples=True,
            append_samples=True,
            selected_idx=set(measured) if len(measured) < len(result) else None,
        )

    def save(self) -> None:
        """Write this commit's file: valid input for ``asv publish`` and ``perfguard compare``."""
        self.results.save(str(self.results_dir))


def outcome(side: SideSamples, kind: str) -> Outcome:
    """The round's value of one side: the fastest sample for time benchmarks, else the median.

    The fastest: noise from other processes only ever adds time; a tracked figure (a rate, a
    count) has no such direction, so its samples (one, or one per pair) give their median.
    """
    if side.error:
        return Outcome(value=None)
    values = [v for v in side.samples if math.isfinite(v)]
    if side.skipped or not values:
        return Outcome(value=None, skipped=True)
    return Outcome(value=min(values) if kind == "time" else statistics.median(values))


def launch(env: Any) -> Launch:
    """How asv starts the environment's Python (``Environment.run_executable``), as a value.

    asv runs a benchmark process to completion; perfguard's paired workers stay alive and
    talk over pipes, so they are started with the same executable and variables directly.
    """
    variables = dict(os.environ)
    variables.update(env._global_env_vars)
    paths = variables["PATH"].split(os.pathsep) if "PATH" in variables else []
    paths.insert(0, os.path.join(env._path, "Scripts" if os.name == "nt" else "bin"))
    variables["PATH"] = os.pathsep.join(paths)
    if "ASV_PYTHONPATH" in variables:
        variables["PYTHONPATH"] = variables.pop("ASV_PYTHONPATH")
    else:
        variables.pop("PYTHONPATH", None)
    return Launch(python=str(env.find_executable("python")), env=variables)
