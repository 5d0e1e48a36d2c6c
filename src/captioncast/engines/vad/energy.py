"""A tiny RMS-energy VAD: no model, deterministic, for tests and as a fallback."""

from __future__ import annotations

import numpy as np

from captioncast.core.audio import Samples
from captioncast.engines.vad.framing import FrameBuffer


class EnergyVad:
    """Maps each frame's RMS level linearly from ``silence_db`` (0) to ``speech_db`` (1)."""

    name = "energy"

    def __init__(self, *, silence_db: float = -50.0, speech_db: float = -35.0) -> None:
        if speech_db <= silence_db:
            raise ValueError("speech_db must be above silence_db")
        self.silence_db = silence_db
        self.speech_db = speech_db
        self._frames = FrameBuffer()

    def feed(self, samples: Samples) -> list[float]:
        """Speech probabilities of the frames ``samples`` complete."""
        return self._score(self._frames.push(samples))

    def flush(self) -> list[float]:
        """Score the zero-padded partial frame, if any."""
        return self._score(self._frames.drain())

    def reset(self) -> None:
        """Drop the pending partial frame."""
        self._frames = FrameBuffer()

    def _score(self, frames: Samples) -> list[float]:
        if len(frames) == 0:
            return []
        rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
        level = 20.0 * np.log10(np.maximum(rms, 1e-10))
        scaled = (level - self.silence_db) / (self.speech_db - self.silence_db)
        return [float(p) for p in np.clip(scaled, 0.0, 1.0)]
