"""The RTMP chunk stream: messages cut into chunks and interleaved on one connection.

:class:`ChunkReader` reassembles messages from bytes as they arrive (basic headers of 1–3
bytes, message header formats 0–3, extended timestamps, timestamp deltas, Set Chunk Size and
Abort from the peer) and :class:`ChunkWriter` cuts outgoing messages into chunks. Neither does
I/O. The reader caps the size of one message, the number of chunk streams and the bytes held
in unfinished messages, so a hostile peer cannot make it grow without bound; breaking any rule
raises :class:`~captioncast.errors.RtmpProtocolError`.
"""

from __future__ import annotations

import struct

from captioncast.errors import RtmpProtocolError
from captioncast.ingest.rtmp.messages import ABORT, SET_CHUNK_SIZE, RtmpMessage

__all__ = ["ChunkReader", "ChunkWriter", "RtmpMessage", "encode_basic_header"]

DEFAULT_CHUNK_SIZE = 128
MAX_CHUNK_SIZE = 0x7FFFFFFF
MAX_MESSAGE_SIZE = 4 * 1024 * 1024
MAX_CHUNK_STREAMS = 64

_EXTENDED = 0xFFFFFF
_WRAP = 1 << 32
_HEADER_SIZES = (11, 7, 3, 0)


class _ChunkStream:
    """What the previous header on one chunk stream said, which later headers omit."""

    __slots__ = (
        "raw",
        "absolute",
        "delta",
        "length",
        "type_id",
        "stream_id",
        "extended",
        "partial",
        "started",
    )

    def __init__(self) -> None:
        self.raw = 0  # the 32-bit timestamp as the peer counts it
        self.absolute = 0  # the same, unwrapped
        self.delta = 0
        self.length = 0
        self.type_id = 0
        self.stream_id = 0
        self.extended = False
        self.partial: bytearray | None = None
        self.started = False

    def advance(self, raw: int) -> None:
        """Move to a new 32-bit timestamp, taking the nearest unwrapped value."""
        step = (raw - self.raw) % _WRAP
        if step >= _WRAP // 2:
            step -= _WRAP
        self.absolute = raw if not self.started else self.absolute + step
        self.raw = raw


