from __future__ import annotations

import json

import pytest

from captioncast.core.replay import ReplayLog, StreamPosition, is_partial_response


def transcript(text: str, final: bool) -> dict[str, object]:
    return {"type": "transcript", "is_final": final, "alternatives": [{"transcript": text}]}


def test_append_assigns_seq_and_serializes_the_envelope_once() -> None:
    log = ReplayLog("demo-en-en", capacity=10, epoch="c0ffee12")
    first = log.append(transcript("hello", False))
    second = log.append({"type": "captions", "is_final": True, "text": "grüße"})
    assert (first.seq, second.seq) == (1, 2)
    assert json.loads(first.text) == {
        "seq": 1,
        "epoch": "c0ffee12",
        "channel": "demo-en-en",
        "response": transcript("hello", False),
    }
    assert first.is_partial and not second.is_partial
    assert "grüße" in second.text  # UTF-8 kept, not \u-escaped
    assert second.data == second.text.encode()
    assert log.position == StreamPosition(2, "c0ffee12")


def test_since_returns_missed_messages_in_order() -> None:
    log = ReplayLog("c", capacity=10)
    envs = [log.append({"type": "captions", "n": i}) for i in range(5)]
    assert log.since(2, log.epoch) == envs[2:]
    assert log.since(5, log.epoch) == []
    assert log.since(0, log.epoch) == envs


def test_since_cannot_recover_other_epoch_future_or_evicted() -> None:
    log = ReplayLog("c", capacity=3)
    for i in range(5):
        log.append({"type": "captions", "n": i})
    assert len(log) == 3  # bounded: seqs 3, 4, 5 remain
    assert log.since(1, "other") is None
    assert log.since(6, log.epoch) is None
    assert log.since(-1, log.epoch) is None
    assert log.since(1, log.epoch) is None  # seq 2 is gone
    recovered = log.since(2, log.epoch)
    assert recovered is not None and [e.seq for e in recovered] == [3, 4, 5]


def test_new_logs_get_different_epochs_and_reset_changes_it() -> None:
    a, b = ReplayLog("c"), ReplayLog("c")
    assert a.epoch != b.epoch
    a.append({"type": "captions"})
    old = a.epoch
    a.reset()
    assert a.epoch != old
    assert a.position.seq == 0 and len(a) == 0
    assert a.since(1, old) is None
    assert a.append({"type": "captions"}).seq == 1


def test_unserializable_response_does_not_consume_a_seq() -> None:
    log = ReplayLog("c")
    with pytest.raises(ValueError):
        log.append({"type": "captions", "start": float("nan")})
    with pytest.raises(ValueError):
        log.append({"type": "captions", "start": object()})
    assert log.append({"type": "captions"}).seq == 1


def test_is_partial_response() -> None:
    assert is_partial_response(transcript("x", False))
    assert not is_partial_response(transcript("x", True))
    assert not is_partial_response({"type": "captions", "is_final": True})
    assert not ReplayLog("c").append({"type": "captions", "is_final": False}).is_partial


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ReplayLog("c", capacity=0)
