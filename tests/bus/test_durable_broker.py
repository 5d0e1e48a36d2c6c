"""MemoryBroker with a SQLite history store: restarts are a new broker on the same file."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from captioncast.bus.base import BusError, Subscription
from captioncast.bus.memory import MemoryBroker
from captioncast.core.channels import ChannelInfo
from captioncast.core.replay import Envelope, ReplayLog, StreamPosition
from captioncast.store.history import SqliteChannelHistory

CHANNEL = ChannelInfo("demo-en-en", "f1", "demo", "en", "transcription")


def final(n: int) -> dict[str, object]:
    return {"type": "captions", "is_final": True, "n": n}


def partial(n: int) -> dict[str, object]:
    return {"type": "transcript", "is_final": False, "n": n}


def n_of(envelope: Envelope) -> object:
    return json.loads(envelope.text)["response"]["n"]


class Restarts:
    """Brokers run one after the other on the same data directory."""

    def __init__(self, data_dir: Path, history: int = 1000, write_queue: int = 10_000) -> None:
        self.data_dir = data_dir
        self.history = history
        self.write_queue = write_queue
        self.current: MemoryBroker | None = None

    async def start(self, *channels: ChannelInfo) -> MemoryBroker:
        """Stop the running broker gracefully, if any, and start the next one."""
        if self.current is not None:
            await self.current.aclose()
        store = SqliteChannelHistory.in_data_dir(self.data_dir)
        broker = MemoryBroker(self.history, history_store=store, write_queue=self.write_queue)
        await broker.start()
        for info in channels or (CHANNEL,):
            broker.register(info)
        self.current = broker
        return broker


@pytest.fixture
async def runs(tmp_path: Path) -> AsyncIterator[Restarts]:
    restarts = Restarts(tmp_path)
    yield restarts
    if restarts.current is not None:
        await restarts.current.aclose()


async def drain(sub: Subscription, count: int) -> list[Envelope]:
    return [await asyncio.wait_for(sub.get(), 1) for _ in range(count)]


async def test_a_restart_continues_the_epoch_and_recovers_every_missed_final(
    runs: Restarts,
) -> None:
    broker = await runs.start()
    seen = await broker.publish(CHANNEL.name, final(1))  # where the viewer dropped off
    for response in (partial(2), final(3), partial(4), final(5), partial(6)):
        await broker.publish(CHANNEL.name, response)
    before = broker.position(CHANNEL.name)

    broker = await runs.start()
    assert broker.position(CHANNEL.name) == before  # same epoch, seq 6 (a partial) included
    sub = await broker.subscribe(CHANNEL.name, since=seen.position)
    assert sub.recovered
    after = await broker.publish(CHANNEL.name, final(7))
    assert after.seq == 7 and after.epoch == seen.epoch
    got = await drain(sub, 3)
    # every final it missed, the partials before the restart are gone, then live
    assert [(e.seq, n_of(e)) for e in got] == [(3, 3), (5, 5), (7, 7)]
    assert got[0].text == json.dumps(
        {"seq": 3, "epoch": seen.epoch, "channel": CHANNEL.name, "response": final(3)},
        separators=(",", ":"),
    )  # the very bytes sent before the restart


async def test_a_position_on_a_partial_from_before_the_restart_is_recoverable(
    runs: Restarts,
) -> None:
    broker = await runs.start()
    await broker.publish(CHANNEL.name, final(1))
    last_partial = await broker.publish(CHANNEL.name, partial(2))
    broker = await runs.start()
    sub = await broker.subscribe(CHANNEL.name, since=last_partial.position)
    assert sub.recovered
    await broker.publish(CHANNEL.name, final(3))
    assert [e.seq for e in await drain(sub, 1)] == [3]


async def test_a_position_older_than_the_kept_finals_is_not_recovered(tmp_path: Path) -> None:
    runs = Restarts(tmp_path, history=3)
    broker = await runs.start()
    first = await broker.publish(CHANNEL.name, final(1))
    for n in range(2, 7):
        await broker.publish(CHANNEL.name, final(n))
    broker = await runs.start()
    try:
        old = await broker.subscribe(CHANNEL.name, since=first.position)
        assert not old.recovered
        kept = await broker.subscribe(CHANNEL.name, since=StreamPosition(3, first.epoch))
        assert kept.recovered and [e.seq for e in await drain(kept, 3)] == [4, 5, 6]
    finally:
        await broker.aclose()


async def test_deleting_the_flow_deletes_the_history(runs: Restarts) -> None:
    broker = await runs.start()
    old = await broker.publish(CHANNEL.name, final(1))
    broker.close(CHANNEL.name)
    broker = await runs.start()  # the flow is recreated with the same name
    new = await broker.publish(CHANNEL.name, final(2))
    assert (new.seq, new.epoch != old.epoch) == (1, True)


async def test_a_stored_channel_of_another_flow_starts_a_new_epoch(runs: Restarts) -> None:
    broker = await runs.start()
    old = await broker.publish(CHANNEL.name, final(1))
    # deleted just before a crash, say: the rows are there but the flow is another one
    recreated = ChannelInfo(CHANNEL.name, "f2", "demo", "en", "transcription")
    broker = await runs.start(recreated)
    assert broker.position(CHANNEL.name).epoch != old.epoch
    assert not (await broker.subscribe(CHANNEL.name, since=old.position)).recovered
    broker = await runs.start(recreated)  # and from then on it is f2's history
    assert broker.position(CHANNEL.name).seq == 0


async def test_a_full_write_queue_gives_the_channel_a_new_epoch_at_the_next_start(
    tmp_path: Path,
) -> None:
    other = ChannelInfo("demo-en-de", "f1", "demo", "de", "translation")
    runs = Restarts(tmp_path, write_queue=2)
    broker = await runs.start(CHANNEL, other)
    kept = await broker.publish(other.name, final(1))
    lost = await broker.publish(CHANNEL.name, final(1))
    await broker.publish(CHANNEL.name, final(2))  # the third queued final: no room
    broker = await runs.start(CHANNEL, other)
    try:
        assert broker.position(CHANNEL.name).epoch != lost.epoch
        assert broker.position(other.name) == kept.position
    finally:
        await broker.aclose()


CRASHING_RUN = """
import asyncio, os, sys
from pathlib import Path
from captioncast.bus.memory import MemoryBroker
from captioncast.core.channels import ChannelInfo
from captioncast.store.history import SqliteChannelHistory

