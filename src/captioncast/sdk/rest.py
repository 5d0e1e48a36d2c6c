"""``Client``: the REST API (docs/api.md) with ``httpx``, and subscriptions to its channels."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, Self, overload
from urllib.parse import quote, urlsplit, urlunsplit
from weakref import WeakSet

import httpx

from captioncast.core.replay import StreamPosition
from captioncast.sdk.errors import ApiError
from captioncast.sdk.models import CaptionFormat, Flow, Token, Transcript
from captioncast.sdk.subscription import OnCaption, OnGap, Subscription, TokenSource

DEFAULT_URL = "http://127.0.0.1:8080"

FlowRef = str | Flow
TextFormat = Literal["vtt", "srt", "txt"]


class Client:
    """A captioncast server, managed with its API key.

    ::

        async with Client(api_key, "http://127.0.0.1:8080") as cc:
            flow = await cc.create_flow("news")
            await cc.start_flow(flow.flow_id)
            async for caption in cc.subscribe(flow.channel()):
                print(caption.text)

    Every method raises ApiError when the server refuses (``status``, ``code`` and
    ``message`` of its JSON error), and ``httpx.TransportError`` when it cannot be reached.
    Methods taking a flow accept its id or the ``Flow`` itself.
    """

    def __init__(self, api_key: str, url: str = DEFAULT_URL, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.ws_url = websocket_url(self.url)
        self._http = httpx.AsyncClient(
            base_url=self.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout
        )
        self._subscriptions: WeakSet[Subscription] = WeakSet()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every subscription made here, then the HTTP connections."""
        for sub in list(self._subscriptions):
            await sub.close()
        await self._http.aclose()

    async def create_flow(
        self,
        name: str,
        source: str = "rtmp_push",
        source_language: str = "en",
        target_languages: Iterable[str] = (),
        url: str | None = None,
        max_latency: float = 5,
        caption: CaptionFormat | Mapping[str, int] | None = None,
        model: str | None = None,
    ) -> Flow:
        """Create a flow (``created``); ``name`` is also its stream name."""
        body: dict[str, Any] = {
            "name": name,
            "source": source,
            "source_language": source_language,
            "target_languages": list(target_languages),
            "max_latency": max_latency,
        }
        if url is not None:
            body["url"] = url
        if caption is not None:
            body["caption"] = caption.to_json() if isinstance(caption, CaptionFormat) else caption
        if model is not None:
            body["model"] = model
        return Flow.from_json(await self._json("POST", "/v1/flows", body))

    async def start_flow(self, flow: FlowRef) -> Flow:
        """Start accepting the publisher: ``starting``, then ``live`` when media arrives."""
        return Flow.from_json(await self._json("POST", f"{_path(flow)}/start"))

    async def stop_flow(self, flow: FlowRef) -> Flow:
        """Flush, send the end of stream on every channel, and end the flow (``ended``)."""
        return Flow.from_json(await self._json("POST", f"{_path(flow)}/stop"))

    async def get_flow(self, flow: FlowRef) -> Flow:
        return Flow.from_json(await self._json("GET", _path(flow)))

    async def list_flows(self) -> list[Flow]:
        """Every flow, oldest first."""
        listed = await self._json("GET", "/v1/flows")
        return [Flow.from_json(f) for f in listed["flows"]]

    async def delete_flow(self, flow: FlowRef) -> None:
        """Delete a flow (stopping it first if it runs); its channels close."""
        await self._request("DELETE", _path(flow))

    async def create_token(
        self,
        streams: str | Sequence[str],
        ttl: int | None = None,
        origins: Sequence[str] | None = None,
    ) -> Token:
        """A viewer token for ``streams`` (stream names), valid ``ttl`` seconds (server
        default: one hour), usable from ``origins`` only when given."""
        names = [streams] if isinstance(streams, str) else list(streams)
        body: dict[str, Any] = {"streams": names}
        if ttl is not None:
            body["ttl"] = ttl
        if origins is not None:
            body["origins"] = list(origins)
        return Token.from_json(await self._json("POST", "/v1/tokens", body))

    @overload
    async def transcript(
        self, flow: FlowRef, language: str | None = None, format: Literal["json"] = "json"
    ) -> Transcript: ...

    @overload
    async def transcript(self, flow: FlowRef, language: str | None, format: TextFormat) -> str: ...

    @overload
    async def transcript(
        self, flow: FlowRef, language: str | None = None, *, format: TextFormat
    ) -> str: ...

    async def transcript(
        self, flow: FlowRef, language: str | None = None, format: str = "json"
    ) -> Transcript | str:
        """The flow's final captions so far in ``language`` (default: the source language):
        a Transcript for ``json``, else the WebVTT, SubRip or plain text."""
        params = {"format": format} | ({"language": language} if language else {})
        response = await self._request("GET", f"{_path(flow)}/transcript", params=params)
        return Transcript.from_json(response.json()) if format == "json" else response.text

    def subscribe(
        self,
        channel: str | Flow,
        token: str | TokenSource | None = None,
        on_caption: OnCaption | None = None,
        types: Iterable[str] | None = ("captions",),
        *,
        language: str | None = None,
        since: StreamPosition | None = None,
        on_gap: OnGap | None = None,
        token_ttl: int | None = None,
    ) -> Subscription:
        """A channel's messages: ``async for caption in cc.subscribe(...)``, or
        ``await cc.subscribe(..., on_caption=show)`` to run it to the end.

        ``channel`` is a channel name, or a flow (its ``language`` channel, default the
        source language). Without ``token`` the client mints one (``token_ttl`` seconds)
        and mints a fresh one before each expires. ``types``: ``captions`` (finished
        blocks), ``transcript`` (growing text), or None for both. See Subscription for
        resuming, ``since`` and ``on_gap``.
        """
        name = channel.channel(language) if isinstance(channel, Flow) else channel
        source = token if token is not None else self._token_source(name, token_ttl)
        sub = Subscription(
            self.ws_url,
            name,
            source,
            types=types,
            on_caption=on_caption,
            on_gap=on_gap,
            since=since,
        )
        self._subscriptions.add(sub)
        return sub

    def _token_source(self, channel: str, ttl: int | None) -> TokenSource:
        stream = channel.split("-", 1)[0]  # stream names have no hyphen

        async def mint() -> str:
            try:
                return (await self.create_token([stream], ttl)).token
            except httpx.TransportError as exc:
                raise ConnectionError(f"cannot mint a token: {exc}") from exc
            except ApiError as exc:
                if exc.status < 500:
                    raise  # refused: retrying cannot help
                raise ConnectionError(f"cannot mint a token: {exc}") from exc

        return mint

    async def _json(self, method: str, path: str, body: object = None) -> Any:
        return (await self._request(method, path, json=body)).json()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await self._http.request(method, path, **kwargs)
        if response.is_error:
            raise _api_error(response)
        return response


def websocket_url(http_url: str) -> str:
    """``/v1/ws`` of the server at ``http_url`` (``https`` → ``wss``)."""
    parts = urlsplit(http_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/v1/ws", "", ""))


def _path(flow: FlowRef) -> str:
    flow_id = flow.flow_id if isinstance(flow, Flow) else flow
    return f"/v1/flows/{quote(flow_id, safe='')}"


def _api_error(response: httpx.Response) -> ApiError:
    try:
        error = response.json()["error"]
        return ApiError(response.status_code, str(error["code"]), str(error["message"]))
    except (ValueError, KeyError, TypeError):
        return ApiError(response.status_code, "http_error", response.text[:200] or "no body")
