"""The contract between the RTMP server and whoever consumes a publisher's stream."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeAlias


class RtmpPublishSink(Protocol):
    """Receives one accepted publisher's stream.

    Called on the event loop; every method must return quickly (hand the data to a decoder
    queue, never decode here). ``on_unpublish`` is called exactly once, whether the publisher
    stopped cleanly, the connection dropped, or it broke the protocol.
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
