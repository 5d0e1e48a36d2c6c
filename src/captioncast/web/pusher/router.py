"""The Pusher-compatible endpoints, mounted when ``services.pusher`` is set."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from captioncast.web.pusher.channel_auth import channel_auth_router
from captioncast.web.pusher.http_api import pusher_api_router
from captioncast.web.services import Services


def pusher_router(services: Services) -> APIRouter:
    """``/app/{key}`` (WebSocket), ``POST /pusher/auth`` and the ``/apps/{app_id}/…`` HTTP
    API; no routes at all when ``services.pusher`` is None."""
    router = APIRouter()
    gateway = services.pusher
    if gateway is None:
        return router

    @router.websocket("/app/{key}")
    async def pusher_ws(websocket: WebSocket, key: str) -> None:
        await gateway.serve(websocket, key, services.settings)

    router.include_router(channel_auth_router(services, gateway))
    router.include_router(pusher_api_router(gateway))
    return router
