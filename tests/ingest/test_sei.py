"""AvcSeiReader on real ffmpeg/x264 streams, on hand-built SEI and SPS, and on garbage."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from captioncast.ingest.flv import VIDEO, FlvReader, FlvTag, flv_header, flv_tag
from captioncast.ingest.sei import (
    AvcSeiReader,
    SeiTimestamp,
    SpsTiming,
    parse_sps,
    sei_messages,
    unescape,
    wall_clock_from_user_data,
)

if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:  # pragma: no cover
    raise RuntimeError("the SEI tests need ffmpeg and ffprobe on PATH")

UUID = "086f3693-b7b3-4f2c-9653-21492feee5b8"
UUID_BYTES = bytes.fromhex(UUID.replace("-", ""))
WALL_CLOCK = datetime(2026, 11, 22, 10, 0, 0, 500_000, tzinfo=UTC).timestamp()
TESTSRC = ["-f", "lavfi", "-i", "testsrc=s=160x120:r=25:d=2"]
# x264 writes pic_timing SEI (with clock_timestamp_flag 0) when asked for HRD and pic_struct.
PIC_TIMING_X264 = [
    *("-c:v", "libx264", "-x264-params", "pic-struct=1:nal-hrd=vbr"),
    *("-b:v", "200k", "-maxrate", "200k", "-bufsize", "400k"),
]


# --- bytes in, bytes out ---------------------------------------------------------------


def run_ffmpeg(path: Path, *args: str) -> list[FlvTag]:
    """Encode ``args`` into the FLV file ``path``; its video tags."""
    command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args, "-f", "flv"]
    subprocess.run([*command, str(path)], check=True, timeout=30)
    return [t for t in FlvReader().feed(path.read_bytes()) if t.kind == VIDEO]


def user_data_bsf(text: str) -> str:
    # One backslash level for the bitstream filter list, one for its option string.
    return f"h264_metadata=sei_user_data={UUID}+" + text.replace(":", r"\\\:")


def read_all(tags: list[FlvTag]) -> tuple[AvcSeiReader, list[SeiTimestamp | None]]:
    reader = AvcSeiReader()
    return reader, [reader.feed(t.payload) for t in tags]


def nal_units(payload: bytes) -> list[bytes]:
    """The NAL units of an AVC NALU tag body (4-byte lengths, as ffmpeg's FLV muxer writes)."""
    assert payload[1] == 1
    units, pos = [], 5
    while pos < len(payload):
        length = int.from_bytes(payload[pos : pos + 4], "big")
        units.append(payload[pos + 4 : pos + 4 + length])
        pos += 4 + length
    assert pos == len(payload)
    return units


def nalu_tag(units: list[bytes], header: bytes = b"\x17\x01\x00\x00\x00") -> bytes:
    return header + b"".join(len(u).to_bytes(4, "big") + u for u in units)


def config_record(*nals: bytes) -> bytes:
    """An AVC sequence header tag body with these SPS NAL units and no PPS."""
    spss = b"".join(len(n).to_bytes(2, "big") + n for n in nals)
    return b"\x17\x00\x00\x00\x00" + bytes([1, 100, 0, 30, 0xFF, 0xE0 | len(nals)]) + spss + b"\0"


def escape(rbsp: bytes) -> bytes:
    """Insert emulation prevention bytes, as an encoder does."""
    out, zeros = bytearray(), 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


class BitWriter:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, bits: int, value: int) -> BitWriter:
        self.bits += [(value >> (bits - 1 - i)) & 1 for i in range(bits)]
        return self

    def ue(self, value: int) -> BitWriter:
        code = value + 1
        return self.u(code.bit_length() - 1, 0).u(code.bit_length(), code)

    def se(self, value: int) -> BitWriter:
        return self.ue(2 * value - 1 if value > 0 else -2 * value)

    def rbsp(self) -> bytes:
        """The bits with rbsp_trailing_bits, as bytes."""
        bits = self.bits + [1] + [0] * (-(len(self.bits) + 1) % 8)
        return bytes(int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8))

    def payload(self) -> bytes:
        """The bits as an SEI payload: if not byte-aligned, a 1 bit then 0 bits to a byte."""
        bits = self.bits + ([1] + [0] * (-(len(self.bits) + 1) % 8) if len(self.bits) % 8 else [])
        return bytes(int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8))


