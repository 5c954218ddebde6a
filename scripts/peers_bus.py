#!/usr/bin/env python3
"""The same publish workload on pyee, blinker, bubus and eventbus, side by side.

Workload, identical in every run: build N small events and publish each one to 3 handlers that
count calls, then wait until every handler ran; the figure is events per second (higher is
better). Each library runs the handler style it is built for:
  - async handlers: eventbus (awaits them directly), pyee's AsyncIOEventEmitter (one task per
    handler call), blinker's send_async, bubus (pydantic events; at most 100 pending, so it
    publishes in windows of 50 and waits for each window);
  - sync handlers: eventbus, pyee's EventEmitter, blinker's send.
Each peer's ratio is eventbus's figure for the same handler style divided by the peer's.

Usage: ``python scripts/peers_bus.py [n_events] [rounds]`` (defaults 100 000 and 3; prints the
median of the rounds; bubus runs at most 2 000 events a round, since it handles only a few
hundred per second here). Needs the optional peers: ``pip install -e '.[peers]'``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HANDLERS = 3
BUBUS_MAX_EVENTS = 2_000
BUBUS_WINDOW = 50


def _bench_bus() -> Any:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_bus

    return bench_bus


def _check(calls: int, n_events: int, name: str) -> None:
    if calls != HANDLERS * n_events:
        raise AssertionError(f"{name}: expected {HANDLERS * n_events} handler calls, got {calls}")


def _import_peers() -> tuple[Any, Any, Any]:
    try:
        import blinker
        import bubus
        import pyee
        import pyee.asyncio
    except ImportError as exc:  # depends on the optional extra
        raise SystemExit(
            f"error: a peer library is missing ({exc.name}); run `pip install -e '.[peers]'`"
            " or `pip install pyee blinker bubus`"
        ) from exc
    return pyee, blinker, bubus


def pyee_sync(n_events: int) -> float:
    pyee, _, _ = _import_peers()
    tick = _bench_bus().Tick
    calls = 0

    def make_handler() -> Callable[[Any], None]:
        def handler(event: Any) -> None:
            nonlocal calls
            calls += 1

        return handler

    emitter = pyee.EventEmitter()
    for _ in range(HANDLERS):  # three distinct functions: pyee keys listeners by function
        emitter.add_listener("tick", make_handler())
    started = time.perf_counter()
    for sequence in range(n_events):
        emitter.emit("tick", tick(sequence=sequence))
    elapsed = time.perf_counter() - started
    _check(calls, n_events, "pyee")
    return n_events / elapsed


async def pyee_async(n_events: int) -> float:
    pyee, _, _ = _import_peers()
    tick = _bench_bus().Tick
    calls = 0

    def make_handler() -> Callable[[Any], Any]:
        async def handler(event: Any) -> None:
            nonlocal calls
            calls += 1

        return handler

    emitter = pyee.asyncio.AsyncIOEventEmitter()
    for _ in range(HANDLERS):
        emitter.add_listener("tick", make_handler())
    started = time.perf_counter()
    for sequence in range(n_events):
        emitter.emit("tick", tick(sequence=sequence))
    await emitter.wait_for_complete()
    elapsed = time.perf_counter() - started
    _check(calls, n_events, "pyee asyncio")
    return n_events / elapsed


def _blinker_signal(handler: Callable[..., Any]) -> Any:
    _, blinker, _ = _import_peers()
    signal = blinker.Signal()
    receivers = []
    for _ in range(HANDLERS):  # three distinct receivers: blinker dedupes identical ones

        def receiver(sender: Any, **kwargs: Any) -> Any:
            return handler(sender, **kwargs)

        receivers.append(receiver)
        signal.connect(receiver, weak=False)
    return signal


def blinker_sync(n_events: int) -> float:
    tick = _bench_bus().Tick
    calls = 0

    def handler(sender: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1

    signal = _blinker_signal(handler)
    started = time.perf_counter()
    for sequence in range(n_events):
        signal.send(tick(sequence=sequence))
    elapsed = time.perf_counter() - started
    _check(calls, n_events, "blinker")
    return n_events / elapsed


async def blinker_async(n_events: int) -> float:
    _, blinker, _ = _import_peers()
    tick = _bench_bus().Tick
    calls = 0
    signal = blinker.Signal()

    def make_receiver() -> Callable[..., Any]:
        async def receiver(sender: Any, **kwargs: Any) -> None:
            nonlocal calls
            calls += 1

        return receiver

    receivers = [make_receiver() for _ in range(HANDLERS)]
    for receiver in receivers:
        signal.connect(receiver, weak=False)
    started = time.perf_counter()
    for sequence in range(n_events):
        await signal.send_async(tick(sequence=sequence))
    elapsed = time.perf_counter() - started
    _check(calls, n_events, "blinker async")
    return n_events / elapsed


async def bubus_async(n_events: int) -> float:
    _, _, bubus = _import_peers()
    logging.getLogger("bubus").setLevel(logging.WARNING)

    class Tick(bubus.BaseEvent):  # type: ignore[misc,name-defined]
        sequence: int
        source: str = "bench"

    calls = 0

    def make_handler(index: int) -> Callable[..., Any]:
        async def handler(event: Any) -> None:
            nonlocal calls
            calls += 1

        handler.__name__ = handler.__qualname__ = f"handler_{index}"  # bubus keys by name
        return handler

    bus = bubus.EventBus(max_history_size=BUBUS_WINDOW)
    for index in range(HANDLERS):
        bus.on(Tick, make_handler(index))
    started = time.perf_counter()
    for sequence in range(n_events):
        bus.dispatch(Tick(sequence=sequence))
        if sequence % BUBUS_WINDOW == BUBUS_WINDOW - 1:
            await bus.wait_until_idle()
    await bus.wait_until_idle()
    elapsed = time.perf_counter() - started
    await bus.stop(clear=True)
    _check(calls, n_events, "bubus")
    return n_events / elapsed


def run(n_events: int) -> list[tuple[str, float]]:
    """(name, events/s) for every library and handler style, eventbus first per style."""
    bench_bus = _bench_bus()
    _import_peers()
    bubus_events = min(n_events, BUBUS_MAX_EVENTS)
    return [
        ("eventbus, 3 async handlers", asyncio.run(bench_bus.publish_rate(n_events))),
        ("pyee AsyncIOEventEmitter, 3 async handlers", asyncio.run(pyee_async(n_events))),
        ("blinker send_async, 3 async receivers", asyncio.run(blinker_async(n_events))),
        (
            f"bubus, 3 async handlers ({bubus_events} events)",
            asyncio.run(bubus_async(bubus_events)),
        ),
        (
            "eventbus, 3 sync handlers",
            asyncio.run(bench_bus.publish_rate(n_events, asynchronous=False)),
        ),
        ("pyee EventEmitter, 3 sync handlers", pyee_sync(n_events)),
        ("blinker send, 3 sync receivers", blinker_sync(n_events)),
    ]


def render(figures: list[tuple[str, float]]) -> str:
    """One line per library: events/s and eventbus's ratio for the same handler style."""
    lines = [f"{'publish, 3 handlers':<48} {'events/s':>12}   eventbus ratio"]
    ours = 0.0
    for name, rate in figures:
        if name.startswith("eventbus"):
            ours = rate
            lines.append(f"{name:<48} {rate:>12,.0f}")
        else:
            lines.append(f"{name:<48} {rate:>12,.0f}   {ours / rate:>6.1f}x")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "n_events", nargs="?", type=int, default=100_000, help="per round (default 100000)"
    )
    parser.add_argument("rounds", nargs="?", type=int, default=3, help="(default 3)")
    args = parser.parse_args()
    if args.n_events < 1 or args.rounds < 1:
        parser.error("n_events and rounds must be at least 1")
    n_events, rounds = args.n_events, args.rounds
    results = [run(n_events) for _ in range(rounds)]
    medians = [
        (name, statistics.median(result[index][1] for result in results))
        for index, (name, _) in enumerate(results[0])
    ]
    print(render(medians))
    print(f"(median of {rounds} rounds of {n_events} events)")


if __name__ == "__main__":
    main()
