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

SEI_LOOKAHEAD = 64  # anchors (frames) looked at past a time without an SEI clock
SEI_LOOKAHEAD_SECONDS = 2.0


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

    def __init__(self, max_anchors: int = 8192, start_time: float = 0.0) -> None:
        # A flow resumed after a restart continues its clock after what it already captioned.
        self._samples = round(start_time * SAMPLE_RATE)
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
        i = max(bisect.bisect_right(self._keys, audio_time) - 1, 0)
        anchor = self._anchors[i]
        offset = audio_time - anchor.audio_time
        pts = None if anchor.pts is None else round(anchor.pts + offset, 3)
        sei = None if anchor.sei_timestamp is None else round(anchor.sei_timestamp + offset, 3)
        if sei is None:
            sei = self._sei_ahead(i, audio_time)
        return TimePoint(audio_time, pts, round(anchor.epoch + offset, 3), sei)

    def _sei_ahead(self, i: int, audio_time: float) -> float | None:
        """The SEI clock read backwards from a frame just after: audio decoded before the
        stream's first SEI arrived (it rides on a video frame) still gets its time."""
        gaps = {g.audio_time for g in self._gaps}
        for j in range(i + 1, min(i + 1 + SEI_LOOKAHEAD, len(self._anchors))):
            anchor = self._anchors[j]
            if anchor.audio_time - audio_time > SEI_LOOKAHEAD_SECONDS or anchor.audio_time in gaps:
                return None
            if anchor.sei_timestamp is not None:
                return round(anchor.sei_timestamp - (anchor.audio_time - audio_time), 3)
        return None