def sei_nal(*messages: tuple[int, bytes]) -> bytes:
    """An SEI NAL unit holding these (payloadType, payload) messages."""
    body = b""
    for kind, payload in messages:
        for number in (kind, len(payload)):
            body += b"\xff" * (number // 255) + bytes([number % 255])
        body += payload
    return b"\x06" + escape(body + b"\x80")


def user_data(text: str | bytes, uuid: bytes = UUID_BYTES) -> tuple[int, bytes]:
    return 5, uuid + (text.encode() if isinstance(text, str) else text)


# --- user_data_unregistered from real ffmpeg streams --------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-22T10:00:00.500Z",
        "2026-11-22T10:00:00.500",  # no zone: UTC
        "2026-11-22T11:00:00.500+01:00",
        "1795341600.5",
        "1795341600500",
    ],
)
def test_ffmpeg_user_data_timestamp_on_keyframes(tmp_path: Path, text: str) -> None:
    arguments = ["-c:v", "libx264", "-g", "10", "-bsf:v", user_data_bsf(text)]
    tags = run_ffmpeg(tmp_path / "user.flv", *TESTSRC, *arguments)
    reader, got = read_all(tags)
    # ffmpeg 5.1's h264_metadata puts the SEI in every keyframe (after the slice, but in the
    # first one, where it joins x264's own SEI NAL unit).
    carriers = [i for i, t in enumerate(tags) if UUID_BYTES in t.payload]
    keyframes = [i for i, t in enumerate(tags) if t.payload[:2] == b"\x17\x01"]
    assert carriers == keyframes == [1, 11, 21, 31, 41]
    assert [i for i, ts in enumerate(got) if ts is not None] == carriers
    assert {ts for ts in got if ts is not None} == {SeiTimestamp(WALL_CLOCK, "wall_clock")}
    assert reader.malformed == 0


def test_plain_x264_stream_has_no_timestamp(tmp_path: Path) -> None:
    tags = run_ffmpeg(tmp_path / "plain.flv", *TESTSRC, "-c:v", "libx264")
    assert any(b"x264 - core" in t.payload for t in tags)  # its version string SEI
    reader, got = read_all(tags)
    assert [t.payload[1] for t in tags] == [0] + [1] * 50 + [2]  # header, frames, end
    assert got == [None] * len(got)
    assert reader.malformed == 0
    assert reader.sps == SpsTiming(1, 50)  # 25 fps, no HRD, no pic_struct


# --- pic_timing: real x264 access units with clock timestamps put in ---------------------


def clock_timestamp_sei(original: bytes, sps: SpsTiming, frame: int, previous: int | None) -> bytes:
    """x264's pic_timing message rewritten to carry the timecode of ``frame`` (25 fps).

    Units that did not change since ``previous`` are left out, to exercise the carry-over.
    """
    [(kind, payload)] = sei_messages_of(original)
    assert kind == 1
    delays = sps.cpb_removal_delay_length + sps.dpb_output_delay_length
    head = int.from_bytes(payload, "big") >> (len(payload) * 8 - delays)
    w = BitWriter().u(delays, head).u(4, 0)  # x264's delays, pic_struct 0 (frame)
    w.u(1, 1).u(2, 0).u(1, 1).u(5, 0)  # clock_timestamp_flag, ct_type, nuit_field_based_flag
    hh, mm, ss, ff = timecode(frame)
    if previous is None:
        w.u(1, 1).u(2, 0).u(8, ff).u(6, ss).u(6, mm).u(5, hh)  # full_timestamp_flag
    else:
        was = timecode(previous)
        w.u(1, 0).u(2, 0).u(8, ff)
        send_hours = hh != was[0]
        send_minutes = send_hours or mm != was[1]
        send_seconds = send_minutes or ss != was[2]
        w.u(1, send_seconds)
        if send_seconds:
            w.u(6, ss).u(1, send_minutes)
            if send_minutes:
                w.u(6, mm).u(1, send_hours)
                if send_hours:
                    w.u(5, hh)
    return sei_nal((1, w.payload()))


