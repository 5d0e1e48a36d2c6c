"""The asyncio edge of ``/v1/ws``: drives a NativeSession over a Starlette WebSocket.

Per connection: one reader task, one timer task, and one pump task per subscription. Live
messages are written in the publisher's own call (the subscription's listener), with no
task switch per viewer; the pump takes over the replayed backlog and whatever arrives while
a send has to wait. Sends are serialized per connection. A send blocked longer than
``ws_send_timeout`` means the viewer is too slow (4008): ``ConnectionSet`` checks that for
every connection once a second, instead of a timer per send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from starlette.websockets import WebSocket, WebSocketDisconnect

from captioncast.bus.base import Broker, EndReason, Subscription, SubscriptionEnded, UnknownChannel
from captioncast.web.eager import start_eagerly
from captioncast.web.services import Services
from captioncast.web.ws_session import (
    CLOSE_INTERNAL_ERROR,
    CLOSE_TOO_SLOW,
    Action,
    Close,
    NativeSession,
    Send,
    SessionLimits,
    Subscribe,
    Unsubscribe,
)

log = logging.getLogger(__name__)


class ConnectionSet:
    """The open native connections: shutdown closes them with 1001, and a watchdog task
    (running while any is open) ends those whose send has been blocked too long."""

    def __init__(self) -> None:
        self._open: set[NativeConnection] = set()
        self._watchdog: asyncio.Task[None] | None = None
        self._period = 1.0

    def add(self, conn: NativeConnection) -> None:
        self._open.add(conn)
        self._period = min(self._period, conn.send_timeout / 4)
        if self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().create_task(self._watch())

    def discard(self, conn: NativeConnection) -> None:
        self._open.discard(conn)
        if not self._open and self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._period)
            now = time.monotonic()
            for conn in list(self._open):
                conn.check_send(now)

    def __len__(self) -> int:
        return len(self._open)

    async def close_all(self, grace: float = 5.0) -> None:
        """Close every connection with 1001 Going Away and wait (bounded) until they are."""
        conns = list(self._open)
        for conn in conns:
            conn.shutdown()
        if conns:
            waiters = [asyncio.ensure_future(c.finished.wait()) for c in conns]
            _, pending = await asyncio.wait(waiters, timeout=grace)
            for waiter in pending:
                waiter.cancel()


class NativeConnection:
    """One viewer's WebSocket connection."""

    def __init__(self, websocket: WebSocket, services: Services) -> None:
        settings = services.settings
        self.ws = websocket
        self.broker: Broker = services.broker
        self.send_timeout = settings.ws_send_timeout
        self.close_timeout = settings.ws_close_timeout
        limits = SessionLimits(
            auth_timeout=settings.ws_auth_timeout,
            max_age=settings.ws_max_age,
            max_subscriptions=settings.ws_max_subscriptions,
            max_message_chars=settings.ws_max_message_chars,
        )
        verify = services.tokens.verifier_for_origin(websocket.headers.get("origin"))
        self.session = NativeSession(verify, services.channels.resolve, time.time(), limits)
        self.finished = asyncio.Event()
        self._done = asyncio.Event()
        self._close: Close | None = None
        self._peer_gone = False
        self._sending: asyncio.Task[None] | None = None  # a send that had to wait
        self._send_started = 0.0  # when it began (time.monotonic)
        self._send_idle = asyncio.Event()
        self._send_idle.set()
        self._subs: dict[str, Subscription] = {}
        self._pumps: dict[str, asyncio.Task[None]] = {}
        self._pump_holds: set[str] = set()  # channels whose pump holds an unsent envelope
        self._rearm = asyncio.Event()  # the session's next deadline moved

    async def run(self) -> None:
        """Serve the connection until either side ends it."""
        try:
            await self._apply(self.session.open(self.ws.query_params.get("token"), time.time()))
            tasks = [asyncio.create_task(self._read_loop()), asyncio.create_task(self._timer())]
            await self._done.wait()
            if self._sending is not None:
                tasks.append(self._sending)
            for task in [*tasks, *self._pumps.values()]:
                task.cancel()
            await asyncio.gather(*tasks, *self._pumps.values(), return_exceptions=True)
            for sub in self._subs.values():
                sub.close()
            if self._close is not None and not self._peer_gone:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        self.ws.close(self._close.code, self._close.reason[:120]),
                        self.close_timeout,
                    )
        finally:
            self.finished.set()

    def shutdown(self) -> None:
        """Close with 1001 because the server is going away."""
        for action in self.session.server_shutdown():
            if isinstance(action, Close):
                self._finish(action)

    def _finish(self, close: Close | None) -> None:
        if not self._done.is_set():
            self._close = close
            self._done.set()

    async def _apply(self, actions: list[Action]) -> None:
        for action in actions:
            if self._done.is_set():
                return
            if isinstance(action, Send):
                await self._send(action.text)
            elif isinstance(action, Subscribe):
                await self._subscribe(action)
            elif isinstance(action, Unsubscribe):
                self._unsubscribe(action.channel)
            else:
                self._finish(action)

    def check_send(self, now: float) -> None:
        """Close the connection as too slow if a send has been blocked past the timeout."""
        if self._sending is not None and now - self._send_started > self.send_timeout:
            self._finish(Close(CLOSE_TOO_SLOW, "too slow"))
            self._sending.cancel()

    async def _send(self, text: str) -> None:
        """Send after any send in progress; returns once written (or the peer is gone)."""
        while self._sending is not None:
            await self._send_idle.wait()
        if self._start_send(text):
            await self._send_idle.wait()

    def _start_send(self, text: str) -> bool:
        """Write ``text`` now if the socket takes it; True if the send has to wait (then
        ``_sending`` finishes it and no other send starts until it has)."""
        if self._done.is_set():
            return False
        try:
            pending = start_eagerly(self.ws.send_text(text))
        except (OSError, RuntimeError, WebSocketDisconnect):
            self._gone()
            return False
        if pending is None:
            return False
        self._sending = pending
        self._send_started = time.monotonic()
        self._send_idle.clear()
        pending.add_done_callback(self._sent)
        return True

    def _sent(self, pending: asyncio.Task[None]) -> None:
        self._sending = None
        self._send_idle.set()
        if not pending.cancelled() and pending.exception() is not None:
            self._gone()

    def _gone(self) -> None:
        self._peer_gone = True
        self._finish(None)

    def _listener(self, sub: Subscription) -> Callable[[], bool]:
        """Deliver live envelopes in the publisher's call while nothing else is sending."""

        def deliver() -> bool:
            if self._sending is not None or sub.channel in self._pump_holds:
                return False
            try:
                while not self._done.is_set() and (envelope := sub.poll()) is not None:
                    if self._start_send(envelope.text):
                        return False  # the pump goes on once this send is done
            except SubscriptionEnded:
                return False
            return True

        return deliver

    async def _subscribe(self, action: Subscribe) -> None:
        try:
            sub = await self.broker.subscribe(action.channel, action.since)
        except UnknownChannel:
            await self._apply(self.session.subscribe_failed(action.channel))
            return
        self._subs[action.channel] = sub
        await self._apply(self.session.subscribed(action.channel, sub.recovered, sub.position))
        self._pumps[action.channel] = asyncio.create_task(self._pump(sub))

    def _unsubscribe(self, channel: str) -> None:
        pump = self._pumps.pop(channel, None)
        if pump is not None:
            pump.cancel()
        sub = self._subs.pop(channel, None)
        if sub is not None:
            sub.close()

    async def _pump(self, sub: Subscription) -> None:
        sub.set_listener(self._listener(sub))
        while not self._done.is_set():
            self._pump_holds.discard(sub.channel)
            try:
                envelope = await sub.get()
            except SubscriptionEnded as ended:
                if ended.reason is not EndReason.UNSUBSCRIBED:
                    self._subs.pop(sub.channel, None)
                    self._pumps.pop(sub.channel, None)
                    await self._apply(self.session.subscription_ended(sub.channel, ended.reason))
                return
            self._pump_holds.add(sub.channel)
            await self._send(envelope.text)

    async def _read_loop(self) -> None:
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    self._peer_gone = True
                    self._finish(None)
                    return
                text = message.get("text")
                deadline = self.session.next_deadline()
                if text is None:
                    actions = self.session.receive_binary()
                else:
                    actions = self.session.receive(text, time.time())
                if self.session.next_deadline() != deadline:
                    self._rearm.set()
                await self._apply(actions)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("native WebSocket connection failed")
            self._finish(Close(CLOSE_INTERNAL_ERROR, "internal error"))

    async def _timer(self) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation
        # that arrives as the event is set, and this task would outlive its connection.
        while not self._done.is_set():
            delay = max(0.0, self.session.next_deadline() - time.time()) + 0.01
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._rearm.wait()
            self._rearm.clear()
            await self._apply(self.session.tick(time.time()))


async def serve_native(websocket: WebSocket, services: Services) -> None:
    """Accept and serve one ``/v1/ws`` connection."""
    await websocket.accept()
    conn = NativeConnection(websocket, services)
    services.connections.add(conn)
    try:
        await conn.run()
    finally:
        services.connections.discard(conn)
