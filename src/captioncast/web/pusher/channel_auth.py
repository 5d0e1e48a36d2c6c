"""``POST /pusher/auth``: a viewer token buys a signed subscription to a caption channel.

pusher-js posts ``socket_id`` and ``channel_name`` form-encoded to its
``channelAuthorization.endpoint``. The viewer token (``POST /v1/tokens``) comes as
``Authorization: Bearer <jwt>`` (``channelAuthorization.headers``) or as a ``token``
parameter (``channelAuthorization.params``, or the URL's query). The answer is
``{"auth": "<key>:<signature>"}``, with ``channel_data`` for presence channels: the member
is an opaque id derived from the token, so one viewer's tabs count once.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from captioncast.auth.claims import TokenError
from captioncast.errors import ApiError
from captioncast.web.errors import error_response
from captioncast.web.pusher.auth import channel_auth, presence_user_id
from captioncast.web.pusher.endpoint import PusherGateway
from captioncast.web.pusher.frames import encode
from captioncast.web.pusher.http_api import read_body
from captioncast.web.pusher.names import ChannelKind, parse_channel, valid_socket_id
from captioncast.web.services import Services

MAX_FORM_BYTES = 16_384
CORS = {"Access-Control-Allow-Origin": "*"}


async def _form(request: Request) -> dict[str, str]:
    """The posted fields (form-encoded as pusher-js sends them, or a JSON object)."""
    body = await read_body(request, MAX_FORM_BYTES)
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            value = json.loads(body)
        except (ValueError, RecursionError):
            raise ApiError(400, "malformed_json", "request body is not valid JSON") from None
        if not isinstance(value, dict):
            raise ApiError(400, "bad_request", "the body must be a JSON object")
        return {k: v for k, v in value.items() if isinstance(v, str)}
    try:
        return dict(parse_qsl(body.decode(), max_num_fields=50))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "bad_request", "the body is not form-encoded") from None


def _token(request: Request, form: dict[str, str]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    token = form.get("token") or request.query_params.get("token")
    if not token:
        raise ApiError(401, "unauthorized", "a viewer token is required")
    return token


def channel_auth_router(services: Services, gateway: PusherGateway) -> APIRouter:
    """``POST /pusher/auth`` for ``gateway``'s app, trusting ``services.tokens``.

    Answers carry ``Access-Control-Allow-Origin: *`` (errors too, so that pusher-js on a page
    of another origin sees the status): the token travels in a header, never in a cookie,
    and a token limited to some origins is refused from the others.
    """
    router = APIRouter(tags=["pusher"])
    app = gateway.app

    async def authorize(request: Request) -> dict[str, str]:
        form = await _form(request)
        socket_id, channel = form.get("socket_id", ""), form.get("channel_name", "")
        if not valid_socket_id(socket_id):
            raise ApiError(400, "bad_request", "socket_id must look like 123.456")
        name = parse_channel(channel)
        if name is None or name.kind not in (ChannelKind.PRIVATE, ChannelKind.PRESENCE):
            raise ApiError(400, "bad_request", "channel_name must be a private- or presence- name")
        info = services.channels.resolve(name.base)
        if info is None:
            raise ApiError(404, "unknown_channel", "no such caption channel")
        token = _token(request, form)
        try:
            claims = services.tokens.verify(token)
        except TokenError as exc:
            raise ApiError(401, exc.code, "the viewer token is not valid") from None
        if not claims.allows_origin(request.headers.get("origin")):
            raise ApiError(403, "origin_not_allowed", "the token may not be used from here")
        if not claims.covers(info.stream_name):
            raise ApiError(403, "forbidden", "the token does not cover this stream")
        if name.kind is ChannelKind.PRIVATE:
            return {"auth": channel_auth(app, socket_id, channel)}
        channel_data = encode({"user_id": presence_user_id(app, token), "user_info": {}})
        auth = channel_auth(app, socket_id, channel, channel_data)
        return {"auth": auth, "channel_data": channel_data}

    @router.post("/pusher/auth", response_model=None)
    async def authorize_channel(request: Request) -> JSONResponse:
        """Sign a private or presence caption channel subscription for a token holder."""
        try:
            return JSONResponse(await authorize(request), headers=CORS)
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message, CORS)

    @router.options("/pusher/auth", response_model=None)
    async def authorize_preflight() -> Response:
        """CORS preflight: pusher-js sends the token as a header."""
        headers = {
            **CORS,
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Authorization, Content-Type",
            "Access-Control-Max-Age": "600",
        }
        return Response(status_code=204, headers=headers)

    return router
