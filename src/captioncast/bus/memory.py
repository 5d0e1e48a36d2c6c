"""The in-process broker: one ReplayLog per channel, one bounded queue per subscriber.

Not thread-safe: call it from the event loop thread (from a worker thread, hand messages
over with ``loop.call_soon_threadsafe`` or ``asyncio.run_coroutine_threadsafe``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping

from captioncast.bus.base import EndReason, SubscriptionEnded, UnknownChannel
from captioncast.core.channels import ChannelInfo
from captioncast.core.replay import Envelope, ReplayLog, StreamPosition

DEFAULT_HISTORY = 1000
DEFAULT_MAX_PENDING = 256


class MemorySubscription:
    """A subscriber's bounded queue: replayed backlog first, then live messages.

    The live queue holds at most ``max_pending`` final messages plus one partial (latest
    wins). Overflow ends the subscription with TOO_SLOW and drops what was queued.
    """

    def __init__(
        self,
        broker: MemoryBroker,
        channel: str,
        position: StreamPosition,
        backlog: list[Envelope] | None,
        max_pending: int,
    ) -> None:
        self.channel = channel
        self.position = position
        self.recovered = backlog is not None
        self._broker = broker
        self._backlog: deque[Envelope] = deque(backlog or ())
        self._queue: deque[Envelope] = deque()
        self._pending_partial: Envelope | None = None
        self._max_pending = max_pending
        self._ended: EndReason | None = None
        self._wakeup = asyncio.Event()

    @property
    def ended(self) -> EndReason | None:
        """Why the subscription ended, or None while it is active."""
        return self._ended

    def offer(self, envelope: Envelope) -> None:
        """Queue one live envelope under the latest-wins / too-slow policy."""
        if self._ended is not None:
            return
        if envelope.is_partial:
            if self._pending_partial is not None:
                self._queue.remove(self._pending_partial)
            self._pending_partial = envelope
        else:
            finals = len(self._queue) - (self._pending_partial is not None)
            if finals >= self._max_pending:
                self.end(EndReason.TOO_SLOW)
                return
        self._queue.append(envelope)
        self._wakeup.set()

    async def get(self) -> Envelope:
        """The next envelope; see ``captioncast.bus.base.Subscription.get``.

        After CHANNEL_CLOSED the messages already queued are delivered first (the end of
        stream must reach the viewer); after TOO_SLOW or close() nothing more is delivered.
        """
        while True:
            if self._ended is not None and self._ended is not EndReason.CHANNEL_CLOSED:
                raise SubscriptionEnded(self._ended)
            if self._backlog:
                return self._backlog.popleft()
            if self._queue:
                envelope = self._queue.popleft()
                if envelope is self._pending_partial:
                    self._pending_partial = None
                return envelope
            if self._ended is not None:
                raise SubscriptionEnded(self._ended)
            self._wakeup.clear()
            await self._wakeup.wait()

    def end(self, reason: EndReason) -> None:
        """Mark the subscription over and wake its reader."""
        if self._ended is not None:
            return
        self._ended = reason
        if reason is not EndReason.CHANNEL_CLOSED:
            self._backlog.clear()
            self._queue.clear()
            self._pending_partial = None
        self._broker._forget(self)
        self._wakeup.set()

    def close(self) -> None:
        """Leave the channel; undelivered messages are dropped. Idempotent."""
        self.end(EndReason.UNSUBSCRIBED)


class _Channel:
    __slots__ = ("info", "log", "subscribers")

    def __init__(self, info: ChannelInfo, history: int) -> None:
        self.info = info
        self.log = ReplayLog(info.name, history)
        self.subscribers: set[MemorySubscription] = set()


class MemoryBroker:
    """The default broker, for one process. See ``captioncast.bus.base.Broker``.

    ``history`` is how many messages each channel keeps for resuming viewers;
    ``max_pending`` how many undelivered final messages a subscriber may have before it is
    dropped as too slow.
    """

    def __init__(
        self, history: int = DEFAULT_HISTORY, max_pending: int = DEFAULT_MAX_PENDING
    ) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self.history = history
        self.max_pending = max_pending
        self._channels: dict[str, _Channel] = {}

    def register(self, info: ChannelInfo) -> None:
        """Open a channel; an open one keeps its history and epoch."""
        if info.name not in self._channels:
            self._channels[info.name] = _Channel(info, self.history)

    def close(self, channel: str) -> None:
        """End every subscription on ``channel`` (CHANNEL_CLOSED) and forget its history."""
        state = self._channels.pop(channel, None)
        if state is None:
            return
        for sub in list(state.subscribers):
            sub.end(EndReason.CHANNEL_CLOSED)

    def publish_nowait(self, channel: str, response: Mapping[str, object]) -> Envelope:
        """Synchronous ``publish`` for callers already on the event loop."""
        state = self._require(channel)
        envelope = state.log.append(response)
        for sub in list(state.subscribers):
            sub.offer(envelope)
        return envelope

    async def publish(self, channel: str, response: Mapping[str, object]) -> Envelope:
        """See ``captioncast.bus.base.Broker.publish``; never waits for slow viewers."""
        return self.publish_nowait(channel, response)

    async def subscribe(
        self, channel: str, since: StreamPosition | None = None
    ) -> MemorySubscription:
        """See ``captioncast.bus.base.Broker.subscribe``."""
        state = self._require(channel)
        backlog = None if since is None else state.log.since(since.seq, since.epoch)
        sub = MemorySubscription(self, channel, state.log.position, backlog, self.max_pending)
        state.subscribers.add(sub)
        return sub

    def position(self, channel: str) -> StreamPosition:
        """The channel's current position."""
        return self._require(channel).log.position

    def subscriber_count(self, channel: str) -> int:
        """How many subscriptions the channel has now (0 for an unknown channel)."""
        state = self._channels.get(channel)
        return 0 if state is None else len(state.subscribers)

    def channels(self) -> list[str]:
        """The names of the open channels."""
        return list(self._channels)

    def _require(self, channel: str) -> _Channel:
        state = self._channels.get(channel)
        if state is None:
            raise UnknownChannel(f"unknown channel {channel!r}")
        return state

    def _forget(self, sub: MemorySubscription) -> None:
        state = self._channels.get(sub.channel)
        if state is not None:
            state.subscribers.discard(sub)
