#!/usr/bin/env python3
"""The same durable append + replay workload on the ``eventsourcing`` library's SQLite recorder
and on eventbus's FileEventStore, side by side.

Workload, identical for both, each in a fresh directory on the same disk:
  1. single appends: ``min(n, 2000)`` events, one durable write (transaction / fsync) each;
  2. batched appends: ``n`` events in batches of 100 (one transaction / one group commit each);
  3. replay: read all ``n`` batched events back in order (pages of 1000 for SQLite).
Payloads are 100 bytes; events go to 100 streams (SQLite: originator ids). SQLite runs in WAL
mode as eventsourcing sets it, with ``synchronous`` as printed (FULL syncs every commit).

Usage: ``python scripts/peers_store.py [n_events]`` (default 100 000). Needs the optional
peers: ``pip install -e '.[peers]'`` (or ``pip install eventsourcing``).
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import sys
import time
import uuid
from pathlib import Path

from eventbus.store import FileEventStore, NewEvent

PAYLOAD = b"x" * 100
STREAMS = 100
BATCH = 100
MAX_SINGLE = 2000


def _fresh_directory() -> Path:
    """A new directory on a real disk (never tmpfs), chosen as the store benchmarks choose."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from bench_store import bench_directory  # type: ignore[import-not-found]

    directory: Path = bench_directory()
    return directory


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def sqlite_figures(directory: Path, n_events: int) -> dict[str, float]:
    try:
        from eventsourcing.persistence import StoredEvent
        from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise SystemExit(
            "error: the eventsourcing peer is not installed; run "
            "`pip install -e '.[peers]'` or `pip install eventsourcing`"
        ) from exc

    database = directory / "events.sqlite"
    datastore = SQLiteDatastore(str(database))
    recorder = SQLiteApplicationRecorder(datastore)
    recorder.create_table()
    streams = [uuid.uuid4() for _ in range(STREAMS)]
    versions = dict.fromkeys(streams, 0)

    def next_event() -> StoredEvent:
        stream = streams[next_event.count % STREAMS]  # type: ignore[attr-defined]
        next_event.count += 1  # type: ignore[attr-defined]
        versions[stream] += 1
        return StoredEvent(stream, versions[stream], "T", PAYLOAD)

    next_event.count = 0  # type: ignore[attr-defined]
    single = min(n_events, MAX_SINGLE)
    start = time.perf_counter()
    for _ in range(single):
        recorder.insert_events([next_event()])
    single_seconds = time.perf_counter() - start

    start = time.perf_counter()
    for done in range(0, n_events, BATCH):
        recorder.insert_events([next_event() for _ in range(min(BATCH, n_events - done))])
    batch_seconds = time.perf_counter() - start

    start = time.perf_counter()
    count = 0
    after = single  # replay the batched events only, as for our store
    while True:
        page = recorder.select_notifications(after, 1000, inclusive_of_start=False)
        if not page:
            break
        count += len(page)
        after = page[-1].id
    replay_seconds = time.perf_counter() - start
    assert count == n_events, count
    datastore.close()
    with sqlite3.connect(database) as connection:
        synchronous = connection.execute("PRAGMA synchronous").fetchone()[0]
    return {
        "single": _rate(single, single_seconds),
        "batched": _rate(n_events, batch_seconds),
        "replay": _rate(count, replay_seconds),
        "synchronous": float(synchronous),
    }


async def ours_figures(directory: Path, n_events: int) -> dict[str, float]:
    async with FileEventStore(directory) as store:
        single = min(n_events, MAX_SINGLE)
        start = time.perf_counter()
        for i in range(single):
            await store.append(f"s{i % STREAMS}", "T", PAYLOAD)
        single_seconds = time.perf_counter() - start

        start = time.perf_counter()
        for done in range(0, n_events, BATCH):
            await store.append_batch(
                [
                    NewEvent(f"s{(done + i) % STREAMS}", "T", PAYLOAD)
                    for i in range(min(BATCH, n_events - done))
                ]
            )
        batch_seconds = time.perf_counter() - start

        start = time.perf_counter()
        count = 0
        async for _ in store.replay(after=single):
            count += 1
        replay_seconds = time.perf_counter() - start
        assert count == n_events, count
    return {
        "single": _rate(single, single_seconds),
        "batched": _rate(n_events, batch_seconds),
        "replay": _rate(count, replay_seconds),
    }


def run(n_events: int) -> list[tuple[str, float]]:
    """Every figure of both stores and our ratio to the peer (above 1: we are faster)."""
    figures: list[tuple[str, float]] = []
    peer_dir, our_dir = _fresh_directory(), _fresh_directory()
    try:
        theirs = sqlite_figures(peer_dir, n_events)
        ours = asyncio.run(ours_figures(our_dir, n_events))
    finally:
        shutil.rmtree(peer_dir, ignore_errors=True)
        shutil.rmtree(our_dir, ignore_errors=True)
    for key, label in (
        ("single", "durable single appends (events/s)"),
        ("batched", f"durable appends, batches of {BATCH} (events/s)"),
        ("replay", "replay (events/s)"),
    ):
        figures.append((f"eventsourcing-sqlite {label}", theirs[key]))
        figures.append((f"eventbus.store {label}", ours[key]))
        figures.append((f"ratio ours/peer, {label}", ours[key] / theirs[key]))
    figures.append(
        ("eventsourcing-sqlite default PRAGMA synchronous (2 = FULL)", theirs["synchronous"])
    )
    return figures


def main(argv: list[str]) -> int:
    n_events = int(argv[1]) if len(argv) > 1 else 100_000
    print(
        f"append + replay, {n_events} events, 100-byte payloads (single appends: "
        f"{min(n_events, MAX_SINGLE)})"
    )
    for label, value in run(n_events):
        print(f"  {label:64} {value:14,.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
