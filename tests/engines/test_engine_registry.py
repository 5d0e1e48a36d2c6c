"""Engines chosen by name, and the contract every ASR engine keeps."""

from __future__ import annotations

import numpy as np
import pytest

from captioncast.core.audio import SAMPLE_RATE, Samples
from captioncast.engines.asr.base import AsrEngine, AsrResult
from captioncast.engines.asr.fake import ScriptedAsrEngine, script_from_text
from captioncast.engines.asr.registry import ASR_ENGINES, load_asr_engine
from captioncast.engines.vad.registry import VAD_ENGINES, load_vad
from captioncast.errors import ConfigError, ModelError


def test_unknown_engines_name_the_choices() -> None:
    with pytest.raises(ConfigError, match="faster-whisper, scripted"):
        load_asr_engine("whisper.cpp", "base")
    with pytest.raises(ConfigError, match="energy, silero"):
        load_vad("webrtc")


def test_scripted_engine_from_the_registry() -> None:
    engine = load_asr_engine("scripted", "ignored", script=script_from_text("hello there"))
    assert isinstance(engine, ScriptedAsrEngine)
    assert engine.name == "scripted"


def test_faster_whisper_reports_a_bad_model_before_loading() -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_asr_engine("faster-whisper", "./no/such/model")


@pytest.mark.parametrize("name", sorted(VAD_ENGINES))
def test_every_vad_loads_by_name(name: str) -> None:
    vad = load_vad(name)
    assert vad.name == name
    assert vad.feed(np.zeros(1024, np.float32)) == pytest.approx([0.0, 0.0], abs=0.2)


@pytest.fixture(
    params=[
        "scripted",
        pytest.param("faster-whisper", marks=pytest.mark.slow),
    ]
)
def asr_engine(request: pytest.FixtureRequest, speech_sample: object) -> AsrEngine:
    assert set(ASR_ENGINES) == {"scripted", "faster-whisper"}
    if request.param == "scripted":
        sentences = speech_sample.sentences  # type: ignore[attr-defined]
        words = [w for s in sentences for w in script_from_text(s.text, start=s.start, gap=0.05)]
        return load_asr_engine("scripted", "", script=words)
    return load_asr_engine("faster-whisper", "tiny.en")


def test_contract(asr_engine: AsrEngine, speech_audio: Samples) -> None:
    window = speech_audio[: 10 * SAMPLE_RATE]
    result = asr_engine.transcribe(window, prompt="", language="en")
    assert isinstance(result, AsrResult)
    assert isinstance(asr_engine.name, str)
    words = result.words
    assert len(words) >= 10
    assert all(w.text and w.text == w.text.strip() for w in words)
    assert all(0.0 <= w.start <= w.end <= 10.0 for w in words)
    assert [w.start for w in words] == sorted(w.start for w in words)
    for segment in result.segments:
        assert segment.words and 0.0 <= segment.start <= segment.end <= 10.0
