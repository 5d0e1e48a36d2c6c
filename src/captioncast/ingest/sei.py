"""Timestamps carried in the SEI of an H.264 stream: what the broadcaster says the time is.

:class:`AvcSeiReader` takes FLV video tag bodies one at a time (the bytes an RTMP publisher
sends, or an ffmpeg bridge writes) and returns the timestamp of that access unit, if it carries
one. Two carriers are understood:

* ``user_data_unregistered`` (SEI payload type 5) whose text, after its 16-byte UUID, is an
  ISO 8601 date-time or a Unix time in seconds or milliseconds: a wall clock, in Unix seconds;
* ``pic_timing`` (payload type 1) with clock timestamps, read with the help of the SPS: an
  SMPTE ST 12-style time of day, in seconds since 00:00:00.

When an access unit carries both, the wall clock wins: it names the day as well as the time,
and a timecode is often a free-running counter that names no real time at all.

Nothing here raises on bad input: an access unit that cannot be parsed yields None and is
counted in :attr:`AvcSeiReader.malformed`. Pure and synchronous: no I/O, no decoder.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

AVC = 7  # FLV video codec id
_SEQUENCE_HEADER = 0
_NALUS = 1
_NAL_SEI = 6
_NAL_SPS = 7
_PIC_TIMING = 1
_USER_DATA_UNREGISTERED = 5
_UUID_SIZE = 16
# Profiles whose SPS carries chroma_format_idc, bit depths and scaling lists (7.3.2.1.1).
_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
# NumClockTS for each pic_struct (Table D-1); 9 to 15 are reserved.
_CLOCK_TS_COUNT = (1, 1, 1, 2, 2, 3, 3, 2, 3)
# Plausible Unix times: smaller numbers are counters, not clocks (2001-09-09 to year 5138).
_MIN_EPOCH = 10**9
_MIN_EPOCH_MS = 10**11
_MAX_EPOCH_MS = 10**14
_DECIMAL = re.compile(r"\d+(?:\.\d+)?")
_ISO_DATE_TIME = re.compile(r"\d{4}-?\d{2}-?\d{2}[T ]\d{2}")
_TEXT_PADDING = "\x00" + string.whitespace


class _Malformed(ValueError):
    """The bytes break the H.264 or FLV syntax; the access unit is dropped."""


@dataclass(frozen=True, slots=True)
class SeiTimestamp:
    """The timestamp one access unit carries.

    ``kind`` is ``"wall_clock"`` for user data (``seconds`` is Unix time) and ``"timecode"``
    for pic_timing clock timestamps (``seconds`` counts from 00:00:00 of an unnamed day).
    """

    seconds: float
    kind: Literal["wall_clock", "timecode"]


@dataclass(frozen=True, slots=True)
class SpsTiming:
    """What an SPS says about reading pic_timing SEI. Defaults are the spec's inferred values
    when the VUI or the HRD parameters are absent (E.2.1, E.2.2)."""

    num_units_in_tick: int = 0  # 0 with time_scale: no timing_info in the VUI
    time_scale: int = 0
    cpb_dpb_delays_present: bool = False  # a NAL or a VCL HRD is present
    cpb_removal_delay_length: int = 24
    dpb_output_delay_length: int = 24
    time_offset_length: int = 24
    pic_struct_present: bool = False


class BitReader:
    """Reads big-endian bit fields and exp-Golomb codes from an RBSP (emulation prevention
    bytes already removed). Reading past the end raises ``ValueError``."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._size = len(data) * 8
        self._pos = 0

    def u(self, bits: int) -> int:
        """An unsigned field of ``bits`` bits (0 bits reads 0)."""
        end = self._pos + bits
        if end > self._size:
            raise _Malformed("read past the end")
        first, last = self._pos >> 3, (end + 7) >> 3
        chunk = int.from_bytes(self._data[first:last], "big")
        self._pos = end
        return (chunk >> (last * 8 - end)) & ((1 << bits) - 1)

    def flag(self) -> bool:
        return self.u(1) == 1

    def ue(self) -> int:
        """ue(v): an unsigned exp-Golomb code."""
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:  # no syntax element needs more than 32 bits
                raise _Malformed("exp-Golomb code too long")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        """se(v): a signed exp-Golomb code."""
        code = self.ue()
        return (code + 1) // 2 if code & 1 else -(code // 2)


def unescape(nal: bytes) -> bytes:
    """The RBSP of a NAL unit: every emulation prevention byte (0x000003 → 0x0000) removed."""
    # Non-overlapping replacement is exact: after an 0x03 the run of zeros starts over.
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


