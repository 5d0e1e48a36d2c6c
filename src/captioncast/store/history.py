"""Channel history on disk: each channel's epoch, last seq and last final messages.

A broker that writes its finals here can continue every channel after a restart: the same
epoch, seq going on from the last one, and the finals a resuming viewer missed. Partial
transcripts are never stored (a later message supersedes them anyway).

``SqliteChannelHistory`` keeps three tables in ``history.sqlite3`` in the data directory, a
file of its own so that its frequent small transactions never wait for the flows' writes:

- ``history_channels``: one row per channel: ``flow_id``, ``epoch``, ``last_seq`` (the
  newest seq known to be published), ``floor`` (the newest seq whose final was trimmed
  away: a position below it cannot be recovered), ``kept`` (how many finals are stored),
  ``complete`` (0 once a final of this epoch was lost on the way to disk);
- ``history_finals``: ``(channel, seq)`` → the envelope's JSON text, exactly as sent;
- ``history_runs``: one row, ``clean``: whether the last run ended with ``end_run``.

A run is ``begin_run``, any number of ``write`` batches, then ``end_run`` at a graceful
shutdown. The epoch rule, applied by ``begin_run``: a stored channel comes back (its epoch
goes on) only if the previous run ended cleanly and the channel is complete. Every other
channel is forgotten, rows and finals, so the broker gives it a new epoch: after a crash
the newest finals a viewer saw may never have reached the disk, and handing out such a
history as complete (or numbering new messages with seqs already used) would break the
resume guarantee.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from captioncast.core.replay import StreamPosition
from captioncast.store.connection import SqliteConnection

HISTORY_FILENAME = "history.sqlite3"
SCHEMA = """
CREATE TABLE IF NOT EXISTS history_channels (
    channel TEXT PRIMARY KEY,
    flow_id TEXT NOT NULL,
    epoch TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    floor INTEGER NOT NULL,
    kept INTEGER NOT NULL,
    complete INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS history_finals (
    channel TEXT NOT NULL,
    seq INTEGER NOT NULL,
    envelope TEXT NOT NULL,
    PRIMARY KEY (channel, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history_runs (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    clean INTEGER NOT NULL
);
"""
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StoredChannel:
    """One channel as the last run left it; ``finals`` are ``(seq, envelope JSON)``,
    oldest first, at most the ``keep`` newest."""

    flow_id: str
    epoch: str
    last_seq: int
    floor: int
    finals: tuple[tuple[int, str], ...]


@dataclass(frozen=True, slots=True)
class OpenChannel:
    """A channel starts ``epoch``: whatever was stored for it is replaced."""

    channel: str
    flow_id: str
    epoch: str


@dataclass(frozen=True, slots=True)
class KeepFinal:
    """One final message; kept only while its channel is stored with the same epoch."""

    channel: str
    epoch: str
    seq: int
    text: str


@dataclass(frozen=True, slots=True)
class DropChannel:
    """The channel is gone (its flow was deleted): forget everything about it."""

    channel: str


HistoryOp = OpenChannel | KeepFinal | DropChannel


class ChannelHistoryStore(Protocol):
    """Durable channel history for a broker. One run at a time; see the module docstring."""

    async def begin_run(self, keep: int) -> dict[str, StoredChannel]:
        """Apply the epoch rule, mark a run as in progress and return the channels that
        continue, each with its ``keep`` newest finals."""
        ...

    async def write(self, ops: Sequence[HistoryOp], keep: int) -> None:
        """Apply ``ops`` in order in one transaction; then trim each channel written to its
        ``keep`` newest finals. Raises StoreError (nothing of the batch is applied then)."""
        ...

    async def end_run(
        self, positions: Mapping[str, StreamPosition], incomplete: Collection[str]
    ) -> None:
        """Record where each channel stands (its last seq, partials included), mark the
        ``incomplete`` channels so, and mark the run clean; one transaction.

        Call only when every final published in this run has been written."""
        ...

    async def close(self) -> None:
        """Release the store; a run not ended with ``end_run`` counts as a crash."""
        ...


def _transaction(db: sqlite3.Connection, body: Callable[[], T]) -> T:
    db.execute("BEGIN IMMEDIATE")
    try:
        result = body()
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return result


def _forget(db: sqlite3.Connection, channel: str) -> None:
    db.execute("DELETE FROM history_finals WHERE channel = ?", (channel,))
    db.execute("DELETE FROM history_channels WHERE channel = ?", (channel,))


def _load(db: sqlite3.Connection, row: tuple[object, ...], keep: int) -> StoredChannel:
    channel, flow_id, epoch, last_seq, floor = (str(v) for v in row[:5])
    newest = db.execute(
        "SELECT seq, envelope FROM history_finals WHERE channel = ? ORDER BY seq DESC LIMIT ?",
        (channel, keep + 1),
    ).fetchall()
    kept_floor = int(floor)
    if len(newest) > keep:  # more stored than this broker keeps (its size was lowered)
        kept_floor = max(kept_floor, int(newest.pop()[0]))
    finals = tuple((int(seq), str(text)) for seq, text in reversed(newest))
    return StoredChannel(flow_id, epoch, int(last_seq), kept_floor, finals)


def _apply(db: sqlite3.Connection, op: HistoryOp) -> str | None:
    """Apply one operation; the channel whose finals grew, if any."""
    if isinstance(op, KeepFinal):
        inserted = db.execute(
            "INSERT OR IGNORE INTO history_finals (channel, seq, envelope)"
            " SELECT ?, ?, ? WHERE EXISTS"
            " (SELECT 1 FROM history_channels WHERE channel = ? AND epoch = ?)",
            (op.channel, op.seq, op.text, op.channel, op.epoch),
        ).rowcount
        if not inserted:
            return None
        db.execute(
            "UPDATE history_channels SET last_seq = MAX(last_seq, ?), kept = kept + 1"
            " WHERE channel = ?",
            (op.seq, op.channel),
        )
        return op.channel
    _forget(db, op.channel)
    if isinstance(op, OpenChannel):
        db.execute(
            "INSERT INTO history_channels"
            " (channel, flow_id, epoch, last_seq, floor, kept, complete)"
            " VALUES (?, ?, ?, 0, 0, 0, 1)",
            (op.channel, op.flow_id, op.epoch),
        )
    return None


def _trim(db: sqlite3.Connection, channel: str, keep: int) -> None:
    """Delete the channel's oldest finals beyond ``keep``: walks only those, by the key."""
    row = db.execute("SELECT kept FROM history_channels WHERE channel = ?", (channel,)).fetchone()
    excess = 0 if row is None else int(row[0]) - keep
    if excess <= 0:
        return
    (newest_gone,) = db.execute(
        "SELECT MAX(seq) FROM"
        " (SELECT seq FROM history_finals WHERE channel = ? ORDER BY seq LIMIT ?)",
        (channel, excess),
    ).fetchone()
    deleted = db.execute(
        "DELETE FROM history_finals WHERE channel = ? AND seq <= ?", (channel, newest_gone)
    ).rowcount
    db.execute(
        "UPDATE history_channels SET kept = kept - ?, floor = MAX(floor, ?) WHERE channel = ?",
        (deleted, newest_gone, channel),
    )


def _create_schema(db: sqlite3.Connection) -> None:
    db.executescript(SCHEMA)


class SqliteChannelHistory:
    """``ChannelHistoryStore`` on a SQLite file, in the style of the other stores: one
    connection guarded by a lock, each call in a worker thread, WAL."""

    def __init__(self, path: Path) -> None:
        self._conn = SqliteConnection(path, "channel history", _create_schema)
        self.path = path

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> SqliteChannelHistory:
        """Open (or create) the history file in ``data_dir``."""
        return cls(data_dir / HISTORY_FILENAME)

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._conn.run(fn)

    async def begin_run(self, keep: int) -> dict[str, StoredChannel]:
        """See ``ChannelHistoryStore.begin_run``."""

        def begin(db: sqlite3.Connection) -> dict[str, StoredChannel]:
            run = db.execute("SELECT clean FROM history_runs WHERE id = 1").fetchone()
            previous_clean = run is None or bool(run[0])
            rows = db.execute(
                "SELECT channel, flow_id, epoch, last_seq, floor, complete FROM history_channels"
            ).fetchall()
            stored = {}
            for row in rows:
                if previous_clean and row[5]:
                    stored[str(row[0])] = _load(db, row, keep)
                else:
                    _forget(db, str(row[0]))
            db.execute("INSERT OR REPLACE INTO history_runs (id, clean) VALUES (1, 0)")
            return stored

        return await self._run(lambda db: _transaction(db, lambda: begin(db)))

    async def write(self, ops: Sequence[HistoryOp], keep: int) -> None:
        """See ``ChannelHistoryStore.write``."""

        def apply_all(db: sqlite3.Connection) -> None:
            grown = {channel for op in ops if (channel := _apply(db, op)) is not None}
            for channel in grown:
                _trim(db, channel, keep)

        await self._run(lambda db: _transaction(db, lambda: apply_all(db)))

    async def end_run(
        self, positions: Mapping[str, StreamPosition], incomplete: Collection[str]
    ) -> None:
        """See ``ChannelHistoryStore.end_run``."""

        def end(db: sqlite3.Connection) -> None:
            db.executemany(
                "UPDATE history_channels SET last_seq = MAX(last_seq, ?)"
                " WHERE channel = ? AND epoch = ?",
                [(p.seq, channel, p.epoch) for channel, p in positions.items()],
            )
            db.executemany(
                "UPDATE history_channels SET complete = 0 WHERE channel = ?",
                [(channel,) for channel in incomplete],
            )
            db.execute("UPDATE history_runs SET clean = 1 WHERE id = 1")

        await self._run(lambda db: _transaction(db, lambda: end(db)))

    async def close(self) -> None:
        """Close the database connection (closing twice is harmless)."""
        await self._conn.close()
