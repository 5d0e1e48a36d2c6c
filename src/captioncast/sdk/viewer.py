"""The viewer side of ``/v1/ws`` for one channel, as a pure state machine: frames in, events
out, across any number of connections.

No I/O and no clock. The edge (``subscription.py``) sends ``hello()`` on every new
connection, feeds every frame to ``receive()``, and after a close asks ``after_close()``
what to do. The session keeps the channel position, so that each reconnection resumes with
``since`` = the last message seen: the server then sends every final message after it
(``recovered``) or says it cannot (a ``Gap``). Messages at or before the position are
dropped, so a resume never delivers one twice.
"""

from __future__ import annotations

import enum
import json
import logging
from dataclasses import dataclass
from typing import Any

from captioncast.core.replay import StreamPosition
from captioncast.sdk.caption import Caption, Gap

log = logging.getLogger(__name__)

# Close codes after which trying again cannot help (see docs/protocol.md).
FATAL_CLOSE_CODES = frozenset({4001, 4002, 4003, 4004, 4009, 1009})
TOKEN_EXPIRED = "token_expired"


class AfterClose(enum.Enum):
    """What to do once a connection closed."""

    RESUME = "resume"  # reconnect and subscribe with since
    REAUTH = "reauth"  # the token expired: reconnect with a fresh one, then resume
    FAIL = "fail"  # the server refused: give up


def after_close(code: int | None, reason: str, can_refresh: bool) -> AfterClose:
    """The policy for a closed connection (``code`` None: it dropped without a close frame).

    Going away (1001), restarts (1012), faults (1011), a slow viewer (4008) and dropped
    connections resume; an expired token resumes too when a fresh one can be had.
    """
    if code == 4001 and reason == TOKEN_EXPIRED and can_refresh:
        return AfterClose.REAUTH
    if code in FATAL_CLOSE_CODES:
        return AfterClose.FAIL
    return AfterClose.RESUME


@dataclass(frozen=True, slots=True)
class Authenticated:
    """The server accepted a token valid until ``exp`` (Unix seconds)."""

    exp: int


@dataclass(frozen=True, slots=True)
class Subscribed:
    """The server (re)subscribed us; ``gap`` is set when a resume could not recover."""

    recovered: bool
    gap: Gap | None


@dataclass(frozen=True, slots=True)
class Delivered:
    """A channel message, new to this subscription."""

    caption: Caption


@dataclass(frozen=True, slots=True)
class Finished:
    """Nothing more will come: ``end_of_stream`` or ``channel_closed``."""

    reason: str


Event = Authenticated | Subscribed | Delivered | Finished


class ViewerSession:
    """One subscription's protocol state, kept across reconnections.

    ``since`` resumes a subscription persisted earlier. With ``until_end_of_stream`` (the
    default) the session finishes at the channel's end-of-stream message; without it, it
    goes on (a flow started again publishes on the same channel).
    """

    def __init__(
        self, channel: str, since: StreamPosition | None = None, until_end_of_stream: bool = True
    ) -> None:
        self.channel = channel
        self.position = since
        self.until_end_of_stream = until_end_of_stream
        self.recovered: bool | None = None  # of the latest subscribe
        self.gaps: list[Gap] = []
        self.finished: str | None = None  # why nothing more will come

    def hello(self, token: str) -> list[str]:
        """The frames that open a connection: auth, then subscribe from the position."""
        subscribe: dict[str, Any] = {"type": "subscribe", "channel": self.channel}
        if self.position is not None:
            subscribe["since"] = {"seq": self.position.seq, "epoch": self.position.epoch}
        return [self.reauth(token), json.dumps(subscribe)]

    def reauth(self, token: str) -> str:
        """The frame that replaces the connection's token before it expires."""
        return json.dumps({"type": "auth", "token": token})

    def receive(self, frame: str | bytes) -> list[Event]:
        """One frame from the server. Frames that are not part of the protocol are ignored."""
        try:
            message = json.loads(frame)
        except ValueError:
            log.warning("channel %s: ignoring a frame that is not JSON", self.channel)
            return []
        if not isinstance(message, dict) or self.finished:
            return []
        if "response" in message and "seq" in message:
            return self._message(message)
        kind = message.get("type")
        if kind == "authenticated" and isinstance(message.get("exp"), int):
            return [Authenticated(message["exp"])]
        if kind == "subscribed" and message.get("channel") == self.channel:
            return [self._subscribed(message)]
        if kind == "unsubscribed" and message.get("channel") == self.channel:
            self.finished = str(message.get("reason", "channel_closed"))
            return [Finished(self.finished)]
        return []

    def _message(self, message: dict[str, Any]) -> list[Event]:
        try:
            caption = Caption.from_envelope(message)
        except ValueError as exc:
            log.warning("channel %s: ignoring a malformed message: %s", self.channel, exc)
            return []
        if caption.channel != self.channel or self._seen(caption.position):
            return []
        self.position = caption.position
        events: list[Event] = [Delivered(caption)]
        if caption.is_end_of_stream and self.until_end_of_stream:
            self.finished = "end_of_stream"
            events.append(Finished(self.finished))
        return events

    def _seen(self, position: StreamPosition) -> bool:
        last = self.position
        return last is not None and last.epoch == position.epoch and position.seq <= last.seq

    def _subscribed(self, message: dict[str, Any]) -> Subscribed:
        recovered = message.get("recovered") is True
        self.recovered = recovered
        if recovered:
            return Subscribed(True, None)
        pos = message.get("position")
        now = (
            StreamPosition(int(pos.get("seq", 0)), str(pos.get("epoch", "")))
            if isinstance(pos, dict)
            else StreamPosition(0, "")
        )
        gap = None if self.position is None else Gap(self.channel, self.position, now)
        if gap is not None:
            self.gaps.append(gap)
            log.warning("channel %s: could not resume, some messages were missed", self.channel)
        self.position = now  # the resume point until a message arrives
        return Subscribed(False, gap)