class ChunkReader:
    """Reassembles RTMP messages from the bytes a peer sends."""

    def __init__(
        self,
        *,
        max_message_size: int = MAX_MESSAGE_SIZE,
        max_chunk_streams: int = MAX_CHUNK_STREAMS,
    ) -> None:
        self.chunk_size = DEFAULT_CHUNK_SIZE
        self._max_message_size = max_message_size
        self._max_chunk_streams = max_chunk_streams
        # Unfinished messages may together hold at most this many bytes.
        self._max_buffered = 2 * max_message_size
        self._buffered = 0
        self._streams: dict[int, _ChunkStream] = {}
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[RtmpMessage]:
        """Take bytes from the peer and return every message they complete."""
        self._buffer += data
        messages: list[RtmpMessage] = []
        pos = 0
        while True:
            advanced = self._read_chunk(pos, messages)
            if advanced == pos:
                break
            pos = advanced
        del self._buffer[:pos]
        return messages

    def _read_chunk(self, pos: int, messages: list[RtmpMessage]) -> int:
        """Read one whole chunk at ``pos``; return the new position (``pos`` if incomplete)."""
        buf = self._buffer
        basic = _parse_basic_header(buf, pos)
        if basic is None:
            return pos
        fmt, csid, pos_after = basic
        header_end = pos_after + _HEADER_SIZES[fmt]
        if header_end > len(buf):
            return pos
        stream = self._streams.get(csid)
        if stream is None and fmt != 0:
            raise RtmpProtocolError(f"chunk stream {csid} starts without a full header")
        if fmt != 3 and stream is not None and stream.partial is not None:
            raise RtmpProtocolError(f"new message on chunk stream {csid} before the last ended")
        ts_field = (
            int.from_bytes(buf[pos_after : pos_after + 3], "big")
            if fmt != 3
            else (_EXTENDED if stream is not None and stream.extended else 0)
        )
        if ts_field == _EXTENDED:
            if header_end + 4 > len(buf):
                return pos
            ts_value = int.from_bytes(buf[header_end : header_end + 4], "big")
            header_end += 4
        else:
            ts_value = ts_field
        if stream is None:
            if len(self._streams) >= self._max_chunk_streams:
                raise RtmpProtocolError("too many chunk streams")
            stream = self._streams[csid] = _ChunkStream()
        length = stream.length
        if fmt in (0, 1):
            length = int.from_bytes(buf[pos_after + 3 : pos_after + 6], "big")
            if length > self._max_message_size:
                raise RtmpProtocolError(f"message of {length} bytes exceeds the limit")
        done = len(stream.partial) if stream.partial is not None else 0
        piece = min(self.chunk_size, length - done)
        if header_end + piece > len(buf):
            return pos
        # The whole chunk is here: only now change the stream's state.
        self._apply_header(stream, fmt, buf, pos_after, ts_field, ts_value, length)
        if stream.partial is None:
            stream.partial = bytearray()
        stream.partial += buf[header_end : header_end + piece]
        self._buffered += piece
        if self._buffered > self._max_buffered:
            raise RtmpProtocolError("too many bytes held in unfinished messages")
        if len(stream.partial) >= stream.length:
            messages.append(self._finish(csid, stream))
        return header_end + piece

    @staticmethod
    def _apply_header(
        stream: _ChunkStream,
        fmt: int,
        buf: bytearray,
        at: int,
        ts_field: int,
        ts_value: int,
        length: int,
    ) -> None:
        if fmt == 3:
            if stream.partial is None:  # a new message repeating the last header
                stream.advance((stream.raw + stream.delta) % _WRAP)
            return
        stream.extended = ts_field == _EXTENDED
        stream.length = length
        if fmt in (0, 1):
            stream.type_id = buf[at + 6]
        if fmt == 0:
            stream.stream_id = int.from_bytes(buf[at + 7 : at + 11], "little")
            # The spec: a type 3 chunk after a type 0 one repeats its timestamp as a delta.
            stream.delta = ts_value
            stream.advance(ts_value)
        else:
            stream.delta = ts_value
            stream.advance((stream.raw + ts_value) % _WRAP)
        stream.started = True

    def _finish(self, csid: int, stream: _ChunkStream) -> RtmpMessage:
        assert stream.partial is not None
        payload = bytes(stream.partial)
        self._buffered -= len(payload)
        stream.partial = None
        message = RtmpMessage(csid, stream.type_id, stream.stream_id, stream.absolute, payload)
        if message.type_id == SET_CHUNK_SIZE and message.stream_id == 0:
            self._set_chunk_size(payload)
        elif message.type_id == ABORT and message.stream_id == 0:
            self._abort(payload)
        return message

    def _set_chunk_size(self, payload: bytes) -> None:
        if len(payload) < 4:
            raise RtmpProtocolError("Set Chunk Size message too short")
        (size,) = struct.unpack(">I", payload[:4])
        if size == 0 or size > MAX_CHUNK_SIZE:
            raise RtmpProtocolError(f"invalid chunk size {size}")
        self.chunk_size = size

    def _abort(self, payload: bytes) -> None:
        if len(payload) < 4:
            raise RtmpProtocolError("Abort message too short")
        (csid,) = struct.unpack(">I", payload[:4])
        stream = self._streams.get(csid)
        if stream is not None and stream.partial is not None:
            self._buffered -= len(stream.partial)
            stream.partial = None


def _parse_basic_header(buf: bytearray, pos: int) -> tuple[int, int, int] | None:
    """Return (fmt, csid, position after the basic header), or None if incomplete."""
    if pos >= len(buf):
        return None
    first = buf[pos]
    fmt, low = first >> 6, first & 0x3F
    if low == 0:
        if pos + 2 > len(buf):
            return None
        return fmt, 64 + buf[pos + 1], pos + 2
    if low == 1:
        if pos + 3 > len(buf):
            return None
        return fmt, 64 + buf[pos + 1] + 256 * buf[pos + 2], pos + 3
    return fmt, low, pos + 1


def encode_basic_header(fmt: int, csid: int) -> bytes:
    """The 1-, 2- or 3-byte basic header for ``csid`` (2 to 65599)."""
    if 2 <= csid <= 63:
        return bytes([(fmt << 6) | csid])
    if 64 <= csid <= 319:
        return bytes([fmt << 6, csid - 64])
    if 320 <= csid <= 65599:
        rest = csid - 64
        return bytes([(fmt << 6) | 1, rest & 0xFF, rest >> 8])
    raise ValueError(f"chunk stream id {csid} out of range")


class ChunkWriter:
    """Cuts outgoing messages into chunks: a type 0 header, then type 3 continuations."""

    def __init__(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self.chunk_size = chunk_size

    def write(
        self, csid: int, type_id: int, stream_id: int, timestamp: int, payload: bytes
    ) -> bytes:
        """Return the chunks that carry one message."""
        ts = timestamp % _WRAP
        extended = ts >= _EXTENDED
        ts_bytes = struct.pack(">I", ts) if extended else b""
        out = bytearray(encode_basic_header(0, csid))
        out += min(ts, _EXTENDED).to_bytes(3, "big")
        out += len(payload).to_bytes(3, "big")
        out.append(type_id)
        out += struct.pack("<I", stream_id)
        out += ts_bytes
        out += payload[: self.chunk_size]
        for start in range(self.chunk_size, len(payload), self.chunk_size):
            out += encode_basic_header(3, csid) + ts_bytes
            out += payload[start : start + self.chunk_size]
        return bytes(out)
