"""Every way a broadcast arrives: SRT push, RTMP/SRT/HLS/file pulls, drops, SEI, bad sources.

Real ffmpeg publishers and real ffmpeg servers to pull from, against a real server running
the small English model (these tests are about ingest, not recognition quality).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jiwer
import pytest
from harness import (
    ServerProcess,
    Viewer,
    ffmpeg_process,
    finish,
    free_port,
    free_udp_ports,
    publish_srt,
    speech_clip,
    until_done,
)
from speech import SpeechSample

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CLIP_SECONDS = 11.0
SEI_UUID = "086f3693-b7b3-4f2c-9653-21492feee5b8"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("sources"), model="tiny.en")
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def clip(speech_sample: SpeechSample, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first sentences of the test speech as AAC in M4A."""
    return speech_clip(speech_sample.wav_path, CLIP_SECONDS, tmp_path_factory.mktemp("clip"))


@pytest.fixture(scope="module")
def clip_text(speech_sample: SpeechSample) -> str:
    return " ".join(s.text for s in speech_sample.sentences if s.end <= CLIP_SECONDS)


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s']", " ", text.lower())).strip()


def wer(reference: str, hypothesis: str) -> float:
    return float(jiwer.wer(normalize(reference), normalize(hypothesis)))


def caption_text(viewer: Viewer) -> str:
    return " ".join(r["alternatives"][0]["transcript"] for r in viewer.responses("captions"))