def parse_sps(nal: bytes) -> SpsTiming:
    """Read the timing fields of one SPS NAL unit (header byte included, as in the stream).

    Raises ``ValueError`` on an SPS that breaks the syntax before its VUI fields are read.
    """
    r = BitReader(unescape(nal[1:]))
    profile_idc = r.u(8)
    r.u(16)  # constraint_set flags, level_idc
    r.ue()  # seq_parameter_set_id
    if profile_idc in _HIGH_PROFILES:
        _skip_chroma_format(r)
    r.ue()  # log2_max_frame_num_minus4
    _skip_pic_order_count(r)
    r.ue()  # max_num_ref_frames
    r.u(1)  # gaps_in_frame_num_value_allowed_flag
    r.ue()  # pic_width_in_mbs_minus1
    r.ue()  # pic_height_in_map_units_minus1
    if not r.flag():  # frame_mbs_only_flag
        r.u(1)  # mb_adaptive_frame_field_flag
    r.u(1)  # direct_8x8_inference_flag
    if r.flag():  # frame_cropping_flag
        for _ in range(4):
            r.ue()
    return _parse_vui(r) if r.flag() else SpsTiming()


def _skip_chroma_format(r: BitReader) -> None:
    chroma_format_idc = r.ue()
    if chroma_format_idc > 3:
        raise _Malformed("bad chroma_format_idc")
    if chroma_format_idc == 3:
        r.u(1)  # separate_colour_plane_flag
    r.ue()  # bit_depth_luma_minus8
    r.ue()  # bit_depth_chroma_minus8
    r.u(1)  # qpprime_y_zero_transform_bypass_flag
    if r.flag():  # seq_scaling_matrix_present_flag
        for i in range(12 if chroma_format_idc == 3 else 8):
            if r.flag():  # seq_scaling_list_present_flag[i]
                _skip_scaling_list(r, 16 if i < 6 else 64)


def _skip_scaling_list(r: BitReader, size: int) -> None:
    last = following = 8
    for _ in range(size):
        if following != 0:  # once 0, the rest of the list repeats: nothing more is coded
            following = (last + r.se() + 256) % 256
        last = following or last


def _skip_pic_order_count(r: BitReader) -> None:
    kind = r.ue()  # pic_order_cnt_type
    if kind == 0:
        r.ue()  # log2_max_pic_order_cnt_lsb_minus4
    elif kind == 1:
        r.u(1)  # delta_pic_order_always_zero_flag
        r.se()  # offset_for_non_ref_pic
        r.se()  # offset_for_top_to_bottom_field
        for _ in range(r.ue()):  # num_ref_frames_in_pic_order_cnt_cycle
            r.se()
    elif kind != 2:
        raise _Malformed("bad pic_order_cnt_type")


def _parse_vui(r: BitReader) -> SpsTiming:
    if r.flag() and r.u(8) == 255:  # aspect_ratio_info_present_flag, Extended_SAR
        r.u(32)  # sar_width, sar_height
    if r.flag():  # overscan_info_present_flag
        r.u(1)
    if r.flag():  # video_signal_type_present_flag
        r.u(4)  # video_format, video_full_range_flag
        if r.flag():  # colour_description_present_flag
            r.u(24)
    if r.flag():  # chroma_loc_info_present_flag
        r.ue()
        r.ue()
    ticks = scale = 0
    if r.flag():  # timing_info_present_flag
        ticks, scale = r.u(32), r.u(32)
        r.u(1)  # fixed_frame_rate_flag
    nal_hrd = _parse_hrd(r) if r.flag() else None
    vcl_hrd = _parse_hrd(r) if r.flag() else None
    hrd = nal_hrd or vcl_hrd  # the spec requires both to agree on the lengths
    if hrd is not None:
        r.u(1)  # low_delay_hrd_flag
    cpb, dpb, offset = hrd or (24, 24, 24)
    return SpsTiming(ticks, scale, hrd is not None, cpb, dpb, offset, r.flag())


def _parse_hrd(r: BitReader) -> tuple[int, int, int]:
    """hrd_parameters(): the lengths of cpb_removal_delay, dpb_output_delay, time_offset."""
    count = r.ue() + 1  # cpb_cnt_minus1
    if count > 32:
        raise _Malformed("bad cpb_cnt_minus1")
    r.u(8)  # bit_rate_scale, cpb_size_scale
    for _ in range(count):
        r.ue()  # bit_rate_value_minus1
        r.ue()  # cpb_size_value_minus1
        r.u(1)  # cbr_flag
    r.u(5)  # initial_cpb_removal_delay_length_minus1
    cpb = r.u(5) + 1
    dpb = r.u(5) + 1
    return cpb, dpb, r.u(5)


