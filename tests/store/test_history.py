"""The SQLite channel history: runs, the epoch rule, trimming and deletion."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from captioncast.core.replay import StreamPosition
from captioncast.errors import StoreError
from captioncast.store.history import (
    HISTORY_FILENAME,
    DropChannel,
    KeepFinal,
    OpenChannel,
    SqliteChannelHistory,
    StoredChannel,
)

A, B = "demo-en-en", "demo-en-de"


def finals(channel: str, epoch: str, *seqs: int) -> list[KeepFinal]:
    return [KeepFinal(channel, epoch, seq, f'{{"seq":{seq}}}') for seq in seqs]


@pytest.fixture
async def history(tmp_path: Path) -> AsyncIterator[SqliteChannelHistory]:
    store = SqliteChannelHistory.in_data_dir(tmp_path)
    yield store
    await store.close()


async def reopen(
    store: SqliteChannelHistory, keep: int = 10
) -> tuple[SqliteChannelHistory, dict[str, StoredChannel]]:
    """Close ``store`` (its run ended or not) and begin the next run on the same file."""
    await store.close()
    again = SqliteChannelHistory(store.path)
    return again, await again.begin_run(keep)


async def test_a_clean_run_comes_back_with_epoch_position_and_finals(
    history: SqliteChannelHistory,
) -> None:
    assert history.path.name == HISTORY_FILENAME
    assert await history.begin_run(10) == {}
    await history.write([OpenChannel(A, "f1", "e1"), *finals(A, "e1", 1, 3)], keep=10)
    await history.write(finals(A, "e1", 4), keep=10)
    # seq 5 was a partial: never written, but the position at the end of the run has it
    await history.end_run({A: StreamPosition(5, "e1")}, incomplete=())
    again, stored = await reopen(history)
    try:
        kept = ((1, '{"seq":1}'), (3, '{"seq":3}'), (4, '{"seq":4}'))
        assert stored == {A: StoredChannel("f1", "e1", last_seq=5, floor=0, finals=kept)}
    finally:
        await again.close()


async def test_each_channel_keeps_only_its_newest_finals(history: SqliteChannelHistory) -> None:
    await history.begin_run(3)
    await history.write([OpenChannel(A, "f1", "e1"), OpenChannel(B, "f1", "e2")], keep=3)
    await history.write(finals(A, "e1", 1, 2, 4, 5), keep=3)
    await history.write([*finals(A, "e1", 7), *finals(B, "e2", 1)], keep=3)
    await history.end_run({A: StreamPosition(7, "e1"), B: StreamPosition(1, "e2")}, ())
    again, stored = await reopen(history, keep=3)
    try:
        a, b = stored[A], stored[B]
        assert [seq for seq, _ in a.finals] == [4, 5, 7]
        assert a.floor == 2  # the newest trimmed final: a position below it is lost
        assert [seq for seq, _ in b.finals] == [1] and b.floor == 0
        rows = sqlite3.connect(history.path).execute("SELECT COUNT(*) FROM history_finals")
        assert rows.fetchone()[0] == 4
    finally:
        await again.close()


async def test_a_smaller_history_loads_the_newest_and_raises_the_floor(
    history: SqliteChannelHistory,
) -> None:
    await history.begin_run(10)
    await history.write([OpenChannel(A, "f1", "e1"), *finals(A, "e1", 1, 2, 3, 4)], keep=10)
    await history.end_run({A: StreamPosition(4, "e1")}, ())
    again, stored = await reopen(history, keep=2)
    try:
        channel = stored[A]
        assert [seq for seq, _ in channel.finals] == [3, 4] and channel.floor == 2
    finally:
        await again.close()


async def test_a_run_that_did_not_end_forgets_every_channel(
    history: SqliteChannelHistory,
) -> None:
    await history.begin_run(10)
    await history.write([OpenChannel(A, "f1", "e1"), *finals(A, "e1", 1, 2)], keep=10)
    await history.end_run({A: StreamPosition(2, "e1")}, ())
    second, stored = await reopen(history)
    assert A in stored
    await second.write(finals(A, "e1", 3), keep=10)
    # the process dies here: no end_run; seq 4 may have reached viewers, never the disk
    third, stored = await reopen(second)
    try:
        assert stored == {}
        rows = sqlite3.connect(history.path).execute("SELECT COUNT(*) FROM history_finals")
        assert rows.fetchone()[0] == 0
    finally:
        await third.close()


async def test_an_incomplete_channel_is_forgotten_and_the_others_go_on(
    history: SqliteChannelHistory,
) -> None:
    await history.begin_run(10)
    ops = [OpenChannel(A, "f1", "e1"), OpenChannel(B, "f1", "e2")]
    await history.write([*ops, *finals(A, "e1", 1), *finals(B, "e2", 1)], keep=10)
    await history.end_run({B: StreamPosition(1, "e2")}, incomplete=[A])
    again, stored = await reopen(history)
    try:
        assert list(stored) == [B]
    finally:
        await again.close()


async def test_finals_of_another_epoch_or_an_unknown_channel_are_ignored(
    history: SqliteChannelHistory,
) -> None:
    await history.begin_run(10)
    await history.write([OpenChannel(A, "f1", "e1"), *finals(A, "e1", 1, 2)], keep=10)
    # a new epoch replaces the old one; late finals of the old one and of nobody are dropped
    await history.write([OpenChannel(A, "f2", "e9"), *finals(A, "e1", 3)], keep=10)
    await history.write([*finals(A, "e9", 1), *finals(B, "e2", 1)], keep=10)
    await history.end_run({A: StreamPosition(1, "e9"), B: StreamPosition(8, "e2")}, ())
    again, stored = await reopen(history)
    try:
        assert list(stored) == [A]
        assert (stored[A].flow_id, stored[A].epoch, stored[A].last_seq) == ("f2", "e9", 1)
        assert [seq for seq, _ in stored[A].finals] == [1]
    finally:
        await again.close()


async def test_dropping_a_channel_deletes_its_history(history: SqliteChannelHistory) -> None:
    await history.begin_run(10)
    await history.write([OpenChannel(A, "f1", "e1"), *finals(A, "e1", 1, 2)], keep=10)
    await history.write([DropChannel(A)], keep=10)
    await history.end_run({}, ())
    again, stored = await reopen(history)
    try:
        assert stored == {}
        rows = sqlite3.connect(history.path).execute("SELECT COUNT(*) FROM history_finals")
        assert rows.fetchone()[0] == 0
    finally:
        await again.close()


async def test_a_failed_batch_writes_nothing(history: SqliteChannelHistory) -> None:
    await history.begin_run(10)
    await history.write([OpenChannel(A, "f1", "e1")], keep=10)
    broken = KeepFinal(A, "e1", object(), "x")  # type: ignore[arg-type]  # cannot be bound
    with pytest.raises(StoreError):
        await history.write([*finals(A, "e1", 1), broken], keep=10)
    await history.end_run({A: StreamPosition(2, "e1")}, ())
    again, stored = await reopen(history)
    try:
        assert stored[A].finals == ()
    finally:
        await again.close()
