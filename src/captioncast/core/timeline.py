"""The flow's timeline: audio time, source PTS and wall-clock arrival for every sample.

Audio time counts the seconds of audio received since the flow started. It is the clock every
word is stamped with; it never goes back, so a publisher that reconnects continues where the
previous one stopped. The other clocks are looked up from anchors, one per placed frame.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass

from captioncast.core.audio import SAMPLE_RATE, AudioChunk, PcmFrame


@dataclass(frozen=True, slots=True)
class Anchor:
    audio_time: float
    pts: float | None
    epoch: float
    sei_timestamp: float | None


@dataclass(frozen=True, slots=True)
class TimePoint:
    """The three clocks (plus SEI) at one instant of audio time."""

    audio_time: float
    pts: float | None
    epoch: float
    sei_timestamp: float | None


@dataclass(frozen=True, slots=True)
class Gap:
    """A publisher disconnect: wall-clock seconds lost at an audio time."""

    audio_time: float
    epoch_before: float
    epoch_after: float


class Timeline:
    """Places decoded frames on the flow's audio clock and maps audio time back to the others.

    Anchors are kept for the last ``max_anchors`` frames: enough to stamp any word still in
    the recognizer's window; older times resolve to the oldest anchor, extrapolated.
    """

    def __init__(self, max_anchors: int = 8192) -> None:
        self._samples = 0
        self._anchors: deque[Anchor] = deque(maxlen=max_anchors)
        self._keys: deque[float] = deque(maxlen=max_anchors)
        self._gaps: list[Gap] = []
        self._session_open = False

    @property
    def now(self) -> float:
        """Audio time just after the last sample received."""
        return self._samples / SAMPLE_RATE

    @property
    def gaps(self) -> tuple[Gap, ...]:
        return tuple(self._gaps)

    def publisher_left(self) -> None:
        """Mark the end of a publisher session: the next frame records a gap."""
        self._session_open = False

    def place(self, frame: PcmFrame) -> AudioChunk:
        audio_time = self.now
        if not self._session_open:
            if self._anchors:
                last = self._anchors[-1]
                self._gaps.append(Gap(audio_time, last.epoch, frame.arrival_epoch))
            self._session_open = True
        if not self._anchors or self._anchors[-1].audio_time < audio_time:
            self._anchors.append(
                Anchor(audio_time, frame.pts, frame.arrival_epoch, frame.sei_timestamp)
            )
            self._keys.append(audio_time)
        self._samples += len(frame.samples)
        return AudioChunk(
            frame.samples, audio_time, frame.pts, frame.arrival_epoch, frame.sei_timestamp
        )

    def at(self, audio_time: float) -> TimePoint:
        """The clocks at ``audio_time``, extrapolated from the nearest anchor before it."""
        if not self._anchors:
            return TimePoint(audio_time, None, 0.0, None)
        i = bisect.bisect_right(self._keys, audio_time) - 1
        anchor = self._anchors[max(i, 0)]
        offset = audio_time - anchor.audio_time
        pts = None if anchor.pts is None else round(anchor.pts + offset, 3)
        sei = None if anchor.sei_timestamp is None else round(anchor.sei_timestamp + offset, 3)
        return TimePoint(audio_time, pts, round(anchor.epoch + offset, 3), sei)
