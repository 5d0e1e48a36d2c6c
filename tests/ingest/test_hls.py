"""HlsOutput: the WebVTT track as a pure core, then real ffmpeg remuxing a real FLV."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from captioncast.core.exports import vtt_time
from captioncast.ingest.flv import SCRIPT, VIDEO, FlvReader, FlvTag
from captioncast.ingest.hls import HlsOutput
from captioncast.ingest.hls_core import (
    PTS_AT_ZERO,
    Cue,
    TagQueue,
    WebVttTrack,
    is_keyframe,
    subtitle_cue,
    vtt_segment,
)

pytestmark = pytest.mark.timeout(60)

CHANNELS = [("demo-en-en", "en"), ("demo-en-de", "de")]
KEYFRAMES = (0.0, 2.36, 4.72)  # irregular, so an offset by whole seconds cannot pass
OFFSET_MS = 5300  # the stream starts mid-flow, off any segment boundary
FRAME_TICKS = 90_000 // 25


def caption(start: float, end: float, *lines: str, type: str = "captions") -> dict[str, Any]:
    text = " ".join(lines)
    return {
        "id": f"block-{start}",
        "type": type,
        "service_type": "transcription",
        "language_code": "en",
        "start_epoch": 1_700_000_000 + start,
        "is_final": True,
        "start": start,
        "end": end,
        "alternatives": [{"transcript": text, "lines": list(lines)}],
    }


# --- the pure parts -------------------------------------------------------------------


def test_vtt_time_and_escaping() -> None:
    assert vtt_time(0) == "00:00:00.000"
    assert vtt_time(3723.4567) == "01:02:03.457"
    assert vtt_time(360_000) == "100:00:00.000"
    text = vtt_segment([Cue(1.0, 2.0, "a <b> & c -->"), Cue(0.5, 1.0, "first")])
    assert text.startswith(f"WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:{PTS_AT_ZERO},LOCAL:00:00:00.000\n")
    assert text.index("first") < text.index("a &lt;b&gt; &amp; c --&gt;")


def test_subtitle_cue_takes_caption_blocks_only() -> None:
    assert subtitle_cue(caption(1, 2, "one", "two")) == Cue(1, 2, "one\ntwo")
    assert subtitle_cue(caption(1, 2, "one", type="transcript")) is None
    assert subtitle_cue(caption(1, 2, " ")) is None
    assert subtitle_cue({**caption(1, 2, "x"), "is_end_of_stream": True}) is None


def test_track_cuts_a_segment_only_when_asked_and_repeats_spanning_cues() -> None:
    track = WebVttTrack("subs-en", 2.0, 10)
    track.begin(5.3)
    track.add(Cue(5.5, 6.5, "spans"))
    assert track.cut(5.9).writes == {}
    files = track.cut(8.0)
    assert list(files.writes) == ["subs-en-2.vtt", "subs-en-3.vtt", "subs-en.m3u8"]
    assert "spans" in files.writes["subs-en-2.vtt"]
    assert "spans" in files.writes["subs-en-3.vtt"]
    playlist = files.writes["subs-en.m3u8"]
    assert "#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:2\n" in playlist
    assert "#EXT-X-ENDLIST" not in playlist


def test_track_trims_late_cues_and_counts_lost_ones() -> None:
    track = WebVttTrack("subs-en", 2.0, 10)
    track.begin(0)
    track.cut(4.0)
    track.add(Cue(1.0, 3.0, "gone"))
    track.add(Cue(3.0, 5.0, "tail"))
    assert track.late_cues == 1
    text = track.cut(6.0).writes["subs-en-2.vtt"]
    assert "gone" not in text
    assert "00:00:04.000 --> 00:00:05.000\ntail" in text


def test_track_slides_its_window_and_ends() -> None:
    track = WebVttTrack("subs-de", 2.0, 2)
    track.begin(0)
    files = track.cut(10.0)
    assert files.deletes == ["subs-de-0.vtt"]
    assert "#EXT-X-MEDIA-SEQUENCE:3\n" in files.writes["subs-de.m3u8"]
    end = track.finish(11.0)
    assert list(end.writes) == ["subs-de-5.vtt", "subs-de.m3u8"]
    assert end.writes["subs-de.m3u8"].endswith("#EXTINF:1.000,\nsubs-de-5.vtt\n#EXT-X-ENDLIST\n")


def test_tag_queue_drops_until_a_keyframe_but_keeps_sequence_headers() -> None:
    queue = TagQueue(limit=1000)
    inter, key, header = b"\x27\x01" + b"x" * 398, b"\x17\x01" + b"x" * 398, b"\x17\x00abcd"
    assert queue.offer(VIDEO, 0, key) and queue.offer(VIDEO, 40, inter)
    assert not queue.offer(VIDEO, 80, inter)  # full: dropping starts
    assert queue.offer(VIDEO, 90, header)
    queue.take(1)
    assert not queue.offer(VIDEO, 120, inter)  # drained, but not a keyframe
    assert queue.offer(VIDEO, 160, key)
    assert queue.dropped == 2 and not queue.dropping


def test_the_window_covers_the_suggested_start(tmp_path: Path) -> None:
    out = HlsOutput(tmp_path, CHANNELS, segment_seconds=2.0, playlist_size=10, caption_delay=60)
    assert out.start_offset == 64.0 and out.playlist_size == 35
    assert HlsOutput(tmp_path, CHANNELS, playlist_size=0).playlist_size == 0
    args = HlsOutput(tmp_path, CHANNELS, caption_delay=5).ffmpeg_args()
    assert args[args.index("-hls_list_size") + 1] == "10"


# --- real ffmpeg ----------------------------------------------------------------------


def ffmpeg_flv(path: Path, video: bool, size: str = "160x120") -> list[FlvTag]:
    args = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=6"]
    if video:
        args += [
            "-f", "lavfi", "-i", f"testsrc=size={size}:rate=25:duration=6",
            "-map", "1:v", "-map", "0:a", "-c:v", "libx264", "-preset", "veryfast",
            "-bf", "2", "-g", "1000", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
            "-force_key_frames", ",".join(str(k) for k in KEYFRAMES),
        ]  # fmt: skip
    args += ["-c:a", "aac", "-b:a", "64k", "-f", "flv"]
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args, str(path)]
    subprocess.run(cmd, check=True, timeout=30)
    return FlvReader().feed(path.read_bytes())


@pytest.fixture(scope="module")
def av_tags(tmp_path_factory: pytest.TempPathFactory) -> list[FlvTag]:
    return ffmpeg_flv(tmp_path_factory.mktemp("flv") / "av.flv", video=True)


@pytest.fixture(scope="module")
def audio_tags(tmp_path_factory: pytest.TempPathFactory) -> list[FlvTag]:
    return ffmpeg_flv(tmp_path_factory.mktemp("flv") / "a.flv", video=False)


def presentation_ms(tag: FlvTag) -> int:
    """A video tag's PTS in ms: its timestamp (DTS) plus the AVC composition time."""
    cts = int.from_bytes(tag.payload[2:5], "big", signed=True) if tag.payload[1] == 1 else 0
    return tag.timestamp_ms + cts


