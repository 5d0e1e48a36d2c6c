"""A server restart: viewers hear 1001 Going Away, flows come back live, nothing else lost."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import srt
import websockets
import webvtt
from harness import ServerProcess, finish, publish, until_done

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def first_caption(ws: websockets.ClientConnection) -> list[dict[str, Any]]:
    """Every response up to and including the first caption block."""
    responses = []
    async for raw in ws:
        message = json.loads(raw)
        if "response" in message:
            responses.append(message["response"])
            if message["response"]["type"] == "captions":
                return responses
    raise AssertionError("the connection closed before any caption")


async def test_sigterm_says_going_away_and_flows_survive_the_restart(
    tmp_path: Path, speech_m4a: Path
) -> None:
    server = ServerProcess(tmp_path / "data", model="tiny.en")
    server.start()
    try:
        flow = server.create_flow("restart")
        server.start_flow(flow)
        token = server.token("restart")
        received: list[dict[str, Any]] = []
        async with websockets.connect(server.ws_url) as ws:
            await ws.send(json.dumps({"type": "auth", "token": token}))
            await ws.send(json.dumps({"type": "subscribe", "channel": "restart-en-en"}))
            ffmpeg = publish(speech_m4a, flow["rtmp_details"]["full_url"])
            received += await asyncio.wait_for(first_caption(ws), 30)
            assert server.proc is not None
            server.proc.terminate()  # SIGTERM while the publisher is still sending
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), 30)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        assert server.proc.wait(30) == 0, server.log()
        rc, _ = finish(ffmpeg, 10)
        assert rc != 0  # the publisher was disconnected, not left hanging
        # No message after the first caption claimed the stream had ended.
        assert not any(r["is_end_of_stream"] for r in received)
    finally:
        server.stop()

    again = ServerProcess(server.data_dir, model="tiny.en", api_key=server.api_key)
    again.start()
    try:
        stored = again.api("GET", f"/v1/flows/{flow['flow_id']}", expect=200)
        assert stored["status"] == "live"
        assert stored["rtmp_details"]["stream_key"] == flow["rtmp_details"]["stream_key"]
        # The old viewer token still works (same signing key) and the same key publishes.
        async with websockets.connect(again.ws_url) as ws:
            await ws.send(json.dumps({"type": "auth", "token": token}))
            await ws.send(json.dumps({"type": "subscribe", "channel": "restart-en-en"}))
            ffmpeg = publish(speech_m4a, stored["rtmp_details"]["full_url"], "-t", "8")
            captions = await asyncio.wait_for(first_caption(ws), 30)
            rc, err = await until_done(ffmpeg)
            assert rc == 0, err
        assert captions
        again.stop_flow(stored)
        check_transcripts(again, flow["flow_id"], received, captions)
    finally:
        again.stop()


def check_transcripts(
    server: ServerProcess,
    flow_id: str,
    before: list[dict[str, Any]],
    after: list[dict[str, Any]],
) -> None:
    """The transcript holds the captions of both runs, in order, in every format."""
    path = f"/v1/flows/{flow_id}/transcript"
    cues = server.api("GET", path, expect=200)["cues"]
    ids = [c["id"] for c in cues]
    first = next(r for r in before if r["type"] == "captions")
    second = next(r for r in after if r["type"] == "captions")
    assert first["id"] in ids and second["id"] in ids
    assert ids.index(first["id"]) < ids.index(second["id"])
    # The restarted flow's clock went on after the captions it had: no time repeats.
    starts = [c["start"] for c in cues]
    assert starts == sorted(starts) and len(ids) == len(set(ids))
    assert second["start"] > first["end"]

    vtt = httpx.get(server.url(path + "?format=vtt"), headers=server.auth, timeout=10)
    assert vtt.headers["content-type"].startswith("text/vtt")
    parsed = webvtt.from_buffer(io.StringIO(vtt.text))
    assert [c.text.replace("\n", " ") for c in parsed] == [" ".join(c["lines"]) for c in cues]
    srt_text = httpx.get(server.url(path + "?format=srt"), headers=server.auth, timeout=10).text
    subtitles = list(srt.parse(srt_text))
    assert len(subtitles) == len(cues)
    assert subtitles[0].start.total_seconds() == pytest.approx(cues[0]["start"], abs=0.002)
    txt = httpx.get(server.url(path + "?format=txt"), headers=server.auth, timeout=10).text
    assert first["alternatives"][0]["transcript"].split()[0] in txt
