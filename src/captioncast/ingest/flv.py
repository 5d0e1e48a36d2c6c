"""An incremental FLV reader and writer: the container ffmpeg bridges hand us on a pipe.

SRT and pulled sources are demuxed by an ffmpeg process that writes FLV to its stdout; the
tags it yields are the same audio, video and script bodies an RTMP publisher sends, so every
source ends in the same publisher sink. The writer makes the FLV that the HLS muxer reads.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from captioncast.ingest.rtmp import amf0

AUDIO = 8
VIDEO = 9
SCRIPT = 18
HEADER_SIZE = 9
TAG_HEADER_SIZE = 11
MAX_TAG_SIZE = 8 * 1024 * 1024  # more than any real tag; the size field allows 16 MiB


class FlvError(ValueError):
    """The bytes are not FLV (or the stream broke)."""


@dataclass(frozen=True, slots=True)
class FlvTag:
    kind: int  # AUDIO, VIDEO or SCRIPT
    timestamp_ms: int
    payload: bytes


class FlvReader:
    """Feed bytes as they come, take complete tags out. Raises :class:`FlvError` on bytes
    that are not FLV; after that the reader is unusable."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._header_done = False
        self.has_audio = False
        self.has_video = False

    def feed(self, data: bytes) -> list[FlvTag]:
        self._buffer += data
        tags: list[FlvTag] = []
        if not self._header_done:
            if len(self._buffer) < HEADER_SIZE + 4:
                if not b"FLV".startswith(bytes(self._buffer[:3])):
                    raise FlvError("not an FLV stream")
                return tags
            if self._buffer[:3] != b"FLV":
                raise FlvError("not an FLV stream")
            flags = self._buffer[4]
            self.has_audio = bool(flags & 4)
            self.has_video = bool(flags & 1)
            offset = struct.unpack(">I", self._buffer[5:9])[0]
            if offset < HEADER_SIZE:
                raise FlvError("bad FLV header")
            if len(self._buffer) < offset + 4:
                return tags
            del self._buffer[: offset + 4]  # the header and PreviousTagSize0
            self._header_done = True
        while len(self._buffer) >= TAG_HEADER_SIZE:
            head = self._buffer[:TAG_HEADER_SIZE]
            kind = head[0] & 0x1F
            size = int.from_bytes(head[1:4], "big")
            if kind not in (AUDIO, VIDEO, SCRIPT) or size > MAX_TAG_SIZE:
                raise FlvError(f"bad FLV tag (type {kind}, {size} bytes)")
            total = TAG_HEADER_SIZE + size + 4
            if len(self._buffer) < total:
                break
            timestamp = int.from_bytes(head[4:7], "big") | (head[7] << 24)
            payload = bytes(self._buffer[TAG_HEADER_SIZE : TAG_HEADER_SIZE + size])
            del self._buffer[:total]
            tags.append(FlvTag(kind, timestamp, payload))
        return tags


def script_metadata(payload: bytes) -> dict[str, object] | None:
    """The ``onMetaData`` object of a script tag, or None for any other script data."""
    try:
        values = amf0.decode_all(payload)
    except Exception:
        return None
    if len(values) >= 2 and values[0] == "onMetaData" and isinstance(values[1], dict):
        return dict(values[1])
    return None


def flv_header(audio: bool = True, video: bool = True) -> bytes:
    flags = (4 if audio else 0) | (1 if video else 0)
    return b"FLV\x01" + bytes([flags]) + struct.pack(">I", HEADER_SIZE) + b"\x00\x00\x00\x00"


def flv_tag(kind: int, timestamp_ms: int, payload: bytes) -> bytes:
    """One tag and its trailing PreviousTagSize."""
    ts = timestamp_ms & 0xFFFFFFFF
    head = (
        bytes([kind])
        + len(payload).to_bytes(3, "big")
        + (ts & 0xFFFFFF).to_bytes(3, "big")
        + bytes([ts >> 24])
        + b"\x00\x00\x00"
    )
    return head + payload + struct.pack(">I", TAG_HEADER_SIZE + len(payload))
