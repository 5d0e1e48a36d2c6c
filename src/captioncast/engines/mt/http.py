"""JSON over HTTP for the remote engines: one pooled client, a time limit, a few retries.

The only module that imports ``httpx``. Calls are blocking (the engines run in worker
threads). For a translation, a connection failure, a time-out, 429 and 5xx are retried
after a short backoff; any other error status is final; a listing is not retried. Every
failure is a :class:`TranslationError` whose message names the engine and the status, never
the request (it may carry a key).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import httpx

from captioncast.engines.mt.base import TranslationError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class JsonHttp:
    """Requests to one base URL; a call takes at most about ``timeout × (retries + 1)``."""

    def __init__(
        self,
        engine: str,
        base_url: str,
        timeout: float = 5.0,
        retries: int = 1,
        headers: Mapping[str, str] | None = None,
        backoff: float = 0.25,
    ) -> None:
        self.engine = engine
        self.retries = retries
        self.backoff = backoff
        self._options: dict[str, Any] = {
            "base_url": base_url.rstrip("/"),
            "timeout": timeout,
            "headers": dict(headers or {}),
        }
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """Not retried: listings are asked while a flow starts, and asked again later."""
        return self._request("GET", path, retries=0, params=params)

    def post(self, path: str, body: Mapping[str, Any]) -> Any:
        return self._request("POST", path, retries=self.retries, json=body)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _connected(self) -> httpx.Client:
        with self._lock:
            if self._client is None:  # first use, or used again after close()
                self._client = httpx.Client(**self._options)
            return self._client

    def _request(self, method: str, path: str, retries: int, **kwargs: Any) -> Any:
        problem = ""
        for attempt in range(retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self._connected().request(method, path, **kwargs)
            except httpx.TimeoutException:
                problem = "timed out"
                continue
            except httpx.HTTPError as e:
                problem = f"cannot connect ({type(e).__name__})"
                continue
            if response.status_code in RETRY_STATUSES:
                problem = f"HTTP {response.status_code}"
                continue
            if response.status_code >= 400:
                raise TranslationError(f"{self.engine}: HTTP {response.status_code}")
            try:
                return response.json()
            except ValueError:
                raise TranslationError(f"{self.engine}: the answer is not JSON") from None
        raise TranslationError(f"{self.engine}: {problem}")
