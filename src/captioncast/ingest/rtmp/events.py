"""What an RTMP session reports to its driver, in the order the peer caused it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias


@dataclass(frozen=True, slots=True)
class Connected:
    """The peer sent ``connect`` for ``app``; the session has already answered it."""

    app: str
    tc_url: str | None


@dataclass(frozen=True, slots=True)
class PublishRequested:
    """The peer wants to publish ``stream_key``: answer with ``accept()`` or ``reject()``."""

    app: str
    stream_key: str


@dataclass(frozen=True, slots=True)
class AudioData:
    """One FLV audio tag body; ``timestamp_ms`` is absolute on the RTMP timeline."""

    timestamp_ms: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class VideoData:
    """One FLV video tag body; ``timestamp_ms`` is absolute on the RTMP timeline."""

    timestamp_ms: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Metadata:
    """The publisher's ``onMetaData`` (codecs, sizes, encoder name)."""

    metadata: dict[str, object]


@dataclass(frozen=True, slots=True)
class Unpublished:
    """The publisher stopped cleanly (FCUnpublish, deleteStream or closeStream)."""


@dataclass(frozen=True, slots=True)
class ProtocolViolation:
    """The peer broke the protocol; the session is closed and wants the connection closed."""

    reason: str


RtmpEvent: TypeAlias = (
    Connected
    | PublishRequested
    | AudioData
    | VideoData
    | Metadata
    | Unpublished
    | ProtocolViolation
)
