"""Property: whatever the policy, queue size, publishing pattern and handler failures, the
statistics account for every event and delivery keeps publish order."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from eventbus import Backpressure, EventBus, QueueFullError
from tests.eventbus.support import Ping, Recorder, run

steps = st.lists(
    st.tuples(
        st.sampled_from(["publish", "publish_nowait", "yield"]),
        st.booleans(),  # does a handler fail on this event?
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(
    policy=st.sampled_from(list(Backpressure)),
    max_queue=st.integers(min_value=1, max_value=8),
    started=st.booleans(),
    plan=steps,
)
def test_every_event_is_accounted_for(
    policy: Backpressure, max_queue: int, started: bool, plan: list[tuple[str, bool]]
) -> None:
    delivered: list[int] = []
    failing = {n for n, (_, fails) in enumerate(plan) if fails}

    def handler(event: Ping) -> None:
        delivered.append(event.n)
        if event.n in failing:
            raise ValueError(f"event {event.n} fails")

    async def scenario() -> tuple[EventBus, Recorder, int]:
        bus = EventBus(max_queue=max_queue, policy=policy, put_timeout=0.001)
        recorder = Recorder()
        bus.observe(recorder)
        bus.subscribe(Ping, handler)
        if started:
            await bus.start()
        refused = 0
        for n, (action, _) in enumerate(plan):
            try:
                if action == "publish":
                    await bus.publish(Ping(n=n))
                elif action == "publish_nowait":
                    bus.publish_nowait(Ping(n=n))
                else:
                    await asyncio.sleep(0)
            except QueueFullError:
                refused += 1
        await bus.stop()
        return bus, recorder, refused

    bus, recorder, refused = run(scenario())
    stats = bus.stats()
    events = sum(1 for action, _ in plan if action != "yield")
    failures = len(failing & set(delivered))
    assert stats.published == events + failures  # + one HandlerFailed per failure
    assert stats.delivered + stats.dropped + stats.rejected + stats.undelivered == stats.published
    assert stats.rejected == refused
    assert stats.undelivered == 0  # stop() had time to drain
    assert stats.failed == failures
    assert delivered == sorted(delivered)  # FIFO
    assert len(recorder.kinds("dropped")) == stats.dropped
    assert len(recorder.kinds("rejected")) == stats.rejected
    assert len(recorder.kinds("delivered")) == stats.delivered
    assert stats.accounted
