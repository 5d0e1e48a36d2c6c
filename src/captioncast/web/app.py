"""The ASGI app: REST API, JWKS, health check and the native WebSocket endpoint.

``create_app(services)`` is the only entry point; the caller builds the services (store,
broker, channel registry, token authority, API key, runtime) and runs the app with uvicorn.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

import captioncast
from captioncast.auth.origins import OriginPatternError, parse_patterns
from captioncast.errors import ApiError
from captioncast.web.api_flows import flows_router
from captioncast.web.api_languages import languages_router
from captioncast.web.api_transcripts import transcripts_router
from captioncast.web.errors import install_error_handlers
from captioncast.web.hls_routes import hls_router
from captioncast.web.models import ErrorOut, Health, TokenIn, TokenOut
from captioncast.web.pages import pages_router
from captioncast.web.pusher.router import pusher_router
from captioncast.web.services import Services
from captioncast.web.ws_endpoint import serve_native

_bearer = HTTPBearer(auto_error=False, description="the management API key")

ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorOut} for status in (400, 401, 404, 409, 422)
}


def _api_key_check(services: Services) -> Callable[..., Awaitable[None]]:
    async def require_api_key(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        if credentials is None or not services.api_key.matches(credentials.credentials):
            raise ApiError(401, "unauthorized", "a valid API key is required")

    return require_api_key


def tokens_router(services: Services) -> APIRouter:
    """``POST /v1/tokens``: mint viewer tokens."""
    router = APIRouter(tags=["tokens"])
    settings = services.settings

    @router.post("/v1/tokens", response_model=TokenOut)
    async def mint_token(body: TokenIn) -> TokenOut:
        """A viewer token for ``streams``, valid for ``ttl`` seconds, from ``origins`` only
        when given."""
        ttl = settings.token_ttl_default if body.ttl is None else body.ttl
        if not settings.token_ttl_min <= ttl <= settings.token_ttl_max:
            raise ApiError(
                422,
                "invalid_ttl",
                f"ttl must be between {settings.token_ttl_min} and {settings.token_ttl_max}",
            )
        try:
            if body.origins is not None:
                parse_patterns(body.origins)
        except OriginPatternError as exc:
            raise ApiError(422, "invalid_origin", str(exc)) from None
        names = []
        for stream in body.streams:
            flow = await services.store.get_by_stream_name(stream)
            if flow is None:
                raise ApiError(404, "unknown_stream", f"no flow streams {stream!r}")
            names.append(flow.stream_name)
        minted = services.tokens.mint(names, ttl, origins=body.origins)
        return TokenOut(token=minted.token, expires_at=minted.expires_at, kid=minted.kid)

    return router


def public_router(services: Services) -> APIRouter:
    """Routes that need no API key."""
    router = APIRouter(tags=["public"])

    @router.get("/.well-known/jwks.json")
    async def jwks() -> dict[str, object]:
        """Our public keys that verify viewer tokens, the current signing key first."""
        return services.tokens.jwks()

    @router.get("/healthz", response_model=Health)
    async def healthz() -> Health:
        """Liveness check."""
        return Health()

    @router.websocket("/v1/ws")
    async def native_ws(websocket: WebSocket) -> None:
        await serve_native(websocket, services)

    return router


def create_app(services: Services) -> FastAPI:
    """The captioncast web app serving ``services``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await services.restore_channels()
        yield
        await services.connections.close_all()

    app = FastAPI(
        title="captioncast",
        version=captioncast.__version__,
        description="Self-hosted live captions and live translations.",
        lifespan=lifespan,
    )
    app.state.services = services
    install_error_handlers(app)
    guarded = [Depends(_api_key_check(services))]
    app.include_router(flows_router(services), dependencies=guarded, responses=ERROR_RESPONSES)
    app.include_router(tokens_router(services), dependencies=guarded, responses=ERROR_RESPONSES)
    app.include_router(
        transcripts_router(services), dependencies=guarded, responses=ERROR_RESPONSES
    )
    if services.translators is not None:
        app.include_router(
            languages_router(services.translators), dependencies=guarded, responses=ERROR_RESPONSES
        )
    app.include_router(public_router(services))
    app.include_router(hls_router(services))
    app.include_router(pusher_router(services))
    app.include_router(pages_router())
    return app
