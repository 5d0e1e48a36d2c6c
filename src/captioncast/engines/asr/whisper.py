"""The faster-whisper (CTranslate2) recognizer: one bounded decode per call.

This module and ``engines/vad/silero.py`` are the only places that import faster_whisper.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from captioncast.core.audio import SAMPLE_RATE, Samples
from captioncast.core.words import Word
from captioncast.engines.asr.base import AsrResult, AsrSegment
from captioncast.engines.asr.filters import cut_loop, rejection_reason
from captioncast.engines.asr.models import resolve_model

log = logging.getLogger(__name__)

DEFAULT_BEAM_SIZE = 1
CPU_COMPUTE_TYPE = "int8"
FULL_CONTEXT_FRAMES = 3000  # Whisper's encoder input: 30 s of 10 ms mel frames
CONTEXT_MARGIN = 8.0  # seconds of padding the encoder sees after the audio


def encoder_frames(seconds: float) -> int:
    """Mel frames to encode for ``seconds`` of audio: the audio, rounded up to the next
    second, plus ``CONTEXT_MARGIN`` of its padding; at most the full 30 s."""
    return min(FULL_CONTEXT_FRAMES, 100 * (math.ceil(seconds) + int(CONTEXT_MARGIN)))


def pick_device(device: str = "auto") -> str:
    """``cuda`` when ``device`` is ``auto`` and CTranslate2 sees a GPU, else ``device`` or cpu."""
    if device != "auto":
        return device
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


class FasterWhisperEngine:
    """An ``AsrEngine`` backed by ``faster_whisper.WhisperModel``.

    ``model_dir`` is a CTranslate2 model directory (see ``models.resolve_model``), or a hub name
    where one is allowed. ``compute_type="default"`` keeps the model's own precision on CUDA
    (float16) and means ``int8`` on a CPU: measured on the 2-core build machine, int8 decodes a
    10 s window 25-50 % faster than float32 with the same words (pass ``"float32"`` to
    override). ``beam_size`` 1 (greedy) keeps each decode cheap and bounded; the bundled
    models lost no accuracy by it on the test speech.
    """

    name = "faster-whisper"

    def __init__(
        self,
        model_dir: str,
        *,
        device: str = "auto",
        compute_type: str = "default",
        cpu_threads: int = 0,
        beam_size: int = DEFAULT_BEAM_SIZE,
        short_context: bool = True,
    ) -> None:
        from faster_whisper import WhisperModel

        self.model_dir = model_dir
        self.device = pick_device(device)
        # Naming the CPU type also avoids CTranslate2's float16-conversion warning on each load.
        if compute_type == "default" and self.device == "cpu":
            compute_type = CPU_COMPUTE_TYPE
        self.compute_type = compute_type
        self.beam_size = beam_size
        self._model = WhisperModel(
            model_dir, device=self.device, compute_type=compute_type, cpu_threads=cpu_threads
        )
        self.short_context = short_context
        self._frames = FULL_CONTEXT_FRAMES
        self._lock = threading.Lock()  # one decode at a time: _frames belongs to it
        full_encode = self._model.encode

        def encode(features: Any) -> Any:
            # faster-whisper pads every window to 30 s; the encoder's cost is proportional
            # to what it is given, and a live window is a few seconds long. Encoding only
            # the audio and a little of its padding is 3x faster on a CPU for the same words.
            return full_encode(features[..., : self._frames])

        if short_context:
            self._model.encode = encode

    @classmethod
    def from_spec(
        cls, model_spec: str, *, cache_dir: str | None = None, **options: Any
    ) -> FasterWhisperEngine:
        """Resolve ``model_spec`` (``base``, ``tiny.en``, a directory…) and load it."""
        cache = Path(cache_dir) if cache_dir else None
        return cls(resolve_model(model_spec, cache_dir=cache), **options)

    @property
    def multilingual(self) -> bool:
        """False for English-only models such as ``tiny.en``."""
        return bool(self._model.model.is_multilingual)

    def transcribe(self, audio: Samples, *, prompt: str, language: str | None) -> AsrResult:
        """Decode ``audio`` once at temperature 0 with word timestamps; drop looping segments."""
        started = time.perf_counter()
        audio = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
        if audio.size == 0:
            return AsrResult(segments=(), language=language, elapsed=0.0)
        with self._lock:
            self._frames = encoder_frames(audio.size / SAMPLE_RATE)
            return self._transcribe(audio, prompt, language, started)

    def _transcribe(
        self, audio: Samples, prompt: str, language: str | None, started: float
    ) -> AsrResult:
        segments, info = self._model.transcribe(
            audio,
            language=language,
            beam_size=self.beam_size,
            temperature=0.0,
            condition_on_previous_text=False,
            initial_prompt=prompt or None,
            word_timestamps=True,
            vad_filter=False,
            without_timestamps=False,
            max_new_tokens=token_budget(audio.size / SAMPLE_RATE),
        )
        duration = audio.size / SAMPLE_RATE
        kept = tuple(_keep_speech(convert_segment(s, duration) for s in segments))
        return AsrResult(
            segments=kept, language=info.language, elapsed=time.perf_counter() - started
        )


def compression_ratio(text: str) -> float:
    """Whisper's repetitiveness measure: raw bytes over zlib-compressed bytes."""
    raw = text.encode()
    return len(raw) / len(zlib.compress(raw)) if raw else 0.0


def token_budget(seconds: float) -> int:
    """The most tokens one decode of ``seconds`` of audio may produce.

    Fast speech is about four words (six tokens with punctuation and timestamps) a second; a
    hypothesis far longer than that is a repetition loop, and letting it run would stall the
    live path for tens of seconds. Whisper's own limit is 448 tokens per 30 s window.
    """
    return max(16, min(int(seconds * 8) + 16, 220))


def convert_segment(segment: Any, duration: float) -> AsrSegment:
    """A faster-whisper ``Segment`` as an ``AsrSegment``, times clamped to ``[0, duration]``."""
    words = tuple(
        Word(
            text,
            _clamp(w.start, duration),
            max(_clamp(w.end, duration), _clamp(w.start, duration)),
            float(w.probability),
        )
        for w in segment.words or ()
        if (text := w.word.strip())
    )
    return AsrSegment(
        start=_clamp(segment.start, duration),
        end=_clamp(segment.end, duration),
        text=segment.text.strip(),
        words=words,
        avg_logprob=float(segment.avg_logprob),
        no_speech_prob=float(segment.no_speech_prob),
        # faster-whisper gives every segment of a decode the ratio of the decode's whole
        # text: one looping segment would condemn the good ones beside it.
        compression_ratio=compression_ratio(segment.text.strip()),
    )


def _keep_speech(segments: Iterable[AsrSegment]) -> Iterable[AsrSegment]:
    # Consuming the generator fully is what runs the decode; filtering happens as it goes.
    for segment in segments:
        segment = cut_loop(segment)
        reason = rejection_reason(segment)
        if reason is None:
            if segment.words:
                yield segment
        else:
            log.info("discarding segment %r: %s", segment.text[:80], reason)


def _clamp(value: float, duration: float) -> float:
    return min(max(float(value), 0.0), duration)
