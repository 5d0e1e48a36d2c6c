"""``/app/{key}`` end to end: the websockets client speaking the Pusher protocol to uvicorn."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from pusher_helpers import APP, add_flow, caption, data_of, sdk, serve_pusher
from web_helpers import LiveServer, make_services, start_server, stop_server
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from captioncast.web.pusher import PusherApp
from captioncast.web.services import WebSettings

pytestmark = pytest.mark.timeout(60)
WAIT = 5.0
QUERY = "protocol=7&client=js&version=8.6.0"


@asynccontextmanager
async def pusher_server(
    tmp_path: Path, app: PusherApp = APP, settings: WebSettings | None = None
) -> AsyncIterator[LiveServer]:
    services = make_services(tmp_path, settings)
    serve_pusher(services, app)
    await add_flow(services)
    await add_flow(services, "other", ())
    live = await start_server(services)
    try:
        yield live
    finally:
        await stop_server(live)
        await services.store.close()


@pytest.fixture
async def plive(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with pusher_server(tmp_path) as live:
        yield live


def url(live: LiveServer, key: str = APP.key, query: str = QUERY) -> str:
    return f"ws://127.0.0.1:{live.port}/app/{key}?{query}"


async def recv(ws: ClientConnection) -> dict[str, Any]:
    frame = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
    assert isinstance(frame, dict)
    return frame


async def established(ws: ClientConnection) -> str:
    frame = await recv(ws)
    assert frame["event"] == "pusher:connection_established"
    socket_id: str = data_of(frame)["socket_id"]
    return socket_id


async def close_of(ws: ClientConnection) -> tuple[int | None, list[dict[str, Any]]]:
    """Read until the server closes: the close code and the frames before it."""
    frames = []
    try:
        async with asyncio.timeout(WAIT):
            while True:
                frames.append(json.loads(await ws.recv()))
    except ConnectionClosed:
        pass
    return ws.close_code, frames


def token(live: LiveServer, ttl: int = 600) -> str:
    return live.services.tokens.mint(["demo"], ttl).token


async def subscribe(
    live: LiveServer, ws: ClientConnection, socket_id: str, channel: str, ttl: int = 600
) -> dict[str, Any]:
    """Authorize at ``/pusher/auth`` as pusher-js does, subscribe; the server's answer."""
    data: dict[str, Any] = {"channel": channel}
    if channel.startswith(("private-", "presence-")):
        async with httpx.AsyncClient(base_url=live.http_url) as http:
            response = await http.post(
                "/pusher/auth",
                data={"socket_id": socket_id, "channel_name": channel},
                headers={"Authorization": f"Bearer {token(live, ttl)}"},
            )
        assert response.status_code == 200, response.text
        data.update(response.json())
    await ws.send(json.dumps({"event": "pusher:subscribe", "data": data}))
    return await recv(ws)


@asynccontextmanager
async def subscribed(live: LiveServer, channel: str) -> AsyncIterator[tuple[ClientConnection, str]]:
    async with connect(url(live)) as ws:
        socket_id = await established(ws)
        reply = await subscribe(live, ws, socket_id, channel)
        assert reply["event"] == "pusher_internal:subscription_succeeded", reply
        yield ws, socket_id


async def test_captions_arrive_as_caption_and_transcript_events(plive: LiveServer) -> None:
    async with subscribed(plive, "private-demo-en-de") as (ws, _):
        final = await plive.services.broker.publish("demo-en-de", caption(1))
        frame = await recv(ws)
        assert frame == {"event": "caption", "channel": "private-demo-en-de", "data": final.text}
        partial = await plive.services.broker.publish("demo-en-de", caption(2, final=False))
        frame = await recv(ws)
        assert (frame["event"], frame["data"]) == ("transcript", partial.text)
        envelope = data_of(frame)
        assert envelope["seq"] == 2 and envelope["response"]["n"] == 2


