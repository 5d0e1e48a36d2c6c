"""Writing a broker's final messages to a ChannelHistoryStore without waiting for the disk.

The broker hands each final over with ``keep_final``, a constant-time append on the event
loop. A background task writes what has queued up about every ``interval`` seconds, at
most ``batch`` operations per transaction (in a worker thread, through the store).

The queue is bounded. When ``max_queued`` finals are waiting already, the channel whose
final does not fit loses its durability for the rest of its epoch: nothing more of it is
queued, and ``end_run`` records it incomplete, so that the next start gives it a new epoch
rather than a history with a hole. Live delivery is not affected. A failed write does the
same to every channel in the failed batch. Channel openings and drops are always queued
(there are as many as API calls, not messages).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Mapping

from captioncast.core.replay import Envelope, StreamPosition
from captioncast.store.history import (
    ChannelHistoryStore,
    DropChannel,
    HistoryOp,
    KeepFinal,
    OpenChannel,
)

log = logging.getLogger(__name__)

DEFAULT_MAX_QUEUED = 10_000
DEFAULT_INTERVAL = 0.05
DEFAULT_BATCH = 500


class HistoryWriter:
    """The bounded write queue in front of a ChannelHistoryStore and the task draining it.

    Call ``start`` on the event loop after the store's ``begin_run``; ``aclose`` writes
    what is queued, ends the run and closes the store.
    """

    def __init__(
        self,
        store: ChannelHistoryStore,
        keep: int,
        *,
        max_queued: int = DEFAULT_MAX_QUEUED,
        interval: float = DEFAULT_INTERVAL,
        batch: int = DEFAULT_BATCH,
    ) -> None:
        if max_queued < 1 or batch < 1:
            raise ValueError("max_queued and batch must be at least 1")
        self.store = store
        self.keep = keep
        self.max_queued = max_queued
        self.interval = interval
        self.batch = batch
        self._ops: deque[HistoryOp] = deque()
        self._queued_finals = 0
        self._incomplete: set[str] = set()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def incomplete(self) -> frozenset[str]:
        """Channels whose current epoch has lost a final on the way to disk."""
        return frozenset(self._incomplete)

    @property
    def queued(self) -> int:
        """How many operations wait to be written."""
        return len(self._ops)

    def start(self) -> None:
        """Start the background task."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="channel-history-writer"
            )

    def open_channel(self, channel: str, flow_id: str, epoch: str) -> None:
        """A channel starts a new epoch (replacing anything stored for it)."""
        self._incomplete.discard(channel)
        self._push(OpenChannel(channel, flow_id, epoch))

    def drop_channel(self, channel: str) -> None:
        """Forget a channel's stored history."""
        self._incomplete.discard(channel)
        self._push(DropChannel(channel))

    def keep_final(self, envelope: Envelope) -> None:
        """Queue one final message under the queue policy above; never waits."""
        if envelope.channel in self._incomplete or self._closing:
            return
        if self._queued_finals >= self.max_queued:
            self._lose(envelope.channel, "the write queue is full")
            return
        self._queued_finals += 1
        self._push(KeepFinal(envelope.channel, envelope.epoch, envelope.seq, envelope.text))

    def _push(self, op: HistoryOp) -> None:
        if not self._closing:
            self._ops.append(op)
            self._wakeup.set()

    def _lose(self, channel: str, why: str) -> None:
        if channel not in self._incomplete:
            log.warning(
                "channel %s: history no longer durable (%s); new epoch at the next start",
                channel,
                why,
            )
            self._incomplete.add(channel)

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            if not self._closing:
                await asyncio.sleep(self.interval)  # let a batch gather
            self._wakeup.clear()
            while self._ops:
                await self._write_batch()
            if self._closing:
                return

    async def _write_batch(self) -> None:
        ops = [self._ops.popleft() for _ in range(min(self.batch, len(self._ops)))]
        self._queued_finals -= sum(isinstance(op, KeepFinal) for op in ops)
        try:
            await self.store.write(ops, self.keep)
        except Exception:
            log.exception("writing %d history operations failed", len(ops))
            for op in ops:
                if not isinstance(op, DropChannel):
                    self._lose(op.channel, "a write failed")

    async def aclose(self, positions: Mapping[str, StreamPosition]) -> None:
        """Write everything queued, end the run with ``positions`` (each open channel's
        position) and close the store. If the queue cannot be written out, the run is left
        unended, which the next start treats as a crash."""
        self._closing = True
        self._wakeup.set()
        if self._task is None:
            while self._ops:
                await self._write_batch()
            drained = True
        else:
            await asyncio.wait([self._task])
            drained = not self._task.cancelled() and self._task.exception() is None
            if not drained:
                log.error("the history writer died; the next start begins new epochs")
        try:
            if drained:
                durable = {c: p for c, p in positions.items() if c not in self._incomplete}
                await self.store.end_run(durable, self._incomplete)
        except Exception:
            log.exception("ending the history run failed; the next start begins new epochs")
        finally:
            await self.store.close()
