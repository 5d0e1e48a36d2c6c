"""RTMP messages: type ids, the protocol control payloads, aggregates and AMF bodies."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from captioncast.errors import RtmpProtocolError

SET_CHUNK_SIZE = 1
ABORT = 2
ACKNOWLEDGEMENT = 3
USER_CONTROL = 4
WINDOW_ACK_SIZE = 5
SET_PEER_BANDWIDTH = 6
AUDIO = 8
VIDEO = 9
DATA_AMF3 = 15
COMMAND_AMF3 = 17
DATA_AMF0 = 18
COMMAND_AMF0 = 20
AGGREGATE = 22

# User control event types.
STREAM_BEGIN = 0
STREAM_EOF = 1
PING_REQUEST = 6
PING_RESPONSE = 7

# Chunk stream ids by convention: protocol control, commands, and per-stream media.
CONTROL_CSID = 2
COMMAND_CSID = 3
STREAM_CSID = 5

PEER_BANDWIDTH_DYNAMIC = 2


@dataclass(frozen=True, slots=True)
class RtmpMessage:
    """One reassembled message.

    ``timestamp`` is absolute in milliseconds on its chunk stream, with deltas applied and
    32-bit wrap-around unwrapped (it may exceed 2**32 on a stream that runs for weeks).
    """

    csid: int
    type_id: int
    stream_id: int
    timestamp: int
    payload: bytes


def uint32(value: int) -> bytes:
    """A big-endian 32-bit payload, as Set Chunk Size, Ack and Window Ack Size carry."""
    return struct.pack(">I", value % (1 << 32))


def set_peer_bandwidth(window: int, limit_type: int = PEER_BANDWIDTH_DYNAMIC) -> bytes:
    """The payload of Set Peer Bandwidth."""
    return struct.pack(">IB", window, limit_type)


def user_control(event: int, value: int) -> bytes:
    """The payload of a user control message carrying one 32-bit value."""
    return struct.pack(">HI", event, value % (1 << 32))


def amf0_body(message: RtmpMessage) -> bytes:
    """The AMF0 part of a command or data message (AMF3 ones start with a format byte)."""
    # AMF3 command and data messages start with one format byte, then AMF0 in practice.
    if message.type_id in (COMMAND_AMF3, DATA_AMF3) and message.payload[:1] == b"\x00":
        return message.payload[1:]
    return message.payload


def split_aggregate(message: RtmpMessage) -> list[RtmpMessage]:
    """The FLV tags inside an aggregate message, re-timed onto the message's timestamp."""
    data, pos, out = message.payload, 0, []
    first: int | None = None
    while pos + 11 <= len(data):
        size = int.from_bytes(data[pos + 1 : pos + 4], "big")
        ts = int.from_bytes(data[pos + 4 : pos + 7], "big") | (data[pos + 7] << 24)
        end = pos + 11 + size
        if end > len(data):
            raise RtmpProtocolError("aggregate message truncated")
        first = ts if first is None else first
        out.append(
            RtmpMessage(
                message.csid,
                data[pos],
                message.stream_id,
                message.timestamp + ts - first,
                data[pos + 11 : end],
            )
        )
        pos = end + 4  # skip the back pointer
    return out
