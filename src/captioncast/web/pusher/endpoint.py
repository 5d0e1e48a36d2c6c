"""The asyncio edge of the Pusher protocol: ``/app/{key}`` WebSockets and caption relays.

``PusherGateway`` is the app at run time: the pure ``ChannelDirectory`` every connection
shares, the open connections by socket id, and one relay per occupied Pusher channel backed
by a caption channel (one broker subscription; each message is serialized once per channel
and queued to every subscriber). Per connection: a reader task, a writer task draining the
connection's bounded ``Outbox`` (overflow, or one send blocked longer than
``ws_send_timeout``, closes it with 4100), and a timer task for pings and the maximum age.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket, WebSocketDisconnect

from captioncast.bus.base import Broker, EndReason, Subscription, SubscriptionEnded, UnknownChannel
from captioncast.core.channels import ChannelInfo
from captioncast.core.replay import Envelope, StreamPosition
from captioncast.web.pusher import frames
from captioncast.web.pusher.config import PusherApp
from captioncast.web.pusher.directory import ChannelDirectory, Deliver, Unwatch, Watch
from captioncast.web.pusher.outbox import Outbox
from captioncast.web.pusher.protocol import Action, Close, PusherSession, Send

if TYPE_CHECKING:
    from captioncast.web.services import WebSettings

log = logging.getLogger(__name__)

CHANNEL_CLOSED_EVENT = "channel_closed"


class PusherGateway:
    """Serves one Pusher app: its connections, channels and caption relays."""

    def __init__(
        self, app: PusherApp, broker: Broker, resolve: Callable[[str], ChannelInfo | None]
    ) -> None:
        self.app = app
        self.broker = broker
        self.resolve = resolve
        self.directory = ChannelDirectory()
        self._connections: dict[str, PusherConnection] = {}
        self._relays: dict[str, _Relay] = {}

    def __len__(self) -> int:
        """How many connections are open."""
        return len(self._connections)

    def viewers(self, channel: str) -> int:
        """Pusher subscriptions to a caption channel, under any of its Pusher names."""
        names = (channel, f"private-{channel}", f"presence-{channel}")
        return sum(self.directory.subscription_count(name) for name in names)

    def relays(self, channel: str) -> int:
        """Broker subscriptions this gateway holds on a caption channel (0 or 1)."""
        return 1 if channel in self._relays else 0

    async def serve(self, websocket: WebSocket, key: str, settings: WebSettings) -> None:
        """Accept and serve one ``/app/{key}`` connection."""
        await websocket.accept()
        conn = PusherConnection(self, websocket, self._new_socket_id(), settings)
        self._connections[conn.socket_id] = conn
        try:
            await conn.run(key)
        finally:
            self._connections.pop(conn.socket_id, None)

    def publish(self, channel: str, event: str, data: str, exclude: str | None = None) -> None:
        """Send an app event to ``channel``'s subscribers (not to ``exclude``)."""
        deliver = self.directory.event(channel, event, data, exclude=exclude)
        if deliver is not None:
            self.deliver(deliver)

    def deliver(self, action: Deliver) -> None:
        """Queue one frame to each of the sockets it names."""
        for socket_id in action.socket_ids:
            conn = self._connections.get(socket_id)
            if conn is not None:
                conn.offer(action.text, action.partial)

    def apply(self, action: Deliver | Watch | Unwatch) -> None:
        """Carry out an action that concerns more than one connection."""
        if isinstance(action, Deliver):
            self.deliver(action)
        elif isinstance(action, Watch):
            self._stop_relay(action.channel)
            self._relays[action.channel] = _Relay(self, action)
        else:
            self._stop_relay(action.channel)

    async def close_all(
        self,
        code: int = frames.GOING_AWAY,
        reason: str = "server shutting down",
        grace: float = 5.0,
    ) -> None:
        """Close every connection with ``code`` and wait (bounded) until they are.

        1001 at shutdown; 4200 makes pusher-js reconnect at once and authorize its channels
        again (after a key or secret rotation, say)."""
        conns = list(self._connections.values())
        for conn in conns:
            conn.server_close(code, reason)
        if conns:
            waiters = [asyncio.ensure_future(c.finished.wait()) for c in conns]
            _, pending = await asyncio.wait(waiters, timeout=grace)
            for waiter in pending:
                waiter.cancel()

    def _new_socket_id(self) -> str:
        while True:
            socket_id = f"{secrets.randbelow(10**9)}.{secrets.randbelow(10**9)}"
            if socket_id not in self._connections:
                return socket_id

    def _stop_relay(self, channel: str) -> None:
        relay = self._relays.pop(channel, None)
        if relay is not None:
            relay.task.cancel()

    def _relay_envelope(self, channel: str, envelope: Envelope) -> None:
        event = frames.caption_event_name(envelope.text)
        deliver = self.directory.event(channel, event, envelope.text, partial=envelope.is_partial)
        if deliver is not None:
            self.deliver(deliver)

    def _caption_channel_closed(self, relay: _Relay, notify: bool) -> None:
        if self._relays.get(relay.channel) is not relay:
            return
        del self._relays[relay.channel]
        self.directory.detach_caption(relay.channel)
        if not notify:
            return
        closed = {"channel": relay.caption_channel, "reason": "channel_closed"}
        self.publish(relay.channel, CHANNEL_CLOSED_EVENT, frames.encode(closed))


