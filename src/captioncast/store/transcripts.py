"""Transcripts: every final caption block of a flow, per language, kept as it is produced.

``SqliteTranscriptStore`` keeps them in the flows' SQLite file (its own table, created when
opened) through its own connection, in the same way as ``SqliteFlowStore``: one connection
guarded by a lock, each call in a worker thread. A cue is committed before ``append``
returns, so what viewers saw survives a crash or restart.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

from captioncast.core.exports import TranscriptCue, cue_from_response
from captioncast.core.messages import Response
from captioncast.store.connection import SqliteConnection
from captioncast.store.sqlite import DB_FILENAME

__all__ = ["SqliteTranscriptStore", "TranscriptCue", "TranscriptStore"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS transcript_cues (
    flow_id TEXT NOT NULL,
    language TEXT NOT NULL,
    response_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    service_type TEXT NOT NULL,
    start_time REAL NOT NULL,
    end_time REAL NOT NULL,
    start_pts REAL,
    start_epoch REAL NOT NULL,
    sei_timestamp REAL,
    text TEXT NOT NULL,
    lines TEXT NOT NULL,
    UNIQUE (flow_id, language, response_id)
);
CREATE INDEX IF NOT EXISTS transcript_cues_by_time
    ON transcript_cues (flow_id, language, start_time);
"""
COLUMNS = (
    "response_id, language, service_type, channel, start_time, end_time, start_pts,"
    " start_epoch, sei_timestamp, text, lines"
)
T = TypeVar("T")


class TranscriptStore(Protocol):
    """Persistent transcripts. ``append`` is on the caption path: one short write."""

    async def append(self, flow_id: str, channel: str, response: Response) -> None:
        """Keep one caption block, durably once this returns.

        Only final ``captions`` responses with text are kept; any other response is
        ignored. Idempotent: a response already kept (same flow, language and id) is not
        kept twice.
        """
        ...

    async def cues(self, flow_id: str, language: str) -> list[TranscriptCue]:
        """The flow's cues in ``language``, by start time (then in the order kept)."""
        ...

    async def languages(self, flow_id: str) -> list[str]:
        """The languages the flow has cues in, sorted."""
        ...

    async def last_end(self, flow_id: str) -> float | None:
        """The latest end time of any of the flow's cues, or None when it has none."""
        ...

    async def delete_flow(self, flow_id: str) -> int:
        """Forget every cue of the flow; returns how many there were."""
        ...

    async def close(self) -> None:
        """Release the store's resources."""
        ...


def _to_cue(row: tuple[object, ...]) -> TranscriptCue:
    rid, lang, service, channel, start, end, pts, epoch, sei, text, lines = row
    return TranscriptCue(
        id=str(rid),
        language=str(lang),
        service_type=str(service),
        channel=str(channel),
        start=float(str(start)),
        end=float(str(end)),
        start_pts=None if pts is None else float(str(pts)),
        start_epoch=float(str(epoch)),
        sei_timestamp=None if sei is None else float(str(sei)),
        text=str(text),
        lines=tuple(str(line) for line in json.loads(str(lines))),
    )


def _create_schema(db: sqlite3.Connection) -> None:
    db.executescript(SCHEMA)


class SqliteTranscriptStore:
    """``TranscriptStore`` on a SQLite file; its table is created when it is opened."""

    def __init__(self, path: Path) -> None:
        self._conn = SqliteConnection(path, "transcript store", _create_schema)
        self.path = path

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> SqliteTranscriptStore:
        """Open the store in ``data_dir``, in the same file as the flows."""
        return cls(data_dir / DB_FILENAME)

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._conn.run(fn)

    async def append(self, flow_id: str, channel: str, response: Response) -> None:
        """Keep one caption block (see ``TranscriptStore.append``)."""
        cue = cue_from_response(channel, response)
        if cue is None:
            return
        row = (
            flow_id,
            cue.id,
            cue.language,
            cue.service_type,
            cue.channel,
            cue.start,
            cue.end,
            cue.start_pts,
            cue.start_epoch,
            cue.sei_timestamp,
            cue.text,
            json.dumps(list(cue.lines), ensure_ascii=False),
        )
        # Autocommit: the INSERT is its own transaction, committed when execute returns.
        await self._run(
            lambda db: db.execute(
                f"INSERT OR IGNORE INTO transcript_cues (flow_id, {COLUMNS})"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                row,
            )
        )

    async def cues(self, flow_id: str, language: str) -> list[TranscriptCue]:
        """The flow's cues in ``language``, by start time (then in the order kept)."""

        def select(db: sqlite3.Connection) -> list[TranscriptCue]:
            rows = db.execute(
                f"SELECT {COLUMNS} FROM transcript_cues WHERE flow_id = ? AND language = ?"
                " ORDER BY start_time, rowid",
                (flow_id, language),
            ).fetchall()
            return [_to_cue(row) for row in rows]

        return await self._run(select)

    async def languages(self, flow_id: str) -> list[str]:
        """The languages the flow has cues in, sorted."""

        def select(db: sqlite3.Connection) -> list[str]:
            rows = db.execute(
                "SELECT DISTINCT language FROM transcript_cues WHERE flow_id = ? ORDER BY language",
                (flow_id,),
            ).fetchall()
            return [str(row[0]) for row in rows]

        return await self._run(select)

    async def last_end(self, flow_id: str) -> float | None:
        """The latest end time of any of the flow's cues, or None when it has none."""

        def select(db: sqlite3.Connection) -> float | None:
            row = db.execute(
                "SELECT MAX(end_time) FROM transcript_cues WHERE flow_id = ?", (flow_id,)
            ).fetchone()
            return None if row is None or row[0] is None else float(row[0])

        return await self._run(select)

    async def delete_flow(self, flow_id: str) -> int:
        """Forget every cue of the flow; returns how many there were."""

        def delete(db: sqlite3.Connection) -> int:
            return db.execute("DELETE FROM transcript_cues WHERE flow_id = ?", (flow_id,)).rowcount

        return await self._run(delete)

    async def close(self) -> None:
        """Close the database connection (closing twice is harmless)."""
        await self._conn.close()
