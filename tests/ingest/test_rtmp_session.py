import random
import struct

import pytest
from fake_rtmp_publisher import C1, HANDSHAKE_SIZE, FakePublisher, ServerReplies

from captioncast.ingest.rtmp import amf0
from captioncast.ingest.rtmp import messages as msg
from captioncast.ingest.rtmp.events import (
    AudioData,
    Connected,
    Metadata,
    ProtocolViolation,
    PublishRequested,
    Unpublished,
    VideoData,
)
from captioncast.ingest.rtmp.session import RtmpServerSession, SessionState

SERVER_HANDSHAKE = 1 + 2 * HANDSHAKE_SIZE


def handshake(session: RtmpServerSession, pub: FakePublisher) -> bytes:
    session.receive_data(pub.c0c1())
    reply = session.data_to_send()
    assert len(reply) == SERVER_HANDSHAKE
    session.receive_data(pub.c2(reply))
    return reply


def publishing_session(key: str = "KEY") -> tuple[RtmpServerSession, FakePublisher, ServerReplies]:
    session, pub, replies = RtmpServerSession(), FakePublisher(), ServerReplies()
    handshake(session, pub)
    session.receive_data(pub.connect() + pub.publish_sequence(key))
    assert session.events_received() == [
        Connected("live", "rtmp://127.0.0.1/live"),
        PublishRequested("live", key),
    ]
    session.accept()
    replies.feed(session.data_to_send())
    return session, pub, replies


def test_handshake_replies_s0_s1_s2() -> None:
    session = RtmpServerSession(random_bytes=lambda n: b"\x07" * n)
    reply = handshake(session, FakePublisher())
    assert reply[0] == 3
    s1, s2 = reply[1 : 1 + HANDSHAKE_SIZE], reply[1 + HANDSHAKE_SIZE :]
    assert s1[:8] == bytes(8)  # zero time and zero version: the plain handshake
    assert s1[8:] == b"\x07" * (HANDSHAKE_SIZE - 8)
    assert s2 == C1
    assert session.state is SessionState.AWAIT_CONNECT
    assert session.events_received() == []


def test_handshake_byte_by_byte_with_connect_pipelined_after_c2() -> None:
    session, pub = RtmpServerSession(), FakePublisher()
    for byte in pub.c0c1():
        session.receive_data(bytes([byte]))
    reply = session.data_to_send()
    assert len(reply) == SERVER_HANDSHAKE
    session.receive_data(pub.c2(reply) + pub.connect("live/"))
    assert session.events_received() == [Connected("live", "rtmp://127.0.0.1/live/")]
    assert session.app == "live"


def test_connect_replies() -> None:
    session, pub, replies = RtmpServerSession(), FakePublisher(), ServerReplies()
    handshake(session, pub)
    session.receive_data(pub.connect())
    replies.feed(session.data_to_send())
    assert msg.uint32(2_500_000) == replies.of_type(msg.WINDOW_ACK_SIZE)[0].payload
    assert replies.of_type(msg.SET_PEER_BANDWIDTH)[0].payload == struct.pack(">IB", 2_500_000, 2)
    assert replies.of_type(msg.SET_CHUNK_SIZE)[0].payload == msg.uint32(4096)
    [result] = replies.commands()
    assert result[:2] == ["_result", 1.0]
    info = result[3]
    assert isinstance(info, dict)
    assert info["code"] == "NetConnection.Connect.Success"
    assert info["level"] == "status"


def test_full_publish_session() -> None:
    session, pub, replies = RtmpServerSession(), FakePublisher(), ServerReplies()
    handshake(session, pub)
    session.receive_data(pub.connect() + pub.publish_sequence("secret-key"))
    events = session.events_received()
    assert events[-1] == PublishRequested("live", "secret-key")
    assert session.state is SessionState.PUBLISH_PENDING
    replies.feed(session.data_to_send())
    results = replies.commands()
    assert [r[:2] for r in results] == [
        ["_result", 1.0],
        ["_result", 2.0],
        ["_result", 3.0],
        ["_result", 4.0],
    ]
    assert results[3][3] == 1.0  # createStream gives stream id 1

    session.accept()
    replies.feed(session.data_to_send())
    assert replies.of_type(msg.USER_CONTROL)[-1].payload == msg.user_control(msg.STREAM_BEGIN, 1)
    status = replies.messages[-1]
    assert status.stream_id == 1
    name, _, _, info = amf0.decode_all(status.payload)
    assert name == "onStatus"
    assert isinstance(info, dict)
    assert (info["level"], info["code"]) == ("status", "NetStream.Publish.Start")

    session.receive_data(
        pub.set_chunk_size(4096)
        + pub.metadata({"audiocodecid": 10.0, "encoder": "Lavf59"})
        + pub.audio(0, b"\xaf\x00\x12\x10")
        + pub.audio(23, b"\xaf\x01" + bytes(300))
        + pub.video(40, b"\x17\x01video")
        + pub.command("FCUnpublish", 6, None, "secret-key")
        + pub.command("deleteStream", 7, None, 1.0)
    )
    assert session.events_received() == [
        Metadata({"audiocodecid": 10.0, "encoder": "Lavf59"}),
        AudioData(0, b"\xaf\x00\x12\x10"),
        AudioData(23, b"\xaf\x01" + bytes(300)),
        VideoData(40, b"\x17\x01video"),
        Unpublished(),
    ]
    assert session.state.value == "connected"
    assert not session.close_expected


