"""Real pusher-js (from npm, run by Node) against a live captioncast with a Pusher app.

The driver ``tests/js/pusher_driver.js`` takes commands on stdin and reports what pusher-js
sees as JSON lines. Covers private caption channels authorized with a viewer token, refused
signatures, presence counts read through the HTTP API, reconnecting after the server drops
the socket, client events, and events triggered with the official ``pusher`` server SDK.
``node_modules`` is installed from the lockfile on first use (``npm ci``).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pusher
import pytest

from captioncast.web.pusher import PusherApp

sys.path.insert(0, str(Path(__file__).parents[1] / "web"))
from pusher_helpers import APP, add_flow, caption, sdk, serve_pusher  # noqa: E402
from web_helpers import LiveServer, make_services, start_server, stop_server  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

JS_DIR = Path(__file__).parents[1] / "js"
WAIT = 10.0


def install_pusher_js() -> None:
    """``npm ci`` in tests/js unless the locked pusher-js is there (offline first)."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("the pusher-js tests need Node.js and npm")
    wanted = json.loads((JS_DIR / "package.json").read_text())["dependencies"]["pusher-js"]
    installed = JS_DIR / "node_modules" / "pusher-js" / "package.json"
    if installed.exists() and json.loads(installed.read_text())["version"] == wanted:
        return
    errors = []
    for args in (["ci", "--offline"], ["ci"]):
        done = subprocess.run(
            [npm, *args, "--no-audit", "--no-fund"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode == 0:
            return
        errors.append(done.stderr[-1000:])
    raise AssertionError(f"npm ci failed in {JS_DIR}:\n" + "\n".join(errors))


@pytest.fixture(scope="module")
def pusher_js() -> None:
    install_pusher_js()


Match = Callable[[dict[str, Any]], bool]


def match(**fields: Any) -> Match:
    return lambda message: all(message.get(k) == v for k, v in fields.items())


class PusherJs:
    """One Node process running pusher-js clients."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.backlog: list[dict[str, Any]] = []

    @classmethod
    async def start(cls) -> PusherJs:
        proc = await asyncio.create_subprocess_exec(
            "node",
            "pusher_driver.js",
            cwd=JS_DIR,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        driver = cls(proc)
        ready = await driver.expect(match(type="ready"))
        assert ready["pusher"] == "8.6.0"
        return driver

    async def send(self, **command: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command).encode() + b"\n")
        await self.proc.stdin.drain()

    async def connect(self, live: LiveServer, id: str, **options: Any) -> str:
        """Connect client ``id``; its socket id."""
        await self.send(
            op="connect",
            id=id,
            key=options.pop("key", APP.key),
            host="127.0.0.1",
            port=live.port,
            authEndpoint=f"{live.http_url}/pusher/auth",
            **options,
        )
        connected = await self.expect(match(id=id, type="connected"))
        socket_id: str = connected["socket_id"]
        return socket_id

    async def subscribe(self, id: str, channel: str, *events: str) -> dict[str, Any]:
        """Subscribe and bind ``events``; the outcome (subscribed or subscription_error)."""
        await self.send(op="subscribe", id=id, channel=channel, events=list(events))
        return await self.expect(
            lambda m: (
                m.get("id") == id
                and m.get("channel") == channel
                and m["type"] in ("subscribed", "subscription_error")
            )
        )

    async def expect(self, predicate: Match, within: float = WAIT) -> dict[str, Any]:
        """The first report (seen earlier or not) that ``predicate`` accepts."""
        for i, message in enumerate(self.backlog):
            if predicate(message):
                return self.backlog.pop(i)
        assert self.proc.stdout is not None
        async with asyncio.timeout(within):
            while True:
                line = await self.proc.stdout.readline()
                if not line:
                    raise AssertionError(f"the pusher-js driver exited: {await self._stderr()}")
                message = json.loads(line)
                if predicate(message):
                    return message  # type: ignore[no-any-return]
                self.backlog.append(message)

    def seen(self, predicate: Match) -> bool:
        return any(predicate(m) for m in self.backlog)

    async def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 5)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()

    async def _stderr(self) -> str:
        assert self.proc.stderr is not None
        return (await self.proc.stderr.read()).decode(errors="replace")[-2000:]


@asynccontextmanager
async def pusher_server(tmp_path: Path, app: PusherApp = APP) -> AsyncIterator[LiveServer]:
    services = make_services(tmp_path)
    serve_pusher(services, app)
    await add_flow(services)
    await add_flow(services, "other", ())
    server = await start_server(services)
    try:
        yield server
    finally:
        await stop_server(server)
        await services.store.close()


@pytest.fixture
async def live(tmp_path: Path, pusher_js: None) -> AsyncIterator[LiveServer]:
    async with pusher_server(tmp_path) as server:
        yield server


@pytest.fixture
async def js(live: LiveServer) -> AsyncIterator[PusherJs]:
    driver = await PusherJs.start()
    yield driver
    await driver.close()


def token(live: LiveServer, streams: tuple[str, ...] = ("demo",), ttl: int = 600) -> str:
    return live.services.tokens.mint(streams, ttl).token


async def test_captions_on_a_private_channel_authorized_with_a_viewer_token(
    live: LiveServer, js: PusherJs
) -> None:
    await js.connect(live, "a", token=token(live))
    outcome = await js.subscribe("a", "private-demo-en-en", "caption", "transcript")
    assert outcome["type"] == "subscribed"
    final = await live.services.broker.publish("demo-en-en", caption(1))
    event = await js.expect(match(id="a", type="event", event="caption"))
    assert event["channel"] == "private-demo-en-en"
    assert event["data"] == json.loads(final.text)  # pusher-js decoded the JSON string
    partial = await live.services.broker.publish("demo-en-en", caption(2, final=False))
    event = await js.expect(match(id="a", type="event", event="transcript"))
    assert event["data"] == json.loads(partial.text)
    assert event["data"]["seq"] == 2


async def test_refused_subscriptions_and_connections(live: LiveServer, js: PusherJs) -> None:
    await js.connect(live, "forger", forgeAuth=True)
    outcome = await js.subscribe("forger", "private-demo-en-en")
    assert outcome["type"] == "subscription_error"
    assert outcome["data"] == {"type": "AuthError", "error": "Invalid signature", "status": 401}
    await js.connect(live, "stranger", token=token(live, ("other",)))
    outcome = await js.subscribe("stranger", "private-demo-en-en")
    assert outcome["type"] == "subscription_error"
    assert outcome["data"]["status"] == 403  # from the auth endpoint, reported by pusher-js
    outcome = await js.subscribe("stranger", "demo-en-en")  # public access is off
    assert outcome["type"] == "subscription_error" and outcome["data"]["status"] == 403
    await js.send(op="connect", id="lost", key="wrong-key", host="127.0.0.1", port=live.port)
    error = await js.expect(match(id="lost", type="error"))
    assert error["error"]["type"] == "WebSocketError"  # the handshake was refused
    assert error["error"]["error"]["data"]["code"] == 4001
    await js.expect(match(id="lost", type="state", current="disconnected"))  # gives up


async def test_reconnects_and_resubscribes_after_the_server_drops_the_socket(
    live: LiveServer, js: PusherJs
) -> None:
    first = await js.connect(live, "a", token=token(live))
    assert (await js.subscribe("a", "private-demo-en-de", "caption"))["type"] == "subscribed"
    gateway = live.services.pusher
    assert gateway is not None
    await gateway.close_all(4200, "reconnect now")
    error = await js.expect(match(id="a", type="error"))
    assert error["error"]["data"]["code"] == 4200
    second = await js.expect(match(id="a", type="connected"))
    assert second["socket_id"] != first
    await js.expect(match(id="a", type="subscribed", channel="private-demo-en-de"))
    envelope = await live.services.broker.publish("demo-en-de", caption(7))
    event = await js.expect(match(id="a", type="event", event="caption"))
    assert event["data"] == json.loads(envelope.text)


async def test_presence_counts_through_the_http_api(live: LiveServer, js: PusherJs) -> None:
    client = sdk(live.port)
    await js.connect(live, "ann", token=token(live))
    await js.connect(live, "bob", token=token(live, ttl=601))  # another viewer
    ann = await js.subscribe("ann", "presence-demo-en-en")
    assert ann["presence"]["count"] == 1
    bob = await js.subscribe("bob", "presence-demo-en-en")
    assert bob["presence"]["count"] == 2
    added = await js.expect(match(id="ann", type="member_added"))
    assert added["member"]["id"] == bob["presence"]["me"]["id"]
    info = await asyncio.to_thread(
        client.channel_info, "presence-demo-en-en", ["user_count", "subscription_count"]
    )
    assert info == {"occupied": True, "user_count": 2, "subscription_count": 2}
    listed = await asyncio.to_thread(client.channels_info, "presence-", ["user_count"])
    assert listed == {"channels": {"presence-demo-en-en": {"user_count": 2}}}
    await js.send(op="disconnect", id="bob")
    removed = await js.expect(match(id="ann", type="member_removed"))
    assert removed["member"]["id"] == bob["presence"]["me"]["id"]
    users = await asyncio.to_thread(client.users_info, "presence-demo-en-en")
    assert users == {"users": [{"id": ann["presence"]["me"]["id"]}]}


async def test_events_from_the_official_server_sdk(live: LiveServer, js: PusherJs) -> None:
    socket_id = await js.connect(live, "a", token=token(live))
    await js.subscribe("a", "private-demo-en-en", "announcement")
    await js.subscribe("a", "news", "announcement")
    client = sdk(live.port)
    await asyncio.to_thread(
        client.trigger, ["private-demo-en-en", "news"], "announcement", {"n": 1}
    )
    got = [await js.expect(match(id="a", type="event", event="announcement")) for _ in range(2)]
    assert {(e["channel"], e["data"]["n"]) for e in got} == {("private-demo-en-en", 1), ("news", 1)}
    with pytest.raises(pusher.errors.PusherBadAuth):
        await asyncio.to_thread(
            sdk(live.port, secret="wrong").trigger, "news", "announcement", {"n": 2}
        )
    await asyncio.to_thread(client.trigger, "news", "announcement", {"n": 3}, socket_id)
    batch = [{"channel": "news", "name": "announcement", "data": {"n": 4}}]
    await asyncio.to_thread(client.trigger_batch, batch)
    event = await js.expect(match(id="a", type="event", event="announcement"))
    assert event["data"] == {"n": 4}  # 2 was refused, 3 excluded this socket


async def test_client_events_reach_the_other_viewers(live: LiveServer, js: PusherJs) -> None:
    for name, ttl in (("a", 600), ("b", 601)):
        await js.connect(live, name, token=token(live, ttl=ttl))
        await js.subscribe(name, "presence-demo-en-en", "client-typing")
    await js.send(
        op="trigger", id="a", channel="presence-demo-en-en", event="client-typing", data={"x": 1}
    )
    assert (await js.expect(match(id="a", type="triggered")))["ok"] is True
    event = await js.expect(match(id="b", type="event", event="client-typing"))
    assert event["data"] == {"x": 1}
    await js.send(op="members", id="a", channel="presence-demo-en-en")
    me = await js.expect(match(id="a", type="members"))
    assert event["user_id"] == me["me"]["id"]
    assert not js.seen(match(id="a", type="event", event="client-typing"))


async def test_pings_keep_a_quiet_connection_alive(tmp_path: Path, pusher_js: None) -> None:
    # pusher-js pings after the server's activity_timeout and answers the server's pings
    app = replace(APP, activity_timeout=1, pong_timeout=0.5)
    async with pusher_server(tmp_path, app) as live:
        js = await PusherJs.start()
        try:
            socket_id = await js.connect(live, "a", token=token(live))
            await js.subscribe("a", "private-demo-en-en", "caption")
            await asyncio.sleep(3.0)  # three activity timeouts without a caption
            envelope = await live.services.broker.publish("demo-en-en", caption(1))
            event = await js.expect(match(id="a", type="event", event="caption"))
            assert event["data"] == json.loads(envelope.text)
            assert not js.seen(match(id="a", type="state", previous="connected"))  # never left
            assert live.services.pusher is not None
            assert live.services.pusher.directory.is_subscribed(socket_id, "private-demo-en-en")
        finally:
            await js.close()


@pytest.mark.slow
async def test_captions_of_a_live_flow_reach_pusher_js(
    tmp_path: Path, pusher_js: None, speech_m4a: Path
) -> None:
    """A real server with a Pusher app, a real publisher, real pusher-js: caption events."""
    from harness import ServerProcess, publish, until_done

    server = ServerProcess(
        tmp_path / "data",
        model="tiny.en",
        extra_args=("--pusher-key", APP.key, "--pusher-secret", APP.secret),
    )
    await asyncio.to_thread(server.start)
    driver = await PusherJs.start()
    try:
        flow = server.create_flow("pusherlive")
        server.start_flow(flow)
        viewer = server.token("pusherlive")
        await driver.connect(server, "a", token=viewer)  # type: ignore[arg-type]
        outcome = await driver.subscribe("a", "private-pusherlive-en-en", "caption")
        assert outcome["type"] == "subscribed"
        publisher = publish(speech_m4a, flow["rtmp_details"]["full_url"], "-t", "8")
        event = await driver.expect(match(id="a", type="event", event="caption"), within=30)
        rc, err = await until_done(publisher)
        assert rc == 0, err
    finally:
        await driver.close()
        await asyncio.to_thread(server.stop)
    response = event["data"]["response"]
    assert response["type"] == "captions" and "evening" in response["alternatives"][0]["transcript"]
