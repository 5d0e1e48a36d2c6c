"""The Pusher Channels protocol (version 7) for one connection, as a pure state machine.

No I/O and no clock: the edge passes ``now`` (Unix seconds), feeds each text frame to
``receive`` and carries out the returned actions in order:

- ``Send(text)``: a frame for this connection;
- ``Deliver``: a frame for other connections (client events, presence changes);
- ``Watch``/``Unwatch``: start or stop relaying a caption channel into a Pusher channel;
- ``Close(code, reason, farewell)``: send ``farewell`` (a ``pusher:error``) if any, then close.

After the connection ends, whoever ended it, the edge calls ``disconnect`` and carries out
what it returns (the other members learn that this one left). Bad input from the client is
answered with ``pusher:error`` (code 4300) or ``pusher:subscription_error``; it never raises.
The codes and events are documented in docs/pusher.md.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from captioncast.core.channels import ChannelInfo
from captioncast.web.pusher import frames
from captioncast.web.pusher.auth import channel_auth_valid
from captioncast.web.pusher.config import PusherApp
from captioncast.web.pusher.directory import ChannelDirectory, Deliver, Member, Unwatch, Watch
from captioncast.web.pusher.names import ChannelKind, ChannelName, parse_channel, valid_event_name

SUPPORTED_PROTOCOL = 7
MAX_USER_ID_CHARS = 128
MAX_CHANNEL_DATA_CHARS = 2048
_VERSION = re.compile(r"[0-9]{1,4}")


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``text`` to this connection."""

    text: str


@dataclass(frozen=True, slots=True)
class Close:
    """Close this connection with ``code``, after sending ``farewell`` if it is set."""

    code: int
    reason: str
    farewell: str | None = None


Action = Send | Close | Deliver | Watch | Unwatch


class _Malformed(Exception):
    pass


class _Refused(Exception):
    """A subscription is refused: becomes ``pusher:subscription_error``."""

    def __init__(self, kind: str, message: str, status: int) -> None:
        super().__init__(message)
        self.kind, self.message, self.status = kind, message, status


