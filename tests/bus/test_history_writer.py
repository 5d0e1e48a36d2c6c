"""The write queue between a broker and its history store: batches, overflow, failures."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence

from captioncast.bus.durable import HistoryWriter
from captioncast.core.replay import Envelope, StreamPosition
from captioncast.errors import StoreError
from captioncast.store.history import HistoryOp, KeepFinal, OpenChannel, StoredChannel

A, B = "demo-en-en", "demo-en-de"


class RecordingStore:
    """A ChannelHistoryStore that records each call; ``disk`` gates every write."""

    def __init__(self) -> None:
        self.batches: list[list[HistoryOp]] = []
        self.ended: tuple[dict[str, StreamPosition], set[str]] | None = None
        self.closed = False
        self.disk = asyncio.Event()
        self.disk.set()
        self.fail_next = False

    async def begin_run(self, keep: int) -> dict[str, StoredChannel]:
        return {}

    async def write(self, ops: Sequence[HistoryOp], keep: int) -> None:
        await self.disk.wait()
        if self.fail_next:
            self.fail_next = False
            raise StoreError("disk full")
        self.batches.append(list(ops))

    async def end_run(
        self, positions: Mapping[str, StreamPosition], incomplete: Collection[str]
    ) -> None:
        self.ended = (dict(positions), set(incomplete))

    async def close(self) -> None:
        self.closed = True


def final(channel: str, seq: int) -> Envelope:
    return Envelope(seq, "e1", channel, f'{{"seq":{seq}}}', False)


def kept_seqs(store: RecordingStore, channel: str) -> list[int]:
    return [
        op.seq
        for batch in store.batches
        for op in batch
        if isinstance(op, KeepFinal) and op.channel == channel
    ]


async def test_finals_published_together_are_written_in_one_batch() -> None:
    store = RecordingStore()
    writer = HistoryWriter(store, keep=10, interval=0.02)
    writer.start()
    writer.open_channel(A, "f1", "e1")
    for seq in range(1, 6):
        writer.keep_final(final(A, seq))
    await asyncio.sleep(0.1)
    assert len(store.batches) == 1
    assert store.batches[0][0] == OpenChannel(A, "f1", "e1")
    assert kept_seqs(store, A) == [1, 2, 3, 4, 5]
    await writer.aclose({A: StreamPosition(6, "e1")})
    assert store.ended == ({A: StreamPosition(6, "e1")}, set()) and store.closed


async def test_batches_are_bounded() -> None:
    store = RecordingStore()
    writer = HistoryWriter(store, keep=10, interval=0.01, batch=3)
    writer.start()
    for seq in range(1, 8):
        writer.keep_final(final(A, seq))
    await writer.aclose({})
    assert [len(b) for b in store.batches] == [3, 3, 1]


async def test_a_full_queue_costs_that_channel_its_durability_only() -> None:
    store = RecordingStore()
    store.disk.clear()  # the disk is stuck
    writer = HistoryWriter(store, keep=10, max_queued=3, interval=0.01)
    writer.start()
    for seq in (1, 2, 3):
        writer.keep_final(final(A, seq))
    writer.keep_final(final(B, 1))  # does not fit: B is no longer durable
    assert writer.incomplete == {B}
    await asyncio.sleep(0.05)  # the writer took the three finals; the disk still hangs
    writer.keep_final(final(B, 2))  # B stays lost for the rest of its epoch
    writer.keep_final(final(A, 4))
    store.disk.set()
    await writer.aclose({A: StreamPosition(4, "e1"), B: StreamPosition(2, "e1")})
    assert kept_seqs(store, A) == [1, 2, 3, 4] and kept_seqs(store, B) == []
    assert store.ended == ({A: StreamPosition(4, "e1")}, {B})


async def test_a_new_epoch_is_durable_again() -> None:
    store = RecordingStore()
    writer = HistoryWriter(store, keep=10, max_queued=1, interval=0.01)
    writer.keep_final(final(A, 1))
    writer.keep_final(final(A, 2))  # overflow: A's epoch is lost
    writer.open_channel(A, "f1", "e2")  # the channel was closed and opened again
    assert writer.incomplete == set()
    await writer.aclose({A: StreamPosition(0, "e2")})
    assert store.ended == ({A: StreamPosition(0, "e2")}, set())


async def test_a_failed_write_marks_its_channels_and_writing_goes_on() -> None:
    store = RecordingStore()
    store.fail_next = True
    writer = HistoryWriter(store, keep=10, interval=0.01)
    writer.start()
    writer.keep_final(final(A, 1))
    await asyncio.sleep(0.05)
    writer.keep_final(final(B, 1))
    await writer.aclose({A: StreamPosition(1, "e1"), B: StreamPosition(1, "e1")})
    assert kept_seqs(store, B) == [1]
    assert store.ended == ({B: StreamPosition(1, "e1")}, {A})


async def test_a_dead_writer_leaves_the_run_unended() -> None:
    store = RecordingStore()
    writer = HistoryWriter(store, keep=10, interval=0.01)
    writer.start()
    assert writer._task is not None
    writer._task.cancel()  # stands in for a bug that killed the task
    await asyncio.sleep(0)
    writer.keep_final(final(A, 1))
    await writer.aclose({A: StreamPosition(1, "e1")})
    assert store.ended is None and store.closed  # the next start treats it as a crash
