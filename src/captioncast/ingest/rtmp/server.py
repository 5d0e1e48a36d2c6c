"""An RTMP ingest server: many publishers on one port, each selected by its stream key."""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType

from captioncast.ingest.rtmp.connection import RtmpConnection
from captioncast.ingest.rtmp.sink import Authorize, RtmpPublishSink

__all__ = ["Authorize", "RtmpPublishSink", "RtmpServer"]

logger = logging.getLogger(__name__)

_CLOSE_GRACE = 2.0


class RtmpServer:
    """Accepts RTMP publishers and hands each accepted stream to the sink ``authorize`` gives.

    ``authorize(app, stream_key)`` is awaited when a peer asks to publish; ``None`` refuses.
    A connection must complete the handshake and publish within ``handshake_timeout``
    seconds; an accepted publisher silent for ``idle_timeout`` seconds is dropped. Beyond
    ``max_connections`` simultaneous connections, new ones are closed at once.
    """

    def __init__(
        self,
        authorize: Authorize,
        host: str = "127.0.0.1",
        port: int = 1935,
        *,
        handshake_timeout: float = 10.0,
        idle_timeout: float = 30.0,
        max_connections: int = 256,
    ) -> None:
        self._authorize = authorize
        self._host = host
        self._requested_port = port
        self._handshake_timeout = handshake_timeout
        self._idle_timeout = idle_timeout
        self._max_connections = max_connections
        self._server: asyncio.Server | None = None
        self._connections: dict[RtmpConnection, asyncio.Task[None]] = {}

    @property
    def port(self) -> int:
        """The port actually listened on (useful when constructed with port 0)."""
        if self._server is None or not self._server.sockets:
            return self._requested_port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Start listening."""
        self._server = await asyncio.start_server(
            self._on_connection, self._host, self._requested_port
        )
        logger.info("RTMP ingest listening on %s:%d", self._host, self.port)

    async def close(self) -> None:
        """Stop listening and close every connection; each live publish ends its sink."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        # Dropping each transport ends its read loop the same way a vanished peer would.
        for connection in list(self._connections):
            connection.abort()
        tasks = list(self._connections.values())
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=_CLOSE_GRACE)
            for task in late:  # stuck in an authorize callback, say
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def __aenter__(self) -> RtmpServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        connection = RtmpConnection(
            reader,
            writer,
            self._authorize,
            handshake_timeout=self._handshake_timeout,
            idle_timeout=self._idle_timeout,
        )
        if self._server is None or len(self._connections) >= self._max_connections:
            logger.warning(
                "refusing RTMP connection from %s: too many connections", connection.peer
            )
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._connections[connection] = task
        try:
            await connection.run()
        except asyncio.CancelledError:
            # Only close() cancels this task. Ending normally matters: Python 3.11's stream
            # server logs an error for a handler task that ends cancelled.
            pass
        finally:
            del self._connections[connection]
