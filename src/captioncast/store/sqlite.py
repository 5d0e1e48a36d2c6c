"""Flows in a SQLite file (the default store), through the standard library's sqlite3.

One connection guarded by a lock; each call runs in a worker thread (``asyncio.to_thread``)
so a slow disk never stalls the event loop. Deleting a flow marks it deleted, which frees
its stream name (a partial unique index covers only flows not deleted).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from captioncast.core.layout import CaptionLayout
from captioncast.errors import NotFound
from captioncast.store.base import (
    FlowRecord,
    FlowSpec,
    FlowStatus,
    InvalidTransition,
    NoFreePort,
    StreamNameTaken,
    can_transition,
    utcnow,
)
from captioncast.store.connection import SqliteConnection

DB_FILENAME = "captioncast.sqlite3"
SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS flows (
    flow_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    url TEXT,
    source_language TEXT NOT NULL,
    target_languages TEXT NOT NULL,
    max_latency REAL NOT NULL,
    max_chars_per_line INTEGER NOT NULL,
    max_lines INTEGER NOT NULL,
    model TEXT,
    stream_key TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT,
    srt_port INTEGER
);
"""
INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS flows_live_stream_name
    ON flows (name COLLATE NOCASE) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS flows_live_srt_port
    ON flows (srt_port) WHERE deleted_at IS NULL AND srt_port IS NOT NULL;
