"""Audio as the recognizer sees it: 16 kHz mono float32 with its three clocks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16_000

Samples = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class PcmFrame:
    """Decoded audio straight from a source, before the flow places it on its timeline.

    ``pts`` is the source's presentation time of the first sample in seconds (None when the
    source has none); ``arrival_epoch`` is the wall-clock time the compressed packet arrived.
    """

    samples: Samples
    pts: float | None
    arrival_epoch: float
    sei_timestamp: float | None = None


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """A run of samples placed on a flow's timeline.

    ``audio_time`` counts seconds of audio received since the flow started and never goes
    back, across publisher reconnects; ``pts`` and ``epoch`` are the source PTS and the
    wall-clock arrival time of the first sample.
    """

    samples: Samples
    audio_time: float
    pts: float | None
    epoch: float
    sei_timestamp: float | None = None

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE

    @property
    def end_time(self) -> float:
        return self.audio_time + self.duration
