import struct

import pytest

from captioncast.errors import RtmpProtocolError
from captioncast.ingest.rtmp.chunks import (
    ChunkReader,
    ChunkWriter,
    RtmpMessage,
    encode_basic_header,
)


def u24(value: int) -> bytes:
    return value.to_bytes(3, "big")


def fmt0(csid: int, ts: int, length: int, type_id: int, stream_id: int) -> bytes:
    ext = ts >= 0xFFFFFF
    head = encode_basic_header(0, csid) + u24(0xFFFFFF if ext else ts) + u24(length)
    head += bytes([type_id]) + struct.pack("<I", stream_id)
    return head + (struct.pack(">I", ts) if ext else b"")


def fmt1(csid: int, delta: int, length: int, type_id: int) -> bytes:
    return encode_basic_header(1, csid) + u24(delta) + u24(length) + bytes([type_id])


def fmt2(csid: int, delta: int) -> bytes:
    return encode_basic_header(2, csid) + u24(delta)


def fmt3(csid: int) -> bytes:
    return encode_basic_header(3, csid)


def summary(messages: list[RtmpMessage]) -> list[tuple[int, int, int, int, bytes]]:
    return [(m.csid, m.type_id, m.stream_id, m.timestamp, m.payload) for m in messages]


@pytest.mark.parametrize("csid", [2, 3, 63, 64, 100, 319, 320, 1000, 65599])
def test_basic_header_sizes(csid: int) -> None:
    header = encode_basic_header(0, csid)
    assert len(header) == (1 if csid < 64 else 2 if csid < 320 else 3)
    data = header + u24(7) + u24(2) + b"\x08" + struct.pack("<I", 1) + b"hi"
    [message] = ChunkReader().feed(data)
    assert (message.csid, message.timestamp, message.payload) == (csid, 7, b"hi")


def test_all_four_header_formats_and_deltas() -> None:
    data = (
        fmt0(4, 1000, 3, 8, 1)
        + b"aaa"
        + fmt1(4, 20, 2, 9)
        + b"bb"  # new length and type, delta 20
        + fmt2(4, 30)
        + b"cc"  # same length and type, delta 30
        + fmt3(4)
        + b"dd"  # everything repeated, delta 30 again
    )
    assert summary(ChunkReader().feed(data)) == [
        (4, 8, 1, 1000, b"aaa"),
        (4, 9, 1, 1020, b"bb"),
        (4, 9, 1, 1050, b"cc"),
        (4, 9, 1, 1080, b"dd"),
    ]


def test_type3_after_type0_repeats_its_timestamp_as_delta() -> None:
    data = fmt0(4, 40, 1, 8, 1) + b"a" + fmt3(4) + b"b"
    assert [m.timestamp for m in ChunkReader().feed(data)] == [40, 80]


def test_message_split_across_chunks() -> None:
    payload = bytes(range(256)) + bytes(44)
    data = fmt0(5, 0, 300, 9, 1) + payload[:128] + fmt3(5) + payload[128:256]
    data += fmt3(5) + payload[256:]
    [message] = ChunkReader().feed(data)
    assert message.payload == payload


def test_extended_timestamp_including_continuation_chunks() -> None:
    ts = 0x01000000
    payload = bytes(200)
    ext = struct.pack(">I", ts)
    data = fmt0(4, ts, 200, 8, 1) + payload[:128] + fmt3(4) + ext + payload[128:]
    [message] = ChunkReader().feed(data)
    assert message.timestamp == ts
    assert message.payload == payload


def test_timestamp_wraps_past_32_bits() -> None:
    start = 0xFFFFFFF0
    data = fmt0(4, start, 1, 8, 1) + b"a" + fmt2(4, 0x20) + b"b" + fmt3(4) + b"c"
    assert [m.timestamp for m in ChunkReader().feed(data)] == [
        start,
        start + 0x20,
        start + 0x40,
    ]


def test_absolute_timestamp_after_wrap_is_unwrapped() -> None:
    data = fmt0(4, 0xFFFFFF00, 1, 8, 1) + b"a" + fmt0(4, 0x100, 1, 8, 1) + b"b"
    assert [m.timestamp for m in ChunkReader().feed(data)] == [0xFFFFFF00, (1 << 32) + 0x100]


def test_interleaved_chunk_streams() -> None:
    audio, video = b"A" * 200, b"V" * 150
    data = (
        fmt0(6, 0, 150, 9, 1)
        + video[:128]
        + fmt0(4, 0, 200, 8, 1)
        + audio[:128]
        + fmt3(6)
        + video[128:]
        + fmt3(4)
        + audio[128:]
    )
    assert summary(ChunkReader().feed(data)) == [
        (6, 9, 1, 0, video),
        (4, 8, 1, 0, audio),
    ]