async def feed(
    out: HlsOutput, tags: list[FlvTag], captions: list[tuple[str, dict[str, Any]]]
) -> None:
    """The tags, retimed by OFFSET_MS, with each caption arriving 1 s after it starts."""
    pending = sorted(captions, key=lambda c: c[1]["start"])
    for i, tag in enumerate(tags):
        ts = tag.timestamp_ms + OFFSET_MS
        while pending and pending[0][1]["start"] + 1.0 <= ts / 1000:
            out.on_caption(*pending.pop(0))
        out.on_tag(tag.kind, ts, tag.payload)
        if i % 50 == 0:
            await asyncio.sleep(0)  # let the writer drain, as a live stream would
    for channel, response in pending:
        out.on_caption(channel, response)


def probe(path: Path, *entries: str) -> list[dict[str, Any]]:
    cmd = ["ffprobe", "-v", "error", "-of", "json", *entries, str(path)]
    result = subprocess.run(cmd, check=True, capture_output=True, timeout=30, text=True)
    data: dict[str, Any] = json.loads(result.stdout)
    return list(data.get("packets", data.get("streams", [])))


def vtt_cues(text: str) -> list[tuple[int, str]]:
    """Each cue's start as MPEG-TS PTS (through the segment's X-TIMESTAMP-MAP), and text."""
    mapping = re.search(r"X-TIMESTAMP-MAP=MPEGTS:(\d+),LOCAL:(\d+):(\d\d):(\d\d)\.(\d{3})", text)
    assert mapping is not None
    mpegts, h, m, s, ms = (int(g) for g in mapping.groups())
    local = h * 3600 + m * 60 + s + ms / 1000
    cues = []
    for h, m, s, ms, body in re.findall(
        r"(\d+):(\d\d):(\d\d)\.(\d{3}) --> \S+\n(.+)", text
    ):  # fmt: skip
        start = int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000
        cues.append((mpegts + round((start - local) * 90_000), body))
    return cues


