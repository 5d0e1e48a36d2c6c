"""Translated channels: a flow with fake engines, and one language's worker on its own."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from captioncast.bus.memory import MemoryBroker
from captioncast.core.audio import SAMPLE_RATE, PcmFrame, Samples
from captioncast.core.captioner import Captioner
from captioncast.core.channels import ChannelInfo, flow_channels
from captioncast.core.layout import CaptionLayout
from captioncast.core.messages import Response, ResponseContext
from captioncast.core.policy import VAD_FRAME
from captioncast.core.timeline import TimePoint
from captioncast.core.translation import SourceSpan
from captioncast.core.words import Word
from captioncast.engines.asr.base import AsrResult, AsrSegment
from captioncast.engines.mt.base import LanguagePair
from captioncast.engines.mt.catalog import Route, TranslatorSet
from captioncast.engines.mt.fake import FakeTranslator
from captioncast.pipeline import translator as translator_module
from captioncast.pipeline.flow import FlowRun
from captioncast.pipeline.recognizer import Recognizer
from captioncast.pipeline.translator import TranslationWorker

FRAME = 320


def script(text: str, start: float, step: float = 0.4) -> list[Word]:
    return [Word(t, start + i * step, start + i * step + 0.3) for i, t in enumerate(text.split())]


SPEECH = script("Good evening and welcome to the news.", 1.0) + script(
    "Tonight the weather stays calm across the whole country.", 5.5
)


class ScriptVad:
    name = "script"

    def __init__(self) -> None:
        self.frames = self.pending = 0

    def reset(self) -> None:
        self.pending = 0

    def flush(self) -> list[float]:
        return []

    def feed(self, samples: Samples) -> list[float]:
        self.pending += len(samples)
        out = []
        while self.pending >= VAD_FRAME:
            self.pending -= VAD_FRAME
            t0 = self.frames * VAD_FRAME / SAMPLE_RATE
            t1 = t0 + VAD_FRAME / SAMPLE_RATE
            out.append(0.9 if any(w.start < t1 and w.end > t0 for w in SPEECH) else 0.0)
            self.frames += 1
        return out


class ScriptEngine:
    name = "script"
    recognizer: Recognizer

    def transcribe(self, audio: Samples, *, prompt: str, language: str | None) -> AsrResult:
        start = self.recognizer.policy.window_start
        end = start + len(audio) / SAMPLE_RATE
        words = tuple(w.shifted(-start) for w in SPEECH if w.start >= start - 0.05 and w.end <= end)
        return AsrResult((AsrSegment(0, end - start, "", words),))


class DirectDecoder:
    def __init__(self, on_frame: Callable[[PcmFrame], None], on_error: Callable[[str], None]):
        self.on_frame = on_frame

    def feed(self, timestamp_ms: int, payload: bytes, arrival_epoch: float) -> None:
        self.on_frame(PcmFrame(np.zeros(FRAME, np.float32), timestamp_ms / 1000, arrival_epoch))

    def close(self) -> None:
        pass


async def run_flow(translators: TranslatorSet, targets: list[str]) -> dict[str, list[Response]]:
    """The scripted speech through a flow; every channel's responses up to its end."""
    broker = MemoryBroker()
    channels = flow_channels("f1", "demo", "en", targets)
    for info in channels:
        broker.register(info)
    subs = {c.name: await broker.subscribe(c.name) for c in channels}
    engine = ScriptEngine()
    recognizer = Recognizer(engine, ScriptVad(), "en")
    engine.recognizer = recognizer
    translators.load()
    with ThreadPoolExecutor(1) as executor:
        run = FlowRun(
            "f1", recognizer, broker, executor, channels[0], channels[1:],
            CaptionLayout(max_chars_per_line=20), 5.0, DirectDecoder, translators=translators,
        )  # fmt: skip
        run.start()
        sink = run.open_publisher()
        for i in range(int(11.0 * SAMPLE_RATE / FRAME)):
            sink.on_audio(i * 20, b"", 1000 + i * 0.02)
            if i % 10 == 0:
                await asyncio.sleep(0.001)
        sink.on_unpublish()
        await asyncio.sleep(0.05)
        await run.stop()
    received: dict[str, list[Response]] = {}
    for name, sub in subs.items():
        out = received[name] = []
        while not out or not out[-1]["is_end_of_stream"]:
            out.append(json.loads((await asyncio.wait_for(sub.get(), 1)).text)["response"])
    received["state"] = [run.translation_state()]
    return received


