"""Live translation end to end: a real server with the small English model and the Debian
Apertium pairs, a real ffmpeg publisher over RTMP, viewers on the translated channels."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from harness import ServerProcess, Viewer, publish, speech_clip, until_done
from speech import SpeechSample

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("apertium") is None, reason="apertium is not installed"),
]

CLIP_SECONDS = 11.0  # "Good evening, and welcome to the late news. Heavy rain is expected …"
MAX_LATENCY = 5.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("translation"), model="tiny.en")
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def clip(speech_sample: SpeechSample, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return speech_clip(speech_sample.wav_path, CLIP_SECONDS, tmp_path_factory.mktemp("clip"))


def utterances(source: Viewer, pause: float = 0.7) -> list[tuple[float, float]]:
    """The source's final words grouped at pauses: where speech was heard."""
    words = [
        (item["start"], item["end"])
        for r in source.responses("transcript", final=True)
        for item in r["alternatives"][0]["items"]
        if item["kind"] == "text"
    ]
    spans: list[list[float]] = []
    for start, end in words:
        if spans and start - spans[-1][1] < pause:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    return [(a, b) for a, b in spans]


def words_of(responses: list[dict[str, Any]]) -> set[str]:
    text = " ".join(r["alternatives"][0]["transcript"] for r in responses).lower()
    return set(re.findall(r"\w+", text))


async def test_a_flow_captions_in_spanish_and_catalan(
    server: ServerProcess, clip: Path, wire_schema: dict[str, Any]
) -> None:
    flow = server.create_flow("mt", target_languages=["es", "ca"], max_latency=MAX_LATENCY)
    names = [c["name"] for c in flow["channels"]]
    assert names == ["mt-en-en", "mt-en-es", "mt-en-ca"]
    server.start_flow(flow)
    token = server.token("mt")
    async with (
        Viewer(server.ws_url, token, "mt-en-en") as source,
        Viewer(server.ws_url, token, "mt-en-es") as es,
        Viewer(server.ws_url, token, "mt-en-ca") as ca,
    ):
        rc, err = await until_done(publish(clip, flow["rtmp_details"]["full_url"]))
        assert rc == 0, err
        await asyncio.sleep(1.0)
        server.stop_flow(flow)
        for viewer in (source, es, ca):
            await asyncio.wait_for(viewer.ended.wait(), 30)

    spoken = utterances(source)
    assert spoken, server.log()
    for viewer, lang in ((es, "es"), (ca, "ca")):
        for received in viewer.received:
            jsonschema.validate(received.message, wire_schema)
        responses = viewer.responses()
        assert all(r["language_code"] == lang for r in responses)
        assert all(r["service_type"] == "translation" for r in responses)
        assert responses[-1]["is_end_of_stream"]
        captions = viewer.responses("captions")
        assert len(captions) >= 2, (lang, responses)
        for c in captions:
            lines = c["alternatives"][0]["lines"]
            assert 1 <= len(lines) <= 2 and all(len(line) <= 37 for line in lines), lines
            for item in c["alternatives"][0]["items"]:  # inside what was said, in time
                assert any(a - 0.01 <= item["start"] <= item["end"] <= b + 0.01 for a, b in spoken)
        for a, b in zip(captions, captions[1:], strict=False):
            assert b["start"] >= a["end"], (a, b)
        # Sent within the flow's max latency of the first word, like the source captions.
        sent = {id(r.message["response"]): r.at for r in viewer.received}
        late = [
            (c["alternatives"][0]["transcript"], round(sent[id(c)] - c["start_epoch"], 2))
            for c in captions
            if sent[id(c)] - c["start_epoch"] > MAX_LATENCY
        ]
        assert not late, late
        finals = [
            r for r in viewer.responses("transcript", final=True) if not r["is_end_of_stream"]
        ]
        assert words_of(finals) == words_of(captions)

    # Real Apertium output: "heavy rain … coast" and "the late news".
    assert {"lluvia", "costa"} <= words_of(es.responses("captions")), es.responses("captions")
    assert {"pluja", "costa"} <= words_of(ca.responses("captions")), ca.responses("captions")


def test_languages_lists_the_installed_pairs_and_flows_are_checked(
    server: ServerProcess,
) -> None:
    answer = server.api("GET", "/v1/languages", expect=200)
    assert {"source": "en", "target": "es", "engine": "apertium"} in answer["pairs"]
    assert {"source": "en", "target": "ca", "engine": "apertium"} in answer["pairs"]
    refused = server.api(
        "POST",
        "/v1/flows",
        {"name": "nope", "source_language": "en", "target_languages": ["es", "ja"]},
        expect=422,
    )
    assert refused["error"]["code"] == "unsupported_language_pair"
    assert "en-ja" in refused["error"]["message"]
