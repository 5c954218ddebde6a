"""The bus: commands executed directly, events queued and fanned out by one worker task.

EventBus is built in three layers, each in its own module, each using only the ones below:
routing (eventbus.routing: handler tables and cached routes), dispatch (eventbus.dispatch: the
queue's worker, middleware, failure reports and traces) and this one: admitting events into
the bounded queue (the backpressure policies), executing commands, the lifecycle (start, join,
stop), statistics and sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from types import TracebackType
from typing import TypeVar

import msgspec

from eventbus.backpressure import Backpressure
from eventbus.context import ContextLimits
from eventbus.dispatch import Dispatcher
from eventbus.errors import (
    BusClosedError,
    BusNotRunningError,
    CommandTimeoutError,
    QueueFullError,
)
from eventbus.messages import Command, Event, describe, new_message_id
from eventbus.session import Session
from eventbus.stats import BusStats
from eventbus.tasks import bounded as _bounded
from eventbus.tasks import spawn_worker as _spawn_worker
from eventbus.trace import Trace

R = TypeVar("R")

log = logging.getLogger("eventbus")
_perf_ns = time.perf_counter_ns
_now = time.time


class StopReport(msgspec.Struct, frozen=True, kw_only=True):
    """What stop() did: how many queued events it delivered and which it could not."""

    delivered: int
    undelivered: tuple[Event, ...]
    timed_out: bool
    elapsed_s: float

    @property
    def complete(self) -> bool:
        return not self.undelivered


class EventBus(Dispatcher):
    """An asyncio message bus.

    `max_queue` bounds the event queue; `policy` says what a full queue does (see Backpressure);
    `put_timeout` bounds the wait of the WAIT policy (None waits forever); the worker yields to
    the event loop every `yield_every` events so a long burst does not starve other tasks.
    """

    def __init__(
        self,
        *,
        max_queue: int = 10_000,
        policy: Backpressure | str = Backpressure.WAIT,
        put_timeout: float | None = 5.0,
        yield_every: int = 256,
    ) -> None:
        if max_queue < 1:
            raise ValueError(f"max_queue must be at least 1, got {max_queue}")
        if yield_every < 1:
            raise ValueError(f"yield_every must be at least 1, got {yield_every}")
        super().__init__(yield_every=yield_every)
        self.max_queue = max_queue
        self.policy = Backpressure(policy)
        self.put_timeout = put_timeout
        self._sessions: dict[str, Session] = {}
        self._stop_report: StopReport | None = None

    # ------------------------------------------------------------------ sessions

    def session(
        self, session_id: str | None = None, *, limits: ContextLimits | None = None
    ) -> Session:
        """Open a session: a scope for handlers and a context store; close() undoes it all."""
        return Session(self, session_id or f"s-{new_message_id()}", limits)

    def _attach_session(self, session: Session) -> None:
        if session.id in self._sessions:
            raise ValueError(f"a session with id {session.id!r} is already open")
        self._sessions[session.id] = session

    def _detach_session(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)
        self._scoped.pop(session_id, None)
        # Dicts never shrink on delete; start fresh ones so memory returns after a wave.
        if not self._sessions:
            self._sessions = {}
        if not self._scoped:
            self._scoped = {}

    # ------------------------------------------------------------------ messaging

    async def publish(self, event: Event) -> None:
        """Queue `event` for its subscribers; a full queue applies the bus policy."""
        if not isinstance(event, Event):
            raise TypeError(f"publish() takes an Event, got {type(event).__name__}")
        if self._pacers:
            for pacer in self._pacers:
                if pacer.behind:  # no coroutine per event while the observer keeps up
                    await pacer.room()
        self._counters.published += 1
        if self._closing:
            self._refuse(event, BusClosedError(f"bus is stopped; {describe(event)} not accepted"))
        queue = self._queue
        if len(queue) + self._reserved < self.max_queue and not self._space_waiters:
            self._queued_at.append(_perf_ns())
            queue.append(event)
            wakeup = self._wakeup
            if wakeup is not None:
                self._wakeup = None
                if not wakeup.done():
                    wakeup.set_result(None)
            if self._observer_calls:  # _emit's body, inlined: the hot path's trace
                trace = Trace(kind="published", message=event, at=_now())
                for call in self._observer_calls:
                    try:
                        call(trace)
                    except Exception:
                        self._counters.observer_errors += 1
            return
        if self.policy is not Backpressure.WAIT:
            self._overflow(event)
        elif self._task is not None and asyncio.current_task() is self._task:
            # A handler waiting for space would wait for itself: the worker frees the space.
            self._refuse(event, QueueFullError(self._full_message(event) + " from a handler"))
        else:
            await self._wait_for_space(event)

    def publish_nowait(self, event: Event) -> None:
        """publish() without waiting: under the WAIT policy a full queue raises QueueFullError."""
        if not isinstance(event, Event):
            raise TypeError(f"publish_nowait() takes an Event, got {type(event).__name__}")
        self._counters.published += 1
        if self._closing:
            self._refuse(event, BusClosedError(f"bus is stopped; {describe(event)} not accepted"))
        if len(self._queue) + self._reserved < self.max_queue and not self._space_waiters:
            self._enqueue(event)
        elif self.policy is Backpressure.WAIT:
            self._refuse(event, QueueFullError(self._full_message(event)))
        else:
            self._overflow(event)

    async def execute(self, command: Command[R], timeout: float | None = None) -> R:
        """Run the one handler of `command` and return its result (or raise its error).

        `timeout` (seconds) bounds async handlers: CommandTimeoutError when it passes.
        """
        if not isinstance(command, Command):
            raise TypeError(f"execute() takes a Command, got {type(command).__name__}")
        if self._closing:
            raise BusClosedError(f"bus is stopped; {describe(command)} not executed")
        registration = self._command_registration(command)
        counters = self._counters
        counters.commands += 1
        started = _perf_ns()
        try:
            if self._command_chain is not None:
                result: R = await _bounded(self._command_chain(command), timeout, command)
            elif not registration.is_async:
                result = registration.handler(command)
            elif timeout is None:
                result = await registration.handler(command)
            else:
                result = await _bounded(registration.handler(command), timeout, command)
        except Exception as exc:
            counters.commands_failed += 1
            if isinstance(exc, CommandTimeoutError):
                counters.command_timeouts += 1
            self._command_latency.record_ns(_perf_ns() - started)
            await self._record_failure(command, registration.handler, exc)
            raise
        self._command_latency.record_ns(_perf_ns() - started)
        if self._observers:
            self._emit("executed", command, latency_s=(_perf_ns() - started) / 1e9)
        return result

    # ------------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def closed(self) -> bool:
        return self._closing

    async def start(self) -> None:
        """Start the worker that drains the queue (events published before are delivered)."""
        if self._closing:
            raise BusClosedError("a stopped bus cannot be started again; create a new one")
        if self._task is None:
            self._task = _spawn_worker(self._work())

    async def join(self) -> None:
        """Wait until every queued event has been dispatched."""
        while self._queue or self._current is not None or self._waiting:
            if not self.running:
                raise BusNotRunningError("join() needs a started bus; call start() first")
            waiter = asyncio.get_running_loop().create_future()
            self._idle_waiters.append(waiter)
            await waiter

    async def stop(self, deadline: float = 5.0) -> StopReport:
        """Refuse new messages, deliver what is queued within `deadline` seconds, then halt.

        Events still queued (or cut off mid-dispatch) at the deadline are counted as
        undelivered, traced, and returned in the report so the caller can keep them.
        """
        if self._stop_report is not None:
            return self._stop_report
        began = time.perf_counter()
        self._closing = True
        before = self._counters.delivered
        while self._space_waiters:
            waiter = self._space_waiters.popleft()
            if not waiter.done():
                waiter.set_exception(BusClosedError("bus stopped while waiting for queue space"))
        if self._task is None and self._queue:
            self._task = _spawn_worker(self._work())
        timed_out = False
        if self._task is not None:
            self._wake_worker()
            done, _ = await asyncio.wait({self._task}, timeout=deadline)
            if not done:
                timed_out = True
                self._abandoned = True  # even if a handler swallows the cancellation
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            elif not self._task.cancelled() and self._task.exception() is not None:
                log.error("eventbus worker died", exc_info=self._task.exception())
        left: list[Event] = list(self._queue)
        self._queue.clear()
        self._queued_at.clear()
        if self._current is not None:
            left.insert(0, self._current)
            self._current = None
        self._counters.undelivered += len(left)
        for event in left:
            self._emit("undelivered", event)
        self._release_idle_waiters()
        self._stop_report = StopReport(
            delivered=self._counters.delivered - before,
            undelivered=tuple(left),
            timed_out=timed_out,
            elapsed_s=time.perf_counter() - began,
        )
        return self._stop_report

    async def __aenter__(self) -> EventBus:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def stats(self) -> BusStats:
        c = self._counters
        return BusStats(
            published=c.published,
            delivered=c.delivered,
            failed=c.failed,
            dropped=c.dropped,
            rejected=c.rejected,
            undelivered=c.undelivered,
            queue_depth=len(self._queue),
            in_flight=0 if self._current is None else 1,
            waiting=self._waiting,
            handler_calls=c.handler_calls,
            commands=c.commands,
            commands_failed=c.commands_failed,
            command_timeouts=c.command_timeouts,
            observer_errors=c.observer_errors,
            sessions=len(self._sessions),
            event_latency=self._event_latency.snapshot(),
            command_latency=self._command_latency.snapshot(),
        )

    # ------------------------------------------------------------------ backpressure

    def _enqueue(self, event: Event) -> None:
        self._queued_at.append(_perf_ns())
        self._queue.append(event)
        self._wake_worker()
        if self._observers:
            self._emit("published", event)

    def _overflow(self, event: Event) -> None:
        if self.policy is Backpressure.REJECT:
            self._refuse(event, QueueFullError(self._full_message(event)))
        elif self.policy is Backpressure.DROP_NEWEST:
            self._drop(event)
        else:  # DROP_OLDEST
            oldest = self._queue.popleft()
            self._queued_at.popleft()
            self._drop(oldest)
            self._enqueue(event)

    async def _wait_for_space(self, event: Event) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._space_waiters.append(waiter)
        self._waiting += 1
        try:
            try:
                if self.put_timeout is None:
                    await waiter
                else:
                    await asyncio.wait_for(waiter, self.put_timeout)
            except asyncio.TimeoutError:
                self._forget_waiter(waiter)
                self._refuse(event, QueueFullError(self._full_message(event, self.put_timeout)))
            except BusClosedError as exc:
                self._refuse(event, exc)
            except asyncio.CancelledError:
                self._forget_waiter(waiter)
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                    self._reserved -= 1  # we were granted a slot we will not use: pass it on
                    self._grant_space()
                self._counters.rejected += 1
                self._emit("rejected", event, error="publisher cancelled while waiting for space")
                raise
            self._reserved -= 1
            self._enqueue(event)
        finally:
            self._waiting -= 1
            if self._closing:
                self._wake_worker()  # a stopping worker waits for the last waiters to settle

    def _forget_waiter(self, waiter: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):
            self._space_waiters.remove(waiter)

    def _drop(self, event: Event) -> None:
        self._counters.dropped += 1
        self._emit(
            "dropped", event, error=f"queue full ({self.max_queue}), policy {self.policy.value}"
        )

    def _refuse(self, event: Event, error: Exception) -> None:
        self._counters.rejected += 1
        self._emit("rejected", event, error=str(error))
        raise error

    def _full_message(self, event: Event, waited: float | None = None) -> str:
        after = f" after waiting {waited} s" if waited is not None else ""
        return (
            f"bus queue full ({self.max_queue} events){after}; {describe(event)} rejected "
            f"(policy {self.policy.value})"
        )