def test_messages_wait_while_the_publish_is_decided() -> None:
    session, pub = RtmpServerSession(), FakePublisher()
    handshake(session, pub)
    session.receive_data(
        pub.connect()
        + pub.publish_sequence("k")
        + pub.audio(5, b"\xaf\x01a")
        + pub.command("deleteStream", 6, None, 1.0)
    )
    assert session.events_received()[-1] == PublishRequested("live", "k")
    session.accept()
    assert session.events_received() == [AudioData(5, b"\xaf\x01a"), Unpublished()]


def test_media_before_publish_or_on_another_stream_is_dropped() -> None:
    session, pub = RtmpServerSession(), FakePublisher()
    handshake(session, pub)
    session.receive_data(pub.connect() + pub.audio(0, b"\xaf\x01early"))
    assert session.events_received() == [Connected("live", "rtmp://127.0.0.1/live")]
    session2, pub2, _ = publishing_session()
    session2.receive_data(pub2.audio(0, b"\xaf\x01other", stream_id=2))
    assert session2.events_received() == []


def test_reject_sends_error_status_and_closes() -> None:
    session, pub, replies = RtmpServerSession(), FakePublisher(), ServerReplies()
    handshake(session, pub)
    session.receive_data(pub.connect() + pub.publish_sequence("wrong") + pub.audio(0, b"\xaf\x01"))
    session.events_received()
    session.reject("Publishing refused.")
    replies.feed(session.data_to_send())
    name, _, _, info = replies.commands()[-1]
    assert name == "onStatus"
    assert isinstance(info, dict)
    assert (info["level"], info["code"]) == ("error", "NetStream.Publish.BadName")
    assert info["description"] == "Publishing refused."
    assert session.close_expected
    assert session.events_received() == []  # the held audio was discarded
    session.receive_data(pub.audio(10, b"\xaf\x01late"))
    assert session.events_received() == []
    assert session.data_to_send() == b""


def test_accept_without_a_pending_publish_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError):
        RtmpServerSession().accept()


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x06" + bytes(1536),  # RTMPE: encrypted, not supported
        b"\x00",
    ],
)
def test_bad_handshake_is_a_violation(data: bytes) -> None:
    session = RtmpServerSession()
    session.receive_data(data)
    [event] = session.events_received()
    assert isinstance(event, ProtocolViolation)
    assert "version" in event.reason
    assert session.close_expected
    assert session.data_to_send() == b""


def test_commands_before_connect_are_a_violation() -> None:
    session, pub = RtmpServerSession(), FakePublisher()
    handshake(session, pub)
    session.receive_data(pub.command("createStream", 2, None))
    [event] = session.events_received()
    assert isinstance(event, ProtocolViolation)
    assert "before connect" in event.reason


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda p: p.connect() + p.connect(), "second connect"),
        (
            lambda p: p.connect() + p.command("publish", 5, None, "k", "live", stream_id=1),
            "never created",
        ),
        (lambda p: p.connect() + p.publish_sequence(""), "without a stream name"),
        (
            lambda p: (
                p.connect()
                + p.command("connect", 1, "not an object")[:0]
                + p.writer.write(3, msg.COMMAND_AMF0, 0, 0, b"\x02\x00\x05conn")
            ),
            "truncated",
        ),
        (lambda p: p.writer.write(3, msg.COMMAND_AMF0, 0, 0, amf0.encode(1, 2)), "name"),
        (lambda p: p.command("connect", 1, {"noapp": 1}), "app"),
    ],
)
def test_bad_commands_are_violations(build: object, reason: str) -> None:
    session, pub = RtmpServerSession(), FakePublisher()
    handshake(session, pub)
    session.receive_data(build(pub))  # type: ignore[operator]
    violations = [e for e in session.events_received() if isinstance(e, ProtocolViolation)]
    assert len(violations) == 1
    assert reason in violations[0].reason
    assert session.close_expected


def test_second_publish_is_a_violation() -> None:
    session, pub, _ = publishing_session()
    session.receive_data(pub.command("publish", 9, None, "again", "live", stream_id=1))
    [event] = session.events_received()
    assert isinstance(event, ProtocolViolation)


