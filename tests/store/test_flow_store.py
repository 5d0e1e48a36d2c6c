from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from captioncast.errors import NotFound
from captioncast.store.base import (
    CaptionLayout,
    FlowSpec,
    FlowStatus,
    InvalidFlow,
    InvalidTransition,
    NoFreePort,
    StreamNameTaken,
    can_transition,
)
from captioncast.store.sqlite import SqliteFlowStore


@pytest.fixture
async def store(tmp_path: Path) -> SqliteFlowStore:
    return SqliteFlowStore.in_data_dir(tmp_path / "data")


def spec(name: str = "demo", **kw: object) -> FlowSpec:
    fields: dict[str, object] = {"target_languages": ("de",), **kw}
    return FlowSpec(name=name, source_language="en", **fields)  # type: ignore[arg-type]


async def test_create_and_get(store: SqliteFlowStore) -> None:
    flow = await store.create(spec(max_latency=3.5, caption=CaptionLayout(30, 1), model="tiny"))
    assert re.fullmatch(r"[0-9a-f]{32}", flow.flow_id)
    assert flow.status is FlowStatus.CREATED and flow.error is None
    assert flow.stream_name == "demo"
    assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", flow.stream_key)
    got = await store.get(flow.flow_id)
    assert got == flow
    assert await store.get_by_stream_key(flow.stream_key) == flow
    assert await store.get_by_stream_name("DEMO") == flow
    assert await store.get_by_stream_key("nope") is None
    with pytest.raises(NotFound):
        await store.get("nope")


async def test_stream_keys_differ(store: SqliteFlowStore) -> None:
    a, b = await store.create(spec("a")), await store.create(spec("b"))
    assert a.stream_key != b.stream_key


async def test_stream_name_unique_case_insensitively_until_deleted(store: SqliteFlowStore) -> None:
    first = await store.create(spec("demo"))
    with pytest.raises(StreamNameTaken):
        await store.create(spec("Demo"))
    await store.delete(first.flow_id)
    again = await store.create(spec("demo"))
    assert [f.flow_id for f in await store.list()] == [again.flow_id]
    with pytest.raises(NotFound):
        await store.get(first.flow_id)
    with pytest.raises(NotFound):
        await store.delete(first.flow_id)


async def test_status_transitions_are_checked(store: SqliteFlowStore) -> None:
    flow = await store.create(spec())
    with pytest.raises(InvalidTransition) as bad:
        await store.update_status(flow.flow_id, FlowStatus.LIVE)
    assert bad.value.current is FlowStatus.CREATED
    for status in (FlowStatus.STARTING, FlowStatus.LIVE, FlowStatus.STOPPING, FlowStatus.ENDED):
        flow = await store.update_status(flow.flow_id, status)
        assert flow.status is status
    flow = await store.update_status(flow.flow_id, FlowStatus.STARTING)
    flow = await store.update_status(flow.flow_id, FlowStatus.ERROR, "publisher sent garbage")
    assert (await store.get(flow.flow_id)).error == "publisher sent garbage"
    flow = await store.update_status(flow.flow_id, FlowStatus.STARTING, "ignored")
    assert flow.error is None and flow.updated_at >= flow.created_at
    with pytest.raises(NotFound):
        await store.update_status("nope", FlowStatus.STARTING)


async def test_flows_survive_a_restart(tmp_path: Path) -> None:
    first = SqliteFlowStore.in_data_dir(tmp_path)
    flow = await first.create(spec(target_languages=("es-419", "de")))
    await first.update_status(flow.flow_id, FlowStatus.STARTING)
    await first.close()
    second = SqliteFlowStore.in_data_dir(tmp_path)
    got = await second.get(flow.flow_id)
    assert got.status is FlowStatus.STARTING
    assert got.target_languages == ("es-419", "de")
    assert got.created_at == flow.created_at and got.caption == flow.caption
    await second.close()


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"name": "has-hyphen"}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"source": "url_pull"}, "needs a url"),
        ({"source": "srt_push", "url": "srt://h:1"}, "only for url_pull"),
        ({"source": "carrier"}, "source must be"),
        ({"source_language": "EN"}, "language"),
        ({"target_languages": ("en",)}, "distinct"),
        ({"target_languages": ("de", "de")}, "distinct"),
        ({"max_latency": 0.5}, "max_latency"),
        ({"max_latency": float("nan")}, "max_latency"),
        ({"caption": CaptionLayout(9, 2)}, "max_chars_per_line"),
        ({"caption": CaptionLayout(37, 5)}, "max_lines"),
    ],
)
def test_spec_rules(changes: dict[str, object], fragment: str) -> None:
    fields: dict[str, object] = {"name": "demo", "source_language": "en"}
    fields.update(changes)
    with pytest.raises(InvalidFlow, match=fragment):
        FlowSpec(**fields)  # type: ignore[arg-type]


def test_transition_table() -> None:
    assert can_transition(FlowStatus.LIVE, FlowStatus.STOPPING)
    assert not can_transition(FlowStatus.CREATED, FlowStatus.STOPPING)
    assert not can_transition(FlowStatus.ENDED, FlowStatus.STOPPING)
    assert can_transition(FlowStatus.ERROR, FlowStatus.STARTING)


async def test_srt_ports_are_allocated_from_the_range_and_freed(tmp_path: Path) -> None:
    store = SqliteFlowStore(tmp_path / "flows.db", srt_ports=range(20000, 20002))
    a = await store.create(FlowSpec("a", "en", source="srt_push"))
    b = await store.create(FlowSpec("b", "en", source="srt_push"))
    plain = await store.create(FlowSpec("c", "en"))
    assert (a.srt_port, b.srt_port, plain.srt_port) == (20000, 20001, None)
    with pytest.raises(NoFreePort):
        await store.create(FlowSpec("d", "en", source="srt_push"))
    await store.delete(a.flow_id)
    d = await store.create(FlowSpec("d", "en", source="srt_push"))
    assert d.srt_port == 20000 and (await store.get(d.flow_id)).srt_port == 20000
    await store.close()


async def test_a_version_1_file_gains_the_srt_port_column(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(V1_SCHEMA)
    db.execute(
        "INSERT INTO flows VALUES ('f1','old','rtmp_push',NULL,'en','[]',5,37,2,NULL,'key',"
        "'ended',NULL,'2026-01-01T00:00:00+00:00','2026-01-01T00:00:00+00:00',NULL)"
    )
    db.commit()
    db.close()
    store = SqliteFlowStore(path)
    old = await store.get("f1")
    assert old.name == "old" and old.srt_port is None
    new = await store.create(FlowSpec("new", "en", source="srt_push"))
    assert new.srt_port == 10000
    await store.close()


V1_SCHEMA = """
CREATE TABLE flows (
    flow_id TEXT PRIMARY KEY, name TEXT NOT NULL, source TEXT NOT NULL, url TEXT,
    source_language TEXT NOT NULL, target_languages TEXT NOT NULL, max_latency REAL NOT NULL,
    max_chars_per_line INTEGER NOT NULL, max_lines INTEGER NOT NULL, model TEXT,
    stream_key TEXT NOT NULL UNIQUE, status TEXT NOT NULL, error TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT
);
"""
