"""The bus's delivering layer: one worker task drains the event queue into the handlers.

Events go through a bounded FIFO queue (a deque) drained by a single worker that awaits each
handler directly (no task per handler: about 17x cheaper). With routes cached (see
eventbus.routing) the hot path is: pop, look up the route, call the handlers. Middleware
chains, handler failures (counted, traced, announced as HandlerFailed) and the traces sent to
observers live here too; admitting events into the queue is eventbus.bus's part.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import types
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, cast

from eventbus.messages import Event, HandlerFailed, Message
from eventbus.middleware import Middleware, Next, build_chain
from eventbus.registry import Handler, handler_name
from eventbus.routing import Routing
from eventbus.stats import Counters, LatencyHistogram
from eventbus.tasks import cancelling as _cancelling
from eventbus.trace import Trace, TraceKind

Observer = Callable[[Trace], None]


class Pacer(Protocol):
    """An observer that makes publish() wait while it is behind (its room() bounds the wait)."""

    paces_publishers: bool
    behind: bool  # publish() awaits room() only while this is true

    async def room(self) -> None: ...


_perf_ns = time.perf_counter_ns
_now = time.time
_PLAIN_CALLABLES = (types.FunctionType, types.BuiltinFunctionType, types.MethodType)


class Dispatcher(Routing):
    """The queue, its worker and what it reports; the middle layer of EventBus."""

    def __init__(self, *, yield_every: int) -> None:
        super().__init__()
        self.yield_every = yield_every
        self.failures: deque[Trace] = deque(maxlen=100)
        self._counters = Counters()
        self._event_latency = LatencyHistogram()
        self._command_latency = LatencyHistogram()
        # The queue, and beside it when each event entered it (perf_counter_ns), in step: two
        # deques instead of one of (time, event) tuples, whose allocation made the cycle
        # collector run and walk the whole queue once traces kept messages alive for longer.
        self._queue: deque[Event] = deque()
        self._queued_at: deque[int] = deque()
        self._middlewares: list[Middleware] = []
        self._event_chain: Next | None = None
        self._command_chain: Next | None = None
        self._observers: tuple[Observer, ...] = ()
        self._observer_calls: tuple[Observer, ...] = ()  # see _set_observers
        self._pacers: tuple[Pacer, ...] = ()  # observers publish() waits for (see observe())
        self._space_waiters: deque[asyncio.Future[None]] = deque()
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._reserved = 0
        self._waiting = 0
        self._wakeup: asyncio.Future[None] | None = None
        self._current: Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._abandoned = False

    # ------------------------------------------------------------------ middleware, observers

    def use(self, middleware: Middleware) -> Callable[[], None]:
        """Wrap every dispatch in `middleware` (first added is outermost); returns a remover."""
        self._middlewares.append(middleware)
        self._rebuild_chains()

        def remove() -> None:
            if middleware in self._middlewares:
                self._middlewares.remove(middleware)
                self._rebuild_chains()

        return remove

    def observe(self, observer: Observer) -> Callable[[], None]:
        """Send every Trace to `observer` (a cheap sync callable); returns a remover.

        An observer that raises is counted in `observer_errors` and never stops the bus. An
        observer with a true `paces_publishers` attribute and an async `room()` method (a
        JsonlFileHandler with overflow="block") slows publishing down: publish() awaits its
        `room()` first, which bounds the wait itself.
        """
        self._set_observers((*self._observers, observer))
        if getattr(observer, "paces_publishers", False):
            self._pacers = (*self._pacers, cast(Pacer, observer))

        def remove() -> None:
            self._set_observers(tuple(o for o in self._observers if o is not observer))
            self._pacers = tuple(p for p in self._pacers if p is not cast(Pacer, observer))

        return remove

    def _set_observers(self, observers: tuple[Observer, ...]) -> None:
        """The observers, and what _emit calls for each: an instance of a class with a Python
        ``__call__`` (a handler object) is called through its bound method, which skips the
        slot lookup of calling the instance (a tenth of a trace's cost)."""
        self._observers = observers
        self._observer_calls = tuple(
            observer.__call__  # type: ignore[operator]
            if not isinstance(observer, _PLAIN_CALLABLES)
            and isinstance(
                inspect.getattr_static(type(observer), "__call__", None), types.FunctionType
            )
            else observer
            for observer in observers
        )

    # ------------------------------------------------------------------ worker

    async def _work(self) -> None:
        queue = self._queue
        queued_at = self._queued_at
        counters = self._counters
        routes = self._global.routes
        buckets = self._event_latency.counts
        budget = self.yield_every
        try:
            while not self._abandoned:
                if not queue:
                    self._release_idle_waiters()
                    if self._closing and not self._waiting:
                        return
                    wakeup = asyncio.get_running_loop().create_future()
                    self._wakeup = wakeup
                    await wakeup
                    continue
                event = queue.popleft()
                entered = queued_at.popleft()
                self._current = event
                if self._space_waiters:
                    self._grant_space()
                if self._event_chain is None:
                    # _fan_out's body, inlined: the hot path (no middleware) saves a coroutine
                    # per event. Keep the two in step.
                    session_id = event.session_id
                    if session_id is None or session_id not in self._scoped:
                        route = routes.get(type(event))
                        if route is None:
                            route = self._resolve_global(type(event))
                    else:
                        route = self._resolve_scoped(session_id, type(event))
                    for handler, is_async in route:
                        try:
                            if is_async:
                                await handler(event)
                            else:
                                handler(event)
                        except Exception as exc:
                            await self._record_failure(event, handler, exc)
                        except asyncio.CancelledError as exc:
                            if _cancelling():
                                raise
                            await self._record_failure(event, handler, exc)
                    counters.handler_calls += len(route)
                else:
                    await self._through_middleware(event)
                self._current = None
                counters.delivered += 1
                elapsed = _perf_ns() - entered
                buckets[elapsed.bit_length()] += 1
                if self._observer_calls:  # _emit's body, inlined (as in publish())
                    trace = Trace(
                        kind="delivered", message=event, at=_now(), latency_s=elapsed / 1e9
                    )
                    for call in self._observer_calls:
                        try:
                            call(trace)
                        except Exception:
                            counters.observer_errors += 1
                budget -= 1
                if not budget:
                    budget = self.yield_every
                    await asyncio.sleep(0)
        finally:
            self._wakeup = None
            self._release_idle_waiters()  # join() re-checks and reports a dead worker

    async def _through_middleware(self, event: Event) -> None:
        assert self._event_chain is not None
        try:
            await self._event_chain(event)
        except Exception as exc:
            await self._record_failure(event, self._event_chain, exc)
        except asyncio.CancelledError as exc:
            if _cancelling():
                raise
            await self._record_failure(event, self._event_chain, exc)

    async def _fan_out(self, message: Message) -> None:
        """Innermost step of the event middleware chain: every handler, in priority order."""
        assert isinstance(message, Event)
        route = self._route_for(message)
        for handler, is_async in route:
            try:
                if is_async:
                    await handler(message)
                else:
                    handler(message)
            except Exception as exc:
                await self._record_failure(message, handler, exc)
            except asyncio.CancelledError as exc:
                if _cancelling():
                    raise
                await self._record_failure(message, handler, exc)
        self._counters.handler_calls += len(route)

    async def _call_command_handler(self, message: Message) -> Any:
        """Innermost step of the command middleware chain."""
        registration = self._command_registration(message)
        if registration.is_async:
            return await registration.handler(message)
        return registration.handler(message)

    async def _record_failure(self, message: Message, handler: Handler, exc: BaseException) -> None:
        """Count, trace and announce a handler failure; failures of failure handlers stop here."""
        if isinstance(message, Event):
            self._counters.failed += 1
        name = handler_name(handler)
        text = _safe_str(exc)
        error = f"{type(exc).__name__}: {text}"
        trace = Trace(kind="failed", message=message, at=time.time(), handler=name, error=error)
        self.failures.append(trace)
        self._notify(trace)
        if isinstance(message, HandlerFailed):
            return
        failure = HandlerFailed(
            message_type=type(message).__name__,
            message_id=message.id,
            handler=name,
            error_type=type(exc).__name__,
            error=text,
        ).caused_by(message)
        # Delivered at once, not queued: a full queue must not swallow failure reports.
        self._counters.published += 1
        if self._observers:
            self._emit("published", failure)
        if self._event_chain is None:
            await self._fan_out(failure)
        else:
            await self._through_middleware(failure)
        self._counters.delivered += 1
        if self._observers:
            self._emit("delivered", failure)

    # ------------------------------------------------------------------ queue slots and waiters

    def _wake_worker(self) -> None:
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            if not wakeup.done():
                wakeup.set_result(None)

    def _grant_space(self) -> None:
        """Hand a free queue slot to the longest-waiting publisher."""
        while self._space_waiters:
            waiter = self._space_waiters.popleft()
            if not waiter.done():
                self._reserved += 1
                waiter.set_result(None)
                return

    def _release_idle_waiters(self) -> None:
        waiters, self._idle_waiters = self._idle_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # ------------------------------------------------------------------ middleware

    def _rebuild_chains(self) -> None:
        if self._middlewares:
            self._event_chain = build_chain(self._middlewares, self._fan_out)
            self._command_chain = build_chain(self._middlewares, self._call_command_handler)
        else:
            self._event_chain = self._command_chain = None

    # ------------------------------------------------------------------ observability

    def _emit(
        self,
        kind: TraceKind,
        message: Message,
        *,
        error: str | None = None,
        latency_s: float | None = None,
    ) -> None:
        if self._observers:  # _notify's body, inlined: two traces per event on the hot path
            trace = Trace(kind=kind, message=message, at=_now(), error=error, latency_s=latency_s)
            for call in self._observer_calls:
                try:
                    call(trace)
                except Exception:
                    self._counters.observer_errors += 1

    def _notify(self, trace: Trace) -> None:
        for call in self._observer_calls:
            try:
                call(trace)
            except Exception:
                self._counters.observer_errors += 1


def _safe_str(exc: BaseException) -> str:
    """str(exc), even for exceptions whose __str__ raises."""
    try:
        return str(exc)
    except Exception:
        return f"<unprintable {type(exc).__name__}>"