def sei_messages_of(nal: bytes) -> list[tuple[int, bytes]]:
    return list(sei_messages(unescape(nal[1:])))


START = ((10 * 60 + 59) * 60 + 59) * 25 + 20  # 10:59:59:20, five frames before 11:00


def timecode(frame: int) -> tuple[int, int, int, int]:
    total = START + frame
    return total // 90000, total // 1500 % 60, total // 25 % 60, total % 25


def with_clock_timestamps(
    tags: list[FlvTag], sps: SpsTiming, partial: bool
) -> tuple[list[FlvTag], list[int]]:
    """The tags with every pic_timing SEI carrying a timecode; each tag's frame number (-1
    for tags without a frame). ``partial`` leaves out the units that did not change."""
    pts = {i: t.timestamp_ms + cts(t) for i, t in enumerate(tags) if t.payload[1] == 1}
    frame_of = {i: rank for rank, i in enumerate(sorted(pts, key=pts.__getitem__))}
    out, frames, previous = [], [], None
    for i, tag in enumerate(tags):
        frame = frame_of.get(i, -1)  # presentation order, as timecodes go
        frames.append(frame)
        if frame < 0:
            out.append(tag)
            continue
        units = [
            clock_timestamp_sei(u, sps, frame, previous) if u[0] & 0x1F == 6 and u[1] == 1 else u
            for u in nal_units(tag.payload)
        ]
        previous = frame if partial else None
        out.append(FlvTag(VIDEO, tag.timestamp_ms, nalu_tag(units, tag.payload[:5])))
    return out, frames


def cts(tag: FlvTag) -> int:
    return int.from_bytes(tag.payload[2:5], "big", signed=True)


@pytest.fixture(scope="module")
def x264_pic_timing(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[FlvTag], SpsTiming]:
    """A real x264 stream with HRD and pic_struct in its SPS and pic_timing in every frame."""
    path = tmp_path_factory.mktemp("pic_timing") / "x264.flv"
    tags = run_ffmpeg(path, *TESTSRC, *PIC_TIMING_X264)
    reader, got = read_all(tags)
    assert got == [None] * len(tags)  # x264's own pic_timing has no clock timestamp
    assert reader.sps is not None
    return tags, reader.sps


def test_sps_of_x264_with_hrd_and_pic_struct(
    x264_pic_timing: tuple[list[FlvTag], SpsTiming],
) -> None:
    # As ffmpeg's trace_headers reads this SPS (High 4:4:4, chroma_format_idc 3, NAL HRD).
    assert x264_pic_timing[1] == SpsTiming(1, 50, True, 13, 7, 0, True)


@pytest.mark.parametrize("partial", [False, True])
def test_pic_timing_clock_timestamps_read_as_timecode(
    x264_pic_timing: tuple[list[FlvTag], SpsTiming], partial: bool
) -> None:
    tags, got_frames = with_clock_timestamps(*x264_pic_timing, partial=partial)
    reader, got = read_all(tags)
    assert reader.malformed == 0
    assert sorted(got_frames) == [-1, -1, *range(50)]  # B-frames: decode order ≠ frame order
    for frame, ts in zip(got_frames, got, strict=True):
        if frame < 0:
            assert ts is None
        else:
            assert ts is not None and ts.kind == "timecode"
            assert ts.seconds == pytest.approx((START + frame) / 25, abs=1e-9)


