"""The SQLite transcript store, fed with real wire responses."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from captioncast.core.messages import Response, ResponseContext, ServiceType, build_response
from captioncast.core.timeline import TimePoint
from captioncast.core.words import Word
from captioncast.store.base import FlowSpec
from captioncast.store.sqlite import SqliteFlowStore
from captioncast.store.transcripts import SqliteTranscriptStore, TranscriptCue

FLOW = "f" * 32


def context(language: str = "en", service: ServiceType = "transcription") -> ResponseContext:
    return ResponseContext(language, service, "spk", lambda t: TimePoint(t, t + 100, t + 1e9, None))


def caption(
    rid: str,
    text: str,
    start: float,
    end: float,
    *,
    ctx: ResponseContext | None = None,
    kind: str = "captions",
    final: bool = True,
) -> Response:
    words = text.split()
    step = (end - start) / max(len(words), 1)
    timed = [Word(w, start + i * step, start + (i + 1) * step) for i, w in enumerate(words)]
    return build_response(
        ctx or context(),
        response_id=rid,
        type=kind,  # type: ignore[arg-type]
        words=timed,
        start=start,
        end=end,
        is_final=final,
        lines=[text] if kind == "captions" else None,
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteTranscriptStore]:
    store = SqliteTranscriptStore.in_data_dir(tmp_path)
    yield store
    await store.close()


async def test_round_trip_keeps_the_response_fields(store: SqliteTranscriptStore) -> None:
    await store.append(FLOW, "demo-en-en", caption("r1", "Hello world.", 1.25, 2.5))
    assert await store.cues(FLOW, "en") == [
        TranscriptCue(
            id="r1",
            language="en",
            service_type="transcription",
            channel="demo-en-en",
            start=1.25,
            end=2.5,
            start_pts=101.25,
            start_epoch=1e9 + 1.25,
            sei_timestamp=None,
            text="Hello world.",
            lines=("Hello world.",),
        )
    ]
    assert await store.cues(FLOW, "de") == [] and await store.cues("other", "en") == []


async def test_unicode_and_many_lines_survive(store: SqliteTranscriptStore) -> None:
    response = caption("r1", "Größe — 日本語 🎉 <b>&", 0.0, 1.0)
    response["alternatives"][0]["lines"] = ["Größe —", "", "日本語 🎉 <b>&"]
    await store.append(FLOW, "demo-en-en", response)
    [cue] = await store.cues(FLOW, "en")
    assert cue.lines == ("Größe —", "", "日本語 🎉 <b>&") and cue.text == "Größe — 日本語 🎉 <b>&"


async def test_only_final_captions_with_text_are_kept(store: SqliteTranscriptStore) -> None:
    ctx = context()
    await store.append(FLOW, "c", caption("t", "Hello.", 0.0, 1.0, kind="transcript"))
    await store.append(FLOW, "c", caption("p", "Hello.", 0.0, 1.0, final=False))
    await store.append(FLOW, "c", caption("e", "", 0.0, 1.0))
    eos = build_response(
        ctx,
        response_id="eos",
        type="transcript",
        words=(),
        start=0.0,
        end=2.0,
        is_final=True,
        is_end_of_stream=True,
    )
    await store.append(FLOW, "c", eos)
    assert await store.cues(FLOW, "en") == []
    assert await store.last_end(FLOW) is None and await store.languages(FLOW) == []


async def test_append_is_idempotent_per_flow_language_and_id(
    store: SqliteTranscriptStore,
) -> None:
    first = caption("r1", "Hello.", 0.0, 1.0)
    await store.append(FLOW, "demo-en-en", first)
    await store.append(FLOW, "demo-en-en", first)
    await store.append(FLOW, "demo-en-en", caption("r1", "Changed.", 0.0, 1.0))
    assert [c.text for c in await store.cues(FLOW, "en")] == ["Hello."]
    # the same id in another language or another flow is another cue
    de = context("de", "translation")
    await store.append(FLOW, "demo-en-de", caption("r1", "Hallo.", 0.0, 1.0, ctx=de))
    await store.append("g" * 32, "x-en-en", first)
    assert [c.text for c in await store.cues(FLOW, "de")] == ["Hallo."]
    assert len(await store.cues("g" * 32, "en")) == 1


async def test_cues_come_in_start_order(store: SqliteTranscriptStore) -> None:
    for rid, start in (("c", 5.0), ("a", 1.0), ("b", 3.0), ("b2", 3.0)):
        await store.append(FLOW, "demo-en-en", caption(rid, rid, start, start + 1))
    assert [c.id for c in await store.cues(FLOW, "en")] == ["a", "b", "b2", "c"]


async def test_languages_and_last_end(store: SqliteTranscriptStore) -> None:
    de, es = context("de", "translation"), context("es-419", "translation")
    await store.append(FLOW, "demo-en-en", caption("1", "one", 0.0, 4.0))
    await store.append(FLOW, "demo-en-es-419", caption("2", "uno", 0.0, 7.5, ctx=es))
    await store.append(FLOW, "demo-en-de", caption("3", "eins", 2.0, 3.0, ctx=de))
    assert await store.languages(FLOW) == ["de", "en", "es-419"]
    assert await store.last_end(FLOW) == 7.5
    assert await store.last_end("nope") is None
    [cue] = await store.cues(FLOW, "es-419")
    assert cue.service_type == "translation" and cue.channel == "demo-en-es-419"


async def test_a_cue_is_committed_when_append_returns(
    store: SqliteTranscriptStore,
) -> None:
    await store.append(FLOW, "demo-en-en", caption("r1", "Hello.", 0.0, 1.0))
    other = sqlite3.connect(store.path)  # another reader sees only committed rows
    try:
        rows = other.execute("SELECT response_id FROM transcript_cues").fetchall()
    finally:
        other.close()
    assert rows == [("r1",)]


async def test_cues_survive_closing_and_reopening(tmp_path: Path) -> None:
    store = SqliteTranscriptStore.in_data_dir(tmp_path)
    await store.append(FLOW, "demo-en-en", caption("r1", "Before the restart.", 0.0, 2.0))
    await store.close()
    await store.close()  # twice is harmless
    reopened = SqliteTranscriptStore.in_data_dir(tmp_path)
    try:
        await reopened.append(FLOW, "demo-en-en", caption("r2", "After it.", 2.5, 3.0))
        assert [c.text for c in await reopened.cues(FLOW, "en")] == [
            "Before the restart.",
            "After it.",
        ]
        assert await reopened.last_end(FLOW) == 3.0
    finally:
        await reopened.close()


async def test_shares_the_file_with_the_flow_store(tmp_path: Path) -> None:
    flows = SqliteFlowStore.in_data_dir(tmp_path)
    transcripts = SqliteTranscriptStore.in_data_dir(tmp_path)
    try:
        flow = await flows.create(FlowSpec(name="demo", source_language="en"))
        await transcripts.append(flow.flow_id, "demo-en-en", caption("r1", "Hi.", 0.0, 1.0))
        assert [f.flow_id for f in await flows.list()] == [flow.flow_id]
        assert len(await transcripts.cues(flow.flow_id, "en")) == 1
        assert flows.path == transcripts.path
    finally:
        await transcripts.close()
        await flows.close()


async def test_concurrent_appends_all_land(store: SqliteTranscriptStore) -> None:
    responses = [caption(f"r{i}", f"word{i}", i, i + 0.5) for i in range(50)]
    await asyncio.gather(*(store.append(FLOW, "demo-en-en", r) for r in responses))
    assert [c.id for c in await store.cues(FLOW, "en")] == [f"r{i}" for i in range(50)]


async def test_delete_flow(store: SqliteTranscriptStore) -> None:
    await store.append(FLOW, "demo-en-en", caption("r1", "one", 0.0, 1.0))
    await store.append(FLOW, "demo-en-en", caption("r2", "two", 1.0, 2.0))
    await store.append("g" * 32, "x-en-en", caption("r1", "kept", 0.0, 1.0))
    assert await store.delete_flow(FLOW) == 2
    assert await store.cues(FLOW, "en") == [] and await store.last_end(FLOW) is None
    assert len(await store.cues("g" * 32, "en")) == 1