class _Relay:
    """Moves one caption channel's messages into one Pusher channel.

    A relay that falls behind at the broker (TOO_SLOW) resubscribes from its last position,
    so the channel's history fills the gap.
    """

    def __init__(self, gateway: PusherGateway, watch: Watch) -> None:
        self.gateway = gateway
        self.channel = watch.channel
        self.caption_channel = watch.caption_channel
        self._sub: Subscription | None = None
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            await self._subscribe(None)
            await self._pump()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("Pusher relay of %s failed", self.caption_channel)
        finally:
            if self._sub is not None:
                self._sub.close()

    async def _subscribe(self, since: StreamPosition | None) -> None:
        try:
            self._sub = await self.gateway.broker.subscribe(self.caption_channel, since)
        except UnknownChannel:
            self._sub = None
            self.gateway._caption_channel_closed(self, notify=since is not None)

    async def _pump(self) -> None:
        if self._sub is None:
            return
        position = self._sub.position
        while self._sub is not None:
            try:
                envelope = await self._sub.get()
            except SubscriptionEnded as ended:
                if ended.reason is EndReason.TOO_SLOW:
                    await self._subscribe(position)
                    continue
                self._sub = None
                if ended.reason is EndReason.CHANNEL_CLOSED:
                    self.gateway._caption_channel_closed(self, notify=True)
                return
            self.gateway._relay_envelope(self.channel, envelope)
            position = envelope.position


class PusherConnection:
    """One client's WebSocket connection."""

    def __init__(
        self, gateway: PusherGateway, websocket: WebSocket, socket_id: str, settings: WebSettings
    ) -> None:
        self.gateway = gateway
        self.ws = websocket
        self.socket_id = socket_id
        self.send_timeout = settings.ws_send_timeout
        self.close_timeout = settings.ws_close_timeout
        self.session = PusherSession(
            gateway.app,
            gateway.directory,
            gateway.resolve,
            socket_id,
            time.time(),
            settings.ws_max_age,
        )
        self.outbox = Outbox(gateway.app.max_pending)
        self.finished = asyncio.Event()
        self._done = asyncio.Event()
        self._close: Close | None = None
        self._peer_gone = False
        self._wakeup = asyncio.Event()  # the outbox has frames
        self._rearm = asyncio.Event()  # the session's next deadline moved earlier

    async def run(self, key: str) -> None:
        """Serve the connection until either side ends it."""
        try:
            query = dict(self.ws.query_params)
            self._apply(self.session.open(key, query, time.time()))
            loops = [self._read_loop(), self._write_loop(), self._timer()]
            tasks = [asyncio.create_task(loop) for loop in loops]
            await self._done.wait()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._apply(self.session.disconnect())  # the others learn that this one left
            await self._goodbye()
        finally:
            self.finished.set()

    def offer(self, text: str, partial: str | None = None) -> None:
        """Queue a frame for the client; a client too far behind is closed with 4100."""
        if self._done.is_set():
            return
        if self.outbox.put(text, partial):
            self._wakeup.set()
            return
        self.outbox.clear()
        self._finish_with(self.session.server_close(frames.OVER_CAPACITY, "too slow"))

    def server_close(self, code: int, reason: str) -> None:
        """End the connection from the server side."""
        self._finish_with(self.session.server_close(code, reason))

    def _finish_with(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Close):
                self._finish(action)

    def _finish(self, close: Close | None) -> None:
        if not self._done.is_set():
            self._close = close
            self._done.set()

    async def _goodbye(self) -> None:
        close = self._close
        if close is None or self._peer_gone:
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.close_timeout):
                if close.farewell is not None:
                    await self.ws.send_text(close.farewell)
                await self.ws.close(close.code, close.reason[:120])

    def _apply(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                self.offer(action.text)  # dropped once the connection is closing
            elif isinstance(action, Close):
                self._finish(action)
            else:
                self.gateway.apply(action)

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
                if self.session.next_deadline() < deadline:
                    self._rearm.set()
                self._apply(actions)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("Pusher WebSocket connection failed")
            self._finish(Close(frames.INTERNAL_ERROR, "internal error"))

    async def _write_loop(self) -> None:
        while True:
            text = self.outbox.pop()
            if text is None:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            try:
                await asyncio.wait_for(self.ws.send_text(text), self.send_timeout)
            except TimeoutError:
                self.outbox.clear()
                self._finish_with(self.session.server_close(frames.OVER_CAPACITY, "too slow"))
                return
            except (OSError, RuntimeError, WebSocketDisconnect):
                self._peer_gone = True
                self._finish(None)
                return

    async def _timer(self) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation
        # that arrives as the event is set, and this task would outlive its connection.
        while not self._done.is_set():
            delay = max(0.0, self.session.next_deadline() - time.time()) + 0.01
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._rearm.wait()
            self._rearm.clear()
            self._apply(self.session.tick(time.time()))
