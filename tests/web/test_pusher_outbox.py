"""A Pusher connection's bounded frame queue: latest-wins partials, a limit on the rest."""

from __future__ import annotations

import pytest

from captioncast.web.pusher.outbox import Outbox


def drain(outbox: Outbox) -> list[str]:
    out = []
    while (text := outbox.pop()) is not None:
        out.append(text)
    return out


def test_frames_come_out_in_order() -> None:
    outbox = Outbox(10)
    for text in ("a", "b", "c"):
        assert outbox.put(text)
    assert len(outbox) == 3
    assert drain(outbox) == ["a", "b", "c"]
    assert outbox.pop() is None


def test_a_newer_partial_replaces_the_waiting_one_of_its_channel() -> None:
    outbox = Outbox(10)
    outbox.put("p1", partial="ch1")
    outbox.put("final")
    outbox.put("q1", partial="ch2")
    outbox.put("p2", partial="ch1")
    assert drain(outbox) == ["final", "q1", "p2"]


def test_a_sent_partial_is_not_replaced() -> None:
    outbox = Outbox(10)
    outbox.put("p1", partial="ch")
    assert outbox.pop() == "p1"
    outbox.put("p2", partial="ch")
    outbox.put("p3", partial="ch")
    assert drain(outbox) == ["p3"]


def test_the_limit_counts_everything_but_partials() -> None:
    outbox = Outbox(2)
    assert outbox.put("a") and outbox.put("b")
    assert outbox.put("p", partial="ch")  # partials never overflow: one per channel
    assert not outbox.put("c")
    assert outbox.pop() == "a"
    assert outbox.put("c")
    outbox.clear()
    assert len(outbox) == 0 and outbox.put("x", partial="ch")


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Outbox(0)
