"""Check the N shard rounds files of one sharded run and merge them into one rounds file.

The merged file is an ordinary rounds file (``perfguard compare MERGED`` re-reports it, the
comment workflow reads it): its series are every shard's, so the family correction runs across
the whole suite, and ``shards`` keeps which shard measured what, on which machine, with its own
seed, fingerprint and rounds. Each benchmark's base and head were paired on one runner, so
shards from different machines merge; the report says which benchmark ran where.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path

from perfguard import __version__, rounds
from perfguard.errors import ConfigError, InputError


def merge(paths: Sequence[Path]) -> rounds.RoundsFile:
    """The merged rounds file of ``paths`` (one per shard), or one line saying what is wrong."""
    if not paths:
        raise ConfigError("perfguard merge needs the shard rounds files: perfguard merge F...")
    loaded = [(path, _shard_file(path)) for path in paths]
    first_path, first = loaded[0]
    assert first.shard is not None
    count = first.shard.count
    by_index: dict[int, Path] = {}
    for path, data in loaded:
        shard = data.shard
        assert shard is not None
        if shard.count != count:
            raise InputError(
                f"{path} is shard {shard.index}/{shard.count} but {first_path} is shard"
                f" {first.shard.index}/{count}: the shards of one run share N"
            )
        if (data.base.commit, data.head.commit) != (first.base.commit, first.head.commit):
            raise InputError(
                f"{path} measured base {data.base.commit[:8]} and head {data.head.commit[:8]},"
                f" {first_path} base {first.base.commit[:8]} and head {first.head.commit[:8]}:"
                " the shards of one run measure the same two commits"
            )
        if data.env != first.env:
            raise InputError(
                f"{path} measured in {data.env}, {first_path} in {first.env}: the shards of one"
                " run measure in the same asv environment"
            )
        if shard.index in by_index:
            raise InputError(
                f"shard {shard.index}/{count} is given twice: {by_index[shard.index]} and {path}"
            )
        by_index[shard.index] = path
    missing = [index for index in range(1, count + 1) if index not in by_index]
    if missing:
        names = ", ".join(f"{index}/{count}" for index in missing)
        raise InputError(
            f"shard{'s' if len(missing) > 1 else ''} {names} missing: give all {count} shard"
            f" rounds files (got {', '.join(f'{i}/{count}' for i in sorted(by_index))})"
        )
    for path, data in loaded[1:]:
        _check_same_partition(path, data, first_path, first)
    _check_disjoint(loaded)
    ordered = sorted(loaded, key=lambda item: _index(item[1]))
    machines = list(dict.fromkeys(data.machine for _, data in ordered))
    return rounds.RoundsFile(
        perfguard_version=__version__,
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        seed=first.seed,
        base=first.base,
        head=first.head,
        machine=", ".join(machines),
        env=first.env,
        fingerprint=ordered[0][1].fingerprint,
        settings={**ordered[0][1].settings, "shards": count},
        series=[series for _, data in ordered for series in data.series],
        seconds={name: s for _, data in ordered for name, s in data.seconds.items()},
        shards=[
            rounds.ShardRun(
                shard=_shard(data),
                machine=data.machine,
                fingerprint=data.fingerprint,
                seed=data.seed,
                created=data.created,
                source=str(path),
                settings=dict(data.settings),
                rounds=list(data.rounds),
            )
            for path, data in ordered
        ],
    )


def write(path: Path, data: rounds.RoundsFile) -> None:
    """Write the merged file; never over a file that is not a rounds file."""
    if path.is_dir() or (
        path.exists() and path.stat().st_size > 0 and not rounds.is_rounds_file(path)
    ):
        raise InputError(
            f"--output {path} exists and is not a perfguard rounds file: not overwriting it"
            " (choose another path)"
        )
    rounds.write(path, data)


def _shard_file(path: Path) -> rounds.RoundsFile:
    data = rounds.read(path)
    if data.shard is None:
        if data.shards:
            raise InputError(
                f"{path} is already a merged rounds file ({len(data.shards)} shards): merge the"
                " shard files themselves"
            )
        raise InputError(
            f"{path} is not a shard rounds file: it was written by `perfguard run` without"
            " --shard K/N"
        )
    return data


def _shard(data: rounds.RoundsFile) -> rounds.Shard:
    assert data.shard is not None
    return data.shard


def _index(data: rounds.RoundsFile) -> int:
    return _shard(data).index


def _check_same_partition(
    path: Path, data: rounds.RoundsFile, first_path: Path, first: rounds.RoundsFile
) -> None:
    shard, other = _shard(data), _shard(first)
    if shard.suite != other.suite:
        raise InputError(
            f"{path} and {first_path} measured different suites (suite {shard.suite} and"
            f" {other.suite}: other benchmarks, versions or -b): the shards of one run need the"
            " same checkout and the same -b"
        )
    if shard.partition != other.partition:
        raise InputError(
            f"the shards disagree on the partition: {path} took its costs from {shard.costs},"
            f" {first_path} from {other.costs}; give every shard the same --shard-costs file"
        )


def _check_disjoint(loaded: Sequence[tuple[Path, rounds.RoundsFile]]) -> None:
    """Every benchmark in one shard (a guard: equal partition hashes already imply it)."""
    owner: dict[str, str] = {}
    for _, data in loaded:
        shard = _shard(data)
        label = f"{shard.index}/{shard.count}"
        for name in {*shard.benchmarks, *(s.benchmark for s in data.series)}:
            if name in owner and owner[name] != label:
                raise InputError(
                    f"benchmark {name} was measured by shards {owner[name]} and {label}"
                )
            owner[name] = label
