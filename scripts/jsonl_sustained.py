#!/usr/bin/env python3
"""Sustained publishing with and without the JSONL handler, alternating, per overflow policy.

For each policy (drop-oldest, drop-newest, block) a child process publishes small events at
full speed for `--seconds` seconds into one bus with one no-op subscriber, in slices of
`--slice` seconds that alternate between the JSONL handler attached and detached, so both
modes see the same machine at nearly the same moment. Per slice: events/s (published and
delivered: each slice ends with bus.join()) and RSS; per policy: the median events/s with and
without the handler and their ratio (the issue's target: within 20 %, ratio >= 0.80), traces
traced / written / dropped by reason (written + lost == traced once the handler is closed),
and the process's peak RSS (VmHWM). The log goes to a temporary directory (10 MB, 3 backups).

The ratio depends on what the bus does per event besides tracing: with a no-op subscriber the
bus delivers an event in 1.5-2.5 us here, and two traces per event (published, delivered) cost
about as much. `--work-us N` gives the subscriber N microseconds of busy work per event, so the
handler's cost can be read at a realistic rate too (`--work-us 5`: 120-150k events/s here;
`--work-us 8`: about the ~100k events/s the issue started from). Each policy also reports the
handler's cost per event in microseconds of loop time (the difference of the medians' inverse
rates), which does not depend on it, and the process's CPU time per event (all threads: the
writer's too) with and without the handler, which depends less on what else runs on the
machine than events/s does.

Usage: ``python scripts/jsonl_sustained.py [--seconds 60] [--slice 5] [--policy NAME ...]
[--work-us N]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from eventbus import Event, EventBus, JsonlFileHandler, TraceOverflow  # noqa: E402

CHECK_EVERY = 512  # events between clock reads


class Tick(Event):
    n: int = 0


def rss_kib(field: str = "VmRSS") -> int:
    """Resident memory of this process from /proc (KiB); VmHWM is its peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


async def publish_for(bus: EventBus, seconds: float, start_n: int) -> int:
    """Publish as fast as the bus takes events for `seconds`, then wait for delivery."""
    deadline = time.perf_counter() + seconds
    n = start_n
    while True:
        for _ in range(CHECK_EVERY):
            await bus.publish(Tick(n=n))
            n += 1
        if time.perf_counter() >= deadline:
            break
    await bus.join()
    return n - start_n


def subscriber(work_us: float) -> Any:
    """A subscriber that keeps the CPU busy for `work_us` microseconds per event (0: no-op)."""
    if work_us <= 0:
        return lambda event: None
    work_ns = int(work_us * 1000)
    clock = time.perf_counter_ns

    def work(event: Tick) -> None:
        end = clock() + work_ns
        while clock() < end:
            pass

    return work


async def run_policy(
    policy: str, seconds: float, slice_s: float, directory: Path, work_us: float = 0.0
) -> dict[str, Any]:
    log = JsonlFileHandler(directory / "bus.jsonl", overflow=policy)
    slices: list[dict[str, Any]] = []
    async with log, EventBus() as bus:
        bus.subscribe(Tick, subscriber(work_us))
        await publish_for(bus, 0.5, 0)  # warm up, handler detached
        count = max(2, round(seconds / slice_s))
        n = 0
        for index in range(count):
            attached = index % 2 == 0
            remove = bus.observe(log) if attached else None
            started, cpu_started = time.perf_counter(), time.process_time()
            events = await publish_for(bus, slice_s, n)
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            if remove is not None:
                remove()
            n += events
            slices.append(
                {
                    "slice": index,
                    "handler": attached,
                    "events_per_s": events / elapsed,
                    "cpu_us_per_event": cpu / events * 1e6,
                    "rss_mib": rss_kib() / 1024,
                }
            )
    stats = log.stats
    return {
        "policy": policy,
        "work_us": work_us,
        "slices": slices,
        "traced": stats.traced,
        "written": stats.written,
        "lost": stats.lost,
        "dropped_oldest": stats.dropped_oldest,
        "dropped_newest": stats.dropped_newest,
        "dropped_deadline": stats.dropped_deadline,
        "errors": stats.errors,
        "rotations": stats.rotations,
        "peak_rss_mib": rss_kib("VmHWM") / 1024,
    }


def report(result: dict[str, Any]) -> str:
    with_handler = [s["events_per_s"] for s in result["slices"] if s["handler"]]
    without = [s["events_per_s"] for s in result["slices"] if not s["handler"]]
    ratio = statistics.median(with_handler) / statistics.median(without)
    cost_us = 1e6 / statistics.median(with_handler) - 1e6 / statistics.median(without)
    cpu_with = statistics.median(s["cpu_us_per_event"] for s in result["slices"] if s["handler"])
    cpu_without = statistics.median(
        s["cpu_us_per_event"] for s in result["slices"] if not s["handler"]
    )
    lines = [f"policy {result['policy']}, subscriber work {result['work_us']:g} us/event"]
    lines += [
        f"  slice {s['slice']:>2}  {'with   ' if s['handler'] else 'without'}"
        f"  {s['events_per_s']:>9,.0f} events/s  cpu {s['cpu_us_per_event']:.2f} us/event"
        f"  rss {s['rss_mib']:.0f} MiB"
        for s in result["slices"]
    ]
    balanced = result["written"] + result["lost"] == result["traced"]
    lines += [
        f"  median with {statistics.median(with_handler):,.0f} / without "
        f"{statistics.median(without):,.0f} events/s: ratio {ratio:.2f}"
        f" ({'within' if ratio >= 0.8 else 'NOT within'} 20 %); the handler costs"
        f" {cost_us:.2f} us of loop time per event",
        f"  CPU (all threads) per event: with {cpu_with:.2f} / without {cpu_without:.2f} us:"
        f" ratio {cpu_without / cpu_with:.2f}, the handler costs {cpu_with - cpu_without:.2f} us",
        f"  traces: traced {result['traced']:,}, written {result['written']:,}, dropped oldest "
        f"{result['dropped_oldest']:,} newest {result['dropped_newest']:,} deadline "
        f"{result['dropped_deadline']:,}, write errors {result['errors']}, rotations "
        f"{result['rotations']}; written + lost == traced: {balanced}",
        f"  peak RSS {result['peak_rss_mib']:.0f} MiB",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="per policy (default 60)")
    parser.add_argument("--slice", type=float, default=5.0, help="seconds per slice (default 5)")
    parser.add_argument(
        "--policy",
        action="append",
        choices=[p.value for p in TraceOverflow],
        help="repeatable; default: every policy",
    )
    parser.add_argument(
        "--work-us",
        type=float,
        default=0.0,
        help="busy work per event in the subscriber, microseconds (default 0: no-op)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seconds <= 0 or args.slice <= 0:
        parser.error("--seconds and --slice must be positive")
    policies = args.policy or [p.value for p in TraceOverflow]
    if args.child:  # one policy, in a process of its own so its peak RSS is its own
        with tempfile.TemporaryDirectory(prefix="jsonl-sustained-") as directory:
            result = asyncio.run(
                run_policy(policies[0], args.seconds, args.slice, Path(directory), args.work_us)
            )
        print(json.dumps(result))
        return 0
    for policy in policies:
        command = [sys.executable, __file__, "--child", "--policy", policy]
        command += ["--seconds", str(args.seconds), "--slice", str(args.slice)]
        command += ["--work-us", str(args.work_us)]
        child = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            print(f"error: the {policy} run failed: {child.stderr.strip()}", file=sys.stderr)
            return 1
        print(report(json.loads(child.stdout)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
