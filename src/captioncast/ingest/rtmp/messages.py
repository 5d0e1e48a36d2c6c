"""RTMP message type ids and the protocol control messages, built as payload bytes."""

from __future__ import annotations

import struct

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


def uint32(value: int) -> bytes:
    """A big-endian 32-bit payload, as Set Chunk Size, Ack and Window Ack Size carry."""
    return struct.pack(">I", value % (1 << 32))


def set_peer_bandwidth(window: int, limit_type: int = PEER_BANDWIDTH_DYNAMIC) -> bytes:
    """The payload of Set Peer Bandwidth."""
    return struct.pack(">IB", window, limit_type)


def user_control(event: int, value: int) -> bytes:
    """The payload of a user control message carrying one 32-bit value."""
    return struct.pack(">HI", event, value % (1 << 32))
