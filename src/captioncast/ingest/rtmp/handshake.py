"""The server side of the plain RTMP handshake: C0 C1 → S0 S1 S2, then C2."""

from __future__ import annotations

from collections.abc import Callable

from captioncast.errors import RtmpProtocolError

HANDSHAKE_SIZE = 1536
RTMP_VERSION = 3


class ServerHandshake:
    """Consumes the peer's handshake bytes and produces the server's reply.

    S1 carries a zero version field, which tells ffmpeg, OBS and librtmp to skip the
    digest ("complex") handshake; S2 echoes C1. C2 is read and not checked, since encoders
    differ in what they put there.
    """

    def __init__(self, random_bytes: Callable[[int], bytes]) -> None:
        self._random_bytes = random_bytes
        self._buffer = bytearray()
        self._replied = False
        self.done = False

    def receive(self, data: bytes) -> tuple[bytes, bytes]:
        """Take bytes; return (bytes to send, bytes that follow the handshake)."""
        self._buffer += data
        reply = b""
        if not self._replied:
            if self._buffer[:1] and self._buffer[0] != RTMP_VERSION:
                raise RtmpProtocolError(f"unsupported RTMP version {self._buffer[0]}")
            if len(self._buffer) < 1 + HANDSHAKE_SIZE:
                return b"", b""
            c1 = bytes(self._buffer[1 : 1 + HANDSHAKE_SIZE])
            del self._buffer[: 1 + HANDSHAKE_SIZE]
            s1 = bytes(8) + self._random_bytes(HANDSHAKE_SIZE - 8)
            reply = bytes([RTMP_VERSION]) + s1 + c1
            self._replied = True
        if len(self._buffer) < HANDSHAKE_SIZE:
            return reply, b""
        rest = bytes(self._buffer[HANDSHAKE_SIZE:])
        self._buffer = bytearray()
        self.done = True
        return reply, rest
