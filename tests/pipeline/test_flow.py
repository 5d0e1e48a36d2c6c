"""A whole flow with a scripted engine and VAD: decoded frames in, wire responses out."""

import asyncio
import json
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
from captioncast.pipeline.flow import ChannelSpec, FlowRun
from captioncast.pipeline.recognizer import Recognizer

FRAME = 320  # 20 ms decoded frames, as from an AAC decoder


def script(text: str, start: float, step: float = 0.4) -> list[Word]:
    return [Word(t, start + i * step, start + i * step + 0.3) for i, t in enumerate(text.split())]


SPEECH = script("Good evening and welcome to the news.", 1.0) + script(
    "Tonight the weather stays calm across the whole country.", 5.5
)


class ScriptVad:
    def __init__(self) -> None:
        self.frames = 0
        self.pending = 0

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
    for info in flow_channels("f1", "demo", "en", ["de"]):
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
            ChannelSpec("demo-en-en", "en", "transcription"),
            [ChannelSpec("demo-en-de", "de", "translation")],
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
