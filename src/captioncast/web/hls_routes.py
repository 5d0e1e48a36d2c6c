"""``GET /v1/hls/{stream_name}/{filename}``: a flow's HLS output, for viewers with a token.

The files are the ones :class:`captioncast.ingest.hls.HlsOutput` writes under
``<hls_dir>/<stream name>/``. A request carries the same viewer token as the caption
WebSocket, as ``Authorization: Bearer <token>`` or as ``?token=<token>``; players that cannot
add headers use the query form, and then every URI in a served playlist gets the same
``?token=`` so the player's next requests carry it too. A token with an ``origins`` claim is
accepted only from a request whose ``Origin`` header it allows.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request, Response

from captioncast.auth.claims import TokenError
from captioncast.ingest.hls import SERVED_NAME
from captioncast.store.base import STREAM_NAME_PATTERN
from captioncast.web.errors import error_response
from captioncast.web.services import Services

CONTENT_TYPES = {
    "m3u8": "application/vnd.apple.mpegurl",
    "ts": "video/mp2t",
    "vtt": "text/vtt; charset=utf-8",
    "m4s": "video/iso.segment",
    "mp4": "video/mp4",
}
CORS = {"Access-Control-Allow-Origin": "*"}
_URI_ATTRIBUTE = re.compile(r'URI="([^"]*)"')


def with_token(uri: str, token: str) -> str:
    """``uri`` with ``token=`` added to its query."""
    return f"{uri}{'&' if '?' in uri else '?'}token={quote(token, safe='')}"


def rewrite_playlist(text: str, token: str) -> str:
    """Every URI of an M3U8 playlist (segment lines and ``URI="…"`` attributes) with the
    token added."""
    lines = []
    for line in text.splitlines():
        if line.startswith("#"):
            line = _URI_ATTRIBUTE.sub(lambda m: f'URI="{with_token(m.group(1), token)}"', line)
        elif line.strip():
            line = with_token(line.strip(), token)
        lines.append(line)
    return "\n".join(lines) + "\n"


def _bearer(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def _error(status: int, code: str, message: str) -> Response:
    headers = dict(CORS)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return error_response(status, code, message, headers)


def hls_router(services: Services) -> APIRouter:
    """The HLS file routes; they answer 404 while ``services.hls_dir`` is None."""
    router = APIRouter(tags=["playback"])

    @router.get("/v1/hls/{stream_name}/{filename}", response_model=None)
    async def hls_file(stream_name: str, filename: str, request: Request) -> Response:
        """A playlist, segment or subtitle file of the stream's HLS output."""
        header_token = _bearer(request)
        query_token = None if header_token else request.query_params.get("token")
        token = header_token or query_token
        if not token:
            return _error(401, "token_missing", "a viewer token is required")
        try:
            claims = services.tokens.verify(token)
        except TokenError as exc:
            return _error(401, exc.code, "the viewer token was refused")
        if not claims.allows_origin(request.headers.get("origin")):
            return _error(403, "origin_not_allowed", "the token does not allow this origin")
        if not re.fullmatch(STREAM_NAME_PATTERN, stream_name):
            return _error(404, "not_found", "no such file")
        flow = await services.store.get_by_stream_name(stream_name)
        name = flow.stream_name if flow is not None else stream_name
        if not claims.covers(name):
            return _error(403, "forbidden", "the token does not cover this stream")
        match = SERVED_NAME.fullmatch(filename)
        if flow is None or services.hls_dir is None or match is None or ".." in filename:
            return _error(404, "not_found", "no such file")
        path = Path(services.hls_dir) / name / filename
        try:
            body = await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return _error(404, "not_found", "no such file")
        extension = match.group(1)
        headers = dict(CORS)
        if extension == "m3u8":
            headers["Cache-Control"] = "no-cache"
            if query_token:
                body = rewrite_playlist(body.decode("utf-8"), query_token).encode("utf-8")
        return Response(body, media_type=CONTENT_TYPES[extension], headers=headers)

    @router.options("/v1/hls/{stream_name}/{filename}", include_in_schema=False)
    async def hls_preflight(stream_name: str, filename: str) -> Response:
        """CORS preflight for players that send the token as a header."""
        headers = {
            **CORS,
            "Access-Control-Allow-Methods": "GET, OPTIONS",
            "Access-Control-Allow-Headers": "Authorization",
            "Access-Control-Max-Age": "600",
        }
        return Response(status_code=204, headers=headers)

    return router
