"""Per-channel history: sequence numbers, epochs and the recent messages, serialized once.

Every message published on a channel is wrapped in the envelope of the wire schema
(``{"seq", "epoch", "channel", "response"}``), encoded to JSON exactly once, and kept here
for viewers that reconnect. ``seq`` grows by one per message; ``epoch`` names one unbroken
history and changes whenever history is lost (a fresh log, a reset), so a client that
comes back with ``(seq, epoch)`` either receives every message it missed or learns plainly
that it cannot.
"""

from __future__ import annotations

import json
import secrets
from collections import deque
from collections.abc import Mapping
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
    """The last ``capacity`` messages of one channel, with its seq counter and epoch."""

    def __init__(self, channel: str, capacity: int = 1000, epoch: str | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.channel = channel
        self.capacity = capacity
        self.epoch = epoch or new_epoch()
        self._last_seq = 0
        self._messages: deque[Envelope] = deque(maxlen=capacity)

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
        self._messages.append(envelope)
        return envelope

    def since(self, seq: int, epoch: str) -> list[Envelope] | None:
        """Every message after ``seq`` in ``epoch``, or None when that cannot be recovered.

        None means: another epoch (history was lost), a position ahead of this log, or
        messages after ``seq`` that have already left the log.
        """
        if epoch != self.epoch or seq < 0 or seq > self._last_seq:
            return None
        if seq == self._last_seq:
            return []
        oldest = self._messages[0].seq if self._messages else self._last_seq + 1
        if seq + 1 < oldest:
            return None
        return [m for m in self._messages if m.seq > seq]

    def reset(self) -> None:
        """Drop the history and start a new epoch; seq starts again from 1."""
        self.epoch = new_epoch()
        self._last_seq = 0
        self._messages.clear()

    def __len__(self) -> int:
        return len(self._messages)
