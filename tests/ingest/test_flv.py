"""FlvReader and the FLV writer against a real FLV that ffmpeg makes, and ffprobe reading ours."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from captioncast.ingest.flv import (
    AUDIO,
    SCRIPT,
    VIDEO,
    FlvError,
    FlvReader,
    FlvTag,
    flv_header,
    flv_tag,
    script_metadata,
)
from captioncast.ingest.rtmp import amf0

pytestmark = pytest.mark.timeout(60)

if shutil.which("ffmpeg") is None:  # pragma: no cover - the test environment has ffmpeg
    raise RuntimeError("the FLV tests need ffmpeg on PATH")


@pytest.fixture(scope="module")
def ffmpeg_flv(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """1.5 s of H.264 test pattern and AAC sine, muxed to FLV by ffmpeg."""
    path = tmp_path_factory.mktemp("flv") / "av.flv"
    subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x120:rate=25:duration=1.5",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=44100:duration=1.5",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-c:a",
            "aac",
            "-b:a",
            "64k",
            "-shortest",
            "-f",
            "flv",
            str(path),
        ],  # fmt: skip
        check=True,
        timeout=30,
    )
    return path.read_bytes()


@pytest.fixture(scope="module")
def ffmpeg_tags(ffmpeg_flv: bytes) -> list[FlvTag]:
    return FlvReader().feed(ffmpeg_flv)


def ffprobe(path: Path) -> dict[str, object]:
    result = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            str(path),
        ],  # fmt: skip
        check=True,
        capture_output=True,
        timeout=30,
    )
    probed: dict[str, object] = json.loads(result.stdout)
    return probed


# --- reading ---------------------------------------------------------------------------


def test_reads_a_whole_ffmpeg_flv(ffmpeg_flv: bytes) -> None:
    reader = FlvReader()
    tags = reader.feed(ffmpeg_flv)
    assert reader.has_audio and reader.has_video
    kinds = {tag.kind for tag in tags}
    assert kinds == {AUDIO, VIDEO, SCRIPT}
    assert tags[0].kind == SCRIPT
    audio = [tag.timestamp_ms for tag in tags if tag.kind == AUDIO]
    video = [tag.timestamp_ms for tag in tags if tag.kind == VIDEO]
    assert audio == sorted(audio) and video == sorted(video)
    assert len(audio) > 50 and len(video) >= 30  # ~1.5 s at 43 AAC frames/s and 25 fps
    assert 1300 <= max(audio) <= 1600
    # The first audio and video tags are the AAC and AVC sequence headers.
    first_audio = next(tag for tag in tags if tag.kind == AUDIO)
    first_video = next(tag for tag in tags if tag.kind == VIDEO)
    assert first_audio.payload[0] >> 4 == 10 and first_audio.payload[1] == 0
    assert first_video.payload[0] == 0x17 and first_video.payload[1] == 0
    assert reader.feed(b"") == []


def test_first_script_tag_is_on_metadata(ffmpeg_tags: list[FlvTag]) -> None:
    meta = script_metadata(ffmpeg_tags[0].payload)
    assert meta is not None
    assert meta["width"] == 160.0 and meta["height"] == 120.0
    assert meta["audiosamplerate"] == 44100.0
    assert meta["videocodecid"] == 7.0 and meta["audiocodecid"] == 10.0


def test_script_metadata_ignores_other_script_data() -> None:
    assert script_metadata(amf0.encode("onTextData", {"text": "hi"})) is None
    assert script_metadata(amf0.encode("onMetaData", "not an object")) is None
    assert script_metadata(b"\xff\x00garbage") is None
    assert script_metadata(b"") is None
    assert script_metadata(amf0.encode("onMetaData", {"duration": 2.0})) == {"duration": 2.0}


def test_byte_by_byte_gives_the_same_tags(ffmpeg_flv: bytes, ffmpeg_tags: list[FlvTag]) -> None:
    reader = FlvReader()
    tags: list[FlvTag] = []
    for i in range(len(ffmpeg_flv)):
        tags += reader.feed(ffmpeg_flv[i : i + 1])
    assert tags == ffmpeg_tags
    assert reader.has_audio and reader.has_video


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_chunks_give_the_same_tags(
    ffmpeg_flv: bytes, ffmpeg_tags: list[FlvTag], seed: int
) -> None:
    rng = random.Random(seed)
    reader = FlvReader()
    tags: list[FlvTag] = []
    position = 0
    while position < len(ffmpeg_flv):
        size = rng.choice([1, 2, 3, 7, 11, 12, 13, 100, 4096, 65536])
        tags += reader.feed(ffmpeg_flv[position : position + size])
        position += size
    assert tags == ffmpeg_tags


def test_header_flags() -> None:
    for audio, video in [(True, True), (True, False), (False, True), (False, False)]:
        reader = FlvReader()
        assert reader.feed(flv_header(audio=audio, video=video)) == []
        assert (reader.has_audio, reader.has_video) == (audio, video)


def test_header_with_a_larger_data_offset() -> None:
    # DataOffset may point past the 9 header bytes; the extra bytes are skipped.
    header = b"FLV\x01\x04" + (13).to_bytes(4, "big") + b"\xaa\xbb\xcc\xdd" + b"\x00" * 4
    data = header + flv_tag(AUDIO, 5, b"\xaf\x01xyz")
    reader = FlvReader()
    tags: list[FlvTag] = []
    for byte in data:
        tags += reader.feed(bytes([byte]))
    assert tags == [FlvTag(AUDIO, 5, b"\xaf\x01xyz")]
    assert reader.has_audio and not reader.has_video


# --- bytes that are not FLV ------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"GIF",  # a prefix that cannot start FLV is refused before 13 bytes arrive
        b"G",
        b"FLX",
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff",
        b"\x00\x00\x00\x20ftypisom" + b"\x00" * 32,  # an MP4
        b"<!DOCTYPE html><html></html>",
    ],
)
def test_non_flv_bytes_raise(data: bytes) -> None:
    with pytest.raises(FlvError):
        FlvReader().feed(data)


def test_flv_prefixes_are_not_refused() -> None:
    header = flv_header()
    for end in range(len(header)):
        assert FlvReader().feed(header[:end]) == []


def test_bad_data_offset_raises() -> None:
    with pytest.raises(FlvError):
        FlvReader().feed(b"FLV\x01\x05" + (4).to_bytes(4, "big") + b"\x00" * 4)


@pytest.mark.parametrize("kind", [0, 7, 10, 17, 31])
def test_unknown_tag_type_raises_on_its_header_alone(kind: int) -> None:
    reader = FlvReader()
    reader.feed(flv_header())
    with pytest.raises(FlvError, match=f"type {kind}"):
        reader.feed(flv_tag(kind, 0, b"abc")[:11])


def test_garbage_after_a_good_tag_raises() -> None:
    reader = FlvReader()
    assert reader.feed(flv_header() + flv_tag(AUDIO, 0, b"\xaf\x00\x12\x10")) == [
        FlvTag(AUDIO, 0, b"\xaf\x00\x12\x10")
    ]
    with pytest.raises(FlvError):
        reader.feed(b"\x00" * 32)


# --- writing ---------------------------------------------------------------------------


def write_flv(tags: list[FlvTag], audio: bool = True, video: bool = True) -> bytes:
    return flv_header(audio=audio, video=video) + b"".join(
        flv_tag(tag.kind, tag.timestamp_ms, tag.payload) for tag in tags
    )


def test_writer_round_trip(ffmpeg_tags: list[FlvTag]) -> None:
    reader = FlvReader()
    assert reader.feed(write_flv(ffmpeg_tags)) == ffmpeg_tags
    assert reader.has_audio and reader.has_video


def test_writer_matches_ffmpeg_tag_layout(ffmpeg_flv: bytes, ffmpeg_tags: list[FlvTag]) -> None:
    # ffmpeg writes a 9-byte header; everything after it is tags as our writer lays them out.
    ours = b"".join(flv_tag(tag.kind, tag.timestamp_ms, tag.payload) for tag in ffmpeg_tags)
    assert ffmpeg_flv[13:] == ours


@pytest.mark.parametrize(
    "timestamp_ms",
    [0, 1, 0xFFFFFF, 0x1000000, 0x1234567, 40 * 24 * 3600 * 1000, 0xFFFFFFFF],
)
def test_timestamps_survive_the_round_trip(timestamp_ms: int) -> None:
    tags = [FlvTag(AUDIO, timestamp_ms, b"\xaf\x01abc"), FlvTag(VIDEO, timestamp_ms, b"\x27")]
    assert FlvReader().feed(write_flv(tags)) == tags


def test_extended_timestamp_byte_is_used_above_2_24() -> None:
    tag = flv_tag(AUDIO, 0x1234567, b"x")
    assert tag[4:8] == bytes([0x23, 0x45, 0x67, 0x01])
    assert tag[-4:] == (11 + 1).to_bytes(4, "big")
    # Past 2^32 ms (49.7 days) the 32-bit FLV timestamp wraps.
    assert FlvReader().feed(flv_header() + flv_tag(AUDIO, 2**32 + 5, b"x")) == [
        FlvTag(AUDIO, 5, b"x")
    ]


def test_ffprobe_reads_what_the_writer_wrote(ffmpeg_tags: list[FlvTag], tmp_path: Path) -> None:
    path = tmp_path / "ours.flv"
    path.write_bytes(write_flv(ffmpeg_tags))
    probed = ffprobe(path)
    streams = probed["streams"]
    assert isinstance(streams, list)
    assert sorted(stream["codec_name"] for stream in streams) == ["aac", "h264"]
    format_ = probed["format"]
    assert isinstance(format_, dict)
    assert format_["format_name"] == "flv"
    assert 1.0 <= float(format_["duration"]) <= 2.0


def test_ffprobe_reads_an_audio_only_file_with_late_timestamps(
    ffmpeg_tags: list[FlvTag], tmp_path: Path
) -> None:
    # A stream that started long ago: every timestamp needs the extended byte.
    offset = 0x1000000 + 12_345
    audio = [
        FlvTag(tag.kind, tag.timestamp_ms + offset, tag.payload)
        for tag in ffmpeg_tags
        if tag.kind == AUDIO
    ]
    path = tmp_path / "late.flv"
    path.write_bytes(write_flv(audio, video=False))
    assert FlvReader().feed(path.read_bytes()) == audio
    probed = ffprobe(path)
    streams = probed["streams"]
    assert isinstance(streams, list)
    assert [stream["codec_type"] for stream in streams] == ["audio"]
    assert float(streams[0]["start_time"]) == pytest.approx(offset / 1000, abs=0.1)