def test_pic_timing_agrees_with_ffprobe(
    x264_pic_timing: tuple[list[FlvTag], SpsTiming], tmp_path: Path
) -> None:
    # Full timestamps only: ffmpeg 5.1 zeroes the units a clock timestamp leaves out
    # instead of carrying them over (D.2.2), so partial ones would read differently there.
    tags, frames = with_clock_timestamps(*x264_pic_timing, partial=False)
    path = tmp_path / "timecoded.flv"
    body = b"".join(flv_tag(VIDEO, t.timestamp_ms, t.payload) for t in tags)
    path.write_bytes(flv_header(audio=False) + body)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_frames", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    shown = [
        entry["value"]
        for frame in json.loads(probe.stdout)["frames"]
        for side in frame.get("side_data_list", [])
        if side.get("side_data_type") == "SMPTE 12-1 timecode"
        for entry in side["timecodes"]
    ]
    assert shown[0] == "10:59:59:20" and shown[5] == "11:00:00:00" and len(shown) == 50
    _, got = read_all(tags)
    mine = {frame: ts.seconds for frame, ts in zip(frames, got, strict=True) if ts is not None}
    assert [smpte_seconds(value) for value in shown] == pytest.approx(
        [mine[frame] for frame in range(50)], abs=1e-9
    )


def smpte_seconds(value: str) -> float:
    hh, mm, ss, ff = (int(part) for part in value.replace(";", ":").split(":"))
    return hh * 3600 + mm * 60 + ss + ff / 25


# --- hand-built SPS and SEI -----------------------------------------------------------------


def scaling_list(w: BitWriter, values: list[int]) -> None:
    """delta_scale codes for ``values``; a 0 ends the list early (use the default list)."""
    last = 8
    for value in values:
        w.se((value - last + 128) % 256 - 128)
        if value == 0:
            return
        last = value


def build_sps(
    *, pic_struct: bool = True, hrd: tuple[int, int, int] | None = (10, 5, 8), high: bool = True
) -> bytes:
    """An SPS NAL unit that takes every branch the reader must skip over: High 4:4:4 with
    scaling lists, pic_order_cnt_type 1, field coding, cropping, a full VUI and both HRDs.
    ``hrd`` holds the cpb_removal_delay, dpb_output_delay and time_offset lengths."""
    w = BitWriter().u(8, 244 if high else 66).u(8, 0).u(8, 31).ue(0)
    if high:
        w.ue(3).u(1, 0).ue(2).ue(2).u(1, 0).u(1, 1)  # 4:4:4, 10-bit, scaling matrix present
        for i in range(12):
            w.u(1, i in (0, 3, 6, 11))
            if i in (0, 3):
                scaling_list(w, [6 + (j * 13) % 90 for j in range(16)])
            elif i == 6:
                scaling_list(w, [4 + (j * 37) % 250 for j in range(64)])
            elif i == 11:
                scaling_list(w, [0])  # the default 8x8 list
    w.ue(0)  # log2_max_frame_num_minus4
    w.ue(1).u(1, 0).se(-3).se(5).ue(3).se(1).se(-2).se(7)  # pic_order_cnt_type 1
    w.ue(4).u(1, 0).ue(9).ue(3)  # refs, gaps, 160 wide, 4 map units (field pairs) high
    w.u(1, 0).u(1, 1).u(1, 1)  # frame_mbs_only 0, mb_adaptive_frame_field, direct_8x8
    w.u(1, 1).ue(0).ue(2).ue(1).ue(3)  # cropping
    w.u(1, 1)  # vui_parameters_present_flag
    w.u(1, 1).u(8, 255).u(16, 4).u(16, 3)  # Extended_SAR 4:3
    w.u(1, 1).u(1, 1)  # overscan
    w.u(1, 1).u(3, 5).u(1, 0).u(1, 1).u(24, 0x010101)  # video signal, colour description
    w.u(1, 1).ue(1).ue(1)  # chroma location
    w.u(1, 1).u(32, 1001).u(32, 60000).u(1, 1)  # timing: 29.97 fps
    for _ in range(2):  # NAL HRD, VCL HRD
        w.u(1, hrd is not None)
        if hrd is not None:
            cpb, dpb, offset = hrd
            w.ue(1).u(4, 2).u(4, 3).ue(999).ue(1999).u(1, 0).ue(4999).ue(7999).u(1, 1)
            w.u(5, 23).u(5, cpb - 1).u(5, dpb - 1).u(5, offset)
    if hrd is not None:
        w.u(1, 0)  # low_delay_hrd_flag
    w.u(1, pic_struct).u(1, 0)  # pic_struct_present_flag, bitstream_restriction_flag
    return b"\x67" + escape(w.rbsp())


