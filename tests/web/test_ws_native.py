"""``/v1/ws`` end to end: the real websockets client against a real uvicorn on loopback."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from web_helpers import LiveServer, make_services, start_server, stop_server
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from captioncast.auth.tokens import TokenAuthority
from captioncast.bus.memory import MemoryBroker
from captioncast.store.base import FlowSpec
from captioncast.web.services import Services, WebSettings

pytestmark = pytest.mark.timeout(60)
WAIT = 5.0


async def add_flow(
    services: Services, name: str = "demo", targets: tuple[str, ...] = ("de",)
) -> None:
    flow = await services.store.create(
        FlowSpec(name=name, source_language="en", target_languages=targets)
    )
    services.open_channels(flow)


def caption(n: int, final: bool = True, pad: str = "") -> dict[str, Any]:
    kind = "captions" if final else "transcript"
    return {"type": kind, "is_final": final, "n": n, "pad": pad}


async def recv(ws: ClientConnection) -> dict[str, Any]:
    message = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
    assert isinstance(message, dict)
    return message


async def close_of(ws: ClientConnection) -> tuple[int | None, str | None]:
    """Read until the server closes; the close code and reason."""
    try:
        async with asyncio.timeout(WAIT):
            while True:
                await ws.recv()
    except ConnectionClosed:
        pass
    return ws.close_code, ws.close_reason


async def subscribe(
    ws: ClientConnection, token: str, channel: str, since: dict[str, Any] | None = None
) -> dict[str, Any]:
    await ws.send(json.dumps({"type": "auth", "token": token}))
    assert (await recv(ws))["type"] == "authenticated"
    message: dict[str, Any] = {"type": "subscribe", "channel": channel}
    if since is not None:
        message["since"] = since
    await ws.send(json.dumps(message))
    reply = await recv(ws)
    assert reply["type"] == "subscribed" and reply["channel"] == channel
    return reply


@asynccontextmanager
async def server_with(
    tmp_path: Path, settings: WebSettings | None = None, broker: MemoryBroker | None = None
) -> AsyncIterator[LiveServer]:
    services = make_services(tmp_path, settings, broker)
    await add_flow(services)
    live = await start_server(services)
    try:
        yield live
    finally:
        await stop_server(live)
        await services.store.close()


@pytest.fixture
async def demo(live: LiveServer) -> LiveServer:
    await add_flow(live.services)
    await add_flow(live.services, "other", ())
    return live


def token(live: LiveServer, streams: list[str] | None = None, **kw: Any) -> str:
    return live.services.tokens.mint(streams or ["demo"], kw.pop("ttl", 600), **kw).token


async def test_publish_reaches_the_subscriber_as_the_exact_serialized_text(
    demo: LiveServer,
) -> None:
    async with connect(demo.ws_url) as ws:
        reply = await subscribe(ws, token(demo), "demo-en-en")
        assert reply["recovered"] is False
        assert reply["position"]["seq"] == 0
        envelope = await demo.services.broker.publish("demo-en-en", caption(1))
        frame = await asyncio.wait_for(ws.recv(), WAIT)
        assert frame == envelope.text
        assert json.loads(frame)["seq"] == 1


async def test_query_token_ping_and_several_channels(demo: LiveServer) -> None:
    async with connect(f"{demo.ws_url}?token={token(demo)}") as ws:
        assert (await recv(ws))["type"] == "authenticated"
        await ws.send('{"type":"ping"}')
        assert await recv(ws) == {"type": "pong"}
        for channel in ("demo-en-en", "demo-en-de"):
            await ws.send(json.dumps({"type": "subscribe", "channel": channel}))
            assert (await recv(ws))["type"] == "subscribed"
        await demo.services.broker.publish("demo-en-de", caption(1))
        await demo.services.broker.publish("demo-en-en", caption(2))
        got = {(m["channel"], m["response"]["n"]) for m in [await recv(ws), await recv(ws)]}
        assert got == {("demo-en-de", 1), ("demo-en-en", 2)}
        await ws.send('{"type":"unsubscribe","channel":"demo-en-de"}')
        assert (await recv(ws))["type"] == "unsubscribed"
        await demo.services.broker.publish("demo-en-de", caption(3))
        await demo.services.broker.publish("demo-en-en", caption(4))
        assert (await recv(ws))["channel"] == "demo-en-en"


@pytest.mark.parametrize("kind", ["malformed", "expired", "forged", "not_yet_valid"])
async def test_bad_tokens_close_4001(demo: LiveServer, kind: str) -> None:
    now = time.time()
    bad = {
        "malformed": "not-a-jwt",
        "expired": token(demo, ttl=30, now=now - 60),
        "forged": TokenAuthority.generate().mint(["demo"], 600).token,
        "not_yet_valid": token(demo, not_before=now + 300),
    }[kind]
    if kind == "forged":  # same kid as ours, signed with another key
        authority = TokenAuthority.generate()
        claims = jwt.decode(bad, options={"verify_signature": False})
        bad = jwt.encode(
            claims, authority._private, algorithm="EdDSA", headers={"kid": demo.services.tokens.kid}
        )
    async with connect(demo.ws_url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": bad}))
        code, reason = await close_of(ws)
    expected = {
        "malformed": "token_malformed",
        "expired": "token_expired",
        "forged": "token_bad_signature",
        "not_yet_valid": "token_not_yet_valid",
    }
    assert (code, reason) == (4001, expected[kind])


async def test_expired_query_token_closes_at_connect(demo: LiveServer) -> None:
    stale = token(demo, ttl=30, now=time.time() - 60)
    async with connect(f"{demo.ws_url}?token={stale}") as ws:
        assert await close_of(ws) == (4001, "token_expired")


async def test_token_for_another_stream_is_4003(demo: LiveServer) -> None:
    async with connect(demo.ws_url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token(demo, ["demo"])}))
        await recv(ws)
        await ws.send('{"type":"subscribe","channel":"other-en-en"}')
        assert await close_of(ws) == (4003, "token does not cover this stream")


async def test_unknown_channel_is_4004(demo: LiveServer) -> None:
    async with connect(demo.ws_url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token(demo)}))
        await recv(ws)
        await ws.send('{"type":"subscribe","channel":"demo-en-fr"}')
        assert await close_of(ws) == (4004, "unknown channel")


async def test_malformed_message_is_4002(demo: LiveServer) -> None:
    async with connect(demo.ws_url) as ws:
        await ws.send("{nope")
        assert await close_of(ws) == (4002, "message is not JSON")
    async with connect(demo.ws_url) as ws:
        await ws.send(b"\x00\x01")
        assert (await close_of(ws))[0] == 4002


async def test_subscribe_before_auth_is_4001(demo: LiveServer) -> None:
    async with connect(demo.ws_url) as ws:
        await ws.send('{"type":"subscribe","channel":"demo-en-en"}')
        assert await close_of(ws) == (4001, "auth required")


async def test_resume_with_since_gets_every_missed_message(demo: LiveServer) -> None:
    broker = demo.services.broker
    async with connect(demo.ws_url) as ws:
        await subscribe(ws, token(demo), "demo-en-de")
        await broker.publish("demo-en-de", caption(1))
        last = await recv(ws)
    for n in (2, 3, 4):  # published while the viewer was away
        await broker.publish("demo-en-de", caption(n))
    async with connect(demo.ws_url) as ws:
        since = {"seq": last["seq"], "epoch": last["epoch"]}
        reply = await subscribe(ws, token(demo), "demo-en-de", since)
        assert reply["recovered"] is True
        await broker.publish("demo-en-de", caption(5))
        got = [await recv(ws) for _ in range(4)]
    assert [m["response"]["n"] for m in got] == [2, 3, 4, 5]
    assert [m["seq"] for m in got] == [2, 3, 4, 5]


async def test_wrong_epoch_is_not_recovered(demo: LiveServer) -> None:
    await demo.services.broker.publish("demo-en-de", caption(1))
    async with connect(demo.ws_url) as ws:
        reply = await subscribe(ws, token(demo), "demo-en-de", {"seq": 0, "epoch": "bogus"})
        assert reply["recovered"] is False
        assert reply["position"]["seq"] == 1
        await demo.services.broker.publish("demo-en-de", caption(2))
        assert (await recv(ws))["response"]["n"] == 2


async def test_deleted_flow_tells_the_viewer_the_channel_closed(demo: LiveServer) -> None:
    async with connect(demo.ws_url) as ws:
        await subscribe(ws, token(demo), "demo-en-en")
        flow = await demo.services.store.get_by_stream_name("demo")
        assert flow is not None
        demo.services.close_channels(flow.flow_id)
        assert await recv(ws) == {
            "type": "unsubscribed",
            "channel": "demo-en-en",
            "reason": "channel_closed",
        }


async def test_slow_consumer_is_closed_4008(tmp_path: Path) -> None:
    broker = MemoryBroker(history=8, max_pending=4)
    settings = WebSettings(ws_send_timeout=30)
    async with server_with(tmp_path, settings, broker) as live:
        # max_queue=1: the client stops reading from the socket, like a stuck viewer
        async with connect(live.ws_url, max_queue=1, max_size=None) as ws:
            await subscribe(ws, token(live), "demo-en-en")
            pad = secrets.token_urlsafe(65_536)  # incompressible: the server deflates frames
            async with asyncio.timeout(20):
                n = 0
                while broker.subscriber_count("demo-en-en"):
                    await broker.publish("demo-en-en", caption(n, pad=pad))
                    n += 1
                    await asyncio.sleep(0.001)
            # the viewer had fallen behind by more than max_pending finals and was dropped
            code, reason = await close_of(ws)
    assert (code, reason) == (4008, "too slow")
    assert n > 4


async def test_auth_timeout_and_max_age(tmp_path: Path) -> None:
    settings = WebSettings(ws_auth_timeout=0.3, ws_max_age=1.0)
    async with server_with(tmp_path, settings) as live:
        async with connect(live.ws_url) as ws:
            assert await close_of(ws) == (4001, "auth timeout")
        async with connect(f"{live.ws_url}?token={token(live)}") as ws:
            await recv(ws)
            assert await close_of(ws) == (1001, "maximum connection age reached")


async def test_server_shutdown_closes_with_1001(demo: LiveServer) -> None:
    async with connect(demo.ws_url) as ws:
        await subscribe(ws, token(demo), "demo-en-en")
        assert len(demo.services.connections) == 1
        await demo.services.connections.close_all()
        assert await close_of(ws) == (1001, "server shutting down")
    assert len(demo.services.connections) == 0


async def test_token_expiring_mid_connection_closes_4001_unless_refreshed(
    demo: LiveServer,
) -> None:
    async with connect(demo.ws_url) as stale, connect(demo.ws_url) as refreshed:
        await subscribe(stale, token(demo, ttl=2), "demo-en-en")
        await subscribe(refreshed, token(demo, ttl=2), "demo-en-en")
        await refreshed.send(json.dumps({"type": "auth", "token": token(demo, ttl=600)}))
        assert (await recv(refreshed))["type"] == "authenticated"
        assert await close_of(stale) == (4001, "token_expired")
        # The refreshed viewer is still there after the first token's expiry.
        await asyncio.sleep(0.5)
        await demo.services.broker.publish("demo-en-en", caption(7))
        assert (await recv(refreshed))["response"]["n"] == 7


async def test_refresh_with_a_token_for_other_streams_is_4003(demo: LiveServer) -> None:
    async with connect(demo.ws_url) as ws:
        await subscribe(ws, token(demo), "demo-en-en")
        await ws.send(json.dumps({"type": "auth", "token": token(demo, ["other"])}))
        assert await close_of(ws) == (4003, "token does not cover this stream")


@pytest.mark.parametrize(("claim", "value"), [("aud", "someone-else"), ("iss", "impostor")])
async def test_token_for_another_audience_or_issuer_is_4001(
    demo: LiveServer, claim: str, value: str
) -> None:
    claims = jwt.decode(token(demo), options={"verify_signature": False})
    claims[claim] = value  # signed with our own key: only the claim is wrong
    bad = jwt.encode(
        claims,
        demo.services.tokens._private,
        algorithm="EdDSA",
        headers={"kid": demo.services.tokens.kid},
    )
    async with connect(demo.ws_url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": bad}))
        assert await close_of(ws) == (4001, "token_claims_invalid")


async def test_oversized_message_is_1009(demo: LiveServer) -> None:
    async with connect(demo.ws_url) as ws:
        await ws.send(json.dumps({"type": "ping", "pad": "x" * 5000}))
        assert await close_of(ws) == (1009, "message too big")


async def test_a_slow_viewer_does_not_delay_a_fast_one(tmp_path: Path) -> None:
    broker = MemoryBroker(history=8, max_pending=4)
    async with server_with(tmp_path, WebSettings(ws_send_timeout=30), broker) as live:
        async with (
            connect(live.ws_url, max_queue=1, max_size=None) as slow,
            connect(live.ws_url, max_size=None) as fast,
        ):
            await subscribe(slow, token(live), "demo-en-en")
            await subscribe(fast, token(live), "demo-en-en")
            pad = secrets.token_urlsafe(65_536)
            delays = []
            n = 0
            async with asyncio.timeout(30):
                while broker.subscriber_count("demo-en-en") == 2:  # until the slow one is out
                    sent_at = time.perf_counter()
                    await broker.publish("demo-en-en", caption(n, pad=pad))
                    got = await recv(fast)
                    delays.append(time.perf_counter() - sent_at)
                    assert got["response"]["n"] == n  # every message, in order
                    n += 1
            assert await close_of(slow) == (4008, "too slow")
            assert broker.subscriber_count("demo-en-en") == 1  # the fast one stays
    assert n > 4 and max(delays) < 0.25, delays


async def test_a_send_blocked_past_the_timeout_closes_the_viewer(tmp_path: Path) -> None:
    # A viewer that stops reading: its socket fills, the server's send waits, and after
    # ws_send_timeout the watchdog ends it (long before its queue would overflow).
    broker = MemoryBroker(history=8, max_pending=100_000)
    async with server_with(tmp_path, WebSettings(ws_send_timeout=1), broker) as live:
        stalled = await connect(live.ws_url, max_queue=1, max_size=None)
        try:
            await subscribe(stalled, token(live), "demo-en-en")
            pad = secrets.token_urlsafe(65_536)
            async with asyncio.timeout(20):
                n = 0
                while broker.subscriber_count("demo-en-en") == 1:
                    await broker.publish("demo-en-en", caption(n, pad=pad))
                    n += 1
                    await asyncio.sleep(0.01)
                while len(live.services.connections):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
        finally:
            stalled.transport.abort()  # it would read megabytes before its close handshake
    assert n < 2000  # ended by the watchdog, not by the queue limit


async def test_origin_restricted_token(demo: LiveServer) -> None:
    restricted = token(demo, origins=["player.example.com"])
    async with connect(demo.ws_url, origin="https://player.example.com") as ws:
        await subscribe(ws, restricted, "demo-en-en")
    for origin in ("https://evil.example.net", None):
        async with connect(demo.ws_url, origin=origin) as ws:  # type: ignore[arg-type]
            await ws.send(json.dumps({"type": "auth", "token": restricted}))
            assert await close_of(ws) == (4003, "origin_not_allowed")


async def test_the_flow_api_counts_the_viewers_of_each_channel(demo: LiveServer) -> None:
    flow = await demo.services.store.get_by_stream_name("demo")
    assert flow is not None
    path = f"{demo.http_url}/v1/flows/{flow.flow_id}"
    headers = {"Authorization": "Bearer test-api-key"}

    async def counts() -> dict[str, int]:
        async with httpx.AsyncClient() as http:
            body = (await http.get(path, headers=headers)).json()
        return {c["name"]: c["viewers"] for c in body["channels"]}

    assert await counts() == {"demo-en-en": 0, "demo-en-de": 0}
    async with connect(demo.ws_url) as one, connect(demo.ws_url) as two:
        await subscribe(one, token(demo), "demo-en-en")
        await subscribe(two, token(demo), "demo-en-en")
        await two.send('{"type":"subscribe","channel":"demo-en-de"}')
        await recv(two)
        assert await counts() == {"demo-en-en": 2, "demo-en-de": 1}
    await asyncio.sleep(0.2)
    assert await counts() == {"demo-en-en": 0, "demo-en-de": 0}
