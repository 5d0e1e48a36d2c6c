"""Fixtures for the web tests: services with a fake runtime, an ASGI client, a live server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from web_helpers import LiveServer, make_services, start_server, stop_server

from captioncast.web.app import create_app
from captioncast.web.services import Services


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    services = make_services(tmp_path)
    yield services
    await services.store.close()


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(create_app(services), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
async def live(services: Services) -> AsyncIterator[LiveServer]:
    server = await start_server(services)
    yield server
    await stop_server(server)