async def test_each_caption_is_encoded_once_for_all_subscribers(plive: LiveServer) -> None:
    gateway = plive.services.pusher
    assert gateway is not None
    calls = []
    event = gateway.directory.event

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        return event(*args, **kwargs)

    gateway.directory.event = counting  # type: ignore[method-assign]
    async with (
        subscribed(plive, "private-demo-en-en") as (a, _),
        subscribed(plive, "private-demo-en-en") as (b, _),
        subscribed(plive, "private-demo-en-en") as (c, _),
    ):
        assert plive.services.broker.subscriber_count("demo-en-en") == 1  # one relay
        await plive.services.broker.publish("demo-en-en", caption(1))
        texts = {json.dumps(await recv(ws)) for ws in (a, b, c)}
        assert len(texts) == 1
        assert calls == ["private-demo-en-en"]
    for _ in range(500):  # the relay stops with the last subscriber
        if not plive.services.broker.subscriber_count("demo-en-en"):
            break
        await asyncio.sleep(0.01)
    assert plive.services.broker.subscriber_count("demo-en-en") == 0


@pytest.mark.parametrize(
    ("key", "query", "code"),
    [("wrong", QUERY, 4001), (APP.key, "client=js", 4008), (APP.key, "protocol=5", 4007)],
)
async def test_refused_connections_get_an_error_then_its_close_code(
    plive: LiveServer, key: str, query: str, code: int
) -> None:
    async with connect(url(plive, key, query)) as ws:
        close_code, frames = await close_of(ws)
    assert close_code == code
    assert [f["event"] for f in frames] == ["pusher:error"]
    assert frames[0]["data"]["code"] == code


async def test_public_caption_channels_are_refused_unless_allowed(
    plive: LiveServer, tmp_path: Path
) -> None:
    async with connect(url(plive)) as ws:
        socket_id = await established(ws)
        reply = await subscribe(plive, ws, socket_id, "demo-en-en")
        assert reply["event"] == "pusher:subscription_error"
        assert data_of(reply)["status"] == 403
    app = replace(APP, allow_public_channels=True)
    async with (
        pusher_server(tmp_path / "open", app) as live,
        subscribed(live, "demo-en-en") as (
            ws,
            _,
        ),
    ):
        envelope = await live.services.broker.publish("demo-en-en", caption(1))
        assert (await recv(ws))["data"] == envelope.text


async def test_a_forged_subscription_is_refused_401(plive: LiveServer) -> None:
    async with connect(url(plive)) as ws:
        await established(ws)
        forged = {"channel": "private-demo-en-en", "auth": f"{APP.key}:{'0' * 64}"}
        await ws.send(json.dumps({"event": "pusher:subscribe", "data": forged}))
        reply = await recv(ws)
    assert reply["event"] == "pusher:subscription_error"
    assert data_of(reply) == {"type": "AuthError", "error": "Invalid signature", "status": 401}


async def test_http_api_events_reach_pusher_subscribers_only(plive: LiveServer) -> None:
    native_token = token(plive)
    async with (
        subscribed(plive, "private-demo-en-en") as (ws, _),
        subscribed(plive, "private-demo-en-en") as (excluded, excluded_id),
        connect(f"{plive.ws_url}?token={native_token}") as native,
    ):
        assert json.loads(await native.recv())["type"] == "authenticated"
        await native.send(json.dumps({"type": "subscribe", "channel": "demo-en-en"}))
        assert json.loads(await native.recv())["type"] == "subscribed"
        client = sdk(plive.port)
        await asyncio.to_thread(
            client.trigger, "private-demo-en-en", "note", {"text": "hi"}, excluded_id
        )
        frame = await recv(ws)
        assert frame["event"] == "note" and data_of(frame) == {"text": "hi"}
        envelope = await plive.services.broker.publish("demo-en-en", caption(9))
        assert (await recv(excluded))["data"] == envelope.text  # the note was not for it
        assert json.loads(await native.recv())["seq"] == envelope.seq == 1


async def test_client_events_reach_the_others(plive: LiveServer) -> None:
    async with (
        subscribed(plive, "private-demo-en-en") as (sender, _),
        subscribed(plive, "private-demo-en-en") as (receiver, _),
    ):
        event = {"event": "client-typing", "channel": "private-demo-en-en", "data": {"n": 1}}
        await sender.send(json.dumps(event))
        assert await recv(receiver) == event
        await sender.send(json.dumps({**event, "channel": "news"}))
        error = await recv(sender)
        assert error["event"] == "pusher:error" and error["data"]["code"] == 4300


