"""Helpers for the Pusher tests: an app, services serving it, flows and caption messages."""

from __future__ import annotations

import json
from typing import Any

import pusher

from captioncast.store.base import FlowSpec
from captioncast.web.pusher import PusherApp, PusherGateway
from captioncast.web.services import Services

APP = PusherApp("4242", "test-key", "test-secret")


def serve_pusher(services: Services, app: PusherApp = APP) -> PusherGateway:
    """Give ``services`` a Pusher gateway for ``app`` (before the app is created)."""
    services.pusher = PusherGateway(app, services.broker, services.channels.resolve)
    return services.pusher


async def add_flow(
    services: Services, name: str = "demo", targets: tuple[str, ...] = ("de",)
) -> None:
    flow = await services.store.create(
        FlowSpec(name=name, source_language="en", target_languages=targets)
    )
    services.open_channels(flow)


def caption(n: int, final: bool = True) -> dict[str, Any]:
    """A caption block (final) or a partial transcript (not final)."""
    kind = "captions" if final else "transcript"
    return {"type": kind, "is_final": final, "n": n}


def sdk(port: int, app: PusherApp = APP, secret: str | None = None) -> pusher.Pusher:
    """The official Pusher server SDK pointed at a local server."""
    return pusher.Pusher(
        app_id=app.app_id,
        key=app.key,
        secret=app.secret if secret is None else secret,
        host="127.0.0.1",
        port=port,
        ssl=False,
    )


def data_of(frame: dict[str, Any]) -> Any:
    """A server event's ``data``, decoded from its JSON string."""
    data = frame["data"]
    return json.loads(data) if isinstance(data, str) else data
