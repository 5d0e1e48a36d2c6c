"""A whole flow with a scripted engine and VAD: decoded frames in, wire responses out."""

import asyncio
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from captioncast.bus.memory import MemoryBroker
from captioncast.core.audio import SAMPLE_RATE, PcmFrame, Samples
from captioncast.core.channels import flow_channels
from captioncast.core.layout import CaptionLayout
from captioncast.core.policy import VAD_FRAME
from captioncast.core.words import Word
from captioncast.engines.asr.base import AsrResult, AsrSegment
from captioncast.pipeline.flow import FlowRun
from captioncast.pipeline.recognizer import Recognizer
from captioncast.pipeline.runtime import policy_config

FRAME = 320  # 20 ms decoded frames, as from an AAC decoder


def script(text: str, start: float, step: float = 0.4) -> list[Word]:
    return [Word(t, start + i * step, start + i * step + 0.3) for i, t in enumerate(text.split())]


SPEECH = script("Good evening and welcome to the news.", 1.0) + script(
    "Tonight the weather stays calm across the whole country.", 5.5
)


class ScriptVad:
    """Speech wherever the script has a word; keeps its frame count across resets, since the
    test's clock is the flow's audio time."""

    name = "script"

    def __init__(self, words: list[Word] = SPEECH) -> None:
        self.words = words
        self.frames = 0
        self.pending = 0

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
            out.append(0.9 if any(w.start < t1 and w.end > t0 for w in self.words) else 0.0)
            self.frames += 1
        return out


class ScriptEngine:
    name = "script"

    def __init__(self) -> None:
        self.recognizer: Recognizer | None = None

    def transcribe(self, audio: Samples, *, prompt: str, language: str | None) -> AsrResult:
        assert self.recognizer is not None
        start = self.recognizer.policy.window_start
        end = start + len(audio) / SAMPLE_RATE
        words = tuple(w.shifted(-start) for w in SPEECH if w.start >= start - 0.05 and w.end <= end)
        return AsrResult((AsrSegment(0, end - start, "", words),))


class DirectDecoder:
    """Turns each 'packet' into one silent PCM frame, synchronously."""

    def __init__(self, on_frame: Callable[[PcmFrame], None], on_error: Callable[[str], None]):
        self.on_frame = on_frame

    def feed(self, timestamp_ms: int, payload: bytes, arrival_epoch: float) -> None:
        self.on_frame(PcmFrame(np.zeros(FRAME, np.float32), timestamp_ms / 1000, arrival_epoch))

    def close(self) -> None:
        pass


async def publish(run: FlowRun, seconds: float, epoch: float) -> None:
    sink = run.open_publisher()
    for i in range(int(seconds * SAMPLE_RATE / FRAME)):
        sink.on_audio(i * 20, b"", epoch + i * 0.02)
        if i % 10 == 0:
            await asyncio.sleep(0.001)
    sink.on_unpublish()
    await asyncio.sleep(0.05)


async def test_flow_publishes_transcripts_and_captions_across_a_reconnect() -> None:
    broker = MemoryBroker()
    source, target = flow_channels("f1", "demo", "en", ["de"])
    for info in (source, target):
        broker.register(info)
    engine = ScriptEngine()
    recognizer = Recognizer(engine, ScriptVad(), "en")
    engine.recognizer = recognizer
    with ThreadPoolExecutor(1) as executor:
        run = FlowRun(
            "f1",
            recognizer,
            broker,
            executor,
            source,
            [target],
            CaptionLayout(),
            5.0,
            DirectDecoder,
        )
        sub = await broker.subscribe("demo-en-en")
        de = await broker.subscribe("demo-en-de")
        run.start()
        await publish(run, 4.8, epoch=1000.0)  # first publisher drops mid-way
        await publish(run, 8.0, epoch=2000.0)  # the encoder comes back
        await run.stop()

    messages = []
    while True:
        env = await asyncio.wait_for(sub.get(), 1)
        messages.append(json.loads(env.text))
        if messages[-1]["response"]["is_end_of_stream"]:
            break
    seqs = [m["seq"] for m in messages]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    responses = [m["response"] for m in messages]
    finals = [r for r in responses if r["type"] == "transcript" and r["is_final"]]
    text = " ".join(
        r["alternatives"][0]["transcript"] for r in finals if r["alternatives"][0]["items"]
    )
    assert text == " ".join(w.text for w in SPEECH)
    captions = [r for r in responses if r["type"] == "captions"]
    assert " ".join(c["alternatives"][0]["transcript"] for c in captions) == text
    for a, b in zip(captions, captions[1:], strict=False):
        assert b["start"] >= a["end"]
    # Audio time continued across the reconnect: the second sentence is stamped after 4.8 s,
    # and its PTS comes from the second publisher's clock, which restarted at zero.
    second = next(c for c in captions if c["alternatives"][0]["transcript"].startswith("Tonight"))
    assert second["start"] == 5.5 and abs(second["start_pts"] - 0.7) < 0.05
    assert abs(second["start_epoch"] - 2000.7) < 0.05
    ends = [(r["start"], r["end"]) for r in finals]
    assert all(b[0] == a[1] for a, b in zip(ends, ends[1:], strict=False))  # tiled
    eos = json.loads((await asyncio.wait_for(de.get(), 1)).text)["response"]
    assert eos["is_end_of_stream"] and eos["service_type"] == "translation"