def test_set_chunk_size_applies_to_following_chunks() -> None:
    payload = bytes(range(250)) * 4
    data = fmt0(2, 0, 4, 1, 0) + struct.pack(">I", 4096) + fmt0(4, 0, 1000, 8, 1) + payload
    reader = ChunkReader()
    messages = reader.feed(data)
    assert reader.chunk_size == 4096
    assert [m.type_id for m in messages] == [1, 8]
    assert messages[1].payload == payload


@pytest.mark.parametrize("size", [0, 0x80000000])
def test_invalid_chunk_size_is_refused(size: int) -> None:
    with pytest.raises(RtmpProtocolError):
        ChunkReader().feed(fmt0(2, 0, 4, 1, 0) + struct.pack(">I", size))


def test_abort_discards_a_partial_message() -> None:
    data = (
        fmt0(4, 0, 200, 8, 1)
        + bytes(128)  # incomplete: 72 bytes missing
        + fmt0(2, 0, 4, 2, 0)
        + struct.pack(">I", 4)  # Abort chunk stream 4
        + fmt0(4, 10, 2, 8, 1)
        + b"ok"
    )
    messages = ChunkReader().feed(data)
    assert [(m.type_id, m.payload) for m in messages] == [(2, struct.pack(">I", 4)), (8, b"ok")]


def test_byte_by_byte_feeding_gives_the_same_messages() -> None:
    ext = struct.pack(">I", 0xFFFFFF + 5)
    data = (
        fmt0(320, 0xFFFFFF + 5, 300, 8, 1)
        + bytes(128)
        + fmt3(320)
        + ext
        + bytes(128)
        + fmt3(320)
        + ext
        + bytes(44)
        + fmt0(4, 9, 3, 20, 0)
        + b"abc"
    )
    whole = summary(ChunkReader().feed(data))
    reader = ChunkReader()
    pieces: list[RtmpMessage] = []
    for byte in data:
        pieces.extend(reader.feed(bytes([byte])))
    assert summary(pieces) == whole
    assert len(whole) == 2


def test_zero_length_message() -> None:
    [message] = ChunkReader().feed(fmt0(3, 0, 0, 20, 0))
    assert message.payload == b""


def test_oversize_message_rejected_from_its_header() -> None:
    reader = ChunkReader(max_message_size=4 * 1024 * 1024)
    with pytest.raises(RtmpProtocolError, match="exceeds"):
        reader.feed(fmt0(4, 0, 4 * 1024 * 1024 + 1, 8, 1))


def test_too_many_chunk_streams_rejected() -> None:
    reader = ChunkReader(max_chunk_streams=4)
    data = b"".join(fmt0(csid, 0, 1, 8, 1) + b"x" for csid in range(3, 7))
    assert len(reader.feed(data)) == 4
    with pytest.raises(RtmpProtocolError, match="chunk streams"):
        reader.feed(fmt0(7, 0, 1, 8, 1) + b"x")


def test_unfinished_messages_cannot_hold_unbounded_memory() -> None:
    reader = ChunkReader(max_message_size=1000)
    reader.feed(fmt0(2, 0, 4, 1, 0) + struct.pack(">I", 500))
    for csid in range(3, 7):  # each leaves half of a 1000-byte message waiting
        reader.feed(fmt0(csid, 0, 1000, 8, 1) + bytes(500))
    with pytest.raises(RtmpProtocolError, match="unfinished"):
        reader.feed(fmt0(7, 0, 1000, 8, 1) + bytes(500))


def test_continuation_header_without_prior_state_rejected() -> None:
    with pytest.raises(RtmpProtocolError, match="without a full header"):
        ChunkReader().feed(fmt1(4, 0, 1, 8) + b"x")
    with pytest.raises(RtmpProtocolError):
        ChunkReader().feed(fmt3(9) + b"x")


def test_new_header_in_the_middle_of_a_message_rejected() -> None:
    data = fmt0(4, 0, 200, 8, 1) + bytes(128) + fmt0(4, 0, 10, 8, 1)
    with pytest.raises(RtmpProtocolError, match="before the last ended"):
        ChunkReader().feed(data)


@pytest.mark.parametrize("chunk_size", [1, 128, 4096])
@pytest.mark.parametrize("timestamp", [0, 1234, 0xFFFFFE, 0xFFFFFF, 0x7FFFFFFF])
def test_writer_round_trips_through_reader(chunk_size: int, timestamp: int) -> None:
    writer = ChunkWriter(chunk_size)
    reader = ChunkReader()
    reader.chunk_size = chunk_size
    payload = bytes(range(256)) * 3
    data = writer.write(70, 9, 1, timestamp, payload) + writer.write(3, 20, 0, timestamp, b"")
    assert summary(reader.feed(data)) == [
        (70, 9, 1, timestamp, payload),
        (3, 20, 0, timestamp, b""),
    ]
