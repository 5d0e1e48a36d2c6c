"""The contract between the RTMP server and whoever consumes a publisher's stream."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeAlias


class RtmpPublishSink(Protocol):
    """Receives one accepted publisher's stream.

    Called on the event loop; every method must return quickly (hand the data to a decoder
    queue, never decode here). ``attach`` is called exactly once, first, right after the
    publish is accepted and before any media or metadata is delivered. ``on_unpublish`` is
    called exactly once, last, whether the publisher stopped cleanly, the connection dropped,
    it broke the protocol, or the sink called ``disconnect``.
    """

    def attach(self, disconnect: Callable[[], None]) -> None:
        """Hands the sink the means to end its publisher's connection.

        ``disconnect()`` closes the publisher's TCP connection at once (the publisher sees
        the connection drop); nothing more is delivered to this sink after it, and
        ``on_unpublish`` follows once, as usual, soon after, from the connection's task,
        never from inside ``disconnect()`` itself. Call it on the event loop thread only (from
        another thread, through ``loop.call_soon_threadsafe``); it may be called from inside
        any of this sink's methods, including ``attach`` itself. It is idempotent, and a
        no-op once this sink's publish has ended (the connection closed, or the publisher
        unpublished, even if it then published again on the same connection).
        """

    def on_audio(self, timestamp_ms: int, payload: bytes, arrival_epoch: float) -> None:
        """One FLV audio tag body, its RTMP timestamp and the wall-clock time it arrived."""

    def on_video(self, timestamp_ms: int, payload: bytes, arrival_epoch: float) -> None:
        """One FLV video tag body, its RTMP timestamp and the wall-clock time it arrived."""

    def on_metadata(self, metadata: dict[str, object]) -> None:
        """The publisher's ``onMetaData``."""

    def on_unpublish(self) -> None:
        """The stream ended; nothing more will be delivered to this sink."""


Authorize: TypeAlias = Callable[[str, str], Awaitable[RtmpPublishSink | None]]
"""Called with ``(app, stream_key)`` when a peer asks to publish: a sink accepts, ``None``
refuses (the publisher gets NetStream.Publish.BadName and is disconnected)."""