class SlowEngine(ScriptEngine):
    """Hears the words like ScriptEngine, but one decode takes seconds (an overloaded CPU)."""

    def __init__(self, words: list[Word], slow_after: float, delay: float) -> None:
        super().__init__()
        self.words, self.slow_after, self.delay = words, slow_after, delay
        self.slow_done: float | None = None

    def transcribe(self, audio: Samples, *, prompt: str, language: str | None) -> AsrResult:
        assert self.recognizer is not None
        start = self.recognizer.policy.window_start
        end = start + len(audio) / SAMPLE_RATE
        if end > self.slow_after and self.slow_done is None:
            time.sleep(self.delay)
            self.slow_done = time.monotonic()
        words = tuple(
            w.shifted(-start) for w in self.words if w.start >= start - 0.05 and w.end <= end
        )
        return AsrResult((AsrSegment(0, end - start, "", words),))


async def test_caption_deadline_is_met_while_the_recognizer_is_busy() -> None:
    words = script("one two three four five six seven eight nine ten", 0.3, step=0.35)
    broker = MemoryBroker()
    (source,) = flow_channels("f2", "slow", "en", [])
    broker.register(source)
    engine = SlowEngine(words, slow_after=2.5, delay=2.5)
    recognizer = Recognizer(engine, ScriptVad(words), "en", policy_config(3.5))
    engine.recognizer = recognizer
    sub = await broker.subscribe("slow-en-en")
    captions: list[float] = []

    async def watch() -> None:
        while True:
            if json.loads((await sub.get()).text)["response"]["type"] == "captions":
                captions.append(time.monotonic())

    watcher = asyncio.create_task(watch())
    with ThreadPoolExecutor(1) as executor:
        run = FlowRun(
            "f2", recognizer, broker, executor,
            source, [],
            CaptionLayout(), 3.5, DirectDecoder,
        )  # fmt: skip
        run.start()
        sink = run.open_publisher()
        started = time.monotonic()
        for i in range(300):  # 6 s of audio, in real time
            sink.on_audio(i * 20, b"", 1000 + i * 0.02)
            await asyncio.sleep(max(0.0, started + (i + 1) * 0.02 - time.monotonic()))
        sink.on_unpublish()
        await run.stop()
    watcher.cancel()
    assert engine.slow_done is not None and captions
    # The first block went out on its deadline, while the slow decode was still running.
    assert captions[0] < engine.slow_done
    assert captions[0] - started < words[0].start + 3.5


async def test_a_new_publisher_takes_over_from_a_stale_connection() -> None:
    broker = MemoryBroker()
    (source,) = flow_channels("f3", "demo", "en", [])
    broker.register(source)
    engine = ScriptEngine()
    recognizer = Recognizer(engine, ScriptVad(), "en")
    engine.recognizer = recognizer
    with ThreadPoolExecutor(1) as executor:
        run = FlowRun(
            "f3", recognizer, broker, executor,
            source, [],
            CaptionLayout(), 5.0, DirectDecoder,
        )  # fmt: skip
        sub = await broker.subscribe("demo-en-en")
        run.start()
        stale = run.open_publisher()
        for i in range(240):  # 4.8 s, then the connection goes quiet without closing
            stale.on_audio(i * 20, b"", 1000 + i * 0.02)
        await asyncio.sleep(0.05)
        fresh = run.open_publisher()
        for i in range(400):
            fresh.on_audio(i * 20, b"", 2000 + i * 0.02)
            stale.on_audio(99_000 + i * 20, b"", 3000 + i * 0.02)  # ignored from now on
            if i % 10 == 0:
                await asyncio.sleep(0.001)
        fresh.on_unpublish()
        stale.on_unpublish()
        await asyncio.sleep(0.05)
        await run.stop()
    assert (
        run.timeline.now == 640 * FRAME / SAMPLE_RATE
    )  # the stale publisher's late audio never counted
    assert len(run.timeline.gaps) == 1
    texts = []
    while True:
        response = json.loads((await asyncio.wait_for(sub.get(), 1)).text)["response"]
        if response["is_end_of_stream"]:
            break
        if response["type"] == "captions":
            texts.append(response["alternatives"][0]["transcript"])
    assert " ".join(texts) == " ".join(w.text for w in SPEECH)
