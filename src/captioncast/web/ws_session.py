"""The native WebSocket protocol (``/v1/ws``) as a pure state machine: messages in, actions out.

No I/O and no clock: the edge passes ``now`` (Unix seconds) and carries out the returned
actions in order. The protocol and its close codes are documented in docs/protocol.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from captioncast.auth.claims import TokenError, TokenOriginNotAllowed, ViewerClaims
from captioncast.bus.base import EndReason
from captioncast.core.channels import ChannelInfo
from captioncast.core.replay import StreamPosition

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001  # server shutting down, or the connection reached its maximum age
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011
CLOSE_UNAUTHORIZED = 4001  # no auth in time, or a bad / expired / not yet valid token
CLOSE_MALFORMED = 4002  # not JSON, not an object, unknown type, fields of the wrong type
CLOSE_FORBIDDEN = 4003  # the token does not cover the channel's stream
CLOSE_UNKNOWN_CHANNEL = 4004
CLOSE_TOO_SLOW = 4008  # the viewer did not keep up; resume from the last position
CLOSE_TOO_MANY_SUBSCRIPTIONS = 4009

MAX_CHANNEL_CHARS = 200
MAX_EPOCH_CHARS = 64


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``text`` as one text frame."""

    text: str


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Subscribe to ``channel`` at the broker, then report with ``subscribed``."""

    channel: str
    since: StreamPosition | None


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """Drop the broker subscription to ``channel``."""

    channel: str


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection with ``code`` and ``reason``; nothing follows."""

    code: int
    reason: str


Action = Send | Subscribe | Unsubscribe | Close


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """Per-connection limits (seconds, counts)."""

    auth_timeout: float = 10.0
    max_age: float = 7200.0
    max_subscriptions: int = 32
    max_message_chars: int = 4096


