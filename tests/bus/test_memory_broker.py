from __future__ import annotations

import pytest

from captioncast.bus.memory import MemoryBroker
from captioncast.core.channels import ChannelInfo

CHANNEL = ChannelInfo("demo-en-de", "f1", "demo", "de", "translation")


async def test_ended_subscriptions_are_forgotten() -> None:
    broker = MemoryBroker(max_pending=1)
    broker.register(CHANNEL)
    slow = await broker.subscribe(CHANNEL.name)
    left = await broker.subscribe(CHANNEL.name)
    assert broker.subscriber_count(CHANNEL.name) == 2
    left.close()
    assert broker.subscriber_count(CHANNEL.name) == 1
    broker.publish_nowait(CHANNEL.name, {"type": "captions", "is_final": True})
    broker.publish_nowait(CHANNEL.name, {"type": "captions", "is_final": True})
    assert slow.ended is not None and slow.ended.value == "too_slow"
    assert broker.subscriber_count(CHANNEL.name) == 0
    assert broker.channels() == [CHANNEL.name]
    broker.close(CHANNEL.name)
    assert broker.channels() == [] and broker.subscriber_count(CHANNEL.name) == 0


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        MemoryBroker(max_pending=0)