"""
COLUMNS = (
    "flow_id, name, source, url, source_language, target_languages, max_latency,"
    " max_chars_per_line, max_lines, model, stream_key, status, error, created_at, updated_at,"
    " srt_port"
)
DEFAULT_SRT_PORTS = range(10000, 10100)
T = TypeVar("T")


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a file written by an older version up to this schema."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(flows)")}
    if "srt_port" not in columns:  # version 1
        db.execute("ALTER TABLE flows ADD COLUMN srt_port INTEGER")


def _create_schema(db: sqlite3.Connection) -> None:
    db.executescript(SCHEMA)
    _migrate(db)
    db.executescript(INDEXES)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def _free_port(db: sqlite3.Connection, ports: range) -> int:
    taken = {
        row[0]
        for row in db.execute(
            "SELECT srt_port FROM flows WHERE deleted_at IS NULL AND srt_port IS NOT NULL"
        )
    }
    for port in ports:
        if port not in taken:
            return port
    raise NoFreePort(f"every SRT port from {ports.start} to {ports.stop - 1} is in use")


def _to_record(row: tuple[object, ...]) -> FlowRecord:
    (
        flow_id,
        name,
        source,
        url,
        src,
        targets,
        latency,
        chars,
        lines,
        model,
        key,
        status,
        error,
        created,
        updated,
        srt_port,
    ) = row
    return FlowRecord(
        flow_id=str(flow_id),
        name=str(name),
        source=str(source),
        url=None if url is None else str(url),
        source_language=str(src),
        target_languages=tuple(json.loads(str(targets))),
        max_latency=float(str(latency)),
        caption=CaptionLayout(int(str(chars)), int(str(lines))),
        model=None if model is None else str(model),
        stream_key=str(key),
        status=FlowStatus(str(status)),
        error=None if error is None else str(error),
        created_at=datetime.fromisoformat(str(created)),
        updated_at=datetime.fromisoformat(str(updated)),
        srt_port=None if srt_port is None else int(str(srt_port)),
    )


class SqliteFlowStore:
    """``FlowStore`` on a SQLite file; the schema is created when it is opened."""

    def __init__(self, path: Path, srt_ports: range = DEFAULT_SRT_PORTS) -> None:
        self.path = path
        self.srt_ports = srt_ports
        self._conn = SqliteConnection(
            path, "flow store", _create_schema, passthrough=(sqlite3.IntegrityError,)
        )

    @classmethod
    def in_data_dir(cls, data_dir: Path, srt_ports: range = DEFAULT_SRT_PORTS) -> SqliteFlowStore:
        """Open (or create) the store file in ``data_dir``."""
        return cls(data_dir / DB_FILENAME, srt_ports)

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._conn.run(fn)

    async def create(self, spec: FlowSpec) -> FlowRecord:
        """Store a new flow. Raises StreamNameTaken, NoFreePort."""

        def insert(db: sqlite3.Connection) -> FlowRecord:
            # The port is chosen and taken under the store's lock: no other create can race.
            port = _free_port(db, self.srt_ports) if spec.source == "srt_push" else None
            record = FlowRecord.new(spec, srt_port=port)
            db.execute(
                f"INSERT INTO flows ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    record.flow_id,
                    record.name,
                    record.source,
                    record.url,
                    record.source_language,
                    json.dumps(list(record.target_languages)),
                    record.max_latency,
                    record.caption.max_chars_per_line,
                    record.caption.max_lines,
                    record.model,
                    record.stream_key,
                    record.status.value,
                    record.error,
                    record.created_at.isoformat(),
                    record.updated_at.isoformat(),
                    record.srt_port,
                ),
            )
            return record

        try:
            record = await self._run(insert)
        except sqlite3.IntegrityError as exc:
            raise StreamNameTaken(f"stream name {spec.name!r} is already in use") from exc
        return record

    async def _one(self, where: str, arg: str) -> FlowRecord | None:
        def select(db: sqlite3.Connection) -> FlowRecord | None:
            row = db.execute(
                f"SELECT {COLUMNS} FROM flows WHERE {where} AND deleted_at IS NULL", (arg,)
            ).fetchone()
            return None if row is None else _to_record(row)

        return await self._run(select)

    async def get(self, flow_id: str) -> FlowRecord:
        """The flow with ``flow_id``. Raises NotFound."""
        record = await self._one("flow_id = ?", flow_id)
        if record is None:
            raise NotFound(f"no flow {flow_id!r}")
        return record

    async def get_by_stream_key(self, stream_key: str) -> FlowRecord | None:
        """The flow a publisher's key belongs to, or None."""
        return await self._one("stream_key = ?", stream_key)

    async def get_by_stream_name(self, stream_name: str) -> FlowRecord | None:
        """The flow with this stream name (case-insensitive), or None."""
        return await self._one("name = ? COLLATE NOCASE", stream_name)

    async def list(self) -> list[FlowRecord]:
        """Every flow not deleted, oldest first."""

        def select(db: sqlite3.Connection) -> list[FlowRecord]:
            rows = db.execute(
                f"SELECT {COLUMNS} FROM flows WHERE deleted_at IS NULL ORDER BY rowid"
            ).fetchall()
            return [_to_record(row) for row in rows]

        return await self._run(select)

    async def update_status(
        self, flow_id: str, status: FlowStatus, error: str | None = None
    ) -> FlowRecord:
        """Move a flow to ``status``. Raises NotFound, InvalidTransition."""

        def update(db: sqlite3.Connection) -> FlowRecord:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(
                    f"SELECT {COLUMNS} FROM flows WHERE flow_id = ? AND deleted_at IS NULL",
                    (flow_id,),
                ).fetchone()
                if row is None:
                    raise NotFound(f"no flow {flow_id!r}")
                current = _to_record(row)
                if not can_transition(current.status, status):
                    raise InvalidTransition(current.status, status)
                kept_error = error if status is FlowStatus.ERROR else None
                now = utcnow()
                db.execute(
                    "UPDATE flows SET status = ?, error = ?, updated_at = ? WHERE flow_id = ?",
                    (status.value, kept_error, now.isoformat(), flow_id),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return replace(current, status=status, error=kept_error, updated_at=now)

        return await self._run(update)

    async def delete(self, flow_id: str) -> None:
        """Mark a flow deleted. Raises NotFound."""

        def mark(db: sqlite3.Connection) -> int:
            cursor = db.execute(
                "UPDATE flows SET deleted_at = ? WHERE flow_id = ? AND deleted_at IS NULL",
                (utcnow().isoformat(), flow_id),
            )
            return cursor.rowcount

        if await self._run(mark) == 0:
            raise NotFound(f"no flow {flow_id!r}")

    async def close(self) -> None:
        """Close the database connection."""
        await self._conn.close()