async def main():
    store = SqliteChannelHistory.in_data_dir(Path(sys.argv[1]))
    broker = MemoryBroker(history_store=store)
    await broker.start()
    broker.register(ChannelInfo("demo-en-en", "f1", "demo", "en", "transcription"))
    await broker.publish("demo-en-en", {"type": "captions", "is_final": True, "n": 9})
    await asyncio.sleep(0.5)  # written to disk by now
    await broker.publish("demo-en-en", {"type": "captions", "is_final": True, "n": 10})
    os._exit(0)  # like kill -9: the last final may or may not be on disk

asyncio.run(main())
"""


async def test_after_a_crash_every_channel_starts_a_new_epoch(runs: Restarts) -> None:
    broker = await runs.start()
    before = await broker.publish(CHANNEL.name, final(1))
    await broker.aclose()
    runs.current = None
    crash = [sys.executable, "-c", textwrap.dedent(CRASHING_RUN), str(runs.data_dir)]
    await asyncio.to_thread(subprocess.run, crash, check=True, timeout=60)
    broker = await runs.start()
    after = broker.position(CHANNEL.name)
    assert after.epoch != before.epoch and after.seq == 0
    assert not (await broker.subscribe(CHANNEL.name, since=before.position)).recovered


async def test_register_needs_start_and_publish_ends_with_aclose(tmp_path: Path) -> None:
    broker = MemoryBroker(history_store=SqliteChannelHistory.in_data_dir(tmp_path))
    with pytest.raises(BusError):
        broker.register(CHANNEL)
    await broker.start()
    broker.register(CHANNEL)
    await broker.aclose()
    await broker.aclose()
    with pytest.raises(BusError):
        await broker.publish(CHANNEL.name, final(1))


def test_the_log_keeps_finals_and_only_the_newest_partial() -> None:
    log = ReplayLog("c", capacity=2, epoch="e")
    for response in (final(1), partial(2), final(3), partial(4), final(5)):
        log.append(response)
    assert len(log) == 3  # finals 3 and 5, partial 4
    assert log.floor == 1
    recovered = log.since(1, "e")
    assert recovered is not None and [e.seq for e in recovered] == [3, 4, 5]
    assert log.since(0, "e") is None  # final 1 is gone
    assert [e.seq for e in log.since(4, "e") or []] == [5]


def test_a_restored_log_goes_on_from_its_stored_state() -> None:
    stored = [Envelope(seq, "e", "c", f"{seq}", False) for seq in (2, 4, 5)]
    log = ReplayLog.restore("c", capacity=2, epoch="e", last_seq=7, floor=1, finals=stored)
    assert log.floor == 2 and log.position == StreamPosition(7, "e")
    assert log.since(1, "e") is None
    assert [e.seq for e in log.since(3, "e") or []] == [4, 5]
    assert log.append(final(8)).seq == 8
