"""``perfguard run``: build base and head through asv, measure them in paired random-order rounds.

- :mod:`.asvenv` drives asv (configuration, environments, builds, one side's round);
- :mod:`.schedule` orders the rounds and decides when to stop;
- :mod:`.progress` shows where the run stands;
- :mod:`.refs` picks the commits;
- :mod:`.files` says where the run writes (perfguard's own files only, never asv's).

:func:`execute` ties them together and returns the rounds file it wrote.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import random
import secrets
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from perfguard import __version__, asvproject, fingerprint, paired, rounds
from perfguard.errors import AsvError
from perfguard.models import Key, Kind, Params, format_label
from perfguard.models import Status as ValueStatus
from perfguard.policy import Policy
from perfguard.runner import asvenv, counting, estimate, files, instructions, pairs, refs, shard
from perfguard.runner.progress import Display
from perfguard.runner.schedule import Effort, run_rounds
from perfguard.shards.partition import ShardSpec

QUICK_ATTRIBUTES: Mapping[str, Any] = {"warmup_time": 0.0}
"""``--quick``: no warm-up (asv's own ``--quick`` takes one sample, too few to pair)."""
QUICK_PAIRS = 3
QUICK_EFFORT = Effort(min_rounds=3, max_rounds=3)
DEFAULT_PAIRS = 16
"""Alternating sample pairs per time benchmark and round."""
PAIR_ATTRIBUTES: Mapping[str, Any] = {"sample_time": 0.001, "warmup_time": 0.02}
"""Samples of 1 ms (asv: 10 ms) and 20 ms of warm-up (asv: 100 ms) unless ``-a`` says otherwise:
a short sample is rarely hit by another process, and many short pairs beat a few long ones on
a shared machine (measured: per-round spread 1.4 % with 16 pairs of 1 ms, 4.5 % with 8 pairs
of 10 ms); the median over the pairs makes a slow first sample harmless."""
COUNT_PAIRS = 3
"""Sample pairs per counted benchmark and round: a count repeats within a process (the round's
hash seed and layout are fixed), so a few pairs only guard against a one-off."""
VALGRIND_TIMEOUT_FACTOR = 30.0
"""A benchmark's asv ``timeout`` is stretched this much under valgrind (about 50x slower when
counting, less with collection off for imports and setup)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSettings:
    """Everything one ``perfguard run`` needs, from the command line and the configuration."""

    config: Path | None = None
    """asv's configuration; None: found from the current directory as asv would."""
    base: str | None = None
    head: str | None = None
    bench: str | None = None
    quick: bool = False
    effort: Effort = field(default_factory=Effort)
    seed: int | None = None
    machine: str | None = None
    machine_file: Path | None = None
    env_spec: str | None = None
    output: Path | None = None
    policy: Policy = field(default_factory=Policy)
    correction: paired.Correction = paired.Correction.HOLM
    attributes: Mapping[str, Any] = field(default_factory=dict)
    pairs: int = DEFAULT_PAIRS
    shard: ShardSpec | None = None
    """``--shard K/N``: measure share K of N of the selected benchmarks."""
    shard_costs: Path | None = None
    metrics: tuple[counting.Metric, ...] = (counting.Metric.TIME,)
    """``--metric``: what a ``time_`` benchmark gives rows for (other kinds: their own)."""
    counter: str = instructions.AUTO
    """``--counter``: how instructions are counted (auto: hardware counters, else valgrind)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOutcome:
    data: rounds.RoundsFile
    path: Path
    """The rounds file."""
    asv_results: Path
    """perfguard's results directory in asv's layout (the same samples, per commit)."""
    stopped: str


def worker_attributes(given: Mapping[str, Any], *, quick: bool) -> dict[str, Any]:
    """asv attributes for every worker: pair defaults, then ``--quick``'s, then ``-a``."""
    return {**PAIR_ATTRIBUTES, **(QUICK_ATTRIBUTES if quick else {}), **given}


def _series(
    benchmarks: Any, metrics: tuple[counting.Metric, ...] = (counting.Metric.TIME,)
) -> list[rounds.Series]:
    """One series per selected combination and metric: what the header, the progress and the
    report count. A ``time_`` benchmark has a time series, an instructions series or both."""
    out = []
    for meta in asvenv.describe(benchmarks).values():
        for _, combo in asvenv.selected_combinations(benchmarks, meta.name):
            if meta.kind is not Kind.TIME or counting.Metric.TIME in metrics:
                out.append(
                    rounds.Series(
                        benchmark=meta.name,
                        params=combo,
                        kind=meta.kind,
                        unit=meta.unit,
                        version=meta.version,
                    )
                )
            if meta.kind is Kind.TIME and counting.Metric.INSTRUCTIONS in metrics:
                out.append(
                    rounds.Series(
                        benchmark=counting.counted_name(meta.name),
                        params=combo,
                        kind=Kind.INSTRUCTIONS,
                        unit=counting.UNIT,
                        version=meta.version,
                    )
                )
    return out


def undecided_series(
    policy: Policy, correction: paired.Correction, max_rounds: int
) -> Callable[[rounds.RoundsFile], set[Key]]:
    """Combinations worth another round: inconclusive, and decidable within ``max_rounds``."""

    def undecided(data: rounds.RoundsFile) -> set[Key]:
        comparison = rounds.to_comparison(data, policy, correction=correction)
        return rounds.undecided(comparison, data, max_rounds)

    return undecided


def _mark_status(data: rounds.RoundsFile, last: Mapping[Key, asvenv.PairOutcome]) -> None:
    """A benchmark asv skipped (NaN) on a side is skipped, not failed."""
    for i, series in enumerate(data.series):
        statuses = {}
        pair = last.get(series.key)
        for side in ("base", "head"):
            outcome = None if pair is None else (pair.base if side == "base" else pair.head)
            statuses[side] = (
                ValueStatus.SKIPPED if outcome is not None and outcome.skipped else ValueStatus.OK
            )
        data.series[i] = msgspec.structs.replace(
            series, base_status=statuses["base"], head_status=statuses["head"]
        )


def _metric_settings(
    metrics: tuple[counting.Metric, ...], counter: pairs.Counting | None
) -> dict[str, str]:
    """What the rounds file says about the metrics (nothing for the default, time alone)."""
    if counter is None:
        return {}
    return {
        "metric": ",".join(m.value for m in metrics),
        "counter": counter.counter,
        "counted_by": counting.describe(counter),
    }


def execute(settings: RunSettings, display: Display) -> RunOutcome:
    """Build both commits, run the rounds, keep the rounds file and perfguard's asv copy.

    asv's own results directory is never written (see :mod:`.files`).
    """
    counter = counting.choose(settings.counter, settings.metrics)  # before any build
    project = asvproject.load(settings.config)
    conf = project.conf
    # A remote ``repo`` (asv clones it): the refs name commits of the checkout perfguard runs
    # in, the one holding the asv configuration.
    checkout = project.local_repo or project.config.parent
    base_ref, base, head_ref, head = refs.resolve_pair(settings.base, settings.head, checkout)
    if base == head:
        display.message(
            f"note: base {base_ref} and head {head_ref} are the same commit {base[:8]}: an A/A "
            "run (identical code on both sides) that shows this machine's noise; any "
            "regressed or improved verdict is a false alarm"
        )
    machine = asvenv.machine_params(settings.machine, settings.machine_file)
    workspace = asvenv.Workspace(conf, settings.env_spec)
    display.message(f"building base {base[:8]} and head {head[:8]} with asv")
    building = time.monotonic()
    envs = workspace.prepare(base, head)
    benchmarks = workspace.discover(envs["base"], base, settings.bench)
    display.message(
        f"built and discovered in {estimate.format_seconds(time.monotonic() - building)}"
    )
    if len(benchmarks) == 0:
        raise AsvError(
            f"no benchmarks selected{f' by {settings.bench!r}' if settings.bench else ''}"
        )
    share = None
    if settings.shard is not None:
        total = len(_series(benchmarks, settings.metrics))
        benchmarks, share = shard.select(
            benchmarks,
            settings.shard,
            base=base,
            results_dir=Path(conf.results_dir),
            explicit=settings.shard_costs,
        )
        # The family a shard is corrected in counts every row: a second (instructions) row of
        # a time_ benchmark too.
        share = msgspec.structs.replace(share, suite_rows=total)
        display.message(shard.describe(share, len(_series(benchmarks, settings.metrics)), total))
    written = files.claim(conf.results_dir, base, head, settings.output)
    if written.note:
        display.message(f"note: {written.note}")
    asvenv.save_machine(written.asv_results, machine)
    asvenv.save_benchmarks(benchmarks, written.asv_results)
    base_side = asvenv.SideRun(workspace, envs["base"], base, machine, written.asv_results)
    sides = {
        "base": base_side,
        # A/A: one commit, one asv result file holding both sides' samples.
        "head": base_side
        if head == base
        else asvenv.SideRun(workspace, envs["head"], head, machine, written.asv_results),
    }
    attributes = worker_attributes(settings.attributes, quick=settings.quick)
    pair_count = QUICK_PAIRS if settings.quick else settings.pairs
    effort = (
        dataclasses.replace(QUICK_EFFORT, time_limit=settings.effort.time_limit)
        if settings.quick
        else settings.effort
    )
    seed = settings.seed if settings.seed is not None else secrets.randbits(32)
    data = rounds.RoundsFile(
        perfguard_version=__version__,
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        seed=seed,
        base=rounds.Side(ref=base_ref, commit=base),
        head=rounds.Side(ref=head_ref, commit=head),
        machine=machine["machine"],
        env=workspace.env_name,
        fingerprint=fingerprint.current(machine),
        settings={
            "min_rounds": effort.min_rounds,
            "max_rounds": effort.max_rounds,
            "time_limit": effort.time_limit if effort.time_limit is not None else 0,
            "bench": settings.bench or "",
            "quick": settings.quick,
            "pairs": pair_count,
            "correction": settings.correction.value,
            "threshold": settings.policy.threshold,
            **_metric_settings(settings.metrics, counter),
        },
        series=_series(benchmarks, settings.metrics),
        shard=share,
    )
    path = written.rounds
    rounds.write(path, data)  # the reserved name holds a valid (empty) rounds file at once
    last: dict[Key, asvenv.PairOutcome] = {}
    launches = {side: asvenv.launch(envs[side]) for side in ("base", "head")}

    current: list[tuple[pairs.Round, pairs.Round | None]] = []

    @contextlib.contextmanager
    def round_scope(rng: random.Random) -> Iterator[pairs.Round]:
        """One worker per side for the whole round, with the round's shared layout (and, when
        instructions are counted, one counting worker per side, started on first use)."""
        layout = pairs.draw_layout(rng)
        with contextlib.ExitStack() as stack:
            session = stack.enter_context(
                pairs.open_round(launches, benchmarks.benchmark_dir, attributes, layout, caches)
            )
            counted = None
            if counter is not None:
                counted = stack.enter_context(
                    pairs.open_round(
                        launches, benchmarks.benchmark_dir, attributes, layout, caches, counter
                    )
                )
            current.append((session, counted))
            try:
                yield session
            finally:
                current.pop()

    def measure(
        series_name: str, combos: tuple[Params, ...], order: tuple[str, str], rng: random.Random
    ) -> dict[Key, asvenv.PairOutcome]:
        name, counted = counting.measured_name(series_name)
        info = benchmarks[name]
        every = asvenv.combinations(info)
        timeout = float(info.get("timeout") or 60.0)
        if counted and counter is not None and counter.counter == instructions.VALGRIND:
            timeout *= VALGRIND_TIMEOUT_FACTOR
        start_timeout = timeout
        if info.get("setup_cache_key") is not None:
            start_timeout += float(info.get("setup_cache_timeout") or timeout)
        session, counting_session = current[-1]
        if counted:
            assert counting_session is not None
            session = counting_session
        sample_pairs = COUNT_PAIRS if counted else pair_count
        measured: dict[Key, asvenv.PairOutcome] = {}
        per_side: dict[str, dict[int, pairs.SideSamples]] = {"base": {}, "head": {}}
        for combo in combos:
            index = every.index(combo)
            paired_round = session.measure(
                f"{name}-{index}" if info["params"] else name,
                pairs=sample_pairs,
                orders=pairs.draw_orders(rng, sample_pairs, base_first=order[0] == "base"),
                timeout=timeout,
                start_timeout=start_timeout,
                once=info["type"] == "track"
                and settings.policy.once_per_process(name, format_label(name, combo)),
            )
            per_side["base"][index] = paired_round.base
            per_side["head"][index] = paired_round.head
            kind = Kind.INSTRUCTIONS.value if counted else info["type"]
            measured[(series_name, combo)] = asvenv.PairOutcome(
                base=asvenv.outcome(paired_round.base, kind),
                head=asvenv.outcome(paired_round.head, kind),
                log_ratio=paired_round.log_ratio,
            )
        if not counted:  # asv's result files hold what asv measures: times
            for side, samples in per_side.items():
                sides[side].record(info, samples)
        last.update(measured)
        return measured

    def save(current: rounds.RoundsFile) -> None:
        for side in {id(s): s for s in sides.values()}.values():
            side.save()
        rounds.write(path, current)

    display.message(
        f"measuring {len(data.series)} benchmarks, rounds {effort.min_rounds}-"
        f"{effort.max_rounds}, seed {seed}"
    )
    per_benchmark = Counter(series.benchmark for series in data.series)
    cost = estimate.initial(
        conf.results_dir, machine["machine"], per_benchmark, data.settings, exclude=path
    )
    expected = estimate.plan(
        cost,
        per_benchmark,
        min_rounds=effort.min_rounds,
        max_rounds=effort.max_rounds,
        time_limit=effort.time_limit,
    )
    # What was expected, beside what happened: scripts/estimate_error.py compares them.
    data.settings["estimate_from"] = cost.kind
    data.settings["estimate_round_seconds"] = round(expected.per_round, 3)
    for line in estimate.describe_plan(
        expected,
        cost,
        benchmarks=len(data.series),
        min_rounds=effort.min_rounds,
        max_rounds=effort.max_rounds,
        time_limit=effort.time_limit,
    ):
        display.message(line)
    measuring = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="perfguard-setup-cache-") as cache_dir:
        caches = Path(cache_dir)  # setup_cache: once per side and run, as asv does
        stopped = run_rounds(
            data,
            shard.timed(measure, data.seconds),
            effort=effort,
            undecided=undecided_series(settings.policy, settings.correction, effort.max_rounds),
            display=display,
            on_round=save,
            cost=cost,
            round_scope=round_scope,
        )
    stopped = f"{stopped}, in {estimate.format_seconds(time.monotonic() - measuring)}"
    _mark_status(data, last)
    rounds.write(path, data)
    return RunOutcome(data=data, path=path, asv_results=written.asv_results, stopped=stopped)
