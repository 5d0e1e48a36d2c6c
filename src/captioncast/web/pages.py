"""The browser side: the embed player, the dashboard, and the files they load under /static/.

- ``/embed/player.html?group.id=…&caption.channel=…&caption.token=…``: the stream's HLS
  with the captions over it (nanoStream's parameters; see docs/browser.md).
- ``/dashboard/``: flows, tokens and snippets over the REST API, with the API key the user
  types in.
- ``/static/…``: the package's files (``captioncast/web/static/``: the pages' scripts and
  styles), and from the checkout: the browser library's ES modules (``web-client/src/``) and
  the SDK modules they import (``js/src/``) at the same relative places
  (``/static/web-client/src/…``, ``/static/js/src/…``) so that their relative imports
  resolve in the browser; hls.js from ``web-client/node_modules`` (``npm ci`` there) at
  ``/static/vendor/hls.js/…``; ``/static/captioncast.js``: the library as one classic
  script (:mod:`captioncast.web.script_bundle`, at request time); and
  ``/static/captioncast.css``, the library's stylesheet. Where the checkout lacks a file
  (an installed wheel), a copy at the same path under ``captioncast/web/static/`` serves.

The files are public (no token: they hold no data) and may be loaded from any origin. The
pages get a Content-Security-Policy that admits only this server's scripts, and no
``Referer`` leaves them (the player's URL carries a token).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from captioncast.web.errors import error_response
from captioncast.web.script_bundle import BundleError, bundle

log = logging.getLogger(__name__)

PACKAGE_STATIC = Path(__file__).parent / "static"
CHECKOUT = Path(__file__).resolve().parents[3]  # src/captioncast/web/pages.py → the repo

CONTENT_TYPES = {
    "html": "text/html; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "mjs": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "map": "application/json",
    "json": "application/json",
    "svg": "image/svg+xml",
    "png": "image/png",
}
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")

BUNDLE_ENTRY = "web-client/src/index.js"
BUNDLE_GLOBALS: dict[str, str | None] = {"captioncast": None, "NanoMessenger": "NanoMessenger"}
BUNDLE_BANNER = (
    "/* captioncast.js: the captioncast browser library as one classic script, made from its\n"
    " * ES modules (/static/captioncast.mjs) when served. Defines `captioncast` and\n"
    " * `NanoMessenger`. MIT licensed. */"
)

_PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"
)
PLAYER_HEADERS = {
    # hls.js runs its demuxer in a blob: worker and feeds the video through blob: media.
    "Content-Security-Policy": f"{_PAGE_CSP}; worker-src 'self' blob:; media-src 'self' blob:",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
DASHBOARD_HEADERS = {
    "Content-Security-Policy": f"{_PAGE_CSP}; frame-src 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}
STATIC_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def default_mounts(package: Path = PACKAGE_STATIC, checkout: Path = CHECKOUT) -> dict[str, Path]:
    """URL prefix under /static/ → the directory (or file) it serves."""
    return {
        "web-client/src": checkout / "web-client" / "src",
        "js/src": checkout / "js" / "src",
        "vendor/hls.js": checkout / "web-client" / "node_modules" / "hls.js" / "dist",
        "captioncast.css": checkout / "web-client" / "src" / "captioncast.css",
        "": package,
    }


@dataclass(frozen=True)
class StaticFiles:
    """The files under /static/: a path is looked up under each mount whose prefix it has,
    in order, the first file found wins. The package's own mount (``""``) comes last, so a
    packaged copy at the same path (``static/vendor/hls.js/hls.min.js``) serves where the
    checkout has none."""

    mounts: Mapping[str, Path] = field(default_factory=default_mounts)

    def locate(self, path: str) -> Path | None:
        """The file for a /static/ path, or None: no such file, or a name not served."""
        segments = path.split("/")
        if not all(_SEGMENT.fullmatch(s) for s in segments):
            return None
        if segments[-1].rpartition(".")[2] not in CONTENT_TYPES:
            return None
        for prefix, directory in self.mounts.items():
            if prefix and path != prefix and not path.startswith(prefix + "/"):
                continue
            rest = path[len(prefix) :].lstrip("/")
            candidate = (directory / rest) if rest else directory
            if _is_file_within(candidate, directory):
                return candidate
        return None

    def read_module(self, module_id: str) -> str:
        """The source of a bundled module (``web-client/src/index.js``)."""
        found = self.locate(module_id)
        if found is None or found.suffix != ".js":
            raise BundleError(f"no module {module_id}")
        return found.read_text(encoding="utf-8")


def _is_file_within(candidate: Path, directory: Path) -> bool:
    try:
        resolved = candidate.resolve()
        root = directory.resolve()
    except OSError:
        return False
    inside = resolved == root or resolved.is_relative_to(root)
    return inside and resolved.is_file()


def _respond(request: Request, body: bytes, media_type: str, headers: dict[str, str]) -> Response:
    """``body`` with an ETag; 304 when the browser already has it."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {**headers, "ETag": etag}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if request.method == "HEAD":
        return Response(status_code=200, headers=headers, media_type=media_type)
    return Response(body, media_type=media_type, headers=headers)


def pages_router(files: StaticFiles | None = None) -> APIRouter:
    """The embed player, the dashboard and /static/."""
    files = files or StaticFiles()
    router = APIRouter(tags=["pages"], include_in_schema=False)

    async def page(request: Request, path: str, headers: dict[str, str]) -> Response:
        found = files.locate(path)
        if found is None:
            return error_response(404, "not_found", "no such page")
        body = await asyncio.to_thread(found.read_bytes)
        return _respond(request, body, CONTENT_TYPES["html"], headers)

    @router.api_route("/embed/player.html", methods=["GET", "HEAD"])
    async def player(request: Request) -> Response:
        return await page(request, "embed/player.html", PLAYER_HEADERS)

    @router.api_route("/dashboard", methods=["GET", "HEAD"])
    async def dashboard_redirect() -> Response:
        return RedirectResponse("/dashboard/", status_code=308)

    @router.api_route("/dashboard/", methods=["GET", "HEAD"])
    async def dashboard(request: Request) -> Response:
        return await page(request, "dashboard/index.html", DASHBOARD_HEADERS)

    @router.api_route("/static/captioncast.js", methods=["GET", "HEAD"])
    async def classic_script(request: Request) -> Response:
        try:
            script = await asyncio.to_thread(
                bundle, files.read_module, BUNDLE_ENTRY, BUNDLE_GLOBALS, BUNDLE_BANNER
            )
        except (BundleError, OSError):
            log.exception("cannot bundle %s", BUNDLE_ENTRY)
            return error_response(500, "internal_error", "the script is not available")
        return _respond(request, script.encode("utf-8"), CONTENT_TYPES["js"], STATIC_HEADERS)

    @router.api_route("/static/{path:path}", methods=["GET", "HEAD"])
    async def static_file(path: str, request: Request) -> Response:
        found = files.locate(path)
        if found is None:
            return error_response(404, "not_found", "no such file", dict(STATIC_HEADERS))
        body = await asyncio.to_thread(found.read_bytes)
        media_type = CONTENT_TYPES[found.suffix.lstrip(".")]
        return _respond(request, body, media_type, STATIC_HEADERS)

    return router
