"""The broker contract: publish a channel's messages once, fan them out to every viewer.

A broker keeps each registered channel's history (a ``ReplayLog``) and a bounded queue per
subscriber. Delivery policy, the same for every implementation:

- partial transcripts (``type == "transcript"``, ``is_final`` false) are *latest wins*: a
  newer partial replaces one the subscriber has not received yet, so a live ``seq`` may
  skip superseded partials (and nothing else);
- every other message (final transcripts, captions, end of stream: the *finals*) is queued,
  up to the subscriber's limit; past it the subscription ends with ``EndReason.TOO_SLOW``
  (the WebSocket edge closes the connection with 4008) and the viewer resumes from its last
  position.

History keeps a channel's recent finals and its newest partial. A broker may make finals
durable (``MemoryBroker`` with a history store): then a channel's epoch, seq and finals
survive a graceful restart, while partials do not (they were superseded anyway).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Protocol

from captioncast.core.channels import ChannelInfo
from captioncast.core.replay import Envelope, StreamPosition
from captioncast.errors import CaptioncastError


class EndReason(StrEnum):
    """Why a subscription ended."""

    TOO_SLOW = "too_slow"  # more undelivered finals than the subscriber's limit
    CHANNEL_CLOSED = "channel_closed"  # the channel was closed (flow deleted or ended)
    UNSUBSCRIBED = "unsubscribed"  # the subscriber asked to leave


class BusError(CaptioncastError):
    """A broker refused a call."""


class UnknownChannel(BusError):
    """The channel is not registered with the broker."""


class SubscriptionEnded(BusError):
    """Raised by ``Subscription.get`` once the subscription is over; carries the reason."""

    def __init__(self, reason: EndReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


class Subscription(Protocol):
    """One subscriber's view of one channel."""

    channel: str
    recovered: bool  # True when the requested ``since`` position was fully recovered
    position: StreamPosition  # the channel's position when the subscription started

    async def get(self) -> Envelope:
        """The next envelope, in seq order, waiting for one if needed.

        Guarantee: missed messages replayed on subscribe come first, then live messages in
        publish order; partials may be skipped in favour of newer ones. Raises
        SubscriptionEnded once the subscription is over (queued messages are dropped then).
        """
        ...

    def poll(self) -> Envelope | None:
        """The next envelope if one is ready, else None, without waiting; the same order
        and the same SubscriptionEnded as ``get``."""
        ...

    def set_listener(self, listener: Callable[[], bool] | None) -> None:
        """Call ``listener`` on the event loop, synchronously, each time a live envelope is
        queued; when it returns True it has taken what it could with ``poll`` and a waiting
        ``get`` is not woken. This lets an edge write to a socket in the publisher's own call,
        without a task switch per viewer. It must not raise. None removes it."""
        ...

    def close(self) -> None:
        """Leave the channel; undelivered messages are dropped. Idempotent."""
        ...


class Broker(Protocol):
    """Channels with history and fan-out. Call from the event loop thread.

    Lifecycle: ``start`` before registering channels, ``aclose`` once nothing publishes any
    more (at shutdown).
    """

    async def start(self) -> None:
        """Load durable history, if the broker keeps any, and start writing it.

        Guarantee: a channel registered afterwards whose stored history is complete goes on
        in the same epoch, its seq after the last one published before the restart.
        """
        ...

    async def aclose(self) -> None:
        """Make everything published so far durable (if the broker keeps history on disk)
        and release resources. Afterwards ``publish`` raises BusError. Idempotent."""
        ...

    def register(self, info: ChannelInfo) -> None:
        """Open a channel (idempotent: an open channel keeps its history and epoch)."""
        ...

    def close(self, channel: str) -> None:
        """End every subscription on ``channel`` with CHANNEL_CLOSED and forget its history
        (also on disk).

        Registering it again later starts a new epoch. Unknown channels are ignored.
        """
        ...

    async def publish(self, channel: str, response: Mapping[str, object]) -> Envelope:
        """Assign the next seq, serialize once, append to history, fan out; return the envelope.

        Guarantee: when this returns, the message is in the channel's history (so any later
        ``subscribe(since=...)`` recovers it, if final or the newest partial) and in the queue
        of every current subscriber, subject to the latest-wins and too-slow policy above. At
        most once per subscriber. Durability, where the broker has it, follows shortly
        without holding up this call. Raises UnknownChannel if the channel is not registered,
        ValueError if ``response`` is not JSON-serializable, BusError after ``aclose``.
        """
        ...

    async def subscribe(self, channel: str, since: StreamPosition | None = None) -> Subscription:
        """Subscribe to ``channel``; with ``since``, replay what came after it first.

        Guarantee: with a recoverable ``since`` (same epoch, no final after it gone from
        history) the subscriber receives every final after it (and the newest partial if it
        is newer), then live messages, with no gap in finals and no duplicate, and
        ``recovered`` is True. Otherwise ``recovered`` is False and delivery starts with the
        next live message. Raises UnknownChannel.
        """
        ...

    def position(self, channel: str) -> StreamPosition:
        """The channel's current position. Raises UnknownChannel."""
        ...

    def subscriber_count(self, channel: str) -> int:
        """How many subscriptions the channel has now (0 for an unknown channel)."""
        ...