def test_oversize_message_is_a_violation() -> None:
    session, pub, _ = publishing_session()
    header = b"\x04" + bytes(3) + (5 * 1024 * 1024).to_bytes(3, "big") + b"\x08" + b"\x01\0\0\0"
    session.receive_data(header)
    [event] = session.events_received()
    assert isinstance(event, ProtocolViolation)
    assert "exceeds" in event.reason


def test_acknowledgement_sent_when_the_peer_window_is_reached() -> None:
    session, pub, replies = publishing_session()
    window = pub.control(msg.WINDOW_ACK_SIZE, msg.uint32(1000))
    session.receive_data(window)
    # More than 1000 bytes came before (the handshake alone is 3073): acknowledged at once.
    [first] = replies.feed(session.data_to_send())
    assert first.type_id == msg.ACKNOWLEDGEMENT
    first_total = int.from_bytes(first.payload, "big")
    assert first_total > 1 + 2 * HANDSHAKE_SIZE
    small = pub.audio(1, b"\xaf\x01" + bytes(10))
    session.receive_data(small)
    assert replies.feed(session.data_to_send()) == []  # window not reached again yet
    audio = pub.audio(2, b"\xaf\x01" + bytes(1200))
    session.receive_data(audio)
    [second] = replies.feed(session.data_to_send())
    assert second.type_id == msg.ACKNOWLEDGEMENT
    assert int.from_bytes(second.payload, "big") == first_total + len(small) + len(audio)


def test_ping_request_answered() -> None:
    session, pub, replies = publishing_session()
    session.receive_data(pub.control(msg.USER_CONTROL, msg.user_control(msg.PING_REQUEST, 77)))
    [pong] = replies.feed(session.data_to_send())
    assert pong.payload == msg.user_control(msg.PING_RESPONSE, 77)


def test_timestamps_are_absolute_with_deltas() -> None:
    session, pub, _ = publishing_session()
    # fmt 0 at 1000, then fmt 2 chunks with a 23 ms delta, hand-built.
    data = pub.audio(1000, b"\xaf\x01a")
    data += bytes([0x80 | 4]) + (23).to_bytes(3, "big") + b"\xaf\x01b"
    data += bytes([0xC0 | 4]) + b"\xaf\x01c"
    session.receive_data(data)
    assert [e.timestamp_ms for e in session.events_received() if isinstance(e, AudioData)] == [
        1000,
        1023,
        1046,
    ]


def test_amf3_command_and_data_messages() -> None:
    session, pub = RtmpServerSession(), FakePublisher()
    handshake(session, pub)
    body = b"\x00" + amf0.encode("connect", 1, {"app": "live"})
    session.receive_data(pub.writer.write(3, msg.COMMAND_AMF3, 0, 0, body))
    assert session.events_received() == [Connected("live", None)]


def test_aggregate_message_is_split() -> None:
    session, pub, _ = publishing_session()

    def tag(type_id: int, ts: int, body: bytes) -> bytes:
        head = bytes([type_id]) + len(body).to_bytes(3, "big") + (ts & 0xFFFFFF).to_bytes(3, "big")
        return head + bytes([ts >> 24]) + bytes(3) + body + (11 + len(body)).to_bytes(4, "big")

    payload = tag(8, 500, b"\xaf\x01x") + tag(9, 510, b"\x17v") + tag(8, 523, b"\xaf\x01y")
    session.receive_data(pub.writer.write(4, msg.AGGREGATE, 1, 2000, payload))
    assert session.events_received() == [
        AudioData(2000, b"\xaf\x01x"),
        VideoData(2010, b"\x17v"),
        AudioData(2023, b"\xaf\x01y"),
    ]


def test_random_garbage_never_raises() -> None:
    rng = random.Random(1234)
    for _ in range(300):
        session, pub = RtmpServerSession(), FakePublisher()
        handshake(session, pub)
        if rng.random() < 0.5:
            session.receive_data(pub.connect() + pub.publish_sequence("k"))
            if session.state is SessionState.PUBLISH_PENDING:
                session.accept()
        session.receive_data(rng.randbytes(rng.randint(1, 3000)))
        events = session.events_received()
        assert all(not isinstance(e, ProtocolViolation) for e in events[:-1])
        if session.close_expected:
            assert isinstance(events[-1], ProtocolViolation)


def test_mutated_valid_streams_never_raise() -> None:
    pub = FakePublisher()
    stream = pub.connect() + pub.publish_sequence("k") + pub.audio(0, b"\xaf\x01" + bytes(300))
    rng = random.Random(99)
    for _ in range(300):
        mutated = bytearray(stream)
        for _ in range(rng.randint(1, 8)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        session = RtmpServerSession()
        handshake(session, FakePublisher())
        session.receive_data(bytes(mutated))
        if session.state is SessionState.PUBLISH_PENDING:
            session.accept()
        session.events_received()
