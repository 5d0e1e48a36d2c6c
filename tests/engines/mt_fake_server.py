"""An in-process HTTP server that speaks LibreTranslate's and DeepL's APIs, translating with
the fake engine, for the remote engines' tests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from captioncast.engines.mt.base import TranslationError
from captioncast.engines.mt.fake import FakeTranslator

DEEPL_KEY = "test-key:fx"
LIBRE_KEY = "libre-key"
DEEPL_SOURCES = ("EN", "ES")
DEEPL_TARGETS = ("ES", "EN-US", "EN-GB")


class FakeMtServer(ThreadingHTTPServer):
    """``fail_next``: statuses to answer the next requests with; ``delay``: seconds before
    each answer; ``requests``: (method, path, headers, body) of every request."""

    daemon_threads = True

    def __init__(self, require_libre_key: bool = False) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.engine = FakeTranslator(pairs=[("en", "es"), ("en", "ca"), ("es", "en")])
        self.require_libre_key = require_libre_key
        self.fail_next: list[int] = []
        self.delay = 0.0
        self.list_targets = True  # False: /languages as LibreTranslate before 1.3 answers
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up on a slow answer

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: FakeMtServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        url = urlsplit(self.path)
        self.server.requests.append((method, url.path, dict(self.headers), body))
        if self.server.delay:
            time.sleep(self.server.delay)
        if self.server.fail_next:
            self._answer(self.server.fail_next.pop(0), {"error": "injected"})
            return
        route = {
            ("GET", "/languages"): self._libre_languages,
            ("POST", "/translate"): self._libre_translate,
            ("GET", "/v2/languages"): self._deepl_languages,
            ("POST", "/v2/translate"): self._deepl_translate,
        }.get((method, url.path))
        if route is None:
            self._answer(404, {"error": "not found"})
            return
        status, answer = route(body, parse_qs(url.query))
        self._answer(status, answer)

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _translate(self, texts: list[str], source: str, target: str) -> list[str] | None:
        try:
            return self.server.engine.translate(texts, source, target)
        except TranslationError:
            return None

    def _libre_languages(self, body: Any, query: dict[str, list[str]]) -> tuple[int, Any]:
        targets: dict[str, list[str]] = {}
        for source, target in sorted(self.server.engine.pairs()):
            targets.setdefault(source, []).append(target)
        if not self.server.list_targets:
            return 200, [{"code": s, "name": s} for s in targets]
        return 200, [{"code": s, "name": s, "targets": ts} for s, ts in targets.items()]

    def _libre_translate(self, body: Any, query: dict[str, list[str]]) -> tuple[int, Any]:
        if self.server.require_libre_key and body.get("api_key") != LIBRE_KEY:
            return 403, {"error": "Invalid API key"}
        q = body["q"]
        out = self._translate([q] if isinstance(q, str) else q, body["source"], body["target"])
        if out is None:
            return 400, {"error": f"{body['source']} to {body['target']} is not supported"}
        return 200, {"translatedText": out[0] if isinstance(q, str) else out}

    def _deepl_languages(self, body: Any, query: dict[str, list[str]]) -> tuple[int, Any]:
        if self.headers.get("Authorization") != f"DeepL-Auth-Key {DEEPL_KEY}":
            return 403, {"message": "Forbidden"}
        codes = DEEPL_TARGETS if query.get("type") == ["target"] else DEEPL_SOURCES
        return 200, [{"language": code, "name": code} for code in codes]

    def _deepl_translate(self, body: Any, query: dict[str, list[str]]) -> tuple[int, Any]:
        if self.headers.get("Authorization") != f"DeepL-Auth-Key {DEEPL_KEY}":
            return 403, {"message": "Forbidden"}
        source, target = body.get("source_lang", "EN").lower(), body["target_lang"].lower()
        out = self._translate(body["text"], source, target.split("-")[0])
        if out is None:
            return 400, {"message": "Value for 'target_lang' not supported."}
        translations = [{"detected_source_language": source.upper(), "text": t} for t in out]
        return 200, {"translations": translations}


@contextmanager
def fake_mt_server(require_libre_key: bool = False) -> Iterator[FakeMtServer]:
    server = FakeMtServer(require_libre_key)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
