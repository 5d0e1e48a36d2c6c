"""Helpers for the web tests: services with a fake runtime, a live uvicorn server."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from captioncast.auth.apikey import ApiKey
from captioncast.auth.tokens import TokenAuthority
from captioncast.bus.memory import MemoryBroker
from captioncast.core.channels import ChannelRegistry
from captioncast.store.base import FlowRecord
from captioncast.store.sqlite import SqliteFlowStore
from captioncast.store.transcripts import SqliteTranscriptStore
from captioncast.web.app import create_app
from captioncast.web.services import Services, WebSettings

API_KEY = "test-api-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


class FakeRuntime:
    """Records start/stop calls; ``fail_start`` makes start raise."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.stopped: list[str] = []
        self.fail_start = False

    async def start(self, flow: FlowRecord) -> None:
        if self.fail_start:
            raise RuntimeError("no ingest today")
        self.started.append(flow.flow_id)

    async def stop(self, flow: FlowRecord) -> None:
        self.stopped.append(flow.flow_id)

    def rtmp_url(self, flow: FlowRecord) -> str:
        return "rtmp://127.0.0.1:1935/live"

    def srt_host(self) -> str:
        return "127.0.0.1"

    def ingest_state(self, flow_id: str) -> dict[str, object] | None:
        return None


def make_services(
    data_dir: Path, settings: WebSettings | None = None, broker: MemoryBroker | None = None
) -> Services:
    return Services(
        store=SqliteFlowStore.in_data_dir(data_dir),
        broker=broker or MemoryBroker(),
        channels=ChannelRegistry(),
        tokens=TokenAuthority.generate(),
        api_key=ApiKey(API_KEY, "env"),
        runtime=FakeRuntime(),
        transcripts=SqliteTranscriptStore.in_data_dir(data_dir),
        settings=settings or WebSettings(),
    )


@dataclass
class LiveServer:
    services: Services
    port: int
    server: uvicorn.Server
    task: asyncio.Task[None]

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/ws"


async def start_server(services: Services) -> LiveServer:
    config = uvicorn.Config(
        create_app(services),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        ws="websockets-sansio",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]  # keep pytest's
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return LiveServer(services, port, server, task)


async def stop_server(live: LiveServer) -> None:
    live.server.should_exit = True
    async with asyncio.timeout(10):
        await live.task