def captions(responses: list[Response]) -> list[Response]:
    return [r for r in responses if r["type"] == "captions"]


def text_of(responses: list[Response]) -> str:
    return " ".join(r["alternatives"][0]["transcript"] for r in responses)


async def test_each_target_gets_translated_transcripts_and_captions() -> None:
    fake = FakeTranslator([("en", "es"), ("en", "ca")], lexicon={"news": "noticias"})
    got = await run_flow(TranslatorSet([fake]), ["es", "ca", "de"])
    source = " ".join(w.text for w in SPEECH)
    assert text_of(captions(got["demo-en-en"])) == source
    expected = (
        "GOOD EVENING AND WELCOME TO THE noticias. "
        "TONIGHT THE WEATHER STAYS CALM ACROSS THE WHOLE COUNTRY."
    )
    for lang in ("es", "ca"):
        responses = got[f"demo-en-{lang}"]
        assert all(r["language_code"] == lang for r in responses)
        assert all(r["service_type"] == "translation" for r in responses)
        finals = [r for r in responses if r["type"] == "transcript" and r["is_final"]]
        assert text_of([f for f in finals if f["alternatives"][0]["items"]]) == expected
        blocks = captions(responses)
        assert text_of(blocks) == expected
        for block in blocks:
            assert all(len(line) <= 20 for line in block["alternatives"][0]["lines"])
            for item in block["alternatives"][0]["items"]:  # inside a spoken sentence
                assert any(
                    s[0].start <= item["start"] <= item["end"] <= s[-1].end
                    for s in (SPEECH[:7], SPEECH[7:])
                )
        for a, b in zip(blocks, blocks[1:], strict=False):
            assert a["end"] <= b["start"]
        assert responses[-1]["is_end_of_stream"]
    # Sentences went to the engine, each once per language (one is cut short only when its
    # deadline comes first: the test feeds audio faster than real time).
    sent = [text for texts, _, target in fake.calls if target == "es" for text in texts]
    assert " ".join(sent) == source
    assert not any(". " in text for text in sent)
    # No engine translates into German: the channel gets its end of stream only.
    assert [r["is_end_of_stream"] for r in got["demo-en-de"]] == [True]
    state = got["state"][0]
    assert set(state) == {"es", "ca"}
    assert state["es"]["engine"] == "fake" and state["es"]["translated"] == len(sent)
    assert state["es"]["max_latency"] > 0 and state["es"]["healthy"]


async def test_a_failing_engine_affects_only_its_own_channel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(translator_module, "BACKOFF", (0.01, 0.01))
    broken = FakeTranslator([("en", "es")], failing=True)
    working = FakeTranslator([("en", "ca")])
    got = await run_flow(TranslatorSet([broken, working]), ["es", "ca"])
    assert text_of(captions(got["demo-en-en"])) == " ".join(w.text for w in SPEECH)
    assert len(captions(got["demo-en-ca"])) >= 2
    assert [r["is_end_of_stream"] for r in got["demo-en-es"]] == [True]
    es = got["state"][0]["es"]
    assert es["healthy"] is False and es["last_error"] == "fake: the engine is down"
    # Every span was tried and given up on (a stopping flow stops retrying early).
    dropped = es["dropped"]
    assert dropped >= 2 and dropped <= es["failed"] <= dropped * translator_module.ATTEMPTS


# --- one worker ---------------------------------------------------------------------------


