"""``GET /v1/flows/{flow_id}/transcript`` through the ASGI app."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import srt
import webvtt
from web_helpers import AUTH, make_services

from captioncast.core.messages import Response, ResponseContext, ServiceType, build_response
from captioncast.core.timeline import TimePoint
from captioncast.core.words import Word
from captioncast.web.api_transcripts import TranscriptOut
from captioncast.web.app import create_app
from captioncast.web.services import Services

DEMO = {"name": "demo", "source_language": "en", "target_languages": ["es-419"]}


@pytest.fixture(autouse=True)
async def close_transcripts(services: Services) -> AsyncIterator[None]:
    yield
    await services.transcripts.close()


def caption(rid: str, lines: list[str], start: float, end: float, language: str = "en") -> Response:
    service: ServiceType = "transcription" if language == "en" else "translation"
    ctx = ResponseContext(language, service, "spk", lambda t: TimePoint(t, t + 10, t + 1e9, None))
    words = [Word(w, start, end) for line in lines for w in line.split()]
    return build_response(
        ctx,
        response_id=rid,
        type="captions",
        words=words,
        start=start,
        end=end,
        is_final=True,
        lines=lines,
    )


async def flow_with_captions(client: httpx.AsyncClient, services: Services) -> str:
    response = await client.post("/v1/flows", json=DEMO, headers=AUTH)
    assert response.status_code == 201, response.text
    flow_id: str = response.json()["flow_id"]
    add = services.transcripts.append
    await add(flow_id, "demo-en-en", caption("b", ["Second, <with> & -->"], 2.0, 3.5))
    await add(flow_id, "demo-en-en", caption("a", ["Hello there,", "viewers."], 0.5, 1.75))
    await add(flow_id, "demo-en-es-419", caption("c", ["Hola."], 0.5, 1.0, "es-419"))
    return flow_id


async def get(client: httpx.AsyncClient, flow_id: str, **params: str) -> httpx.Response:
    return await client.get(f"/v1/flows/{flow_id}/transcript", params=params, headers=AUTH)


async def test_json_by_default_in_the_source_language(
    client: httpx.AsyncClient, services: Services
) -> None:
    flow_id = await flow_with_captions(client, services)
    response = await get(client, flow_id)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"] == 'inline; filename="demo-en.json"'
    body: dict[str, Any] = response.json()
    TranscriptOut.model_validate(body)  # the documented schema
    assert {k: body[k] for k in ("flow_id", "stream_name", "language")} == {
        "flow_id": flow_id,
        "stream_name": "demo",
        "language": "en",
    }
    assert body["cues"][0] == {
        "id": "a",
        "start": 0.5,
        "end": 1.75,
        "text": "Hello there, viewers.",
        "lines": ["Hello there,", "viewers."],
        "start_pts": 10.5,
        "start_epoch": 1e9 + 0.5,
        "sei_timestamp": None,
    }
    assert [c["id"] for c in body["cues"]] == ["a", "b"]
    assert (await get(client, flow_id, format="json")).json() == body


async def test_target_language(client: httpx.AsyncClient, services: Services) -> None:
    flow_id = await flow_with_captions(client, services)
    body = (await get(client, flow_id, language="es-419")).json()
    assert body["language"] == "es-419" and [c["text"] for c in body["cues"]] == ["Hola."]


async def test_webvtt(client: httpx.AsyncClient, services: Services) -> None:
    flow_id = await flow_with_captions(client, services)
    response = await get(client, flow_id, format="vtt")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/vtt; charset=utf-8"
    assert response.headers["content-disposition"] == 'inline; filename="demo-en.vtt"'
    captions = webvtt.WebVTT.from_string(response.text, strict=True).captions
    assert [[html.unescape(line) for line in c.lines] for c in captions] == [
        ["Hello there,", "viewers."],
        ["Second, <with> & -->"],
    ]
    assert [c.start_time.in_milliseconds() for c in captions] == [500, 2000]


async def test_srt(client: httpx.AsyncClient, services: Services) -> None:
    flow_id = await flow_with_captions(client, services)
    response = await get(client, flow_id, format="srt", language="en")
    assert response.headers["content-type"] == "application/x-subrip; charset=utf-8"
    assert response.headers["content-disposition"] == 'inline; filename="demo-en.srt"'
    subtitles = list(srt.parse(response.text))
    assert [(s.index, s.start, s.content) for s in subtitles] == [
        (1, timedelta(seconds=0.5), "Hello there,\nviewers."),
        (2, timedelta(seconds=2), "Second, <with> & ->"),
    ]


async def test_plain_text(client: httpx.AsyncClient, services: Services) -> None:
    flow_id = await flow_with_captions(client, services)
    response = await get(client, flow_id, format="txt", language="es-419")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-disposition"] == 'inline; filename="demo-es-419.txt"'
    assert response.text == "Hola.\n"


async def test_a_flow_without_captions_yet(client: httpx.AsyncClient) -> None:
    created = await client.post("/v1/flows", json=DEMO, headers=AUTH)
    flow_id = created.json()["flow_id"]
    assert (await get(client, flow_id)).json()["cues"] == []
    assert (await get(client, flow_id, format="vtt")).text == "WEBVTT\n"


async def test_errors(client: httpx.AsyncClient, services: Services) -> None:
    flow_id = await flow_with_captions(client, services)
    unknown = await get(client, "nope")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "flow_not_found"
    language = await get(client, flow_id, language="de")
    assert language.status_code == 404
    assert language.json()["error"] == {
        "code": "unknown_language",
        "message": "the flow has no language 'de'",
    }
    bad = await get(client, flow_id, format="docx")
    assert bad.status_code == 422
    assert bad.json()["error"] == {
        "code": "invalid_format",
        "message": "format must be one of json, vtt, srt, txt",
    }
    deleted = await client.delete(f"/v1/flows/{flow_id}", headers=AUTH)
    assert deleted.status_code == 204
    gone = await get(client, flow_id)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "flow_not_found"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
async def test_needs_the_api_key(
    client: httpx.AsyncClient, services: Services, headers: dict[str, str]
) -> None:
    flow_id = await flow_with_captions(client, services)
    response = await client.get(f"/v1/flows/{flow_id}/transcript", headers=headers)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"


async def test_the_transcript_survives_a_restart(
    client: httpx.AsyncClient, services: Services, tmp_path: Path
) -> None:
    flow_id = await flow_with_captions(client, services)
    before = (await get(client, flow_id, format="vtt")).text
    restarted = make_services(tmp_path)  # a new process on the same data directory
    try:
        transport = httpx.ASGITransport(create_app(restarted), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as again:
            assert (await get(again, flow_id, format="vtt")).text == before
    finally:
        await restarted.transcripts.close()
        await restarted.store.close()


async def test_documented_in_openapi(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/v1/flows/{flow_id}/transcript"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"flow_id", "language", "format"}
    content = operation["responses"]["200"]["content"]
    assert {"application/json", "text/vtt; charset=utf-8"} <= set(content)
