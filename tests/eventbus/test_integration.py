"""Complete flows: a command whose handler publishes events, handlers that publish follow-ups,
failures propagating to callers and observers, and a session's life from open to close."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from eventbus import (
    Command,
    Event,
    EventBus,
    HandlerFailed,
    JsonlFileHandler,
    Message,
    Next,
    TraceFilter,
)
from tests.eventbus.support import run


class PlaceOrder(Command[str]):
    item: str
    quantity: int


class OrderPlaced(Event):
    order_id: str
    item: str
    quantity: int


class StockReserved(Event):
    order_id: str


class ConfirmationSent(Event):
    order_id: str


class OutOfStock(Exception):
    pass


class Shop:
    """A small application wired onto a bus, as a user would write it."""

    def __init__(self, bus: EventBus, stock: dict[str, int]) -> None:
        self.bus = bus
        self.stock = stock
        self.outbox: list[str] = []
        self.analytics_calls = 0
        bus.handle(PlaceOrder, self.place_order)
        bus.subscribe(OrderPlaced, self.reserve_stock, priority=10)
        bus.subscribe(OrderPlaced, self.analytics)
        bus.subscribe(StockReserved, self.send_confirmation)
        bus.subscribe(ConfirmationSent, lambda e: self.outbox.append(e.order_id))

    async def place_order(self, command: PlaceOrder) -> str:
        if self.stock.get(command.item, 0) < command.quantity:
            raise OutOfStock(f"only {self.stock.get(command.item, 0)} {command.item} left")
        order_id = f"order-{command.id}"
        await self.bus.publish(
            OrderPlaced(order_id=order_id, item=command.item, quantity=command.quantity).caused_by(
                command
            )
        )
        return order_id

    async def reserve_stock(self, event: OrderPlaced) -> None:
        await asyncio.sleep(0)
        self.stock[event.item] -= event.quantity
        await self.bus.publish(StockReserved(order_id=event.order_id).caused_by(event))

    def analytics(self, event: OrderPlaced) -> None:
        self.analytics_calls += 1
        if event.quantity > 5:
            raise RuntimeError("analytics cannot count that high")

    def send_confirmation(self, event: StockReserved) -> None:
        self.bus.publish_nowait(ConfirmationSent(order_id=event.order_id).caused_by(event))


def test_command_to_event_chain_with_correlation_failures_and_a_log(tmp_path: Path) -> None:
    log_path = tmp_path / "shop.jsonl"
    failures: list[HandlerFailed] = []

    async def scenario() -> tuple[EventBus, Shop, list[str]]:
        async with (
            JsonlFileHandler(log_path, filter=TraceFilter(kinds=["delivered", "failed"])) as log,
            EventBus() as bus,
        ):
            bus.observe(log)
            shop = Shop(bus, {"apple": 10})
            bus.subscribe(HandlerFailed, failures.append)
            orders = [
                await bus.execute(PlaceOrder(item="apple", quantity=2), timeout=5),
                await bus.execute(PlaceOrder(item="apple", quantity=6), timeout=5),
            ]
            await bus.join()  # stock is reserved by event handlers, asynchronously
            with pytest.raises(OutOfStock, match="only 2 apple left"):
                await bus.execute(PlaceOrder(item="apple", quantity=3))
            await bus.join()
        return bus, shop, orders

    bus, shop, orders = run(scenario())
    assert shop.stock == {"apple": 2}
    assert shop.outbox == orders
    assert shop.analytics_calls == 2
    stats = bus.stats()
    assert stats.commands == 3 and stats.commands_failed == 1
    assert stats.failed == 1  # analytics on the big order
    assert [f.message_type for f in failures] == ["OrderPlaced", "PlaceOrder"]
    assert stats.accounted

    lines = [json.loads(line) for line in log_path.read_bytes().splitlines()]
    delivered = [line["message"] for line in lines if line["kind"] == "delivered"]
    # Every event of the first order shares the command's id as correlation id.
    first = [m for m in delivered if m.get("order_id") == orders[0]]
    assert [m["type"] for m in first] == ["OrderPlaced", "StockReserved", "ConfirmationSent"]
    assert len({m["correlation_id"] for m in first}) == 1
    assert first[1]["causation_id"] == first[0]["id"]
    assert first[2]["causation_id"] == first[1]["id"]
    failed = [line for line in lines if line["kind"] == "failed"]
    assert [line["message"]["type"] for line in failed] == ["OrderPlaced", "PlaceOrder"]


def test_middleware_sees_the_whole_flow() -> None:
    timeline: list[str] = []

    async def audit(message: Message, call_next: Next) -> object:
        timeline.append(f">{type(message).__name__}")
        try:
            return await call_next(message)
        finally:
            timeline.append(f"<{type(message).__name__}")

    async def scenario() -> None:
        async with EventBus() as bus:
            bus.use(audit)
            Shop(bus, {"pear": 1})
            await bus.execute(PlaceOrder(item="pear", quantity=1))
            await bus.join()

    run(scenario())
    assert timeline == [
        ">PlaceOrder",
        "<PlaceOrder",
        ">OrderPlaced",
        "<OrderPlaced",
        ">StockReserved",
        "<StockReserved",
        ">ConfirmationSent",
        "<ConfirmationSent",
    ]


def test_session_lifecycle_end_to_end() -> None:
    seen: list[str] = []

    async def scenario() -> EventBus:
        async with EventBus() as bus:
            shop = Shop(bus, {"fig": 5})
            async with bus.session("alice") as alice:
                alice.subscribe(ConfirmationSent, lambda e: seen.append(f"alice:{e.order_id}"))
                alice.context["cart"] = ["fig"]
                order = await alice.execute(PlaceOrder(item="fig", quantity=1))
                await bus.join()
                assert [type(m).__name__ for m in alice.context.history] == ["PlaceOrder"]
                assert bus.stats().sessions == 1
            # After close: the session's handler is gone, global handlers still run.
            await bus.execute(PlaceOrder(item="fig", quantity=1, session_id="alice"))
            await bus.join()
            assert shop.outbox[0] == order and len(shop.outbox) == 2
        return bus

    bus = run(scenario())
    assert len(seen) == 1 and seen[0].startswith("alice:order-")
    assert bus.stats().sessions == 0 and bus.stats().accounted