class Channel:
    """A worker's channel: what it published, and the audio clock the test moves."""

    def __init__(self) -> None:
        self.published: list[Response] = []
        self.now = 0.0
        self.info = ChannelInfo("demo-en-es", "f", "demo", "es", "translation")

    async def publish(self, channel: str, responses: list[Response]) -> None:
        self.published += responses

    def worker(
        self, engine: FakeTranslator, pair: LanguagePair = ("en", "es")
    ) -> TranslationWorker:
        ctx = ResponseContext("es", "translation", "spk", lambda t: TimePoint(t, None, t, None))
        captioner = Captioner(ctx, CaptionLayout(), 5.0)
        route = Route(engine, *pair)
        return TranslationWorker(self.info, route, captioner, self.publish, lambda: self.now, 5.0)

    def texts(self, type_: str = "captions") -> list[str]:
        return [r["alternatives"][0]["transcript"] for r in self.published if r["type"] == type_]


async def until(check: Callable[[], bool], seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.005)):
        if check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("timed out")


def span(text: str, start: float) -> SourceSpan:
    return SourceSpan(tuple(script(text, start)))


class GatedTranslator(FakeTranslator):
    """Holds every call until the test opens the gate (an engine that fell behind)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def translate(self, texts: Any, source: str, target: str) -> list[str]:
        self.gate.wait(5)
        return super().translate(texts, source, target)


async def test_a_worker_that_falls_behind_merges_then_drops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(translator_module, "QUEUE_SPANS", 2)
    monkeypatch.setattr(translator_module, "MERGED_CHARS", 30)
    channel = Channel()
    engine = GatedTranslator()
    worker = channel.worker(engine)
    worker.start()
    worker.submit(span("one.", 0.0))  # taken at once; the engine holds it
    await until(lambda: not worker._queue)
    for i, word in enumerate(["two.", "three.", "four.", "five.", "six.", "seven.", "eight."]):
        worker.submit(span(word, 1.0 + i))
    # Two spans wait; "four." … merged into the newest until it holds 30 characters, then
    # the oldest waiting span ("two.") is dropped.
    assert [s.text for s in worker._queue] == ["three. four. five. six. seven.", "eight."]
    assert (worker.stats.merged, worker.stats.dropped) == (4, 1)
    engine.gate.set()
    await worker.stop(end_of_stream=True)
    assert channel.texts("transcript") == [
        "ONE.",
        "THREE. FOUR. FIVE. SIX. SEVEN.",
        "EIGHT.",
        "",  # the end of stream
    ]
    assert channel.published[-1]["is_end_of_stream"]


async def test_a_failed_span_is_tried_again_and_latency_is_measured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(translator_module, "BACKOFF", (0.5, 0.5))
    channel = Channel()
    engine = FakeTranslator(failing=True)
    worker = channel.worker(engine)
    worker.start()
    channel.now = 3.0
    worker.submit(span("The rain came early.", 1.0))
    await until(lambda: worker.stats.failed == 1)
    assert worker.stats.healthy is False
    engine.failing = False  # the engine is back before the span is tried again
    await until(lambda: worker.stats.translated == 1)
    assert worker.stats.healthy is True and channel.texts() == ["THE RAIN CAME EARLY."]
    assert worker.stats.last_latency == pytest.approx(2.0)  # audio time 3.0, first word at 1.0
    assert worker.stats.mean_seconds < 0.05
    await worker.stop(end_of_stream=False)
    assert not any(r["is_end_of_stream"] for r in channel.published)


async def test_an_engine_that_hangs_does_not_stop_the_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(translator_module, "CALL_LIMIT", 0.1)
    monkeypatch.setattr(translator_module, "BACKOFF", (0.01, 0.01))
    monkeypatch.setattr(translator_module, "DRAIN_LIMIT", 0.5)
    channel = Channel()
    engine = FakeTranslator(delay=0.3)
    worker = channel.worker(engine)
    worker.start()
    worker.submit(span("Hello there.", 0.0))
    await worker.stop(end_of_stream=True)
    assert worker.stats.failed >= 1 and worker.stats.dropped == 1
    assert "TimeoutError" in (worker.stats.last_error or "")
    assert [r["is_end_of_stream"] for r in channel.published] == [True]