def sei_messages(rbsp: bytes) -> Iterator[tuple[int, bytes]]:
    """The ``(payloadType, payload)`` of each sei_message in the RBSP of one SEI NAL unit
    (header byte excluded). Raises ``ValueError`` when a size runs past the NAL unit."""
    end = len(rbsp.rstrip(b"\x00"))
    if end and rbsp[end - 1] == 0x80:  # rbsp_trailing_bits: the stop bit, byte-aligned
        end -= 1
    pos = 0
    while pos < end:
        kind, pos = _sei_number(rbsp, pos, end)
        size, pos = _sei_number(rbsp, pos, end)
        if pos + size > end:
            raise _Malformed("SEI payload runs past its NAL unit")
        yield kind, rbsp[pos : pos + size]
        pos += size


def _sei_number(rbsp: bytes, pos: int, end: int) -> tuple[int, int]:
    """A payloadType or payloadSize: 0xFF bytes add 255 each, the first other byte ends it."""
    value = 0
    while pos < end:
        byte = rbsp[pos]
        pos += 1
        value += byte
        if byte != 0xFF:
            return value, pos
    raise _Malformed("SEI message header runs past its NAL unit")


def wall_clock_from_user_data(payload: bytes) -> float | None:
    """Unix seconds from a user_data_unregistered payload (UUID included), or None when its
    text is not a timestamp: ISO 8601 date-time (no zone means UTC), Unix seconds, or Unix
    milliseconds (an integer of at least 1e11)."""
    try:
        text = payload[_UUID_SIZE:].decode("ascii").strip(_TEXT_PADDING)
    except UnicodeDecodeError:
        return None
    if _DECIMAL.fullmatch(text):
        return _epoch_from_number(text)
    if _ISO_DATE_TIME.match(text):
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return None


def _epoch_from_number(text: str) -> float | None:
    if "." not in text and _MIN_EPOCH_MS <= int(text) < _MAX_EPOCH_MS:
        return int(text) / 1000
    seconds = float(text)
    return seconds if _MIN_EPOCH <= seconds < _MIN_EPOCH_MS else None


@dataclass(slots=True)
class _TimeOfDay:
    """The last hours, minutes and seconds seen: clock timestamps may leave them out."""

    hours: int = 0
    minutes: int = 0
    seconds: int = 0


def _timecode(payload: bytes, sps: SpsTiming, clock: _TimeOfDay) -> float | None:
    """Seconds of the first clock timestamp of a pic_timing payload (D.1.3), or None."""
    r = BitReader(payload)
    if sps.cpb_dpb_delays_present:
        r.u(sps.cpb_removal_delay_length)
        r.u(sps.dpb_output_delay_length)
    if not sps.pic_struct_present:
        return None
    pic_struct = r.u(4)
    if pic_struct >= len(_CLOCK_TS_COUNT):
        raise _Malformed("reserved pic_struct")
    found: float | None = None
    for _ in range(_CLOCK_TS_COUNT[pic_struct]):
        if r.flag():  # clock_timestamp_flag
            seconds = _clock_timestamp(r, sps, clock)
            found = seconds if found is None else found
    return found


def _clock_timestamp(r: BitReader, sps: SpsTiming, clock: _TimeOfDay) -> float | None:
    """One clock timestamp as seconds, by equation D-1:
    ``((hH * 60 + mM) * 60 + sS) * time_scale + nFrames * num_units_in_tick *
    (1 + nuit_field_based_flag) + tOffset`` ticks. With the usual nuit_field_based_flag of 1,
    n_frames counts frames of time_scale / (2 * num_units_in_tick) per second, the H.264
    frame rate. Units left out take their value from the previous timestamp (D.2.2)."""
    r.u(2)  # ct_type
    field_based = r.u(1)  # nuit_field_based_flag
    r.u(5)  # counting_type
    full = r.flag()  # full_timestamp_flag
    r.u(2)  # discontinuity_flag, cnt_dropped_flag
    n_frames = r.u(8)
    if full:
        clock.seconds, clock.minutes, clock.hours = r.u(6), r.u(6), r.u(5)
    elif r.flag():  # seconds_flag
        clock.seconds = r.u(6)
        if r.flag():  # minutes_flag
            clock.minutes = r.u(6)
            if r.flag():  # hours_flag
                clock.hours = r.u(5)
    if clock.seconds > 59 or clock.minutes > 59 or clock.hours > 23:
        raise _Malformed("clock timestamp out of range")
    offset = _signed(r.u(sps.time_offset_length), sps.time_offset_length)
    if not sps.time_scale or not sps.num_units_in_tick:
        return None  # without VUI timing the frame count has no duration
    whole = (clock.hours * 60 + clock.minutes) * 60 + clock.seconds
    ticks = n_frames * sps.num_units_in_tick * (1 + field_based) + offset
    return whole + ticks / sps.time_scale


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if bits and value >> (bits - 1) else value


