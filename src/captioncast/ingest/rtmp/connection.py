"""Drives one :class:`RtmpServerSession` over an asyncio stream; the server's thin edge."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from captioncast.ingest.rtmp.events import (
    AudioData,
    Connected,
    Metadata,
    ProtocolViolation,
    PublishRequested,
    RtmpEvent,
    Unpublished,
    VideoData,
)
from captioncast.ingest.rtmp.session import RtmpServerSession, SessionState
from captioncast.ingest.rtmp.sink import Authorize, RtmpPublishSink

logger = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
REFUSED = "Publishing refused: stream key not accepted."


class RtmpConnection:
    """One TCP connection: reads with bounded size and time, answers, feeds the sink.

    Until a publish is granted the whole exchange must finish within ``handshake_timeout``
    seconds; after that, a publisher silent for ``idle_timeout`` seconds is dropped. A
    publisher that unpublishes gets ``handshake_timeout`` afresh to publish again.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        authorize: Authorize,
        *,
        handshake_timeout: float,
        idle_timeout: float,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._authorize = authorize
        self._handshake_timeout = handshake_timeout
        self._idle_timeout = idle_timeout
        self._session = RtmpServerSession()
        self._sink: RtmpPublishSink | None = None
        self._publish_count = 0  # which publish the current sink belongs to
        self._disconnecting = False
        self._deadline = 0.0
        self.peer = _format_peer(writer.get_extra_info("peername"))

    def abort(self) -> None:
        """Drop the connection at once; ``run()`` then ends as if the peer had vanished."""
        self._writer.transport.abort()

    async def run(self) -> None:
        """Serve the connection until either side ends it; never raises (but CancelledError)."""
        self._deadline = asyncio.get_running_loop().time() + self._handshake_timeout
        try:
            await self._serve()
        except TimeoutError:
            logger.info("closing RTMP connection from %s: timed out", self.peer)
        except ConnectionError as exc:
            if not self._disconnecting:  # else already logged: we dropped it on purpose
                logger.info("RTMP connection from %s lost: %s", self.peer, exc)
        except Exception:
            logger.exception("closing RTMP connection from %s after an internal error", self.peer)
        finally:
            self._end_publish()
            self._writer.close()
        try:
            async with asyncio.timeout(1.0):
                await self._writer.wait_closed()
        except (TimeoutError, ConnectionError):
            pass

    async def _serve(self) -> None:
        session = self._session
        while not session.close_expected:
            async with asyncio.timeout(self._read_timeout()):
                data = await self._reader.read(READ_SIZE)
            if not data or self._disconnecting:
                return
            session.receive_data(data)
            await self._handle(session.events_received(), time.time())
            if self._disconnecting:
                return
            await self._flush()

    def _read_timeout(self) -> float:
        if self._session.state is SessionState.PUBLISHING:
            return self._idle_timeout
        return max(0.0, self._deadline - asyncio.get_running_loop().time())

    async def _flush(self) -> None:
        data = self._session.data_to_send()
        if data:
            self._writer.write(data)
            async with asyncio.timeout(self._idle_timeout):
                await self._writer.drain()

    async def _handle(self, events: list[RtmpEvent], arrival: float) -> None:
        for event in events:
            if self._disconnecting:
                return  # nothing more reaches a sink that asked for the disconnect
            if isinstance(event, AudioData):
                if self._sink is not None:
                    self._sink.on_audio(event.timestamp_ms, event.payload, arrival)
            elif isinstance(event, VideoData):
                if self._sink is not None:
                    self._sink.on_video(event.timestamp_ms, event.payload, arrival)
            elif isinstance(event, Metadata):
                if self._sink is not None:
                    self._sink.on_metadata(event.metadata)
            elif isinstance(event, PublishRequested):
                await self._decide(event, arrival)
            elif isinstance(event, Unpublished):
                logger.info("publisher %s stopped publishing", self.peer)
                self._end_publish()
                # It may publish again on this connection, within a fresh handshake_timeout.
                loop = asyncio.get_running_loop()
                self._deadline = loop.time() + self._handshake_timeout
            elif isinstance(event, ProtocolViolation):
                logger.warning("closing RTMP connection from %s: %s", self.peer, event.reason)
            elif isinstance(event, Connected):
                logger.debug("RTMP connect from %s to app %r", self.peer, event.app)

    async def _decide(self, request: PublishRequested, arrival: float) -> None:
        try:
            async with asyncio.timeout(self._read_timeout()):
                sink = await self._authorize(request.app, request.stream_key)
        except TimeoutError:
            logger.warning("authorizing the publisher at %s took too long", self.peer)
            sink = None
        if sink is None:
            # The key is a secret: log where it came from, never the key itself.
            logger.warning("refused RTMP publish to app %r from %s", request.app, self.peer)
            self._session.reject(REFUSED)
            return
        logger.info("RTMP publish to app %r from %s accepted", request.app, self.peer)
        self._sink = sink
        self._publish_count += 1
        self._session.accept()
        sink.attach(self._disconnect_for(self._publish_count))
        # Messages held back while deciding are handled now.
        await self._handle(self._session.events_received(), arrival)

    def _disconnect_for(self, publish: int) -> Callable[[], None]:
        """The ``disconnect`` handed to the sink of this connection's ``publish``-th publish."""

        def disconnect() -> None:
            # A no-op once that publish has ended (the connection closed, or the publisher
            # unpublished and perhaps published again with another sink), and when repeated.
            if self._disconnecting or self._sink is None or self._publish_count != publish:
                return
            logger.info("disconnecting RTMP publisher %s at the consumer's request", self.peer)
            self._disconnecting = True
            self.abort()

        return disconnect

    def _end_publish(self) -> None:
        sink, self._sink = self._sink, None
        if sink is not None:
            try:
                sink.on_unpublish()
            except Exception:
                logger.exception("RTMP sink for %s failed in on_unpublish", self.peer)


def _format_peer(peername: object) -> str:
    if isinstance(peername, tuple) and len(peername) >= 2:
        return f"{peername[0]}:{peername[1]}"
    return str(peername)
