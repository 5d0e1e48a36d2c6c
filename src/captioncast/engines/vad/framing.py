"""Cut a stream of samples into fixed frames across calls, keeping the remainder."""

from __future__ import annotations

import numpy as np

from captioncast.core.audio import Samples
from captioncast.engines.vad.base import FRAME_SAMPLES


class FrameBuffer:
    """Collects samples and hands out whole frames; at most one frame minus one waits."""

    def __init__(self, frame_samples: int = FRAME_SAMPLES) -> None:
        self.frame_samples = frame_samples
        self._pending = np.zeros(0, dtype=np.float32)

    def push(self, samples: Samples) -> Samples:
        """Whole frames completed by ``samples``, shaped ``(n, frame_samples)``."""
        data = np.concatenate([self._pending, np.asarray(samples, dtype=np.float32).ravel()])
        whole = len(data) - len(data) % self.frame_samples
        self._pending = data[whole:].copy()
        return data[:whole].reshape(-1, self.frame_samples)

    def drain(self) -> Samples:
        """The pending partial frame zero-padded to a whole frame, ``(0 or 1, frame_samples)``."""
        if len(self._pending) == 0:
            return np.zeros((0, self.frame_samples), dtype=np.float32)
        frame = np.zeros((1, self.frame_samples), dtype=np.float32)
        frame[0, : len(self._pending)] = self._pending
        self._pending = np.zeros(0, dtype=np.float32)
        return frame

    @property
    def pending(self) -> int:
        """How many samples wait for the next frame."""
        return len(self._pending)
