"""The player's HLS: a real publisher's video remuxed, the captions as WebVTT renditions."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import ServerProcess, Viewer, ffmpeg_process, until_done

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CUE_TIMING = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d) --> (\d\d):(\d\d):(\d\d)\.(\d\d\d)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("playback"), model="tiny.en")
    proc.start()
    yield proc
    proc.stop()


def ffprobe_streams(url: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", url],
        capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    streams: list[dict[str, Any]] = json.loads(out.stdout)["streams"]
    return streams


def first_video_pts(url: str) -> int:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts",
         "-read_intervals", "%+#1", "-of", "csv=p=0", url],
        capture_output=True, timeout=60, check=True, text=True,
    )  # fmt: skip
    return int(out.stdout.split()[0].strip(","))


def seconds(parts: tuple[str, ...]) -> float:
    h, m, s, ms = map(int, parts)
    return h * 3600 + m * 60 + s + ms / 1000


def vtt_cues(base: str, playlist: str, token: str) -> tuple[list[tuple[float, float, str]], str]:
    """Every cue of a subtitle playlist's segments (each once), and the timestamp map."""
    text = httpx.get(f"{base}/{playlist}?token={token}", timeout=10).text
    cues: dict[tuple[float, float, str], None] = {}
    maps = set()
    for uri in [line for line in text.splitlines() if line and not line.startswith("#")]:
        assert f"token={token}" in uri  # the token travels on to every segment
        segment = httpx.get(f"{base}/{uri}", timeout=10)
        assert segment.status_code == 200
        lines = segment.text.splitlines()
        assert lines[0] == "WEBVTT"
        maps.update(line for line in lines if line.startswith("X-TIMESTAMP-MAP="))
        for i, line in enumerate(lines):
            if m := CUE_TIMING.match(line):
                body = []
                for following in lines[i + 1 :]:
                    if not following:
                        break
                    body.append(following)
                cues[(seconds(m.groups()[:4]), seconds(m.groups()[4:]), " ".join(body))] = None
    assert len(maps) == 1
    return list(cues), maps.pop()


async def test_hls_plays_and_its_subtitles_match_the_captions(
    server: ServerProcess, speech_video_mp4: Path
) -> None:
    flow = server.create_flow("playback", max_latency=4)
    server.start_flow(flow)
    token = server.token("playback")
    base = server.url("/v1/hls/playback")
    publisher = ffmpeg_process(
        "-re", "-t", "14", "-i", str(speech_video_mp4), "-c", "copy", "-f", "flv",
        flow["rtmp_details"]["full_url"],
    )  # fmt: skip
    async with Viewer(server.ws_url, token, "playback-en-en") as viewer:
        rc, err = await until_done(publisher)
        assert rc == 0, err
        # While the stream is live, the master playlist is served and plays.
        master = await asyncio.to_thread(httpx.get, f"{base}/master.m3u8?token={token}")
        assert master.status_code == 200, master.text
        assert "TYPE=SUBTITLES" in master.text and 'LANGUAGE="en"' in master.text
        await asyncio.sleep(1.0)
        server.stop_flow(flow)
        await asyncio.wait_for(viewer.ended.wait(), 30)

    streams = await asyncio.to_thread(ffprobe_streams, f"{base}/master.m3u8?token={token}")
    kinds = {s["codec_type"]: s["codec_name"] for s in streams}
    assert kinds.get("video") == "h264" and kinds.get("audio") == "aac", streams
    subtitle = await asyncio.to_thread(ffprobe_streams, f"{base}/subs-en.m3u8?token={token}")
    assert [s["codec_name"] for s in subtitle] == ["webvtt"]

    cues, timestamp_map = await asyncio.to_thread(vtt_cues, base, "subs-en.m3u8", token)
    assert timestamp_map == "X-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:00.000"
    captions = viewer.responses("captions")
    assert captions and len(cues) == len(captions)
    for caption, (start, end, text) in zip(captions, sorted(cues), strict=True):
        assert start == pytest.approx(caption["start"], abs=0.0015)
        assert end == pytest.approx(caption["end"], abs=0.0015)
        assert text == " ".join(caption["alternatives"][0]["lines"])

    # The video's PTS puts flow time t at 900000 + 90000 t: the first video packet of the
    # stream is at flow time 0 (the publisher connected at the start of the flow's clock).
    first = await asyncio.to_thread(first_video_pts, f"{base}/video.m3u8?token={token}")
    assert abs(first - 900000) <= 90 * 100  # within 100 ms


async def test_hls_needs_the_viewer_token(server: ServerProcess) -> None:
    server.create_flow("private")
    server.create_flow("someone_else")
    other = server.token("someone_else")
    base = server.url("/v1/hls/private/master.m3u8")
    assert (await asyncio.to_thread(httpx.get, base)).status_code == 401
    forbidden = await asyncio.to_thread(httpx.get, f"{base}?token={other}")
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["code"] == "forbidden"
