"""The Broker contract, run over every registered broker implementation, with and without
durable history where the implementation takes a history store."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from captioncast.bus import BROKERS, create_broker
from captioncast.bus.base import Broker, BusError, EndReason, SubscriptionEnded, UnknownChannel
from captioncast.core.channels import ChannelInfo
from captioncast.core.replay import StreamPosition
from captioncast.errors import ConfigError
from captioncast.store.history import SqliteChannelHistory

CHANNEL = ChannelInfo("demo-en-en", "f1", "demo", "en", "transcription")
DURABLE = {"memory"}  # the implementations that take a ``history_store``
SETUPS = sorted(BROKERS) + [f"{name}+history" for name in sorted(DURABLE)]


def final(n: int) -> dict[str, object]:
    return {"type": "captions", "is_final": True, "n": n}


def partial(n: int) -> dict[str, object]:
    return {"type": "transcript", "is_final": False, "n": n}


@pytest.fixture(params=SETUPS)
async def broker(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Broker]:
    name, _, durable = str(request.param).partition("+")
    options: dict[str, object] = {"max_pending": 4, "history": 8}
    if durable:
        options["history_store"] = SqliteChannelHistory.in_data_dir(tmp_path)
    b = create_broker(name, **options)
    await b.start()
    b.register(CHANNEL)
    yield b
    await b.aclose()


async def n_of(envelope_json: str) -> object:
    return json.loads(envelope_json)["response"]["n"]


async def test_publish_fans_out_the_same_serialized_text(broker: Broker) -> None:
    a = await broker.subscribe(CHANNEL.name)
    b = await broker.subscribe(CHANNEL.name)
    sent = await broker.publish(CHANNEL.name, final(1))
    got_a, got_b = await a.get(), await b.get()
    assert got_a.text is sent.text and got_b.text is sent.text
    assert json.loads(sent.text)["channel"] == CHANNEL.name
    assert (a.recovered, b.recovered) == (False, False)


async def test_unknown_channel_is_refused(broker: Broker) -> None:
    with pytest.raises(UnknownChannel):
        await broker.publish("nope", final(1))
    with pytest.raises(UnknownChannel):
        await broker.subscribe("nope")
    with pytest.raises(UnknownChannel):
        broker.position("nope")


async def test_newer_partial_replaces_an_undelivered_one(broker: Broker) -> None:
    sub = await broker.subscribe(CHANNEL.name)
    for envelope in (partial(1), partial(2), final(3), partial(4), partial(5)):
        await broker.publish(CHANNEL.name, envelope)
    got = [await n_of((await sub.get()).text) for _ in range(2)]
    # 2 replaced 1; 4 then 5 replaced 2 and went behind final 3, so seq never goes back
    assert got == [3, 5]


async def test_finals_beyond_the_limit_end_the_subscription_too_slow(broker: Broker) -> None:
    slow = await broker.subscribe(CHANNEL.name)
    fast = await broker.subscribe(CHANNEL.name)
    for n in range(4):
        await broker.publish(CHANNEL.name, final(n))
        await fast.get()
    await broker.publish(CHANNEL.name, partial(99))  # partials never count to the limit
    await fast.get()
    await broker.publish(CHANNEL.name, final(4))
    with pytest.raises(SubscriptionEnded) as ended:
        await slow.get()
    assert ended.value.reason is EndReason.TOO_SLOW
    assert await n_of((await fast.get()).text) == 4


async def test_resume_from_a_position_replays_missed_messages(broker: Broker) -> None:
    first = await broker.publish(CHANNEL.name, final(1))
    for n in (2, 3):
        await broker.publish(CHANNEL.name, final(n))
    sub = await broker.subscribe(CHANNEL.name, since=first.position)
    assert sub.recovered
    await broker.publish(CHANNEL.name, final(4))
    assert [await n_of((await sub.get()).text) for _ in range(3)] == [2, 3, 4]


async def test_resume_replays_finals_and_only_the_newest_partial(broker: Broker) -> None:
    first = await broker.publish(CHANNEL.name, final(1))
    for envelope in (partial(2), final(3), partial(4), partial(5)):
        await broker.publish(CHANNEL.name, envelope)
    sub = await broker.subscribe(CHANNEL.name, since=first.position)
    assert sub.recovered
    assert [await n_of((await sub.get()).text) for _ in range(2)] == [3, 5]


async def test_wrong_epoch_or_evicted_position_is_not_recovered(broker: Broker) -> None:
    for n in range(12):
        await broker.publish(CHANNEL.name, final(n))
    pos = broker.position(CHANNEL.name)
    assert pos.seq == 12
    wrong = await broker.subscribe(CHANNEL.name, since=StreamPosition(11, "not-it"))
    evicted = await broker.subscribe(CHANNEL.name, since=StreamPosition(1, pos.epoch))
    assert not wrong.recovered and not evicted.recovered
    assert wrong.position == pos
    await broker.publish(CHANNEL.name, final(12))
    assert (await wrong.get()).seq == 13


async def test_get_waits_for_the_next_publish(broker: Broker) -> None:
    sub = await broker.subscribe(CHANNEL.name)
    waiter = asyncio.create_task(sub.get())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    await broker.publish(CHANNEL.name, final(7))
    envelope = await asyncio.wait_for(waiter, 1)
    assert envelope.seq == 1


async def test_poll_takes_what_is_ready_without_waiting(broker: Broker) -> None:
    await broker.publish(CHANNEL.name, final(1))
    sub = await broker.subscribe(
        CHANNEL.name, StreamPosition(0, broker.position(CHANNEL.name).epoch)
    )
    assert sub.poll() is not None  # the replayed backlog
    assert sub.poll() is None
    await broker.publish(CHANNEL.name, final(2))
    envelope = sub.poll()
    assert envelope is not None and envelope.seq == 2
    sub.close()
    with pytest.raises(SubscriptionEnded):
        sub.poll()


async def test_a_listener_that_takes_everything_keeps_get_asleep(broker: Broker) -> None:
    sub = await broker.subscribe(CHANNEL.name)
    taken: list[int] = []
    keep = True

    def listener() -> bool:
        while (envelope := sub.poll()) is not None:
            taken.append(envelope.seq)
        return keep

    sub.set_listener(listener)
    waiter = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    await broker.publish(CHANNEL.name, final(1))
    await broker.publish(CHANNEL.name, final(2))
    await asyncio.sleep(0.01)
    assert taken == [1, 2] and not waiter.done()  # delivered in the publisher's call
    keep = False  # a listener that cannot send leaves the envelope to get()
    sub.set_listener(lambda: keep)
    await broker.publish(CHANNEL.name, final(3))
    assert (await asyncio.wait_for(waiter, 1)).seq == 3


async def test_close_channel_delivers_queued_then_ends(broker: Broker) -> None:
    sub = await broker.subscribe(CHANNEL.name)
    await broker.publish(CHANNEL.name, {**final(1), "is_end_of_stream": True})
    broker.close(CHANNEL.name)
    assert (await sub.get()).seq == 1
    with pytest.raises(SubscriptionEnded) as ended:
        await sub.get()
    assert ended.value.reason is EndReason.CHANNEL_CLOSED
    with pytest.raises(UnknownChannel):
        await broker.publish(CHANNEL.name, final(2))
    broker.register(CHANNEL)  # a fresh history: new epoch, seq from 1
    assert (await broker.publish(CHANNEL.name, final(3))).seq == 1


async def test_unsubscribe_stops_delivery(broker: Broker) -> None:
    sub = await broker.subscribe(CHANNEL.name)
    await broker.publish(CHANNEL.name, final(1))
    sub.close()
    sub.close()
    with pytest.raises(SubscriptionEnded) as ended:
        await sub.get()
    assert ended.value.reason is EndReason.UNSUBSCRIBED


async def test_register_keeps_an_open_channels_history(broker: Broker) -> None:
    before = await broker.publish(CHANNEL.name, final(1))
    broker.register(CHANNEL)
    assert broker.position(CHANNEL.name) == before.position


async def test_aclose_ends_publishing(broker: Broker) -> None:
    await broker.publish(CHANNEL.name, final(1))
    await broker.aclose()
    await broker.aclose()
    with pytest.raises(BusError):
        await broker.publish(CHANNEL.name, final(2))


def test_unknown_broker_name() -> None:
    with pytest.raises(ConfigError):
        create_broker("carrier-pigeon")
