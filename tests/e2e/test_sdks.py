"""Both SDKs end to end: a real ``captioncast serve`` (small English model), a real ffmpeg
publishing speech over RTMP, and the Python SDK and the JavaScript SDK (under Node) each
creating a flow, starting it, receiving its caption blocks, stopping it and seeing the end
of stream.

The JavaScript package's dependencies are installed with ``npm ci`` when they are missing;
if that fails, the tests fail (they never skip).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jiwer
import pytest
from harness import ServerProcess, publish, speech_clip, until_done
from speech import SpeechSample
from websockets.asyncio.client import connect

from captioncast import Client
from captioncast.sdk import Caption

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

JS = Path(__file__).resolve().parents[2] / "js"
CLIP_SECONDS = 9.0  # two whole sentences (the third starts at 9.7 s)
MAX_WER = 0.35


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("sdks"), model="tiny.en")
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


@pytest.fixture(scope="module")
def node() -> str:
    """Node, with the JS package's dependencies installed (``npm ci`` when missing)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "Node.js 18 or newer and npm are required (scripts/setup)"
    if not (JS / "node_modules" / "ws").is_dir():
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=JS, capture_output=True, text=True,
            timeout=180,
        )  # fmt: skip
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
    return node


def wer(reference: str, hypothesis: str) -> float:
    def normalize(text: str) -> str:
        return re.sub(r"\s+", " ", re.sub(r"[^\w\s']", " ", text.lower())).strip()

    return float(jiwer.wer(normalize(reference), normalize(hypothesis)))


def assert_caption_blocks(blocks: list[dict[str, Any]], clip_text: str) -> None:
    assert blocks, "no captions"
    for a, b in zip(blocks, blocks[1:], strict=False):
        assert a["seq"] < b["seq"] and a["end"] <= b["start"] + 1e-6, (a, b)
    for block in blocks:
        assert 1 <= len(block["lines"]) <= 2 and all(len(line) <= 37 for line in block["lines"])
    text = " ".join(block["text"] for block in blocks)
    assert wer(clip_text, text) < MAX_WER, text


async def test_python_sdk_creates_starts_captions_and_stops_a_flow(
    server: ServerProcess, clip: Path, clip_text: str
) -> None:
    async with Client(server.api_key, server.url("")) as cc:
        flow = await cc.create_flow("python_sdk", source="rtmp_push", source_language="en")
        sub = cc.subscribe(flow)  # mints its own token with the API key
        received: list[Caption] = []

        async def collect() -> None:
            async for caption in sub:
                received.append(caption)

        collector = asyncio.create_task(collect())
        for _ in range(200):  # until subscribed: nothing published from then on is missed
            if sub.position is not None:
                break
            await asyncio.sleep(0.05)
        assert (await cc.start_flow(flow)).status in ("starting", "live")
        assert flow.rtmp_details is not None
        code, err = await until_done(publish(clip, flow.rtmp_details.full_url))
        assert code == 0, err
        await asyncio.sleep(1.0)
        assert (await cc.stop_flow(flow)).status == "ended"
        await asyncio.wait_for(collector, 30)
        transcript = await cc.transcript(flow)

    assert sub.finished == "end_of_stream" and sub.gaps == []
    assert {c.type for c in received} == {"captions"}
    blocks = [{"seq": c.seq, "text": c.text, "lines": c.lines, "start": c.start, "end": c.end}
              for c in received]  # fmt: skip
    assert_caption_blocks(blocks, clip_text)
    assert [cue.id for cue in transcript.cues] == [c.id for c in received]


async def test_js_sdk_creates_starts_captions_and_stops_a_flow(
    server: ServerProcess, clip: Path, clip_text: str, node: str
) -> None:
    proc = await asyncio.create_subprocess_exec(
        node, "examples/live-captions.mjs", "--url", server.url(""), "--name", "js_sdk",
        cwd=JS, env=dict(os.environ, CAPTIONCAST_API_KEY=server.api_key),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin and proc.stdout and proc.stderr
    events: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(20):
            while not events or events[-1]["event"] != "ready":
                line = await proc.stdout.readline()
                assert line, (await proc.stderr.read()).decode()
                events.append(json.loads(line))
        code, err = await until_done(publish(clip, events[-1]["publish"]))
        assert code == 0, err
        await asyncio.sleep(1.0)
        proc.stdin.close()  # the example stops the flow; the end of stream follows
        out, stderr = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    events += [json.loads(line) for line in out.decode().splitlines()]
    assert proc.returncode == 0, stderr.decode()
    assert events[-1] == {"event": "end", "reason": "end_of_stream", "reconnects": 0}
    assert_caption_blocks([e for e in events if e["event"] == "caption"], clip_text)
    flow_id = events[0]["flow_id"]
    assert server.api("GET", f"/v1/flows/{flow_id}", expect=200)["status"] == "ended"


def test_js_sdk_unit_tests(node: str) -> None:
    """The JS package's own tests (``npm test``: the protocol core, a fake server)."""
    npm = shutil.which("npm")
    assert npm
    done = subprocess.run([npm, "test"], cwd=JS, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


async def test_viewer_websockets_are_not_compressed_unless_configured(
    server: ServerProcess,
) -> None:
    # Browsers offer permessage-deflate; `captioncast serve` declines it by default, so a
    # message is framed once per viewer without a compressor each (see --ws-compression).
    async with connect(server.ws_url, compression="deflate") as ws:
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