def test_hand_built_sps() -> None:
    assert parse_sps(build_sps()) == SpsTiming(1001, 60000, True, 10, 5, 8, True)
    assert parse_sps(build_sps(hrd=None, high=False)) == SpsTiming(
        1001, 60000, pic_struct_present=True
    )


def test_hand_built_sps_agrees_with_ffmpeg(tmp_path: Path) -> None:
    stream = tmp_path / "sps.h264"
    stream.write_bytes(b"\x00\x00\x00\x01" + build_sps())
    # ffmpeg traces the SPS as extradata, then gives up for want of a picture: that's enough.
    command = ["ffmpeg", "-hide_banner", "-f", "h264", "-i", str(stream), "-c", "copy"]
    command += ["-bsf:v", "trace_headers", "-f", "null", "-"]
    trace = subprocess.run(command, capture_output=True, text=True, timeout=30).stderr
    fields = dict(re.findall(r"\]\s+\d+\s+(\w+)\s+[01]+ = (-?\d+)", trace))
    sps = parse_sps(build_sps())
    assert fields["chroma_format_idc"] == "3" and fields["pic_order_cnt_type"] == "1"
    assert int(fields["num_units_in_tick"]) == sps.num_units_in_tick
    assert int(fields["time_scale"]) == sps.time_scale
    assert int(fields["nal_hrd_parameters_present_flag"]) == sps.cpb_dpb_delays_present
    assert int(fields["cpb_removal_delay_length_minus1"]) + 1 == sps.cpb_removal_delay_length
    assert int(fields["dpb_output_delay_length_minus1"]) + 1 == sps.dpb_output_delay_length
    assert int(fields["time_offset_length"]) == sps.time_offset_length
    assert int(fields["pic_struct_present_flag"]) == sps.pic_struct_present


def pic_timing(
    *,
    pic_struct: int = 0,
    flags: tuple[int, ...] = (1,),
    field_based: int = 1,
    n_frames: int = 0,
    hms: tuple[int, int, int] = (10, 0, 0),
    offset: int = 0,
) -> tuple[int, bytes]:
    """A pic_timing message for :func:`build_sps` (delays of 10 and 5 bits, 8-bit offset)."""
    w = BitWriter().u(10, 321).u(5, 9).u(4, pic_struct)  # the two HRD delays, pic_struct
    for flag in flags:
        w.u(1, flag)
        if flag:
            w.u(2, 0).u(1, field_based).u(5, 0).u(1, 1).u(2, 0).u(8, n_frames)
            w.u(6, hms[2]).u(6, hms[1]).u(5, hms[0])
            w.u(8, offset & 0xFF)
    return 1, w.payload()


def reader_with(sps: bytes) -> AvcSeiReader:
    reader = AvcSeiReader()
    assert reader.feed(config_record(sps)) is None
    assert reader.malformed == 0
    return reader


SLICE = b"\x25\x88\x84\x00\x33\xff"  # an IDR slice's first bytes: never looked at


@pytest.mark.parametrize("field_based", [0, 1])
def test_timecode_follows_equation_d1(field_based: int) -> None:
    reader = reader_with(build_sps())
    # pic_struct 3 (top, bottom) has two clock timestamps; only the second is sent.
    message = pic_timing(
        pic_struct=3, flags=(0, 1), field_based=field_based, n_frames=7, hms=(1, 2, 3), offset=-100
    )
    got = reader.feed(nalu_tag([sei_nal(message), SLICE]))
    ticks = 7 * 1001 * (1 + field_based) - 100  # time_scale 60000: 29.97 fps frames
    assert got is not None and got.kind == "timecode"
    assert got.seconds == pytest.approx(3723 + ticks / 60000, abs=1e-9)


def test_wall_clock_wins_over_timecode() -> None:
    reader = reader_with(build_sps())
    both = sei_nal(pic_timing(), user_data("1795341600.5"))
    assert reader.feed(nalu_tag([both, SLICE])) == SeiTimestamp(WALL_CLOCK, "wall_clock")
    apart = [sei_nal(user_data("1795341600.5")), sei_nal(pic_timing()), SLICE]
    assert reader.feed(nalu_tag(apart)) == SeiTimestamp(WALL_CLOCK, "wall_clock")
    assert reader.feed(nalu_tag([sei_nal(pic_timing()), SLICE])) == SeiTimestamp(
        36000.0, "timecode"
    )