async def wait_for(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(check)
        if value:
            return value
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def get_flow(server: ServerProcess, flow: dict[str, Any]) -> dict[str, Any]:
    got: dict[str, Any] = server.api("GET", f"/v1/flows/{flow['flow_id']}", expect=200)
    return got


def flow_in(server: ServerProcess, flow: dict[str, Any], *statuses: str) -> dict[str, Any] | None:
    got = get_flow(server, flow)
    return got if got["status"] in statuses else None


def assert_captions_in_order(viewer: Viewer) -> None:
    captions = viewer.responses("captions")
    assert captions, "no captions"
    assert len({c["id"] for c in captions}) == len(captions)
    for a, b in zip(captions, captions[1:], strict=False):
        assert a["end"] <= b["start"] + 1e-6, (a, b)


async def captions_of(
    server: ServerProcess, flow: dict[str, Any], run: Callable[[], Any], end: bool = True
) -> Viewer:
    """Subscribe to the flow's source channel, ``await run()``, end the flow, return the
    viewer with everything it received."""
    channel = flow["channels"][0]["name"]
    async with Viewer(server.ws_url, server.token(flow["name"]), channel) as viewer:
        await run()
        if end:
            await asyncio.sleep(1.0)
            if get_flow(server, flow)["status"] == "live":
                server.stop_flow(flow)
            await asyncio.wait_for(viewer.ended.wait(), 30)
    return viewer


async def test_srt_push_refuses_a_wrong_passphrase_and_captions_the_right_one(
    server: ServerProcess, clip: Path, clip_text: str
) -> None:
    flow = server.create_flow("srtpush", source="srt_push")
    srt = flow["srt_details"]
    low, high = map(int, server.srt_ports.split("-"))
    assert flow["rtmp_details"] is None and low <= srt["port"] <= high
    server.start_flow(flow)
    await asyncio.sleep(0.5)  # the listener process starts

    wrong = srt["full_url"].replace(srt["passphrase"], "not-the-passphrase")
    rc, err = await until_done(publish_srt(clip, wrong))
    assert rc != 0, err

    async def push() -> None:
        rc, err = await until_done(publish_srt(clip, srt["full_url"]))
        assert rc == 0, err

    viewer = await captions_of(server, flow, push)
    assert wer(clip_text, caption_text(viewer)) < 0.35, caption_text(viewer)
    assert_captions_in_order(viewer)
    finals = viewer.responses("transcript", final=True)
    pts = [r["start_pts"] for r in finals if r["alternatives"][0]["transcript"]]
    assert pts and all(p is not None for p in pts) and pts == sorted(pts)
    assert all(r["sei_timestamp"] is None for r in finals)
    assert get_flow(server, flow)["status"] == "ended"


async def test_srt_publisher_killed_mid_stream_and_restarted(
    server: ServerProcess, clip: Path
) -> None:
    flow = server.create_flow("srtdrop", source="srt_push")
    server.start_flow(flow)
    await asyncio.sleep(0.5)
    url = flow["srt_details"]["full_url"]

    async def push_twice() -> None:
        first = publish_srt(clip, url)
        await asyncio.sleep(6.5)
        first.kill()  # the encoder vanishes mid-sentence
        first.communicate()
        await asyncio.sleep(3.0)  # the listener gives a silent caller up after 2 s
        rc, err = await until_done(publish_srt(clip, url))
        assert rc == 0, err
        state = get_flow(server, flow)["ingest"]
        assert state["publishers"] == 2
        assert len(state["gaps"]) == 1 and state["gaps"][0]["seconds"] >= 2.5, state
        assert 5.0 <= state["gaps"][0]["at"] <= 8.0, state

    viewer = await captions_of(server, flow, push_twice)
    assert_captions_in_order(viewer)
    text = normalize(caption_text(viewer))
    # The first publisher's words before the drop are captioned, and the second one's too.
    assert text.count("good evening") == 2, text
    assert "coast" in text and "extra care" in text, text


async def pull_and_caption(
    server: ServerProcess, name: str, url: str, source: subprocess.Popen[bytes] | None
) -> tuple[dict[str, Any], Viewer]:
    flow = server.create_flow(name, source="url_pull", url=url)
    server.start_flow(flow)

    async def wait_source() -> None:
        if source is not None:
            await until_done(source)
        else:  # a finite source ends the flow by itself
            await wait_for(lambda: flow_in(server, flow, "ended", "error"), 60, "the end")

    return flow, await captions_of(server, flow, wait_source)


async def test_rtmp_pull(server: ServerProcess, clip: Path, clip_text: str) -> None:
    port = free_port()
    url = f"rtmp://127.0.0.1:{port}/live/program"
    source = ffmpeg_process(
        "-re", "-i", str(clip), "-c:a", "copy", "-f", "flv", "-listen", "1", url
    )
    flow, viewer = await pull_and_caption(server, "rtmppull", url, source)
    assert wer(clip_text, caption_text(viewer)) < 0.35, caption_text(viewer)
    assert_captions_in_order(viewer)


async def test_rtmp_pull_reconnects_when_the_source_comes_back(
    server: ServerProcess, clip: Path
) -> None:
    port = free_port()
    url = f"rtmp://127.0.0.1:{port}/live/program"

    def source() -> subprocess.Popen[bytes]:
        return ffmpeg_process(
            "-re", "-t", "5", "-i", str(clip), "-c:a", "copy", "-f", "flv", "-listen", "1", url
        )  # fmt: skip

    flow = server.create_flow("rtmprepull", source="url_pull", url=url)

    async def play_twice() -> None:
        first, second = source(), None
        try:
            server.start_flow(flow)
            await asyncio.wait_for(until_done(first), 30)
            await asyncio.sleep(1.5)  # the source is away; the flow keeps trying
            second = source()
            await asyncio.wait_for(until_done(second), 30)
        finally:
            for proc in (first, second):
                if proc is not None and proc.poll() is None:
                    proc.kill()
        state = get_flow(server, flow)["ingest"]
        assert state["publishers"] == 2 and len(state["gaps"]) == 1, state

    viewer = await captions_of(server, flow, play_twice)
    assert normalize(caption_text(viewer)).count("good evening") == 2
    assert_captions_in_order(viewer)


async def test_srt_pull(server: ServerProcess, clip: Path, clip_text: str) -> None:
    port = int(free_udp_ports(1).split("-")[0])
    source = ffmpeg_process(
        "-re", "-i", str(clip), "-c:a", "copy", "-f", "mpegts",
        f"srt://127.0.0.1:{port}?mode=listener",
    )  # fmt: skip
    flow, viewer = await pull_and_caption(server, "srtpull", f"srt://127.0.0.1:{port}", source)
    assert wer(clip_text, caption_text(viewer)) < 0.35, caption_text(viewer)


def serve_vod_hls(media: Path, directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``media`` as a VOD HLS playlist served over HTTP on loopback."""
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", str(media), "-c:a", "copy",
         "-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod",
         str(directory / "index.m3u8")],
        check=True, timeout=60,
    )  # fmt: skip
    port = free_port()
    http = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/index.m3u8"
    for _ in range(100):
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    return http, url


async def test_hls_source_plays_to_its_end(
    server: ServerProcess, clip: Path, clip_text: str, tmp_path: Path
) -> None:
    hls = tmp_path / "hls"
    hls.mkdir()
    http, url = await asyncio.to_thread(serve_vod_hls, clip, hls)
    try:
        flow, viewer = await pull_and_caption(server, "hlspull", url, None)
    finally:
        http.kill()
        http.wait()
    assert get_flow(server, flow)["status"] == "ended"
    assert wer(clip_text, caption_text(viewer)) < 0.35, caption_text(viewer)


async def test_file_source_plays_in_real_time_and_ends(
    server: ServerProcess, clip: Path, clip_text: str
) -> None:
    started = time.monotonic()
    flow, viewer = await pull_and_caption(server, "filepull", str(clip), None)
    assert time.monotonic() - started >= CLIP_SECONDS - 1  # paced like a live stream
    assert get_flow(server, flow)["status"] == "ended"
    assert wer(clip_text, caption_text(viewer)) < 0.35, caption_text(viewer)


@pytest.fixture(scope="module")
def video_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("video") / "silent.mp4"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
         "-i", "testsrc=s=160x120:r=10:d=2", "-c:v", "libx264", "-preset", "ultrafast", str(out)],
        check=True, timeout=60,
    )  # fmt: skip
    return out


@pytest.mark.parametrize(
    ("source", "reason"),
    [("video_only", "no audio stream"), ("garbage_file", "not a media stream")],
)
async def test_unusable_sources_put_the_flow_in_error(
    server: ServerProcess, source: str, reason: str, request: pytest.FixtureRequest
) -> None:
    path: Path = request.getfixturevalue(source)
    flow = server.create_flow(f"bad_{source}", source="url_pull", url=str(path))
    server.start_flow(flow)
    failed = await wait_for(lambda: flow_in(server, flow, "error"), 30, "the error")
    assert reason in failed["error"], failed
    health = await asyncio.to_thread(httpx.get, server.url("/healthz"), timeout=5)
    assert health.status_code == 200


async def test_unreachable_source_is_retried_while_the_flow_stays_live(
    server: ServerProcess,
) -> None:
    flow = server.create_flow("unreachable", source="url_pull", url="rtmp://127.0.0.1:9/live/x")
    server.start_flow(flow)
    await asyncio.sleep(3.5)  # a few attempts with backoff
    got = get_flow(server, flow)
    assert got["status"] == "live" and got["ingest"]["connected"] is False
    server.stop_flow(flow)


async def test_rtmp_push_of_video_without_audio_is_an_error(
    server: ServerProcess, video_only: Path
) -> None:
    flow = server.create_flow("videoonly")
    server.start_flow(flow)
    publisher = ffmpeg_process(
        "-re", "-stream_loop", "-1", "-i", str(video_only), "-c:v", "copy", "-f", "flv",
        flow["rtmp_details"]["full_url"],
    )  # fmt: skip
    try:
        failed = await wait_for(lambda: flow_in(server, flow, "error"), 30, "the error")
    finally:
        publisher.kill()
        finish(publisher)
    assert "no audio track" in failed["error"]


async def test_sei_timestamps_reach_the_captions(server: ServerProcess, clip: Path) -> None:
    flow = server.create_flow("seiflow")
    server.start_flow(flow)
    stamped = datetime(2026, 11, 22, 10, 0, 0, 500000, tzinfo=UTC)
    publisher = ffmpeg_process(
        "-re", "-i", str(clip), "-f", "lavfi", "-re", "-i", "testsrc=s=320x240:r=25",
        "-shortest", "-map", "0:a", "-map", "1:v", "-c:a", "aac", "-b:a", "96k",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-pix_fmt", "yuv420p",
        # Unix milliseconds (an ISO time would need its colons escaped for the filter).
        "-bsf:v", f"h264_metadata=sei_user_data={SEI_UUID}+{round(stamped.timestamp() * 1000)}",
        "-f", "flv", flow["rtmp_details"]["full_url"],
    )  # fmt: skip

    async def run() -> None:
        rc, err = await until_done(publisher)
        assert rc == 0, err

    viewer = await captions_of(server, flow, run)
    finals = [
        r for r in viewer.responses("transcript", final=True) if r["alternatives"][0]["transcript"]
    ]
    assert finals
    stamps = [(r["start_pts"], r["sei_timestamp"]) for r in finals + viewer.responses("captions")]
    assert all(sei is not None for _, sei in stamps), stamps
    for pts, sei in stamps:
        # ffmpeg stamps every keyframe (each 2 s) with the same time: the SEI clock says
        # that time plus the distance from the last keyframe.
        since_keyframe = sei - stamped.timestamp()
        assert -0.2 <= since_keyframe <= 2.2, stamps
        keyframe = pts - since_keyframe
        assert abs(keyframe - 2 * round(keyframe / 2)) < 0.15, stamps
