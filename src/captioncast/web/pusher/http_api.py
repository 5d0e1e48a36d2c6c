"""The Pusher HTTP API, for the app's backend: trigger events and read channel state.

``POST /apps/{app_id}/events`` and ``/batch_events``; ``GET /apps/{app_id}/channels``,
``/channels/{channel}`` and ``/channels/{channel}/users``. Every request is signed with the
app secret as the official server SDKs sign it (``auth.verify_request``). Events reach the
Pusher subscribers of the channels named, caption channels included, and nothing else: they
never enter the caption broker, so native viewers, transcripts and replay never see them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from fastapi import APIRouter, Request

from captioncast.errors import ApiError
from captioncast.web.pusher.auth import verify_request
from captioncast.web.pusher.config import PusherApp
from captioncast.web.pusher.endpoint import PusherGateway
from captioncast.web.pusher.names import (
    ChannelKind,
    ChannelName,
    parse_channel,
    valid_event_name,
    valid_socket_id,
)

MAX_CHANNELS_PER_EVENT = 100
MAX_BATCH_EVENTS = 10
RESERVED_EVENT_PREFIXES = ("pusher:", "pusher_internal:")
CHANNEL_INFO = frozenset({"user_count", "subscription_count"})


@dataclass(frozen=True, slots=True)
class Trigger:
    """One event to publish: ``data`` goes out as given, ``socket_id`` does not receive it."""

    name: str
    data: str
    channels: tuple[str, ...]
    socket_id: str | None = None


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 past ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "payload_too_large", f"the body is over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, "payload_too_large", f"the body is over {limit} bytes")
    return bytes(body)


def parse_trigger(value: object, app: PusherApp, *, batch_item: bool = False) -> Trigger:
    """The event a request body (or one batch entry) describes; raises ApiError 400/413."""
    if not isinstance(value, dict):
        raise _bad_request("an event must be a JSON object")
    name, data, socket_id = value.get("name"), value.get("data"), value.get("socket_id")
    if not isinstance(name, str) or not valid_event_name(name):
        raise _bad_request("name must be a string of 1 to 200 characters")
    if name.startswith(RESERVED_EVENT_PREFIXES):
        raise _bad_request("event names starting with pusher: are reserved")
    if not isinstance(data, str):
        raise _bad_request("data must be a string (JSON-encode objects)")
    if len(data) > app.max_event_data_chars:
        raise ApiError(413, "payload_too_large", f"data is over {app.max_event_data_chars} chars")
    if socket_id is not None and not (isinstance(socket_id, str) and valid_socket_id(socket_id)):
        raise _bad_request("socket_id must look like 123.456")
    channels = _channels(value, batch_item)
    return Trigger(name, data, tuple(c.name for c in channels), socket_id)


def _channels(value: dict[str, object], batch_item: bool) -> list[ChannelName]:
    given = value.get("channel")
    if not batch_item and given is None:
        given = value.get("channels")
    names = [given] if isinstance(given, str) else given
    if not isinstance(names, list) or not 0 < len(names) <= MAX_CHANNELS_PER_EVENT:
        raise _bad_request(f"give channel, or channels: a list of 1 to {MAX_CHANNELS_PER_EVENT}")
    parsed = [parse_channel(n) if isinstance(n, str) else None for n in names]
    channels = [c for c in parsed if c is not None]
    if len(channels) != len(names):
        raise _bad_request("a channel name is not valid")
    return channels


def _info(request: Request) -> frozenset[str]:
    raw = request.query_params.get("info", "")
    wanted = frozenset(part for part in raw.split(",") if part)
    unknown = wanted - CHANNEL_INFO
    if unknown:
        raise _bad_request(f"unknown info attribute {sorted(unknown)[0]!r}")
    return wanted


def _bad_request(message: str) -> ApiError:
    return ApiError(400, "bad_request", message)


def _json(body: bytes) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise ApiError(400, "malformed_json", "request body is not valid JSON") from None


def pusher_api_router(gateway: PusherGateway) -> APIRouter:
    """The HTTP API routes of ``gateway``'s app."""
    router = APIRouter(tags=["pusher"])
    app = gateway.app
    directory = gateway.directory

    async def verified(request: Request, app_id: str) -> bytes:
        if app_id != app.app_id:
            raise ApiError(404, "unknown_app", "no such app")
        body = await read_body(request, app.max_request_bytes)
        query = request.query_params.multi_items()
        refused = verify_request(app, request.method, request.url.path, query, body, time.time())
        if refused is not None:
            raise ApiError(refused.status, refused.code, refused.message)
        return body

    def publish(trigger: Trigger) -> None:
        for channel in trigger.channels:
            gateway.publish(channel, trigger.name, trigger.data, exclude=trigger.socket_id)

    def channel_info(name: ChannelName, info: frozenset[str]) -> dict[str, object]:
        out: dict[str, object] = {}
        if "user_count" in info:
            if name.kind is not ChannelKind.PRESENCE:
                raise _bad_request("user_count is only available for presence channels")
            out["user_count"] = directory.user_count(name.name)
        if "subscription_count" in info:
            out["subscription_count"] = directory.subscription_count(name.name)
        return out

    @router.post("/apps/{app_id}/events")
    async def trigger_event(app_id: str, request: Request) -> dict[str, object]:
        """Publish one event to up to 100 channels."""
        trigger = parse_trigger(_json(await verified(request, app_id)), app)
        publish(trigger)
        return {}

    @router.post("/apps/{app_id}/batch_events")
    async def trigger_batch(app_id: str, request: Request) -> dict[str, object]:
        """Publish up to 10 events, each to one channel."""
        body = _json(await verified(request, app_id))
        batch = body.get("batch") if isinstance(body, dict) else None
        if not isinstance(batch, list) or not 0 < len(batch) <= MAX_BATCH_EVENTS:
            raise _bad_request(f"batch must be a list of 1 to {MAX_BATCH_EVENTS} events")
        triggers = [parse_trigger(item, app, batch_item=True) for item in batch]
        for trigger in triggers:  # all or none: every entry was checked first
            publish(trigger)
        return {}

    @router.get("/apps/{app_id}/channels")
    async def list_channels(app_id: str, request: Request) -> dict[str, object]:
        """The occupied channels, optionally those whose name starts with a prefix."""
        await verified(request, app_id)
        prefix = request.query_params.get("filter_by_prefix", "")
        info = _info(request)
        if "user_count" in info and not prefix.startswith("presence-"):
            raise _bad_request("info=user_count needs filter_by_prefix=presence-")
        channels = {}
        for channel in directory.occupied(prefix):
            name = parse_channel(channel)
            if name is not None:
                channels[channel] = channel_info(name, info)
        return {"channels": channels}

    @router.get("/apps/{app_id}/channels/{channel}")
    async def get_channel(app_id: str, channel: str, request: Request) -> dict[str, object]:
        """Whether a channel is occupied, and its subscription and user counts."""
        await verified(request, app_id)
        name = parse_channel(channel)
        if name is None:
            raise _bad_request("invalid channel name")
        occupied = directory.subscription_count(channel) > 0
        return {"occupied": occupied, **channel_info(name, _info(request))}

    @router.get("/apps/{app_id}/channels/{channel}/users")
    async def get_users(app_id: str, channel: str, request: Request) -> dict[str, object]:
        """The users present on a presence channel."""
        await verified(request, app_id)
        name = parse_channel(channel)
        if name is None or name.kind is not ChannelKind.PRESENCE:
            raise _bad_request("users are only available for presence channels")
        return {"users": [{"id": user_id} for user_id in directory.user_ids(channel)]}

    return router