def test_long_messages_big_types_and_emulation_prevention() -> None:
    reader = AvcSeiReader()
    # A reserved payload type above 510, then 317 bytes of user data padded with NULs and
    # a UUID of zeros: sizes need 0xFF bytes, and the zeros need emulation prevention.
    text = b"2026-11-22T10:00:00.500Z" + b"\x00" * 276 + b"\n"
    nal = sei_nal((600, b"\x00\x00\x00\x01"), user_data(text, uuid=bytes(16)))
    assert nal.startswith(b"\x06\xff\xff") and b"\x00\x00\x03" in nal
    assert reader.feed(nalu_tag([nal, SLICE])) == SeiTimestamp(WALL_CLOCK, "wall_clock")


def test_sps_in_band_and_nal_length_size_from_the_sequence_header() -> None:
    reader = AvcSeiReader()
    units = [build_sps(), sei_nal(pic_timing(hms=(0, 0, 1))), SLICE]
    assert reader.feed(nalu_tag(units)) == SeiTimestamp(1.0, "timecode")
    assert reader.sps == SpsTiming(1001, 60000, True, 10, 5, 8, True)
    # A 2-byte NAL length size: lengthSizeMinusOne 1.
    record = bytearray(config_record(build_sps()))
    record[9] = 0xFC | 1
    assert reader.feed(bytes(record)) is None
    nal = sei_nal(pic_timing(hms=(0, 0, 2)))
    body = b"\x27\x01\x00\x00\x00" + len(nal).to_bytes(2, "big") + nal
    assert reader.feed(body) == SeiTimestamp(2.0, "timecode")
    assert reader.malformed == 0


@pytest.mark.parametrize(
    ("sps", "message"),
    [
        (None, pic_timing()),  # no SPS yet: the fields cannot be read
        (build_sps(pic_struct=False), pic_timing()),  # no pic_struct, no clock timestamps
        (build_sps(), pic_timing(flags=(0,))),  # clock_timestamp_flag 0, as x264 writes
        (build_sps(), user_data("x264 - core 164 r3095 baee400 - H.264/MPEG-4 AVC codec")),
    ],
)
def test_sei_without_a_timestamp(sps: bytes | None, message: tuple[int, bytes]) -> None:
    reader = AvcSeiReader() if sps is None else reader_with(sps)
    assert reader.feed(nalu_tag([sei_nal(message), SLICE])) is None
    assert reader.malformed == 0


@pytest.mark.parametrize(
    "text",
    [
        b"x264 - core 164 r3095 baee400 - H.264/MPEG-4 AVC codec - Copyleft 2003-2022",
        b"12345",  # a counter, not a clock
        b"1795341600500.5",  # fractional milliseconds: no such form
        b"100000000000000",  # milliseconds past year 5138
        b"2026-11-22",  # a date with no time
        b"2026-11-22T25:00:00Z",
        b"1795341600.5.1",
        b"\xff\xfe2026-11-22T10:00:00Z",
        b"",
    ],
)
def test_user_data_that_is_not_a_timestamp(text: bytes) -> None:
    assert wall_clock_from_user_data(UUID_BYTES + text) is None


def test_user_data_forms() -> None:
    for text in (b" 1795341600.5\x00\x00", b"1795341600500\r\n", b"2026-11-22 10:00:00.5"):
        assert wall_clock_from_user_data(UUID_BYTES + text) == WALL_CLOCK
    assert wall_clock_from_user_data(b"2026-11-22T10:00:00Z") is None  # no room for a UUID


# --- garbage never raises -------------------------------------------------------------------


@pytest.fixture(scope="module")
def user_data_tags(tmp_path_factory: pytest.TempPathFactory) -> list[FlvTag]:
    path = tmp_path_factory.mktemp("user_data") / "user.flv"
    return run_ffmpeg(path, *TESTSRC, "-c:v", "libx264", "-bsf:v", user_data_bsf("1795341600.5"))


