"""Silero VAD (the ONNX model bundled with faster-whisper), run as a stream.

The model scores 512-sample frames, each preceded by the last 64 samples of the frame before
it, and carries an LSTM state (h, c) from frame to frame. faster-whisper's ``SileroVADModel``
does this for a whole recording at once; this class keeps the context, the state and the
partial frame between calls, so chunked input scores exactly like the whole recording.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from captioncast.core.audio import Samples
from captioncast.engines.vad.framing import FrameBuffer

CONTEXT_SAMPLES = 64
_STATE_SHAPE = (1, 1, 128)


class SileroVad:
    """Streaming Silero VAD: about 2-4 ms of one CPU core per second of audio (chunk-size bound)."""

    name = "silero"

    def __init__(self) -> None:
        from faster_whisper.vad import get_vad_model

        # The session runs single-threaded (faster-whisper's settings), fitting a busy CPU.
        self._session: Any = get_vad_model().session
        self._frames = FrameBuffer()
        self.reset()

    def feed(self, samples: Samples) -> list[float]:
        """Speech probabilities of the frames ``samples`` complete."""
        return self._score(self._frames.push(samples))

    def flush(self) -> list[float]:
        """Score the zero-padded partial frame, if any."""
        return self._score(self._frames.drain())

    def reset(self) -> None:
        """Zero the LSTM state and the context and drop any partial frame."""
        self._h = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)
        self._frames = FrameBuffer()

    def _score(self, frames: Samples) -> list[float]:
        if len(frames) == 0:
            return []
        # Each frame's context is the tail of the frame before it; the first uses the tail kept
        # from the previous call (zeros at the start of a stream), as faster-whisper does.
        contexts = np.concatenate([self._context[None, :], frames[:-1, -CONTEXT_SAMPLES:]])
        batch = np.ascontiguousarray(np.concatenate([contexts, frames], axis=1))
        # The model treats the batch axis as time, so one run equals frame-by-frame runs.
        probs, self._h, self._c = self._session.run(
            None, {"input": batch, "h": self._h, "c": self._c}
        )
        self._context = frames[-1, -CONTEXT_SAMPLES:].copy()
        return [float(p) for p in np.asarray(probs).ravel()]
