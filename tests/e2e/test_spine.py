"""Stream in, captions out: real ffmpeg over RTMP into a real server, a real WebSocket viewer."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from pathlib import Path

import httpx
import jiwer
import jsonschema
import pytest
from harness import ServerProcess, Viewer, finish, publish, publish_lavfi, until_done
from speech import SpeechSample

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s']", " ", text.lower())).strip()


def wer(reference: str, hypothesis: str) -> float:
    return float(jiwer.wer(normalize(reference), normalize(hypothesis)))


def final_text(viewer: Viewer) -> str:
    return " ".join(
        r["alternatives"][0]["transcript"] for r in viewer.responses("transcript", final=True)
    )


async def test_speech_over_rtmp_becomes_live_captions(
    server: ServerProcess, speech_m4a: Path, speech_sample: SpeechSample, wire_schema: dict
) -> None:
    flow = server.create_flow("spine", max_latency=5)
    server.start_flow(flow)
    assert flow["channels"][0]["name"] == "spine-en-en"
    token = server.token("spine")
    async with Viewer(server.ws_url, token, "spine-en-en") as viewer:
        started = time.time()
        rc, err = await until_done(publish(speech_m4a, flow["rtmp_details"]["full_url"]))
        assert rc == 0, err
        assert time.time() - started >= speech_sample.duration - 1  # it really was real time
        await asyncio.sleep(1.0)
        server.stop_flow(flow)
        await asyncio.wait_for(viewer.ended.wait(), 30)

    messages = [r.message for r in viewer.received]
    for m in messages:
        jsonschema.validate(m, wire_schema)
    seqs = [m["seq"] for m in messages]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert len({m["epoch"] for m in messages}) == 1

    partials = viewer.responses("transcript", final=False)
    finals = viewer.responses("transcript", final=True)
    captions = viewer.responses("captions")
    assert len(partials) >= 5 and len(finals) >= 5 and len(captions) >= 5

    error = wer(speech_sample.text, final_text(viewer))
    assert error <= 0.10, (error, final_text(viewer))
    caption_text = " ".join(c["alternatives"][0]["transcript"] for c in captions)
    assert wer(speech_sample.text, caption_text) <= 0.10
    assert normalize(caption_text) == normalize(final_text(viewer))

    for c in captions:
        lines = c["alternatives"][0]["lines"]
        assert 1 <= len(lines) <= 2 and all(len(line) <= 37 for line in lines), lines
        assert c["is_final"] and c["alternatives"][0]["items"]
    for a, b in zip(captions, captions[1:], strict=False):
        assert b["start"] >= a["end"], (a, b)
    # Every caption was sent within max_latency of its first word being spoken: the audio
    # time of a word maps to wall clock through start_epoch (when that audio arrived).
    sent = {id(r.message["response"]): r.at for r in viewer.received}
    late = [
        (c["alternatives"][0]["transcript"], sent[id(c)] - c["start_epoch"])
        for c in captions
        if sent[id(c)] - c["start_epoch"] > 5.0
    ]
    assert not late, late
    # Words carry all three clocks; PTS follow the publisher's timeline.
    assert all(c["start_pts"] is not None and c["start_pts"] >= 0 for c in captions)
    assert all(abs(c["start_pts"] - c["start"]) < 1.0 for c in captions)
    # Silence produces no captions: none starts inside the leading second of silence.
    assert captions[0]["start"] >= speech_sample.sentences[0].start - 0.5
    assert viewer.responses()[-1]["is_end_of_stream"]


def test_wrong_stream_key_is_refused(server: ServerProcess, speech_m4a: Path) -> None:
    flow = server.create_flow("refused")
    server.start_flow(flow)
    url = flow["rtmp_details"]["url"] + "/not-the-key"
    started = time.monotonic()
    rc, err = finish(publish(speech_m4a, url), 30)
    assert rc != 0 and "refused" in err.lower(), err
    assert time.monotonic() - started < 10  # refused at publish, not after streaming
    assert httpx.get(server.url("/healthz")).status_code == 200


def test_publish_to_a_flow_that_is_not_started_is_refused(
    server: ServerProcess, speech_m4a: Path
) -> None:
    flow = server.create_flow("notstarted")
    rc, err = finish(publish(speech_m4a, flow["rtmp_details"]["full_url"]), 30)
    assert rc != 0, err


def test_garbage_on_the_rtmp_port_leaves_the_server_healthy(
    server: ServerProcess, speech_m4a: Path
) -> None:
    for payload in (b"\x03" + bytes(1600), b"GET / HTTP/1.1\r\n\r\n", bytes(range(256)) * 40):
        with socket.create_connection(("127.0.0.1", server.rtmp_port), timeout=5) as s:
            s.sendall(payload)
            s.settimeout(5)
            try:
                while s.recv(65536):
                    pass
            except (TimeoutError, ConnectionResetError):
                pass
    assert httpx.get(server.url("/healthz")).status_code == 200
    flow = server.create_flow("aftergarbage")
    server.start_flow(flow)
    rc, err = finish(publish(speech_m4a, flow["rtmp_details"]["full_url"], "-t", "2"), 30)
    assert rc == 0, err


async def test_publisher_drop_and_reconnect_continues_the_flow(
    server: ServerProcess, speech_m4a: Path, speech_sample: SpeechSample
) -> None:
    flow = server.create_flow("reconnect")
    server.start_flow(flow)
    # The drop falls in the 1.5 s pause before sentence 4, whatever ffmpeg's start-up time.
    cut = speech_sample.sentences[4].start - 0.5
    async with Viewer(server.ws_url, server.token("reconnect"), "reconnect-en-en") as viewer:
        first = publish(speech_m4a, flow["rtmp_details"]["full_url"])
        await asyncio.sleep(cut + 0.3)
        first.kill()  # the encoder vanishes without unpublishing
        finish(first, 5)
        await asyncio.sleep(2.0)
        status = server.api("GET", f"/v1/flows/{flow['flow_id']}", expect=200)["status"]
        assert status == "live"
        before = len(viewer.responses("captions"))
        second = publish(speech_m4a, flow["rtmp_details"]["full_url"], "-ss", f"{cut:.2f}")
        rc, err = await until_done(second)
        assert rc == 0, err
        await asyncio.sleep(1.0)
        server.stop_flow(flow)
        await asyncio.wait_for(viewer.ended.wait(), 30)

    captions = viewer.responses("captions")
    assert before >= 2 and len(captions) > before + 2
    starts = [c["start"] for c in captions]
    assert starts == sorted(starts)
    for a, b in zip(captions, captions[1:], strict=False):
        assert b["start"] >= a["end"]
    texts = [c["alternatives"][0]["transcript"] for c in captions]
    assert len(texts) == len(set(texts)), texts
    # Audio time kept counting: the second publisher's audio is stamped after the first's.
    assert captions[before]["start"] >= cut
    # The whole text arrived once: words of the first part are not repeated after the drop.
    error = wer(speech_sample.text, " ".join(texts))
    assert error <= 0.15, (error, texts)


async def test_noise_and_tones_produce_no_captions(server: ServerProcess) -> None:
    flow = server.create_flow("noise")
    server.start_flow(flow)
    # Pink noise, then a two-tone chord over quieter noise: no speech anywhere.
    graph = (
        "anoisesrc=color=pink:amplitude=0.25:duration=4[n];"
        "aevalsrc=0.2*sin(2*PI*440*t)+0.2*sin(2*PI*660*t):s=44100:d=4[c];"
        "anoisesrc=color=pink:amplitude=0.05:duration=4[m];"
        "[c][m]amix=inputs=2[cm];[n][cm]concat=n=2:v=0:a=1"
    )
    async with Viewer(server.ws_url, server.token("noise"), "noise-en-en") as viewer:
        rc, err = await until_done(publish_lavfi(graph, flow["rtmp_details"]["full_url"]))
        assert rc == 0, err
        await asyncio.sleep(1.0)
        server.stop_flow(flow)
        await asyncio.wait_for(viewer.ended.wait(), 30)
    assert viewer.responses("captions") == []
    words = [r for r in viewer.responses("transcript") if r["alternatives"][0]["items"]]
    assert words == []
    # The silence is still covered by empty final transcripts, ending with the end of stream.
    finals = viewer.responses("transcript", final=True)
    assert len(finals) >= 2 and finals[-1]["is_end_of_stream"]
    assert finals[-1]["end"] >= 7.0
