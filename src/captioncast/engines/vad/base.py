"""The voice-activity contract: audio in, one speech probability per 32 ms frame out."""

from __future__ import annotations

from typing import Protocol

from captioncast.core.audio import SAMPLE_RATE, Samples

FRAME_SAMPLES = 512
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE  # 0.032 s


class VadModel(Protocol):
    """A streaming voice-activity model.

    ``feed`` takes 16 kHz mono float32 samples in chunks of any size and returns the speech
    probability (0..1) of every 512-sample frame completed by them; the remainder waits for the
    next call. Feeding a recording in any chunking gives the same probabilities as feeding it
    at once. Cheap enough to call from the event loop for small chunks, but it does CPU work.
    """

    name: str

    def feed(self, samples: Samples) -> list[float]:
        """Probabilities of the frames that ``samples`` complete, in order."""
        ...

    def flush(self) -> list[float]:
        """Pad a pending partial frame with silence and return its probability (or nothing)."""
        ...

    def reset(self) -> None:
        """Forget all state, as if newly made (for a new stream)."""
        ...