def _encode(message: Mapping[str, object]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


class _Malformed(Exception):
    pass


def _since(value: object) -> StreamPosition | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Malformed("since must be an object")
    seq, epoch = value.get("seq"), value.get("epoch")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise _Malformed("since.seq must be a non-negative integer")
    if not isinstance(epoch, str) or len(epoch) > MAX_EPOCH_CHARS:
        raise _Malformed("since.epoch must be a string")
    return StreamPosition(seq, epoch)


class NativeSession:
    """One viewer connection's protocol state."""

    def __init__(
        self,
        verify: Callable[[str], ViewerClaims],
        resolve: Callable[[str], ChannelInfo | None],
        now: float,
        limits: SessionLimits | None = None,
    ) -> None:
        self._verify = verify
        self._resolve = resolve
        self.limits = limits or SessionLimits()
        self.opened_at = now
        self.claims: ViewerClaims | None = None
        self.channels: dict[str, str] = {}  # subscribed channel → its stream name
        self.closed = False

    def open(self, query_token: str | None, now: float) -> list[Action]:
        """The connection was accepted; ``query_token`` is ``?token=`` if given."""
        if query_token is None:
            return []
        return self._authenticate(query_token, now)

    def receive(self, text: str, now: float) -> list[Action]:
        """One text frame from the viewer."""
        if self.closed:
            return []
        if len(text) > self.limits.max_message_chars:
            return self._close(CLOSE_MESSAGE_TOO_BIG, "message too big")
        try:
            message = json.loads(text)
        except ValueError:
            return self._close(CLOSE_MALFORMED, "message is not JSON")
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            return self._close(CLOSE_MALFORMED, "message must be an object with a type")
        try:
            return self._dispatch(message, now)
        except _Malformed as exc:
            return self._close(CLOSE_MALFORMED, str(exc))

    def receive_binary(self) -> list[Action]:
        """One binary frame from the viewer: not part of the protocol."""
        if self.closed:
            return []
        return self._close(CLOSE_MALFORMED, "binary frames are not supported")

    def subscribed(self, channel: str, recovered: bool, position: StreamPosition) -> list[Action]:
        """The broker accepted the subscription to ``channel``."""
        if self.closed:
            return []
        pos = {"seq": position.seq, "epoch": position.epoch}
        msg = {"type": "subscribed", "channel": channel, "recovered": recovered, "position": pos}
        return [Send(_encode(msg))]

    def subscribe_failed(self, channel: str) -> list[Action]:
        """The broker does not know ``channel`` (closed meanwhile)."""
        self.channels.pop(channel, None)
        return self._close(CLOSE_UNKNOWN_CHANNEL, "unknown channel")

    def subscription_ended(self, channel: str, reason: EndReason) -> list[Action]:
        """The broker ended the subscription to ``channel``."""
        if self.closed or channel not in self.channels:
            return []
        if reason is EndReason.TOO_SLOW:
            return self._close(CLOSE_TOO_SLOW, "too slow")
        self.channels.pop(channel, None)
        return [Send(_encode({"type": "unsubscribed", "channel": channel, "reason": reason}))]

    def next_deadline(self) -> float:
        """When ``tick`` next has something to do (it changes when the viewer authenticates)."""
        if self.claims is None:
            return self.opened_at + self.limits.auth_timeout
        return min(self.opened_at + self.limits.max_age, float(self.claims.exp))

    def tick(self, now: float) -> list[Action]:
        """Time passed: enforce the auth timeout, the token's expiry and the maximum
        connection age."""
        if self.closed:
            return []
        if self.claims is None and now >= self.opened_at + self.limits.auth_timeout:
            return self._close(CLOSE_UNAUTHORIZED, "auth timeout")
        if now >= self.opened_at + self.limits.max_age:
            return self._close(CLOSE_GOING_AWAY, "maximum connection age reached")
        if self.claims is not None and self.claims.expired(now):
            # A viewer keeps its connection by sending a fresh token before this moment.
            return self._close(CLOSE_UNAUTHORIZED, "token_expired")
        return []

    def server_shutdown(self) -> list[Action]:
        """The server is going away."""
        if self.closed:
            return []
        return self._close(CLOSE_GOING_AWAY, "server shutting down")

    def _dispatch(self, message: dict[str, object], now: float) -> list[Action]:
        kind = str(message["type"])
        if kind == "ping":
            return [Send(_encode({"type": "pong"}))]
        if kind == "auth":
            token = message.get("token")
            if not isinstance(token, str):
                raise _Malformed("auth.token must be a string")
            return self._authenticate(token, now)
        if self.claims is None:
            return self._close(CLOSE_UNAUTHORIZED, "auth required")
        if kind == "subscribe":
            return self._subscribe(message, now)
        if kind == "unsubscribe":
            return self._unsubscribe(message.get("channel"))
        raise _Malformed(f"unknown message type {kind[:40]!r}")

    def _authenticate(self, token: str, now: float) -> list[Action]:
        """A first token, or a fresh one replacing it (to outlive the first one's expiry);
        a replacement must still cover every channel the viewer is subscribed to."""
        try:
            claims = self._verify(token)
        except TokenError as exc:
            # An origin the token does not allow is a permission, not an identity, problem.
            code = CLOSE_FORBIDDEN if isinstance(exc, TokenOriginNotAllowed) else CLOSE_UNAUTHORIZED
            return self._close(code, exc.code)
        if claims.expired(now):
            return self._close(CLOSE_UNAUTHORIZED, "token_expired")
        if not all(claims.covers(stream) for stream in self.channels.values()):
            return self._close(CLOSE_FORBIDDEN, "token does not cover this stream")
        self.claims = claims
        msg = {"type": "authenticated", "streams": sorted(claims.streams), "exp": claims.exp}
        return [Send(_encode(msg))]

    def _subscribe(self, message: dict[str, object], now: float) -> list[Action]:
        assert self.claims is not None
        channel = message.get("channel")
        if not isinstance(channel, str) or not 0 < len(channel) <= MAX_CHANNEL_CHARS:
            raise _Malformed("subscribe.channel must be a channel name")
        since = _since(message.get("since"))
        if self.claims.expired(now):
            return self._close(CLOSE_UNAUTHORIZED, "token_expired")
        if channel in self.channels:
            raise _Malformed("already subscribed to this channel")
        info = self._resolve(channel)
        if info is None:
            return self._close(CLOSE_UNKNOWN_CHANNEL, "unknown channel")
        if not self.claims.covers(info.stream_name):
            return self._close(CLOSE_FORBIDDEN, "token does not cover this stream")
        if len(self.channels) >= self.limits.max_subscriptions:
            return self._close(CLOSE_TOO_MANY_SUBSCRIPTIONS, "too many subscriptions")
        self.channels[channel] = info.stream_name
        return [Subscribe(channel, since)]

    def _unsubscribe(self, channel: object) -> list[Action]:
        if channel is None:
            targets = sorted(self.channels)
        elif isinstance(channel, str) and len(channel) <= MAX_CHANNEL_CHARS:
            targets = [channel]
        else:
            raise _Malformed("unsubscribe.channel must be a channel name")
        actions: list[Action] = []
        for name in targets:
            if name in self.channels:
                del self.channels[name]
                actions.append(Unsubscribe(name))
            msg = {"type": "unsubscribed", "channel": name, "reason": "requested"}
            actions.append(Send(_encode(msg)))
        return actions

    def _close(self, code: int, reason: str) -> list[Action]:
        self.closed = True
        return [Close(code, reason)]
