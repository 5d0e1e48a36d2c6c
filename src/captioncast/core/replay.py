"""Per-channel history: sequence numbers, epochs and the recent messages, serialized once.

Every message published on a channel is wrapped in the envelope of the wire schema
(``{"seq", "epoch", "channel", "response"}``), encoded to JSON exactly once, and kept here
for viewers that reconnect. ``seq`` grows by one per message; ``epoch`` names one unbroken
history and changes whenever history is lost (a fresh log, a reset), so a client that
comes back with ``(seq, epoch)`` either receives every final message it missed or learns
plainly that it cannot.

The log keeps the last ``capacity`` final messages and only the newest partial transcript:
an older partial is superseded, so replaying it would only make a resuming viewer flicker.
A log can also be restored from stored finals (``ReplayLog.restore``), with gaps in ``seq``
where partials were; those gaps are never a loss.
"""

from __future__ import annotations

import json
import secrets
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


def new_epoch() -> str:
    """A random epoch label (8 hex digits)."""
    return secrets.token_hex(4)


@dataclass(frozen=True, slots=True)
class StreamPosition:
    """Where a viewer is in a channel's history: the last ``seq`` it saw, in ``epoch``."""

    seq: int
    epoch: str


@dataclass(frozen=True, slots=True)
class Envelope:
    """One published message, serialized once and shared by every viewer.

    ``text`` is the JSON of the whole envelope. It is a ``str`` because WebSocket text
    frames take text; ``data`` gives the UTF-8 bytes for byte-oriented transports.
    ``is_partial`` marks a non-final transcript, which a newer partial may supersede.
    """

    seq: int
    epoch: str
    channel: str
    text: str
    is_partial: bool

    @property
    def data(self) -> bytes:
        return self.text.encode()

    @property
    def position(self) -> StreamPosition:
        return StreamPosition(self.seq, self.epoch)


def is_partial_response(response: Mapping[str, object]) -> bool:
    """True for a transcript update that a later one supersedes (``is_final`` false)."""
    return response.get("type") == "transcript" and response.get("is_final") is not True


def encode_envelope(seq: int, epoch: str, channel: str, response: Mapping[str, object]) -> str:
    """The JSON text of one envelope, compact and UTF-8 friendly."""
    envelope = {"seq": seq, "epoch": epoch, "channel": channel, "response": response}
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class ReplayLog:
    """The last ``capacity`` final messages of one channel (plus its newest partial), with
    its seq counter and epoch.

    ``floor`` is the newest seq whose final has left the log: a viewer at a position below
    it has missed something the log no longer has.
    """

    def __init__(self, channel: str, capacity: int = 1000, epoch: str | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.channel = channel
        self.capacity = capacity
        self.epoch = epoch or new_epoch()
        self.floor = 0
        self._last_seq = 0
        self._finals: deque[Envelope] = deque(maxlen=capacity)
        self._partial: Envelope | None = None

    @classmethod
    def restore(
        cls,
        channel: str,
        capacity: int,
        epoch: str,
        last_seq: int,
        floor: int,
        finals: Iterable[Envelope],
    ) -> ReplayLog:
        """A log that goes on from stored state: ``finals`` oldest first, all in ``epoch``,
        none after ``last_seq``; ``floor`` as in the class docstring."""
        log = cls(channel, capacity, epoch)
        log._last_seq = last_seq
        log.floor = floor
        for envelope in finals:
            log._keep_final(envelope)
        return log

    @property
    def position(self) -> StreamPosition:
        """The position of the newest message (seq 0 before the first)."""
        return StreamPosition(self._last_seq, self.epoch)

    def append(self, response: Mapping[str, object]) -> Envelope:
        """Assign the next seq to ``response``, serialize it once and keep it.

        Raises ValueError (from the JSON encoder) if ``response`` is not JSON-serializable
        or holds NaN/infinity; the seq is not consumed then.
        """
        seq = self._last_seq + 1
        try:
            text = encode_envelope(seq, self.epoch, self.channel, response)
        except TypeError as exc:
            raise ValueError(f"response is not JSON-serializable: {exc}") from exc
        envelope = Envelope(seq, self.epoch, self.channel, text, is_partial_response(response))
        self._last_seq = seq
        if envelope.is_partial:
            self._partial = envelope
        else:
            self._keep_final(envelope)
        return envelope

    def _keep_final(self, envelope: Envelope) -> None:
        if len(self._finals) == self.capacity:
            self.floor = self._finals[0].seq  # about to be evicted by the deque
        self._finals.append(envelope)

    def since(self, seq: int, epoch: str) -> list[Envelope] | None:
        """Every final after ``seq`` in ``epoch`` (and the newest partial if it is after
        ``seq``), in seq order; None when that cannot be recovered.

        None means: another epoch (history was lost), a position ahead of this log, or
        finals after ``seq`` that have already left the log.
        """
        if epoch != self.epoch or seq < self.floor or seq > self._last_seq:
            return None
        missed = [m for m in self._finals if m.seq > seq]
        partial = self._partial
        if partial is not None and partial.seq > seq:
            at = next((i for i, m in enumerate(missed) if m.seq > partial.seq), len(missed))
            missed.insert(at, partial)
        return missed

    def reset(self) -> None:
        """Drop the history and start a new epoch; seq starts again from 1."""
        self.epoch = new_epoch()
        self.floor = 0
        self._last_seq = 0
        self._finals.clear()
        self._partial = None

    def __len__(self) -> int:
        """How many messages the log holds (its finals and the newest partial)."""
        return len(self._finals) + (self._partial is not None)
