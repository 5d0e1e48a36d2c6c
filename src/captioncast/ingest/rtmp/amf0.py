"""AMF0, the serialization RTMP commands and metadata are written in.

Values map to Python as: number → ``float``, boolean → ``bool``, string and long string →
``str``, object → ``dict``, ECMA array → :class:`EcmaArray` (a ``dict``), strict array →
``list``, null and undefined → ``None``, date → ``float`` (milliseconds since the epoch).
Decoding is strict and bounded: malformed input raises
:class:`~captioncast.errors.RtmpProtocolError`, never another exception.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import TypeAlias

from captioncast.errors import RtmpProtocolError

NUMBER = 0x00
BOOLEAN = 0x01
STRING = 0x02
OBJECT = 0x03
NULL = 0x05
UNDEFINED = 0x06
ECMA_ARRAY = 0x08
OBJECT_END = 0x09
STRICT_ARRAY = 0x0A
DATE = 0x0B
LONG_STRING = 0x0C

# Nesting deeper than this is not metadata, it is an attack on the recursion limit.
MAX_DEPTH = 32

AmfValue: TypeAlias = "float | bool | str | None | dict[str, AmfValue] | list[AmfValue]"


class EcmaArray(dict[str, AmfValue]):
    """A ``dict`` that encodes as an AMF0 ECMA array (the type ``onMetaData`` uses)."""


def encode(*values: object) -> bytes:
    """Encode each value in turn and return the concatenated AMF0 bytes."""
    out = bytearray()
    for value in values:
        _encode_value(out, value, 0)
    return bytes(out)


def decode_all(data: bytes) -> list[AmfValue]:
    """Decode every value in ``data``; raise RtmpProtocolError on malformed input."""
    decoder = _Decoder(data)
    values: list[AmfValue] = []
    while not decoder.at_end():
        values.append(decoder.value(0))
    return values


def _encode_string_body(out: bytearray, text: str) -> None:
    raw = text.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise ValueError("AMF0 short string longer than 65535 bytes")
    out += struct.pack(">H", len(raw)) + raw


def _encode_properties(out: bytearray, mapping: Mapping[str, object], depth: int) -> None:
    for key, item in mapping.items():
        _encode_string_body(out, str(key))
        _encode_value(out, item, depth + 1)
    out += b"\x00\x00" + bytes([OBJECT_END])


def _encode_value(out: bytearray, value: object, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError("AMF0 value nested too deeply")
    if value is None:
        out.append(NULL)
    elif isinstance(value, bool):  # before int: bool is an int
        out += bytes([BOOLEAN, 1 if value else 0])
    elif isinstance(value, int | float):
        out.append(NUMBER)
        out += struct.pack(">d", float(value))
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        if len(raw) > 0xFFFF:
            out.append(LONG_STRING)
            out += struct.pack(">I", len(raw)) + raw
        else:
            out.append(STRING)
            _encode_string_body(out, value)
    elif isinstance(value, EcmaArray):
        out.append(ECMA_ARRAY)
        out += struct.pack(">I", len(value))
        _encode_properties(out, value, depth)
    elif isinstance(value, Mapping):
        out.append(OBJECT)
        _encode_properties(out, value, depth)
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        out.append(STRICT_ARRAY)
        out += struct.pack(">I", len(value))
        for item in value:
            _encode_value(out, item, depth + 1)
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as AMF0")


class _Decoder:
    """A cursor over AMF0 bytes; every read checks the bounds first."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def at_end(self) -> bool:
        return self._pos >= len(self._data)

    def _take(self, n: int) -> bytes:
        end = self._pos + n
        if end > len(self._data):
            raise RtmpProtocolError("AMF0 value truncated")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def _utf8(self, n: int) -> str:
        try:
            return self._take(n).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RtmpProtocolError("AMF0 string is not UTF-8") from exc

    def _short_string(self) -> str:
        (length,) = struct.unpack(">H", self._take(2))
        return self._utf8(length)

    def value(self, depth: int) -> AmfValue:
        if depth > MAX_DEPTH:
            raise RtmpProtocolError("AMF0 value nested too deeply")
        marker = self._take(1)[0]
        if marker == NUMBER:
            return float(struct.unpack(">d", self._take(8))[0])
        if marker == BOOLEAN:
            return self._take(1)[0] != 0
        if marker == STRING:
            return self._short_string()
        if marker == LONG_STRING:
            (length,) = struct.unpack(">I", self._take(4))
            return self._utf8(length)
        if marker in (NULL, UNDEFINED):
            return None
        if marker == OBJECT:
            return self._properties({}, depth)
        if marker == ECMA_ARRAY:
            self._take(4)  # the count is a hint only; the object-end marker ends the array
            return self._properties(EcmaArray(), depth)
        if marker == STRICT_ARRAY:
            return self._strict_array(depth)
        if marker == DATE:
            (millis,) = struct.unpack(">d", self._take(8))
            self._take(2)  # time zone, reserved and always zero
            return float(millis)
        raise RtmpProtocolError(f"unsupported AMF0 type marker 0x{marker:02x}")

    def _properties(self, target: dict[str, AmfValue], depth: int) -> dict[str, AmfValue]:
        while True:
            key = self._short_string()
            if key == "" and self._data[self._pos : self._pos + 1] == bytes([OBJECT_END]):
                self._pos += 1
                return target
            target[key] = self.value(depth + 1)

    def _strict_array(self, depth: int) -> list[AmfValue]:
        (count,) = struct.unpack(">I", self._take(4))
        # Each element takes at least one byte: a count beyond what is left is a lie.
        if count > len(self._data) - self._pos:
            raise RtmpProtocolError("AMF0 strict array count exceeds the data")
        return [self.value(depth + 1) for _ in range(count)]
