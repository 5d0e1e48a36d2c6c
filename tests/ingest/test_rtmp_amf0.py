import struct

import pytest

from captioncast.errors import RtmpProtocolError
from captioncast.ingest.rtmp import amf0


@pytest.mark.parametrize(
    "value",
    [
        0.0,
        -1.5,
        1e300,
        True,
        False,
        "",
        "connect",
        "ünïcödé ✓",
        "x" * 70_000,  # becomes a long string
        None,
        {},
        {"app": "live", "flashVer": "FMLE/3.0", "audioCodecs": 3191.0, "fpad": False},
        {"nested": {"deeper": {"list": [1.0, "two", None, {"k": True}]}}},
        [],
        [1.0, 2.0, "three"],
    ],
)
def test_round_trip(value: amf0.AmfValue) -> None:
    assert amf0.decode_all(amf0.encode(value)) == [value]


def test_integers_encode_as_numbers() -> None:
    assert amf0.encode(3) == b"\x00" + struct.pack(">d", 3.0)
    assert amf0.decode_all(amf0.encode(3)) == [3.0]


def test_booleans_are_not_numbers() -> None:
    assert amf0.encode(True) == b"\x01\x01"
    assert amf0.decode_all(b"\x01\x00") == [False]


def test_long_string_marker_used_beyond_65535_bytes() -> None:
    assert amf0.encode("a" * 65_535)[0] == amf0.STRING
    assert amf0.encode("a" * 65_536)[0] == amf0.LONG_STRING


def test_ecma_array_round_trips_as_ecma_array() -> None:
    value = amf0.EcmaArray(duration=0.0, audiocodecid=10.0, encoder="Lavf59")
    data = amf0.encode(value)
    assert data[0] == amf0.ECMA_ARRAY
    assert struct.unpack(">I", data[1:5]) == (3,)
    [decoded] = amf0.decode_all(data)
    assert isinstance(decoded, amf0.EcmaArray)
    assert decoded == value


def test_several_values_decode_in_order() -> None:
    data = amf0.encode("_result", 1, None, {"code": "ok"})
    assert amf0.decode_all(data) == ["_result", 1.0, None, {"code": "ok"}]


def test_decodes_hand_built_connect_command() -> None:
    def short(text: str) -> bytes:
        return struct.pack(">H", len(text)) + text.encode()

    data = (
        b"\x02"
        + short("connect")
        + b"\x00"
        + struct.pack(">d", 1.0)
        + b"\x03"
        + short("app")
        + b"\x02"
        + short("live")
        + short("tcUrl")
        + b"\x02"
        + short("rtmp://h/live")
        + b"\x00\x00\x09"
        + b"\x06"  # undefined
        + b"\x0b"
        + struct.pack(">d", 1.5e12)
        + b"\x00\x00"  # date
    )
    assert amf0.decode_all(data) == [
        "connect",
        1.0,
        {"app": "live", "tcUrl": "rtmp://h/live"},
        None,
        1.5e12,
    ]


def test_ecma_array_count_is_only_a_hint() -> None:
    # Some encoders write a count of 0 and then the properties anyway.
    data = b"\x08\x00\x00\x00\x00" + b"\x00\x01a" + b"\x05" + b"\x00\x00\x09"
    assert amf0.decode_all(data) == [{"a": None}]


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x01\x02",  # truncated number
        b"\x01",  # truncated boolean
        b"\x02\x00\x05abc",  # string shorter than its length
        b"\x0c\x00\x00\x10\x00abc",  # long string shorter than its length
        b"\x03\x00\x01a\x05",  # object without its end marker
        b"\x03\x00\x01a",  # object key without a value
        b"\x08\x00\x00\x00\x01",  # ECMA array without its end marker
        b"\x0a\xff\xff\xff\xff\x05",  # strict array count far beyond the data
        b"\x07\x00\x01",  # reference: not supported
        b"\x11\x01",  # switch to AMF3: not supported here
        b"\x0d",  # unsupported marker
        b"\x02\x00\x02\xff\xfe",  # not UTF-8
        b"\x0b\x00\x00",  # truncated date
    ],
)
def test_malformed_input_raises_protocol_error(data: bytes) -> None:
    with pytest.raises(RtmpProtocolError):
        amf0.decode_all(data)


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    data = b"\x0a\x00\x00\x00\x01" * 10_000 + b"\x05"
    with pytest.raises(RtmpProtocolError, match="nested"):
        amf0.decode_all(data)


def test_nesting_within_the_limit_decodes() -> None:
    depth = amf0.MAX_DEPTH
    data = b"\x0a\x00\x00\x00\x01" * depth + b"\x05"
    value = amf0.decode_all(data)[0]
    for _ in range(depth):
        assert isinstance(value, list)
        value = value[0]
    assert value is None


def test_encoding_an_unsupported_type_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        amf0.encode(b"bytes")
    with pytest.raises(TypeError):
        amf0.encode(object())


def test_every_prefix_of_a_valid_message_fails_cleanly() -> None:
    data = amf0.encode("onStatus", 0, None, {"level": "status", "code": "x", "list": [1, 2]})
    for end in range(1, len(data)):
        try:
            amf0.decode_all(data[:end])
        except RtmpProtocolError:
            pass
