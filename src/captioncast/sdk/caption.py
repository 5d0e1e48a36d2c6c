"""What a subscriber receives: one channel message, typed (``Caption``), and a lost stretch
of history (``Gap``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from captioncast.core.replay import StreamPosition


@dataclass(frozen=True, slots=True)
class Caption:
    """One message of a channel: a caption block (``type == "captions"``) or a transcript
    (``"transcript"``, growing while ``is_final`` is false).

    Times are seconds of the flow's audio clock (``start``/``end``), the source's
    presentation time (``start_pts``), the wall clock (``start_epoch``) and the
    broadcaster's SEI clock (``sei_timestamp``); see docs/protocol.md. ``envelope`` is the
    message as received (``seq``, ``epoch``, ``channel``, ``response``).
    """

    seq: int
    epoch: str
    channel: str
    id: str
    type: str
    language: str
    text: str
    lines: tuple[str, ...]
    start: float
    end: float
    is_final: bool
    is_end_of_stream: bool
    start_pts: float | None = None
    start_epoch: float | None = None
    sei_timestamp: float | None = None
    envelope: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def position(self) -> StreamPosition:
        """Where this message stands in its channel (what ``since`` resumes after)."""
        return StreamPosition(self.seq, self.epoch)

    @property
    def response(self) -> Mapping[str, Any]:
        """The Kaltura REACH response object, as received."""
        response: Mapping[str, Any] = self.envelope["response"]
        return response

    @classmethod
    def from_envelope(cls, envelope: Mapping[str, Any]) -> Caption:
        """Parse a caption message; raises ValueError when it is not one."""
        try:
            response = envelope["response"]
            alternatives = response.get("alternatives") or [{}]
            text = str(alternatives[0].get("transcript", ""))
            lines = alternatives[0].get("lines")
            return cls(
                seq=int(envelope["seq"]),
                epoch=str(envelope["epoch"]),
                channel=str(envelope["channel"]),
                id=str(response.get("id", "")),
                type=str(response["type"]),
                language=str(response.get("language_code", "")),
                text=text,
                lines=tuple(map(str, lines)) if lines else ((text,) if text else ()),
                start=float(response.get("start", 0.0)),
                end=float(response.get("end", 0.0)),
                is_final=bool(response.get("is_final", True)),
                is_end_of_stream=bool(response.get("is_end_of_stream", False)),
                start_pts=_seconds(response.get("start_pts")),
                start_epoch=_seconds(response.get("start_epoch")),
                sei_timestamp=_seconds(response.get("sei_timestamp")),
                envelope=envelope,
            )
        except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"not a caption message: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class Gap:
    """A resume that could not recover: the messages after ``since`` up to ``position`` (or,
    when the epochs differ, the channel's whole history since then) were not delivered."""

    channel: str
    since: StreamPosition
    position: StreamPosition

    @property
    def history_lost(self) -> bool:
        """The channel started a new epoch (flow recreated, server crashed)."""
        return self.since.epoch != self.position.epoch


def _seconds(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None