def decode_errors(path: Path) -> str:
    cmd = ["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=True).stderr


def files(directory: Path, pattern: str) -> list[Path]:
    return sorted(directory.glob(pattern))


def first_video_pts(segment: Path) -> int:
    packets = probe(segment, "-select_streams", "v", "-show_entries", "packet=pts")
    return min(int(p["pts"]) for p in packets[:8])


@pytest.fixture(autouse=True)
def _needs_ffmpeg() -> None:
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        pytest.skip("needs ffmpeg and ffprobe")


async def test_video_and_subtitles_share_one_clock(tmp_path: Path, av_tags: list[FlvTag]) -> None:
    keyframes = [
        t for t in av_tags if is_keyframe(t.kind, t.payload) and t.payload[1] == 1
    ]  # not the sequence header
    keyframe_times = [(presentation_ms(t) + OFFSET_MS) / 1000 for t in keyframes]
    assert len(keyframe_times) == len(KEYFRAMES)
    captions = [
        ("demo-en-en", caption(t, t + 0.5, f"key {i}")) for i, t in enumerate(keyframe_times)
    ]
    captions.append(("demo-en-de", caption(6.0, 9.0, "über", "zwei Zeilen")))
    out = HlsOutput(tmp_path, CHANNELS, segment_seconds=2.0, playlist_size=0, caption_delay=2.0)
    await out.start()
    await feed(out, av_tags + [FlvTag(SCRIPT, 0, b"\x02")], captions)
    await out.close()
    assert out.failed is None and out.dropped_tags == 0 and out.late_cues == 0

    master = (tmp_path / "master.m3u8").read_text()
    assert 'CODECS="avc1.' in master and ',mp4a.40.2"' in master and 'SUBTITLES="subs"' in master
    assert 'LANGUAGE="en",DEFAULT=YES' in master and 'LANGUAGE="de",DEFAULT=NO' in master
    streams = probe(tmp_path / "master.m3u8", "-show_entries", "stream=codec_type,codec_name")
    assert {"h264", "aac"} <= {s["codec_name"] for s in streams}
    for uri in re.findall(r'URI="([^"]+)"', master):
        streams = probe(tmp_path / uri, "-show_entries", "stream=codec_name")
        assert [s["codec_name"] for s in streams] == ["webvtt"]

    # Each video segment starts at a keyframe; the cue written for that keyframe's flow time
    # must land on the same PTS.
    en = [cue for p in files(tmp_path, "subs-en-*.vtt") for cue in vtt_cues(p.read_text())]
    cue_pts = {text: pts for pts, text in en}
    segments = files(tmp_path, "video*.ts")
    assert len(segments) == len(KEYFRAMES)
    for i, segment in enumerate(segments):
        assert abs(first_video_pts(segment) - cue_pts[f"key {i}"]) < FRAME_TICKS
    exact = PTS_AT_ZERO + (presentation_ms(keyframes[0]) + OFFSET_MS) * 90
    assert first_video_pts(segments[0]) == exact

    de = files(tmp_path, "subs-de-*.vtt")
    assert [p.name for p in de if "über" in p.read_text()] == [
        "subs-de-3.vtt",
        "subs-de-4.vtt",
    ]
    assert "zwei Zeilen" in (tmp_path / "subs-de-3.vtt").read_text()
    for playlist in ("video.m3u8", "subs-en.m3u8", "subs-de.m3u8"):
        assert (tmp_path / playlist).read_text().endswith("#EXT-X-ENDLIST\n")


async def test_audio_only_stream(tmp_path: Path, audio_tags: list[FlvTag]) -> None:
    out = HlsOutput(tmp_path, CHANNELS[:1], caption_delay=1.0)
    await out.start()
    await feed(out, audio_tags, [("demo-en-en", caption(7.0, 8.0, "hello"))])
    await out.close()
    assert out.failed is None
    master = (tmp_path / "master.m3u8").read_text()
    assert 'CODECS="mp4a.40.2",SUBTITLES="subs"' in master
    streams = probe(tmp_path / "master.m3u8", "-show_entries", "stream=codec_type")
    assert {s["codec_type"] for s in streams} == {"audio"}
    assert any("hello" in p.read_text() for p in files(tmp_path, "subs-en-*.vtt"))


async def test_missing_ffmpeg_leaves_subtitles_running(
    tmp_path: Path, audio_tags: list[FlvTag]
) -> None:
    out = HlsOutput(tmp_path, CHANNELS, ffmpeg=str(tmp_path / "no-ffmpeg"), caption_delay=1.0)
    await out.start()
    assert out.failed is not None
    await feed(out, audio_tags, [("demo-en-de", caption(6.0, 7.0, "hallo"))])
    await out.close()
    assert "hallo" in (tmp_path / "subs-de-3.vtt").read_text()
    assert not (tmp_path / "master.m3u8").exists()


async def test_ffmpeg_dying_does_not_reach_the_caller(
    tmp_path: Path, av_tags: list[FlvTag]
) -> None:
    fake = tmp_path / "dies"
    fake.write_text("#!/bin/sh\necho 'something broke' >&2\nexit 3\n")
    fake.chmod(0o755)
    out = HlsOutput(tmp_path / "hls", CHANNELS, ffmpeg=str(fake), queue_bytes=64 * 1024)
    await out.start()
    for _ in range(3):
        await feed(out, av_tags, [])
        await asyncio.sleep(0.1)
    assert out.failed is not None
    await out.close()
    assert out.closed and (tmp_path / "hls" / "subs-en.m3u8").exists()


async def test_a_new_run_clears_the_previous_files(tmp_path: Path) -> None:
    stale = tmp_path / "video000007.ts"
    stale.write_bytes(b"old")
    (tmp_path / "keep.txt").write_text("not ours")
    out = HlsOutput(tmp_path, CHANNELS, ffmpeg=str(tmp_path / "no-ffmpeg"))
    await out.start()
    await out.close()
    assert not stale.exists() and (tmp_path / "keep.txt").exists()


async def test_a_publisher_with_other_settings_gets_a_new_ffmpeg(
    tmp_path: Path, av_tags: list[FlvTag]
) -> None:
    """-c copy keeps the first SPS it saw: a new configuration needs a new muxer, appending
    to the same playlist after a discontinuity, on the same clock."""
    other = ffmpeg_flv(tmp_path / "other.flv", video=True, size="96x64")
    resume_ms = max(t.timestamp_ms for t in av_tags) + 40
    later = [FlvTag(t.kind, t.timestamp_ms + resume_ms, t.payload) for t in other]
    out = HlsOutput(tmp_path / "hls", CHANNELS[:1], playlist_size=0)
    await out.start()
    await feed(out, av_tags + later, [])
    await out.close()
    assert out.failed is None
    playlist = (tmp_path / "hls" / "video.m3u8").read_text()
    assert "#EXT-X-DISCONTINUITY\n#EXTINF:2.360000,\nvideo000003.ts\n" in playlist
    assert playlist.endswith("video000005.ts\n#EXT-X-ENDLIST\n")
    segment = tmp_path / "hls" / "video000003.ts"
    streams = probe(segment, "-select_streams", "v", "-show_entries", "stream=width")
    assert streams == [{"width": 96}]
    first = next(t for t in later if is_keyframe(t.kind, t.payload) and t.payload[1] == 1)
    assert first_video_pts(segment) == PTS_AT_ZERO + (presentation_ms(first) + OFFSET_MS) * 90
    assert decode_errors(segment) == ""