class AvcSeiReader:
    """Reads the SEI timestamps of one H.264 stream from its FLV video tag bodies.

    Feed every video tag body in order: sequence headers bring the SPS and the NAL length
    size that later access units need. Enhanced-RTMP bodies and codecs other than AVC yield
    None. :attr:`malformed` counts the tag bodies that broke the syntax.
    """

    def __init__(self) -> None:
        self._length_size = 4  # until a sequence header says otherwise: what muxers write
        self._sps: SpsTiming | None = None
        self._clock = _TimeOfDay()
        self.malformed = 0

    @property
    def sps(self) -> SpsTiming | None:
        """The timing fields of the last SPS read, or None before one (or after a bad one)."""
        return self._sps

    def feed(self, payload: bytes) -> SeiTimestamp | None:
        """The timestamp carried by one FLV video tag body, or None."""
        if not payload or payload[0] & 0x0F != AVC or not 1 <= payload[0] >> 4 <= 4:
            return None  # not AVC, an enhanced-RTMP header, or a video command frame
        try:
            if len(payload) < 5:
                raise _Malformed("truncated AVC tag header")
            if payload[1] == _SEQUENCE_HEADER:
                self._read_configuration(payload[5:])
            elif payload[1] == _NALUS:
                return self._read_access_unit(payload[5:])
        except _Malformed:
            self.malformed += 1
        return None

    def _read_configuration(self, record: bytes) -> None:
        """AVCDecoderConfigurationRecord: the NAL length size and the first SPS."""
        self._sps = None
        if len(record) < 6 or record[0] != 1:
            raise _Malformed("not an AVCDecoderConfigurationRecord")
        if record[4] & 3 == 2:
            raise _Malformed("NAL length size of 3 bytes")
        self._length_size = (record[4] & 3) + 1
        pos = 6
        for _ in range(record[5] & 0x1F):  # numOfSequenceParameterSets
            length = int.from_bytes(record[pos : pos + 2], "big")
            nal = record[pos + 2 : pos + 2 + length]
            if pos + 2 > len(record) or not nal or len(nal) != length:
                raise _Malformed("truncated SPS in the sequence header")
            if nal[0] & 0x1F == _NAL_SPS and self._sps is None:
                self._sps = parse_sps(nal)
            pos += 2 + length
        if self._sps is None:
            raise _Malformed("sequence header without an SPS")

    def _read_access_unit(self, data: bytes) -> SeiTimestamp | None:
        wall_clock: float | None = None
        timecode: float | None = None
        for nal in self._nal_units(data):
            if nal[0] & 0x80:
                raise _Malformed("forbidden_zero_bit set")
            if nal[0] & 0x1F == _NAL_SPS:
                self._sps = parse_sps(nal)
            elif nal[0] & 0x1F == _NAL_SEI:
                for kind, body in sei_messages(unescape(nal[1:])):
                    if kind == _USER_DATA_UNREGISTERED and wall_clock is None:
                        wall_clock = wall_clock_from_user_data(body)
                    elif kind == _PIC_TIMING and timecode is None and self._sps is not None:
                        timecode = _timecode(body, self._sps, self._clock)
        if wall_clock is not None:
            return SeiTimestamp(wall_clock, "wall_clock")
        return None if timecode is None else SeiTimestamp(timecode, "timecode")

    def _nal_units(self, data: bytes) -> Iterator[bytes]:
        """The NAL units of an AVCC access unit: each prefixed by its big-endian length."""
        pos, size = 0, self._length_size
        while pos < len(data):
            length = int.from_bytes(data[pos : pos + size], "big")
            pos += size
            if pos > len(data) or pos + length > len(data):
                raise _Malformed("NAL unit runs past the tag")
            if length:  # zero-length units carry nothing; some muxers pad with them
                yield data[pos : pos + length]
            pos += length
