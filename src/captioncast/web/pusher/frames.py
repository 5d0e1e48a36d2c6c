"""Pusher protocol frames and error codes.

Every frame is a JSON object ``{"event", "channel"?, "data"}``. Server events carry ``data``
as a JSON-encoded *string*, except ``pusher:error`` whose ``data`` is an object
``{"code", "message"}``. Client events keep the ``data`` their sender gave.

Error codes, as Pusher documents them: 4000-4099 the client must not reconnect unchanged,
4100-4199 reconnect after a back-off, 4200-4299 reconnect at once, 4300-4399 any other error
(sent as a ``pusher:error`` message; the connection stays open).
"""

from __future__ import annotations

import json

APP_NOT_FOUND = 4001  # the key in /app/{key} is not this app's
INVALID_VERSION = 4006  # ?protocol= is not a number
UNSUPPORTED_PROTOCOL = 4007  # ?protocol= is not 7
NO_PROTOCOL = 4008  # no ?protocol=
UNAUTHORIZED = 4009
OVER_CAPACITY = 4100  # the connection fell behind (too slow): reconnect after a back-off
RECONNECT = 4200  # reconnect now (maximum connection age, operator request)
PONG_NOT_RECEIVED = 4201
CLOSED_AFTER_INACTIVITY = 4202
GENERIC_ERROR = 4300  # malformed or refused message; the connection stays open
CLIENT_EVENT_RATE_LIMIT = 4301

GOING_AWAY = 1001  # the server is shutting down: pusher-js reconnects after a second
INTERNAL_ERROR = 1011


def encode(message: object) -> str:
    """Compact JSON, UTF-8 friendly."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def event_frame(
    event: str, data: object, channel: str | None = None, user_id: str | None = None
) -> str:
    """A frame whose ``data`` is sent as given (a string stays a string)."""
    frame: dict[str, object] = {"event": event}
    if channel is not None:
        frame["channel"] = channel
    frame["data"] = data
    if user_id is not None:
        frame["user_id"] = user_id
    return encode(frame)


def server_event(event: str, payload: object, channel: str | None = None) -> str:
    """A server event: ``payload`` JSON-encoded into the ``data`` string."""
    return event_frame(event, encode(payload), channel)


def error_frame(code: int | None, message: str) -> str:
    """``pusher:error``; its ``data`` is an object, unlike every other server event."""
    return event_frame("pusher:error", {"code": code, "message": message})


def subscription_error(channel: str, kind: str, message: str, status: int) -> str:
    """``pusher:subscription_error`` for ``channel``, shaped as pusher-js reports its own
    authorization failures (``{"type", "error", "status"}``)."""
    payload = {"type": kind, "error": message, "status": status}
    return server_event("pusher:subscription_error", payload, channel)


def connection_established(socket_id: str, activity_timeout: int) -> str:
    payload = {"socket_id": socket_id, "activity_timeout": activity_timeout}
    return server_event("pusher:connection_established", payload)


PING = server_event("pusher:ping", {})
PONG = server_event("pusher:pong", {})


CAPTION_EVENTS = {"captions": "caption", "transcript": "transcript"}


def caption_event_name(envelope_text: str) -> str:
    """The Pusher event that carries a caption envelope: ``caption`` for caption blocks,
    ``transcript`` for transcripts (partial or final)."""
    response = json.loads(envelope_text).get("response")
    kind = response.get("type") if isinstance(response, dict) else None
    return CAPTION_EVENTS.get(kind if isinstance(kind, str) else "", "message")
