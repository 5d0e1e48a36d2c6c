"""The asyncio edge of ``/v1/ws``: drives a NativeSession over a Starlette WebSocket.

Per connection: one reader task, one timer task, and one pump task per subscription that
moves envelopes from the broker's bounded queue to the socket. Sends are serialized by a
lock; a send blocked longer than ``ws_send_timeout`` means the viewer is too slow (4008).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from starlette.websockets import WebSocket, WebSocketDisconnect

from captioncast.bus.base import Broker, EndReason, Subscription, SubscriptionEnded, UnknownChannel
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
    """The open native connections, so that shutdown can close them with 1001."""

    def __init__(self) -> None:
        self._open: set[NativeConnection] = set()

    def add(self, conn: NativeConnection) -> None:
        self._open.add(conn)

    def discard(self, conn: NativeConnection) -> None:
        self._open.discard(conn)

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
        self._send_lock = asyncio.Lock()
        self._subs: dict[str, Subscription] = {}
        self._pumps: dict[str, asyncio.Task[None]] = {}
        self._rearm = asyncio.Event()  # the session's next deadline moved

    async def run(self) -> None:
        """Serve the connection until either side ends it."""
        try:
            await self._apply(self.session.open(self.ws.query_params.get("token"), time.time()))
            tasks = [asyncio.create_task(self._read_loop()), asyncio.create_task(self._timer())]
            await self._done.wait()
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

    async def _send(self, text: str) -> None:
        async with self._send_lock:
            if self._done.is_set():
                return
            try:
                await asyncio.wait_for(self.ws.send_text(text), self.send_timeout)
            except TimeoutError:
                self._finish(Close(CLOSE_TOO_SLOW, "too slow"))
            except (OSError, RuntimeError, WebSocketDisconnect):
                self._peer_gone = True
                self._finish(None)

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
        while not self._done.is_set():
            try:
                envelope = await sub.get()
            except SubscriptionEnded as ended:
                if ended.reason is not EndReason.UNSUBSCRIBED:
                    self._subs.pop(sub.channel, None)
                    self._pumps.pop(sub.channel, None)
                    await self._apply(self.session.subscription_ended(sub.channel, ended.reason))
                return
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
        while True:
            delay = max(0.0, self.session.next_deadline() - time.time()) + 0.01
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._rearm.wait(), delay)
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
