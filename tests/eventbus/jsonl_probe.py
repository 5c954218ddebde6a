"""Runs a bus with a JSONL handler in its own process and prints the outcome as JSON.

Used by the observability tests for conditions that need a process of their own: an
unprivileged user facing a read-only directory, or a file-size limit (RLIMIT_FSIZE) that makes
writes fail part-way like a disk filling up.

usage: python -m tests.eventbus.jsonl_probe PATH EVENTS [--as-nobody] [--fsize BYTES]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures.thread  # noqa: F401 - imported before privileges are dropped
import json
import os
import resource
import signal

from eventbus import EventBus, JsonlFileHandler
from tests.eventbus.support import Pong


async def probe(path: str, events: int) -> dict[str, object]:
    log = JsonlFileHandler(path, batch_size=10, max_buffer=2 * events + 10)
    async with log, EventBus() as bus:  # the bus stops first, then the log flushes
        bus.observe(log)
        bus.subscribe(Pong, lambda e: None)
        for n in range(events):
            await bus.publish(Pong(text=f"{n:04d}" * 10))
        await bus.join()
        stats = bus.stats()
    return {
        "published": stats.published,
        "delivered": stats.delivered,
        "written": log.stats.written,
        "errors": log.stats.errors,
        "lost": log.stats.lost,
        "last_error": log.stats.last_error,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("events", type=int)
    parser.add_argument("--as-nobody", action="store_true")
    parser.add_argument("--fsize", type=int)
    args = parser.parse_args()
    if args.as_nobody and os.geteuid() == 0:
        os.setgid(65534)
        os.setuid(65534)
    if args.fsize is not None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (args.fsize, args.fsize))
    print(json.dumps(asyncio.run(probe(args.path, args.events))))


if __name__ == "__main__":
    main()