def test_every_truncation_of_a_real_access_unit(user_data_tags: list[FlvTag]) -> None:
    header, first = user_data_tags[0].payload, user_data_tags[1].payload
    ends = [5]
    for unit in nal_units(first):
        ends.append(ends[-1] + 4 + len(unit))
    assert len(ends) == 3  # the SEI (x264's and ours in one NAL unit), then the IDR slice
    reader = AvcSeiReader()
    reader.feed(header)
    for cut in range(len(first) + 1):
        got = reader.feed(first[:cut])
        # Only a cut between NAL units leaves a well-formed access unit.
        assert got == (SeiTimestamp(WALL_CLOCK, "wall_clock") if cut in ends[1:] else None)
    # Not counted: the empty body (not AVC) and the cuts between NAL units.
    assert reader.malformed == len(first) + 1 - 1 - len(ends)


def test_random_bytes(user_data_tags: list[FlvTag]) -> None:
    rng = random.Random(7)
    reader = AvcSeiReader()
    reader.feed(user_data_tags[0].payload)
    for _ in range(3000):
        junk = rng.randbytes(rng.randrange(0, 200))
        got = reader.feed(junk)  # sometimes a sequence header: a random SPS, length size
        assert got is None or isinstance(got, SeiTimestamp)
        assert reader.feed(b"\x17\x01\x00\x00\x00" + junk) is None
        sei = b"\x06" + junk
        assert reader.feed(nalu_tag([sei, SLICE])) is None
        reader.feed(config_record(b"\x67" + junk))  # a random SPS
        reader.feed(nalu_tag([b"\x67" + junk, sei]))
    assert reader.malformed > 6000


def test_sequence_header_without_sps() -> None:
    reader = reader_with(build_sps())
    assert reader.feed(config_record()) is None
    assert reader.malformed == 1 and reader.sps is None
    assert reader.feed(nalu_tag([sei_nal(pic_timing()), SLICE])) is None


@pytest.mark.parametrize(
    "body",
    [
        nalu_tag([sei_nal(user_data("1795341600.5"))[:-6], SLICE]),  # size runs past the NAL
        nalu_tag([b"\x06\x05", SLICE]),  # payloadSize missing
        nalu_tag([b"\x06\xff\xff", SLICE]),  # payloadType runs off the end
        nalu_tag([b"\x86" + sei_nal(user_data("1795341600.5"))[1:]]),  # forbidden_zero_bit
        nalu_tag([sei_nal(pic_timing(pic_struct=9)), SLICE]),  # reserved pic_struct
        nalu_tag([sei_nal(pic_timing(hms=(24, 0, 0))), SLICE]),  # hour 24
        nalu_tag([sei_nal(pic_timing())[:4], SLICE]),  # pic_timing cut short
        nalu_tag([SLICE])[:-1],  # NAL unit longer than the tag
        nalu_tag([b"\x67\x64\x00"]),  # a truncated in-band SPS
        b"\x17\x01\x00",  # AVC header cut short
        b"\x17\x00\x00\x00\x00\x01\x64",  # configuration record cut short
        b"\x17\x00\x00\x00\x00\x02\x64\x00\x1e\xff\xe1\x00\x04gd",  # version 2, cut SPS
    ],
)
def test_malformed_access_units(body: bytes) -> None:
    reader = reader_with(build_sps())
    assert reader.feed(body) is None
    assert reader.malformed == 1


@pytest.mark.parametrize(
    "first_byte",
    [0x12, 0x14, 0x1C, 0x27 | 0x80, 0x90, 0x57, 0x07, 0x67],  # H.263, VP6, HEVC, E-RTMP, ...
)
def test_not_avc(first_byte: int) -> None:
    reader = reader_with(build_sps())
    body = nalu_tag([sei_nal(user_data("1795341600.5")), SLICE])
    assert reader.feed(bytes([first_byte]) + body[1:]) is None
    assert reader.feed(b"") is None
    assert reader.malformed == 0
    assert reader.feed(body) == SeiTimestamp(WALL_CLOCK, "wall_clock")  # the control
