"""The faster-whisper engine: the decode call it makes, conversion, and real transcription."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

import jiwer
import numpy as np
import pytest
from speech import SpeechSample

from captioncast.core.audio import SAMPLE_RATE, Samples
from captioncast.engines.asr.registry import load_asr_engine
from captioncast.engines.asr.whisper import FasterWhisperEngine, convert_segment


@dataclass
class FwWord:
    start: float
    end: float
    word: str
    probability: float = 0.9


@dataclass
class FwSegment:
    start: float
    end: float
    text: str
    words: list[FwWord]
    avg_logprob: float = -0.2
    no_speech_prob: float = 0.01
    compression_ratio: float = 1.2


@dataclass
class FwInfo:
    language: str = "en"


@dataclass
class StubModel:
    """Stands in for WhisperModel: records the call, yields canned segments lazily."""

    segments: list[FwSegment]
    calls: list[dict[str, Any]] = field(default_factory=list)
    consumed: int = 0

    def transcribe(self, audio: Samples, **kwargs: Any) -> tuple[Any, FwInfo]:
        self.calls.append(kwargs)

        def generate() -> Any:
            for segment in self.segments:
                self.consumed += 1
                yield segment

        return generate(), FwInfo()


def stub_engine(segments: list[FwSegment]) -> tuple[FasterWhisperEngine, StubModel]:
    engine = FasterWhisperEngine.__new__(FasterWhisperEngine)
    model = StubModel(segments)
    engine.beam_size = 1
    engine._model = model  # type: ignore[assignment]
    engine._lock = threading.Lock()
    engine._frames = 3000
    return engine, model


def test_one_bounded_decode_per_call() -> None:
    engine, model = stub_engine([FwSegment(0.0, 1.0, " Hi.", [FwWord(0.0, 0.5, " Hi.")])])
    result = engine.transcribe(np.zeros(SAMPLE_RATE, np.float32), prompt="", language=None)
    (call,) = model.calls
    assert call["temperature"] == 0.0 and isinstance(call["temperature"], float)
    assert call["word_timestamps"] is True
    assert call["condition_on_previous_text"] is False
    assert call["initial_prompt"] is None
    assert call["vad_filter"] is False
    assert call["without_timestamps"] is False
    assert call["language"] is None
    assert result.language == "en"
    assert result.elapsed >= 0.0
    engine.transcribe(np.zeros(10, np.float32), prompt="Earlier text.", language="de")
    assert model.calls[1]["initial_prompt"] == "Earlier text."
    assert model.calls[1]["language"] == "de"


def test_loops_are_cut_after_their_first_occurrence_and_the_generator_consumed() -> None:
    loop = "Thank you. Thank you. Thank you. Thank you."
    hello = [FwWord(0.0, 0.4, " Hello"), FwWord(0.4, 1.0, " there.")]
    thanks = [FwWord(1.0 + i / 2, 1.4 + i / 2, " Thank") for i in range(4)]
    night = [FwWord(4.0, 4.4, " Good"), FwWord(4.4, 5.0, " night.")]
    segments = [
        FwSegment(0.0, 1.0, " Hello there.", hello),
        FwSegment(1.0, 3.0, loop, thanks),
        # Its text repeats itself (Whisper's ratio of the whole decode is not trusted).
        FwSegment(3.0, 4.0, " Bye-bye-bye-bye-bye-bye-bye-bye.", [FwWord(3.0, 3.5, " Bye.")]),
        FwSegment(4.0, 5.0, " Good night.", night),
    ]
    engine, model = stub_engine(segments)
    result = engine.transcribe(np.zeros(5 * SAMPLE_RATE, np.float32), prompt="", language="en")
    assert model.consumed == 4
    # The loop keeps its first "Thank"; the "Bye…" segment, too compressible, is dropped.
    assert [w.text for w in result.words] == ["Hello", "there.", "Thank", "Good", "night."]


def test_empty_audio_skips_the_model() -> None:
    engine, model = stub_engine([])
    result = engine.transcribe(np.zeros(0, np.float32), prompt="", language="en")
    assert result.segments == () and model.calls == []


def test_convert_strips_spaces_skips_empty_words_and_clamps() -> None:
    words = [FwWord(-0.1, 0.3, " One"), FwWord(0.3, 0.4, " "), FwWord(0.5, 2.3, " two")]
    segment = convert_segment(FwSegment(-0.1, 2.3, " One two ", words), duration=2.0)
    spans = [(w.text, w.start, w.end) for w in segment.words]
    assert spans == [("One", 0.0, 0.3), ("two", 0.5, 2.0)]
    assert segment.text == "One two"
    assert (segment.start, segment.end) == (0.0, 2.0)


def _normalize(text: str) -> str:
    return " ".join(re.sub(r"[^\w' ]+", " ", text.lower()).split())


@pytest.fixture(scope="module", params=["tiny.en", "base"])
def real_engine(request: pytest.FixtureRequest) -> FasterWhisperEngine:
    engine = load_asr_engine("faster-whisper", request.param)
    assert isinstance(engine, FasterWhisperEngine)
    return engine


@pytest.mark.slow
def test_transcribes_the_test_speech(
    real_engine: FasterWhisperEngine, speech_sample: SpeechSample, speech_audio: Samples
) -> None:
    language = None if real_engine.multilingual else "en"
    result = real_engine.transcribe(speech_audio, prompt="", language=language)
    assert result.language == "en"
    hypothesis = " ".join(w.text for w in result.words)
    error = jiwer.wer(_normalize(speech_sample.text), _normalize(hypothesis))
    assert error < 0.10, hypothesis
    assert result.elapsed > 0.0

    words = result.words
    starts = [w.start for w in words]
    assert starts == sorted(starts)
    assert all(0.0 <= w.start <= w.end <= speech_sample.duration for w in words)
    # Words end inside a sentence the voice actually spoke. (Whisper may stretch the first word
    # after a pause back into the silence, so starts are checked only in aggregate.)
    spans = [(s.start - 0.3, s.end + 0.3) for s in speech_sample.sentences]
    assert all(any(a <= w.end <= b for a, b in spans) for w in words)
    inside = [w for w in words if any(a <= (w.start + w.end) / 2 <= b for a, b in spans)]
    assert len(inside) >= 0.9 * len(words)


@pytest.mark.slow
def test_a_window_cut_from_the_middle(
    real_engine: FasterWhisperEngine, speech_sample: SpeechSample, speech_audio: Samples
) -> None:
    third = speech_sample.sentences[2]
    start, end = third.start - 0.2, third.end + 0.3
    window = speech_audio[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)]
    result = real_engine.transcribe(window, prompt="Heavy rain is expected.", language="en")
    assert _normalize(" ".join(w.text for w in result.words)) == _normalize(third.text)
    assert all(0.0 <= w.start <= w.end <= end - start for w in result.words)


@pytest.mark.slow
def test_silence_gives_no_words(real_engine: FasterWhisperEngine) -> None:
    result = real_engine.transcribe(np.zeros(3 * SAMPLE_RATE, np.float32), prompt="", language="en")
    assert result.words == []