async def test_presence_members_and_counts(plive: LiveServer) -> None:
    client = sdk(plive.port)
    async with subscribed(plive, "presence-demo-en-en") as (ann, _):
        async with connect(url(plive)) as bob:
            bob_id = await established(bob)
            # another viewer: another token (the same token would be the same member)
            reply = await subscribe(plive, bob, bob_id, "presence-demo-en-en", ttl=601)
            assert data_of(reply)["presence"]["count"] == 2
            added = await recv(ann)
            assert added["event"] == "pusher_internal:member_added"
            info = await asyncio.to_thread(
                client.channel_info, "presence-demo-en-en", ["user_count"]
            )
            assert info == {"occupied": True, "user_count": 2}
        removed = await recv(ann)
        assert removed["event"] == "pusher_internal:member_removed"
        assert data_of(removed)["user_id"] == data_of(added)["user_id"]
        users = await asyncio.to_thread(client.users_info, "presence-demo-en-en")
        assert len(users["users"]) == 1


async def test_silent_clients_are_pinged_and_closed_4201(tmp_path: Path) -> None:
    app = replace(APP, activity_timeout=1, pong_timeout=0.5)
    async with pusher_server(tmp_path, app) as live:
        async with connect(url(live)) as alive, connect(url(live)) as silent:
            assert data_of(await recv(alive))["activity_timeout"] == 1
            await established(silent)
            ping = await recv(alive)
            assert ping == {"event": "pusher:ping", "data": "{}"}
            await alive.send('{"event":"pusher:pong","data":{}}')
            code, frames = await close_of(silent)
            assert code == 4201
            assert [f["event"] for f in frames] == ["pusher:ping", "pusher:error"]
            await alive.send('{"event":"pusher:ping","data":{}}')
            assert (await recv(alive))["event"] in ("pusher:pong", "pusher:ping")


async def test_close_all_with_4200_tells_clients_to_reconnect(plive: LiveServer) -> None:
    gateway = plive.services.pusher
    assert gateway is not None
    async with subscribed(plive, "private-demo-en-en") as (ws, _):
        await gateway.close_all(4200, "reconnect now")
        code, frames = await close_of(ws)
        assert code == 4200 and frames[-1]["data"]["code"] == 4200
    async with subscribed(plive, "private-demo-en-en") as (ws, _):
        await gateway.close_all()
        assert (await close_of(ws))[0] == 1001
    assert len(gateway) == 0


async def test_a_closed_caption_channel_is_announced(plive: LiveServer) -> None:
    async with subscribed(plive, "private-demo-en-en") as (ws, _):
        flow = await plive.services.store.get_by_stream_name("demo")
        assert flow is not None
        last = await plive.services.broker.publish("demo-en-en", caption(1))
        plive.services.close_channels(flow.flow_id)
        assert (await recv(ws))["data"] == last.text  # what was queued comes first
        frame = await recv(ws)
        assert frame["event"] == "channel_closed"
        assert data_of(frame) == {"channel": "demo-en-en", "reason": "channel_closed"}


async def test_a_client_that_stops_reading_is_closed_4100(tmp_path: Path) -> None:
    app = replace(APP, max_pending=4)
    async with pusher_server(tmp_path, app, WebSettings(ws_send_timeout=30)) as live:
        broker = live.services.broker
        async with connect(url(live), max_queue=1, max_size=None) as ws:
            socket_id = await established(ws)
            await subscribe(live, ws, socket_id, "private-demo-en-en")
            pad = secrets.token_urlsafe(65_536)  # incompressible: the server deflates frames
            gateway = live.services.pusher
            assert gateway is not None
            async with asyncio.timeout(20):
                n = 0
                while gateway.directory.subscription_count("private-demo-en-en"):
                    await broker.publish("demo-en-en", {**caption(n), "pad": pad})
                    n += 1
                    await asyncio.sleep(0.001)
            code, _ = await close_of(ws)
    assert code == 4100 and n > 4
