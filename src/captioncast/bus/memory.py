"""The in-process broker: one ReplayLog per channel, one bounded queue per subscriber.

With a ``ChannelHistoryStore`` it also writes every final message to disk (through a
``HistoryWriter``, off the publishing path) and, at ``start``, continues each stored channel:
its epoch, its seq and its last finals. Without one, history lives only in memory.

Not thread-safe: call it from the event loop thread (from a worker thread, hand messages
over with ``loop.call_soon_threadsafe`` or ``asyncio.run_coroutine_threadsafe``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping

from captioncast.bus.base import BusError, EndReason, SubscriptionEnded, UnknownChannel
from captioncast.bus.durable import DEFAULT_MAX_QUEUED, HistoryWriter
from captioncast.core.channels import ChannelInfo
from captioncast.core.replay import Envelope, ReplayLog, StreamPosition
from captioncast.store.history import ChannelHistoryStore, StoredChannel

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
        self._listener: Callable[[], bool] | None = None

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
        if self._listener is not None and self._listener():
            return
        self._wakeup.set()

    def set_listener(self, listener: Callable[[], bool] | None) -> None:
        """See ``captioncast.bus.base.Subscription.set_listener``."""
        self._listener = listener

    def poll(self) -> Envelope | None:
        """The next envelope if one is ready, else None; see ``Subscription.poll``.

        After CHANNEL_CLOSED the messages already queued are delivered first (the end of
        stream must reach the viewer); after TOO_SLOW or close() nothing more is delivered.
        """
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
        return None

    async def get(self) -> Envelope:
        """The next envelope; see ``captioncast.bus.base.Subscription.get``."""
        while True:
            envelope = self.poll()
            if envelope is not None:
                return envelope
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

    def __init__(self, info: ChannelInfo, log: ReplayLog) -> None:
        self.info = info
        self.log = log
        self.subscribers: set[MemorySubscription] = set()


def _restore(info: ChannelInfo, stored: StoredChannel, capacity: int) -> ReplayLog:
    finals = (Envelope(seq, stored.epoch, info.name, text, False) for seq, text in stored.finals)
    return ReplayLog.restore(
        info.name, capacity, stored.epoch, stored.last_seq, stored.floor, finals
    )


class MemoryBroker:
    """The default broker, for one process. See ``captioncast.bus.base.Broker``.

    ``history`` is how many final messages each channel keeps for resuming viewers (in
    memory, and on disk with a store); ``max_pending`` how many undelivered final messages a
    subscriber may have before it is dropped as too slow. ``history_store`` makes finals
    durable (the broker owns it from then on and closes it in ``aclose``); ``write_queue``
    bounds the finals waiting for the disk (see ``captioncast.bus.durable``).
    """

    def __init__(
        self,
        history: int = DEFAULT_HISTORY,
        max_pending: int = DEFAULT_MAX_PENDING,
        history_store: ChannelHistoryStore | None = None,
        write_queue: int = DEFAULT_MAX_QUEUED,
    ) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        if history < 1:
            raise ValueError("history must be at least 1")
        self.history = history
        self.max_pending = max_pending
        self.history_store = history_store
        self.write_queue = write_queue
        self._channels: dict[str, _Channel] = {}
        self._stored: dict[str, StoredChannel] = {}
        self._writer: HistoryWriter | None = None
        self._started = False
        self._closed = False

    async def start(self) -> None:
        """Load the stored channels and start writing finals; see ``Broker.start``."""
        if self._started:
            return
        self._started = True
        if self.history_store is not None:
            self._stored = await self.history_store.begin_run(self.history)
            self._writer = HistoryWriter(
                self.history_store, self.history, max_queued=self.write_queue
            )
            self._writer.start()

    async def aclose(self) -> None:
        """Write every pending final, record each channel's position, close the store; see
        ``Broker.aclose``."""
        if self._closed:
            return
        self._closed = True
        self._stored.clear()
        if self._writer is not None:
            positions = {name: state.log.position for name, state in self._channels.items()}
            await self._writer.aclose(positions)
        elif self.history_store is not None:
            await self.history_store.close()

    def register(self, info: ChannelInfo) -> None:
        """Open a channel; an open one keeps its history and epoch, a stored one of the same
        flow continues where it was. Raises BusError before ``start`` with a store."""
        if info.name in self._channels:
            return
        if self.history_store is not None and not self._started:
            raise BusError("start the broker before registering channels")
        stored = self._stored.pop(info.name, None)
        if stored is not None and stored.flow_id == info.flow_id:
            log = _restore(info, stored, self.history)
        else:  # a stored channel of another flow (deleted, name reused) is replaced
            log = ReplayLog(info.name, self.history)
            if self._writer is not None:
                self._writer.open_channel(info.name, info.flow_id, log.epoch)
        self._channels[info.name] = _Channel(info, log)

    def close(self, channel: str) -> None:
        """End every subscription on ``channel`` (CHANNEL_CLOSED) and forget its history,
        on disk too."""
        state = self._channels.pop(channel, None)
        if state is None:
            return
        if self._writer is not None:
            self._writer.drop_channel(channel)
        for sub in list(state.subscribers):
            sub.end(EndReason.CHANNEL_CLOSED)

    def publish_nowait(self, channel: str, response: Mapping[str, object]) -> Envelope:
        """Synchronous ``publish`` for callers already on the event loop."""
        if self._closed:
            raise BusError("the broker is closed")
        state = self._require(channel)
        envelope = state.log.append(response)
        if self._writer is not None and not envelope.is_partial:
            self._writer.keep_final(envelope)
        for sub in list(state.subscribers):
            sub.offer(envelope)
        return envelope

    async def publish(self, channel: str, response: Mapping[str, object]) -> Envelope:
        """See ``captioncast.bus.base.Broker.publish``; never waits for slow viewers or the
        disk."""
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
