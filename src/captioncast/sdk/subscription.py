"""The asyncio edge of a subscription: drives a ViewerSession over ``websockets``.

A ``Subscription`` is an async iterator of ``Caption`` (``async for caption in sub``) and an
awaitable that runs it to the end with a callback (``await sub``). Underneath it keeps one
connection at a time: a dropped connection, 1001, 1011, 1012 or 4008 is followed by a
reconnection with backoff that resumes from the last message (see ``viewer.after_close``).
With a token source (an async callable instead of a token string) it also asks for a fresh
token shortly before the current one expires and sends it as a new ``auth`` on the open
connection; if that fails, the 4001 ``token_expired`` that follows is resumed from as well.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Generator, Iterable
from types import TracebackType
from typing import Any, Self

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from captioncast.core.replay import StreamPosition
from captioncast.sdk.caption import Caption, Gap
from captioncast.sdk.errors import SubscribeError
from captioncast.sdk.viewer import (
    AfterClose,
    Authenticated,
    Delivered,
    Subscribed,
    ViewerSession,
    after_close,
)

log = logging.getLogger(__name__)

TokenSource = Callable[[], Awaitable[str]]
"""Returns a fresh viewer token. OSError or TimeoutError mean "not now, try again later"."""

OnCaption = Callable[[Caption], object]  # may return an awaitable, which is awaited
OnGap = Callable[[Gap], object]

FIRST_BACKOFF = 0.25
REFRESH_RETRY = 1.0


def refresh_time(exp: float, now: float) -> float:
    """When to replace a token that expires at ``exp``: a fifth of its remaining life
    before, at most a minute before."""
    return exp - min(60.0, max(0.0, exp - now) / 5)


class Subscription:
    """One channel, delivered in order, once each, until its end of stream.

    ``token`` is a viewer token, or a TokenSource to call for one on every connection and
    before each expiry. ``types`` keeps only those message types (None: all); the
    end-of-stream message ends the iteration either way. ``on_caption`` is called with each
    message delivered, ``on_gap`` when a resume could not recover (``gaps`` lists them).
    Raises SubscribeError when the server refuses, or when the connection is lost and
    ``reconnect`` is false.
    """

    def __init__(
        self,
        url: str,
        channel: str,
        token: str | TokenSource,
        *,
        types: Iterable[str] | None = None,
        on_caption: OnCaption | None = None,
        on_gap: OnGap | None = None,
        since: StreamPosition | None = None,
        reconnect: bool = True,
        until_end_of_stream: bool = True,
        max_backoff: float = 10.0,
    ) -> None:
        self.url = url
        self.channel = channel
        self.reconnects = 0
        self._token = token
        self._types = None if types is None else frozenset(types)
        self._on_caption = on_caption
        self._on_gap = on_gap
        self._session = ViewerSession(channel, since, until_end_of_stream)
        self._reconnect = reconnect
        self._max_backoff = max_backoff
        self._backoff = FIRST_BACKOFF
        self._ready: deque[Caption] = deque()
        self._ws: ClientConnection | None = None
        self._refresh_at: float | None = None
        self._closed = False

    @property
    def position(self) -> StreamPosition | None:
        """The last message delivered (or where the channel stood at subscribing)."""
        return self._session.position

    @property
    def recovered(self) -> bool | None:
        """Whether the latest (re)subscribe recovered every missed message."""
        return self._session.recovered

    @property
    def gaps(self) -> list[Gap]:
        """Every resume that could not recover, oldest first."""
        return list(self._session.gaps)

    @property
    def finished(self) -> str | None:
        """Why the subscription ended (``end_of_stream``, ``channel_closed``), if it did."""
        return self._session.finished

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Caption:
        while (caption := await self._next()) is not None:
            if self._types is None or caption.type in self._types:
                await _call(self._on_caption, caption)
                return caption
        raise StopAsyncIteration

    async def run(self) -> StreamPosition | None:
        """Deliver everything to ``on_caption`` until the end; return the last position."""
        async with self:
            async for _ in self:
                pass
        return self.position

    def __await__(self) -> Generator[Any, None, StreamPosition | None]:
        return self.run().__await__()

    async def close(self) -> None:
        """Stop: the iteration ends, the connection closes."""
        self._closed = True
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _next(self) -> Caption | None:
        while not self._ready:
            if self._closed or self._session.finished:
                await self.close()
                return None
            ws = self._ws or await self._connect()
            if ws is None:
                continue
            try:
                frame = await self._receive(ws)
            except ConnectionClosed as closed:
                self._ws = None
                if not self._closed:
                    code, reason = (
                        (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (None, "")
                    )
                    await self._dropped(code, reason or "connection lost")
                continue
            await self._handle(frame)
        return self._ready.popleft()

    async def _connect(self) -> ClientConnection | None:
        """A new connection with hello sent (None: closed meanwhile)."""
        while not self._closed:
            try:
                token = await self._fresh_token()
                ws = await connect(self.url, open_timeout=10, max_size=2**22)
            except InvalidURI as exc:
                raise SubscribeError(None, f"bad URL: {exc}") from exc
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                await self._dropped(None, f"cannot connect: {exc}")
                continue
            if self._closed:  # by another task, while connecting
                await ws.close()
                break
            self._ws = ws
            try:
                for frame in self._session.hello(token):
                    await ws.send(frame)
            except ConnectionClosed:
                pass  # the next receive reports how it closed
            return ws
        return None

    async def _receive(self, ws: ClientConnection) -> str | bytes:
        """The next frame, replacing the token on the way when it is due."""
        while True:
            delay = None if self._refresh_at is None else self._refresh_at - time.time()
            try:
                async with asyncio.timeout(delay):
                    return await ws.recv()
            except TimeoutError:
                await self._refresh(ws)

    async def _refresh(self, ws: ClientConnection) -> None:
        self._refresh_at = None
        try:
            token = await self._fresh_token()
        except (OSError, TimeoutError) as exc:
            log.info("channel %s: no fresh token yet (%s)", self.channel, exc)
            self._refresh_at = time.time() + REFRESH_RETRY
            return
        await ws.send(self._session.reauth(token))  # answered with a new "authenticated"

    async def _fresh_token(self) -> str:
        return self._token if isinstance(self._token, str) else await self._token()

    async def _handle(self, frame: str | bytes) -> None:
        self._backoff = FIRST_BACKOFF  # the server is talking to us again
        for event in self._session.receive(frame):
            if isinstance(event, Delivered):
                self._ready.append(event.caption)
            elif isinstance(event, Authenticated) and not isinstance(self._token, str):
                self._refresh_at = refresh_time(event.exp, time.time())
            elif isinstance(event, Subscribed) and event.gap is not None:
                await _call(self._on_gap, event.gap)

    async def _dropped(self, code: int | None, reason: str) -> None:
        """The connection closed or could not open: raise, or wait before the next try."""
        self._refresh_at = None
        can_refresh = not isinstance(self._token, str)
        if not self._reconnect or after_close(code, reason, can_refresh) is AfterClose.FAIL:
            raise SubscribeError(code, reason)
        log.info(
            "channel %s: %s (%s); reconnecting in %.2fs", self.channel, reason, code, self._backoff
        )
        await asyncio.sleep(self._backoff)
        self._backoff = min(self._backoff * 2, self._max_backoff)
        self.reconnects += 1


async def _call(callback: Callable[[Any], object] | None, value: object) -> None:
    if callback is not None:
        result = callback(value)
        if inspect.isawaitable(result):
            await result
