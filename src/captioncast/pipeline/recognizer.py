"""One flow's recognizer: VAD, streaming policy and ASR engine, stepped in a worker thread."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np

from captioncast.core.audio import AudioChunk
from captioncast.core.policy import DecodeRequest, PolicyConfig, PolicyUpdate, StreamingPolicy
from captioncast.engines.asr.base import AsrEngine, AsrResult
from captioncast.engines.vad.base import VadModel

log = logging.getLogger(__name__)


class Recognizer:
    """Runs VAD, policy and engine for one flow.

    Blocking (the engine takes hundreds of milliseconds): call :meth:`step` from a worker
    thread, one step at a time. The event loop only hands chunks in and takes updates out.
    """

    def __init__(
        self,
        engine: AsrEngine,
        vad: VadModel,
        language: str | None,
        config: PolicyConfig | None = None,
    ) -> None:
        self.engine = engine
        self.vad = vad
        self.language = language
        self.policy = StreamingPolicy(config)
        self.decode_seconds = 0.0
        self.decodes = 0
        self.failures = 0
        self._expected: float | None = None  # audio time the next chunk should start at

    def step(self, chunks: Sequence[AudioChunk], flush: bool = False) -> list[PolicyUpdate]:
        """Take new audio, decode if the policy asks for it; with ``flush`` (the source
        ended) commit everything pending."""
        updates: list[PolicyUpdate] = []
        for chunk in chunks:
            if self._expected is not None and abs(chunk.audio_time - self._expected) > 1e-3:
                self.vad.reset()  # audio was dropped upstream: the VAD's context is stale
            self._expected = chunk.end_time
            update = self.policy.insert_audio(chunk, self.vad.feed(chunk.samples))
            if update != PolicyUpdate():
                updates.append(update)
        request = self.policy.next_request()
        if request is not None and not (flush and not request.final):
            updates.append(self._accept(request))
        if flush:
            request = self.policy.flush_request()
            if request is not None:
                updates.append(self._accept(request))
            self.policy.end_context()
        return updates

    def _accept(self, request: DecodeRequest) -> PolicyUpdate:
        result = self._decode(request)
        if result is None:
            # The audio stays in the window and the next step decodes it again; accepting
            # an empty final would end the utterance and lose it.
            return PolicyUpdate()
        update = self.policy.accept(request, result)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s window %.2f-%.2f heard %r; committed %r, pending %r",
                "final" if request.final else "partial",
                request.window_start,
                request.window_end,
                " ".join(w.text for w in result.words),
                " ".join(w.text for w in update.committed),
                " ".join(w.text for w in update.tentative),
            )
        return update

    def _decode(self, request: DecodeRequest) -> AsrResult | None:
        started = time.perf_counter()
        audio = np.ascontiguousarray(request.audio, dtype=np.float32)
        try:
            result = self.engine.transcribe(audio, prompt=request.prompt, language=self.language)
        except Exception:
            # A failed decode loses this hypothesis, not the flow.
            self.failures += 1
            log.exception("decode of %.1f s failed", len(audio) / 16000)
            return None
        elapsed = time.perf_counter() - started
        self.decode_seconds += elapsed
        self.decodes += 1
        log.debug("decoded %.2f s window in %.2f s", len(audio) / 16000, elapsed)
        return result