class PusherSession:
    """One Pusher connection's protocol state. ``max_age`` (seconds, None: unlimited) ends
    the connection with 4200, so clients reconnect and have their channels authorized anew."""

    def __init__(
        self,
        app: PusherApp,
        directory: ChannelDirectory,
        resolve: Callable[[str], ChannelInfo | None],
        socket_id: str,
        now: float,
        max_age: float | None = None,
    ) -> None:
        self.app = app
        self.directory = directory
        self._resolve = resolve
        self.socket_id = socket_id
        self.opened_at = now
        self.max_age = max_age
        self.last_activity = now
        self.ping_sent_at: float | None = None
        self.channels: dict[str, None] = {}  # subscribed channels, in order
        self.connected = False
        self.closed = False
        self._client_events: deque[float] = deque()

    def open(self, key: str, query: Mapping[str, str], now: float) -> list[Action]:
        """The WebSocket to ``/app/{key}?protocol=7…`` was accepted."""
        if key != self.app.key:
            return self._close(frames.APP_NOT_FOUND, f"Could not find app by key {key[:64]!r}")
        version = query.get("protocol")
        if version is None:
            return self._close(frames.NO_PROTOCOL, "No protocol version supplied")
        if not _VERSION.fullmatch(version):
            return self._close(frames.INVALID_VERSION, "Invalid version string format")
        if int(version) != SUPPORTED_PROTOCOL:
            message = f"Unsupported protocol version {int(version)}; this server speaks 7"
            return self._close(frames.UNSUPPORTED_PROTOCOL, message)
        self.connected = True
        self.last_activity = now
        established = frames.connection_established(self.socket_id, self.app.activity_timeout)
        return [Send(established)]

    def receive(self, text: str, now: float) -> list[Action]:
        """One text frame from the client."""
        if self.closed or not self.connected:
            return []
        self.last_activity = now
        self.ping_sent_at = None  # any message shows the client is alive
        if len(text) > self.app.max_message_chars:
            return [_error("message too big")]
        try:
            message = json.loads(text)
        except (ValueError, RecursionError):
            return [_error("message is not JSON")]
        if not isinstance(message, dict) or not isinstance(message.get("event"), str):
            return [_error("a message must be an object with an event name")]
        try:
            return self._dispatch(message, now)
        except _Malformed as exc:
            return [_error(str(exc))]

    def receive_binary(self) -> list[Action]:
        """One binary frame: not part of the protocol."""
        if self.closed or not self.connected:
            return []
        return [_error("binary frames are not supported")]

    def next_deadline(self) -> float:
        """When ``tick`` next has something to do."""
        if self.ping_sent_at is not None:
            deadline = self.ping_sent_at + self.app.pong_timeout
        else:
            deadline = self.last_activity + self.app.activity_timeout
        if self.max_age is not None:
            deadline = min(deadline, self.opened_at + self.max_age)
        return deadline

    def tick(self, now: float) -> list[Action]:
        """Time passed: ping a silent client, close one that does not answer (4201), and
        end the connection at its maximum age (4200)."""
        if self.closed or not self.connected:
            return []
        if self.max_age is not None and now >= self.opened_at + self.max_age:
            return self._close(frames.RECONNECT, "maximum connection age reached")
        if self.ping_sent_at is not None:
            if now >= self.ping_sent_at + self.app.pong_timeout:
                return self._close(frames.PONG_NOT_RECEIVED, "Pong reply not received")
            return []
        if now >= self.last_activity + self.app.activity_timeout:
            self.ping_sent_at = now
            return [Send(frames.PING)]
        return []

    def server_close(self, code: int, reason: str) -> list[Action]:
        """The server ends the connection (shutting down: 1001; an operator: 4200)."""
        if self.closed:
            return []
        return self._close(code, reason)

    def disconnect(self) -> list[Action]:
        """The connection is gone: leave every channel; what the others must learn."""
        self.closed = True
        actions: list[Action] = []
        for channel in list(self.channels):
            actions.extend(self.directory.leave(self.socket_id, channel))
        self.channels.clear()
        return actions

    def _dispatch(self, message: dict[str, object], now: float) -> list[Action]:
        event = str(message["event"])
        if event == "pusher:ping":
            return [Send(frames.PONG)]
        if event == "pusher:pong":
            return []
        if event == "pusher:subscribe":
            return self._subscribe(_object(message.get("data")))
        if event == "pusher:unsubscribe":
            return self._unsubscribe(_object(message.get("data")))
        if event.startswith("client-"):
            return self._client_event(event, message.get("channel"), message.get("data"), now)
        raise _Malformed(f"unsupported event {event[:40]!r}")

    def _subscribe(self, data: dict[str, object]) -> list[Action]:
        channel = data.get("channel")
        if not isinstance(channel, str):
            raise _Malformed("pusher:subscribe needs a channel")
        name = parse_channel(channel)
        try:
            if name is None:
                raise _Refused("InvalidChannel", "invalid channel name", 400)
            if channel in self.channels:
                return [Send(self._succeeded(name))]  # subscribing twice is harmless
            if len(self.channels) >= self.app.max_subscriptions:
                raise _Refused("LimitReached", "too many channels on one connection", 403)
            member = self._authorize(name, data)
            caption = self._caption_channel(name)
            if caption is not None and not (name.kind.needs_auth or self.app.allow_public_channels):
                message = f"caption channels are private: subscribe to private-{channel}"
                raise _Refused("AuthError", message, 403)
        except _Refused as refused:
            error = frames.subscription_error(
                channel[:200], refused.kind, refused.message, refused.status
            )
            return [Send(error)]
        self.channels[channel] = None
        joined = self.directory.join(self.socket_id, channel, caption, member)
        # succeeded first: no caption may reach the client before it
        return [Send(self._succeeded(name)), *joined]

    def _authorize(self, name: ChannelName, data: dict[str, object]) -> Member | None:
        """Check a private or presence subscription's signature; the presence member."""
        if not name.kind.needs_auth:
            return None
        auth = data.get("auth")
        if not isinstance(auth, str):
            raise _Refused("AuthError", "private and presence channels need auth", 401)
        channel_data: str | None = None
        if name.kind is ChannelKind.PRESENCE:
            given = data.get("channel_data")
            if not isinstance(given, str):
                raise _Refused("AuthError", "presence channels need channel_data", 401)
            channel_data = given
        if not channel_auth_valid(self.app, self.socket_id, name.name, auth, channel_data):
            raise _Refused("AuthError", "Invalid signature", 401)
        if channel_data is None:
            return None
        member = _member(channel_data)
        full = self.directory.user_count(name.name) >= self.app.max_presence_members
        if full and not self.directory.has_user(name.name, member.user_id):
            raise _Refused("LimitReached", "the presence channel is full", 403)
        return member

    def _caption_channel(self, name: ChannelName) -> str | None:
        caption = name.caption_channel
        if caption is None or self._resolve(caption) is None:
            return None
        return caption

    def _succeeded(self, name: ChannelName) -> str:
        data: dict[str, object] = {}
        if name.kind is ChannelKind.PRESENCE:
            data = self.directory.presence(name.name)
        return frames.server_event("pusher_internal:subscription_succeeded", data, name.name)

    def _unsubscribe(self, data: dict[str, object]) -> list[Action]:
        channel = data.get("channel")
        if not isinstance(channel, str):
            raise _Malformed("pusher:unsubscribe needs a channel")
        if channel not in self.channels:
            return []
        del self.channels[channel]
        return list(self.directory.leave(self.socket_id, channel))

    def _client_event(self, event: str, channel: object, data: object, now: float) -> list[Action]:
        if not isinstance(channel, str):
            raise _Malformed("client events need a channel")
        name = parse_channel(channel)
        if name is None or not name.kind.allows_client_events:
            message = "Client event rejected: only supported on private and presence channels"
            return [_error(message)]
        if channel not in self.channels:
            return [_error("Client event rejected: not subscribed to the channel")]
        if not valid_event_name(event):
            return [_error("Client event rejected: the event name is too long")]
        if not self._within_rate(now):
            message = "Client event rejected due to rate limit"
            return [_error(message, frames.CLIENT_EVENT_RATE_LIMIT)]
        user_id = self.directory.user_id(self.socket_id, channel)
        deliver = self.directory.event(
            channel, event, data, exclude=self.socket_id, user_id=user_id
        )
        return [] if deliver is None else [deliver]

    def _within_rate(self, now: float) -> bool:
        window = self._client_events
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= self.app.client_event_rate:
            return False
        window.append(now)
        return True

    def _close(self, code: int, reason: str) -> list[Action]:
        self.closed = True
        farewell = frames.error_frame(code, reason) if code >= 4000 else None
        return [Close(code, reason, farewell)]


def _error(message: str, code: int = frames.GENERIC_ERROR) -> Send:
    return Send(frames.error_frame(code, message))


def _object(data: object) -> dict[str, object]:
    """A message's ``data`` object; some clients send it JSON-encoded as a string."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except (ValueError, RecursionError):
            raise _Malformed("data is not JSON") from None
    if not isinstance(data, dict):
        raise _Malformed("data must be an object")
    return data


def _member(channel_data: str) -> Member:
    """The member a presence subscription's (signed) ``channel_data`` names."""
    refused = _Refused("InvalidChannelData", "channel_data must hold a user_id", 400)
    if len(channel_data) > MAX_CHANNEL_DATA_CHARS:
        raise _Refused("InvalidChannelData", "channel_data is too long", 400)
    try:
        data = json.loads(channel_data)
    except (ValueError, RecursionError):
        raise refused from None
    if not isinstance(data, dict):
        raise refused
    user_id = data.get("user_id")
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        user_id = str(user_id)
    if not isinstance(user_id, str) or not 0 < len(user_id) <= MAX_USER_ID_CHARS:
        raise refused
    return Member(user_id, data.get("user_info"))
