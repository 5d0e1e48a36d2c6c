"""Pusher signatures: channel authorizations and signed HTTP API requests. Pure functions.

A private channel subscription carries ``auth = "<key>:<hex HMAC-SHA256(secret,
"<socket_id>:<channel>")>"``; a presence one signs ``"<socket_id>:<channel>:<channel_data>"``.
An HTTP API request carries ``auth_key``, ``auth_timestamp``, ``auth_version=1.0``,
``body_md5`` (when it has a body) and ``auth_signature`` = hex HMAC-SHA256 of
``"METHOD\\nPATH\\n<the other query parameters, keys lower-cased, sorted, k=v joined by &>"``.
Every comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from captioncast.web.pusher.config import PusherApp

MAX_CLOCK_SKEW = 600.0  # seconds between auth_timestamp and our clock


def sign(secret: str, message: str) -> str:
    """Hex HMAC-SHA256 of ``message`` under ``secret``."""
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _channel_message(socket_id: str, channel: str, channel_data: str | None) -> str:
    parts = [socket_id, channel] if channel_data is None else [socket_id, channel, channel_data]
    return ":".join(parts)


def channel_auth(
    app: PusherApp, socket_id: str, channel: str, channel_data: str | None = None
) -> str:
    """The ``auth`` string that lets ``socket_id`` subscribe to ``channel``."""
    return f"{app.key}:{sign(app.secret, _channel_message(socket_id, channel, channel_data))}"


def channel_auth_valid(
    app: PusherApp, socket_id: str, channel: str, auth: str, channel_data: str | None = None
) -> bool:
    """Whether ``auth`` is the signature ``channel_auth`` would give."""
    expected = channel_auth(app, socket_id, channel, channel_data)
    return hmac.compare_digest(expected.encode(), auth.encode())


def presence_user_id(app: PusherApp, token: str) -> str:
    """An opaque presence user id for a viewer token: stable for one token (several tabs are
    one member), unlinkable to it without the secret."""
    return sign(app.secret, f"presence-user:{token}")[:20]


@dataclass(frozen=True, slots=True)
class RequestRefused:
    """Why a signed HTTP API request was refused: an HTTP status and a message."""

    status: int
    code: str
    message: str


def string_to_sign(method: str, path: str, params: dict[str, str]) -> str:
    """What ``auth_signature`` signs: the method, the path and the sorted query."""
    query = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "auth_signature")
    return f"{method.upper()}\n{path}\n{query}"


def verify_request(
    app: PusherApp,
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    body: bytes,
    now: float,
) -> RequestRefused | None:
    """None when the request is signed by this app's secret and fresh; else why not."""
    params: dict[str, str] = {}
    for key, value in query:
        key = key.lower()
        if key in params:
            return RequestRefused(400, "bad_request", f"query parameter {key!r} is repeated")
        params[key] = value
    required = ("auth_key", "auth_timestamp", "auth_version", "auth_signature")
    missing = [k for k in required if k not in params]
    if missing:
        return _unauthorized(f"missing {', '.join(missing)}")
    if not hmac.compare_digest(params["auth_key"].encode(), app.key.encode()):
        return _unauthorized("unknown auth_key")
    if params["auth_version"] != "1.0":
        return _unauthorized("auth_version must be 1.0")
    refused = _check_body(params.get("body_md5"), body) or _check_time(params, now)
    if refused is not None:
        return refused
    signed = string_to_sign(method, path, params)
    expected = sign(app.secret, signed)
    if not hmac.compare_digest(expected.encode(), params["auth_signature"].encode()):
        return _unauthorized(f"invalid signature; the string to sign is {signed!r}")
    return None


def _check_body(body_md5: str | None, body: bytes) -> RequestRefused | None:
    if body_md5 is None:
        return _unauthorized("body_md5 is required with a body") if body else None
    actual = hashlib.md5(body, usedforsecurity=False).hexdigest()
    if not hmac.compare_digest(actual.encode(), body_md5.lower().encode()):
        return _unauthorized("body_md5 does not match the body")
    return None


def _check_time(params: dict[str, str], now: float) -> RequestRefused | None:
    try:
        timestamp = int(params["auth_timestamp"])
    except ValueError:
        return _unauthorized("auth_timestamp must be Unix seconds")
    if abs(now - timestamp) > MAX_CLOCK_SKEW:
        return _unauthorized(f"auth_timestamp is more than {MAX_CLOCK_SKEW:.0f} s from our time")
    return None


def _unauthorized(message: str) -> RequestRefused:
    return RequestRefused(401, "unauthorized", message)
