"""RtmpServer over real 127.0.0.1 sockets, driven by the fake publisher."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest
from fake_rtmp_publisher import HANDSHAKE_SIZE, FakePublisher, ServerReplies

from captioncast.ingest.rtmp import amf0
from captioncast.ingest.rtmp.server import RtmpPublishSink, RtmpServer

pytestmark = pytest.mark.timeout(30)


class RecordingSink:
    """Records what arrives; checks ``attach`` comes once, first, and ``on_unpublish`` last.

    With ``disconnect_after``, it disconnects its publisher once that many audio packets have
    arrived (0: from inside ``attach``).
    """

    def __init__(self, disconnect_after: int | None = None) -> None:
        self.audio: list[tuple[int, bytes]] = []
        self.video: list[tuple[int, bytes]] = []
        self.metadata: list[dict[str, object]] = []
        self.unpublished = 0
        self.ended = asyncio.Event()
        self.got_audio = asyncio.Event()
        self.disconnect: Callable[[], None] | None = None
        self.disconnect_after = disconnect_after
        self.protocol_errors: list[str] = []

    def _check_live(self, what: str) -> None:
        if self.disconnect is None:
            self.protocol_errors.append(f"{what} before attach")
        if self.unpublished:
            self.protocol_errors.append(f"{what} after on_unpublish")

    def attach(self, disconnect: Callable[[], None]) -> None:
        if self.disconnect is not None:
            self.protocol_errors.append("attach called twice")
        self.disconnect = disconnect
        if self.disconnect_after == 0:
            disconnect()

    def on_audio(self, timestamp_ms: int, payload: bytes, arrival_epoch: float) -> None:
        assert arrival_epoch > 1e9
        self._check_live("on_audio")
        self.audio.append((timestamp_ms, payload))
        self.got_audio.set()
        if len(self.audio) == self.disconnect_after:
            assert self.disconnect is not None
            self.disconnect()

    def on_video(self, timestamp_ms: int, payload: bytes, arrival_epoch: float) -> None:
        self._check_live("on_video")
        self.video.append((timestamp_ms, payload))

    def on_metadata(self, metadata: dict[str, object]) -> None:
        self._check_live("on_metadata")
        self.metadata.append(metadata)

    def on_unpublish(self) -> None:
        self._check_live("on_unpublish")
        self.unpublished += 1
        self.ended.set()


class Keys:
    """An authorize callback accepting the keys it holds, recording every request."""

    def __init__(self, *keys: str) -> None:
        self.sinks = {key: RecordingSink() for key in keys}
        self.requests: list[tuple[str, str]] = []

    async def __call__(self, app: str, key: str) -> RtmpPublishSink | None:
        self.requests.append((app, key))
        return self.sinks.get(key)


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.pub, self.replies = FakePublisher(), ServerReplies()

    async def status(self) -> dict[str, amf0.AmfValue]:
        """Read until the server's onStatus arrives; return its info object."""
        while True:
            for command in self.replies.commands():
                if command[0] == "onStatus" and isinstance(command[3], dict):
                    return command[3]
            data = await asyncio.wait_for(self.reader.read(65536), 5)
            assert data, "server closed before onStatus"
            self.replies.feed(data)

    async def closed_by_server(self, within: float = 5.0) -> bool:
        try:
            async with asyncio.timeout(within):
                while await self.reader.read(65536):
                    pass
        except TimeoutError:
            return False
        except ConnectionResetError:
            pass  # closed with our data unread
        finally:
            self.writer.close()
        return True

    def close(self) -> None:
        self.writer.close()


async def publish(port: int, key: str) -> tuple[Client, dict[str, amf0.AmfValue]]:
    client = Client(*await asyncio.open_connection("127.0.0.1", port))
    client.writer.write(client.pub.c0c1())
    server_hs = await asyncio.wait_for(client.reader.readexactly(1 + 2 * HANDSHAKE_SIZE), 5)
    pub = client.pub
    client.writer.write(pub.c2(server_hs) + pub.connect() + pub.publish_sequence(key))
    return client, await client.status()


@pytest.fixture
async def keys() -> Keys:
    return Keys("good", "other")


@pytest.fixture
async def server(keys: Keys) -> AsyncIterator[RtmpServer]:
    srv = RtmpServer(keys, port=0, handshake_timeout=1.0, idle_timeout=2.0)
    await srv.start()
    yield srv
    await srv.close()


async def test_port_zero_gives_a_real_port(server: RtmpServer) -> None:
    assert server.port > 0


async def test_accepted_publisher_reaches_its_sink(server: RtmpServer, keys: Keys) -> None:
    client, status = await publish(server.port, "good")
    assert status["code"] == "NetStream.Publish.Start"
    pub = client.pub
    client.writer.write(
        pub.metadata({"audiocodecid": 10.0})
        + pub.audio(0, b"\xaf\x01one")
        + pub.video(0, b"\x17\x01v")
        + pub.audio(23, b"\xaf\x01two")
        + pub.command("FCUnpublish", 6, None, "good")
        + pub.command("deleteStream", 7, None, 1.0)
    )
    sink = keys.sinks["good"]
    await asyncio.wait_for(sink.ended.wait(), 5)
    client.close()
    await asyncio.sleep(0.1)
    assert keys.requests == [("live", "good")]
    assert sink.metadata == [{"audiocodecid": 10.0}]
    assert sink.audio == [(0, b"\xaf\x01one"), (23, b"\xaf\x01two")]
    assert sink.video == [(0, b"\x17\x01v")]
    assert sink.unpublished == 1
    assert sink.protocol_errors == []
    assert keys.sinks["other"].audio == []


async def test_dropped_connection_ends_the_publish_once(server: RtmpServer, keys: Keys) -> None:
    client, _ = await publish(server.port, "good")
    client.writer.write(client.pub.audio(0, b"\xaf\x01x"))
    await client.writer.drain()
    client.writer.transport.abort()
    sink = keys.sinks["good"]
    await asyncio.wait_for(sink.ended.wait(), 5)
    await asyncio.sleep(0.1)
    client.close()
    assert sink.unpublished == 1
    assert sink.audio == [(0, b"\xaf\x01x")]


async def test_wrong_key_refused_and_closed(
    server: RtmpServer, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    client, status = await publish(server.port, "bad-key")
    assert status["level"] == "error"
    assert status["code"] == "NetStream.Publish.BadName"
    assert "bad-key" not in str(status)
    assert await client.closed_by_server()
    assert keys.requests == [("live", "bad-key")]
    assert all(not s.audio and s.unpublished == 0 for s in keys.sinks.values())
    assert "refused RTMP publish" in caplog.text
    assert "127.0.0.1:" in caplog.text
    assert "bad-key" not in caplog.text


async def test_garbage_closes_only_that_connection(
    server: RtmpServer, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET / HTTP/1.1\r\n\r\n")
    garbage = Client(reader, writer)
    assert await garbage.closed_by_server(2.0)
    assert "unsupported RTMP version" in caplog.text
    client, status = await publish(server.port, "good")
    assert status["code"] == "NetStream.Publish.Start"
    client.close()


async def test_incomplete_handshake_times_out(server: RtmpServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(FakePublisher.c0c1()[:700])
    half = Client(reader, writer)
    # Meanwhile another publisher is served at once.
    client, status = await publish(server.port, "good")
    assert status["code"] == "NetStream.Publish.Start"
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await half.closed_by_server(3.0)
    assert loop.time() - started < 1.5  # handshake_timeout is 1 s
    client.close()


async def test_connected_but_never_publishing_times_out(server: RtmpServer) -> None:
    client = Client(*await asyncio.open_connection("127.0.0.1", server.port))
    client.writer.write(client.pub.c0c1())
    server_hs = await client.reader.readexactly(1 + 2 * HANDSHAKE_SIZE)
    client.writer.write(client.pub.c2(server_hs) + client.pub.connect())
    assert await client.closed_by_server(3.0)


async def test_silent_publisher_dropped_after_idle_timeout(server: RtmpServer, keys: Keys) -> None:
    client, _ = await publish(server.port, "good")
    sink = keys.sinks["good"]
    await asyncio.wait_for(sink.ended.wait(), 5)  # idle_timeout is 2 s
    assert sink.unpublished == 1
    assert await client.closed_by_server(1.0)


async def test_close_ends_every_connection(keys: Keys) -> None:
    srv = RtmpServer(keys, port=0)
    await srv.start()
    client, _ = await publish(srv.port, "good")
    await srv.close()
    assert keys.sinks["good"].unpublished == 1
    assert await client.closed_by_server(2.0)
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", srv.port)


async def test_authorize_failure_closes_the_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(app: str, key: str) -> RtmpPublishSink | None:
        raise RuntimeError("database down")

    async with RtmpServer(broken, port=0) as srv:
        client = Client(*await asyncio.open_connection("127.0.0.1", srv.port))
        client.writer.write(client.pub.c0c1())
        server_hs = await client.reader.readexactly(1 + 2 * HANDSHAKE_SIZE)
        pub = client.pub
        client.writer.write(pub.c2(server_hs) + pub.connect() + pub.publish_sequence("k"))
        assert await client.closed_by_server(3.0)
    assert "internal error" in caplog.text


async def test_connections_beyond_the_limit_are_closed(keys: Keys) -> None:
    async with RtmpServer(keys, port=0, max_connections=1) as srv:
        first, _ = await publish(srv.port, "good")
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        assert await Client(reader, writer).closed_by_server(2.0)
        first.close()


class FreshSinks:
    """An authorize callback giving every accepted publish a sink of its own."""

    def __init__(self, disconnect_after: int | None = None) -> None:
        self.disconnect_after = disconnect_after
        self.sinks: list[RecordingSink] = []
        self.accepted = asyncio.Event()

    async def __call__(self, app: str, key: str) -> RtmpPublishSink | None:
        sink = RecordingSink(self.disconnect_after)
        self.sinks.append(sink)
        self.accepted.set()
        return sink


def unpublish(pub: FakePublisher, stream_id: float) -> bytes:
    return pub.command("FCUnpublish", 6, None, "good") + pub.command(
        "deleteStream", 7, None, stream_id
    )


async def test_republish_on_the_same_connection_after_unpublishing() -> None:
    fresh = FreshSinks()
    async with RtmpServer(fresh, port=0, handshake_timeout=0.5, idle_timeout=3.0) as srv:
        client, status = await publish(srv.port, "good")
        assert status["code"] == "NetStream.Publish.Start"
        pub = client.pub
        client.writer.write(pub.audio(0, b"\xaf\x01one"))
        await asyncio.sleep(0.8)  # publishing past the handshake timeout is fine
        client.writer.write(unpublish(pub, 1.0))
        first = fresh.sinks[0]
        await asyncio.wait_for(first.ended.wait(), 5)
        await asyncio.sleep(0.2)  # well within a fresh handshake timeout
        client.replies.messages.clear()
        client.writer.write(
            pub.command("createStream", 8, None)
            + pub.command("publish", 9, None, "good", "live", stream_id=2)
        )
        status = await client.status()
        assert status["code"] == "NetStream.Publish.Start"
        assert first.disconnect is not None
        first.disconnect()  # stale: must not touch the new publish
        client.writer.write(pub.audio(40, b"\xaf\x01two", stream_id=2))
        second = fresh.sinks[1]
        await asyncio.wait_for(second.got_audio.wait(), 5)
        client.writer.write(unpublish(pub, 2.0))
        await asyncio.wait_for(second.ended.wait(), 5)
        client.close()
    assert first.audio == [(0, b"\xaf\x01one")]
    assert second.audio == [(40, b"\xaf\x01two")]
    assert (first.unpublished, second.unpublished) == (1, 1)
    assert first.protocol_errors == second.protocol_errors == []


async def test_unpublished_connection_gets_a_fresh_handshake_timeout() -> None:
    fresh = FreshSinks()
    async with RtmpServer(fresh, port=0, handshake_timeout=0.5, idle_timeout=3.0) as srv:
        client, _ = await publish(srv.port, "good")
        await asyncio.sleep(0.8)
        client.writer.write(unpublish(client.pub, 1.0))
        await asyncio.wait_for(fresh.sinks[0].ended.wait(), 5)
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await client.closed_by_server(3.0)
        assert 0.4 < loop.time() - started < 1.5


async def test_sink_disconnects_its_publisher() -> None:
    fresh = FreshSinks(disconnect_after=2)
    async with RtmpServer(fresh, port=0) as srv:
        client, status = await publish(srv.port, "good")
        assert status["code"] == "NetStream.Publish.Start"
        pub = client.pub
        client.writer.write(b"".join(pub.audio(ts, b"\xaf\x01%d" % ts) for ts in range(5)))
        assert await client.closed_by_server(3.0)
        sink = fresh.sinks[0]
        await asyncio.wait_for(sink.ended.wait(), 5)
        assert sink.disconnect is not None
        sink.disconnect()  # idempotent, and harmless once the connection has ended
        await asyncio.sleep(0.1)
    assert sink.audio == [(0, b"\xaf\x010"), (1, b"\xaf\x011")]  # nothing after disconnect
    assert sink.unpublished == 1
    assert sink.protocol_errors == []


async def test_sink_may_disconnect_from_attach() -> None:
    fresh = FreshSinks(disconnect_after=0)
    async with RtmpServer(fresh, port=0) as srv:
        client = Client(*await asyncio.open_connection("127.0.0.1", srv.port))
        client.writer.write(client.pub.c0c1())
        server_hs = await client.reader.readexactly(1 + 2 * HANDSHAKE_SIZE)
        pub = client.pub
        client.writer.write(
            pub.c2(server_hs)
            + pub.connect()
            + pub.publish_sequence("good")
            + pub.audio(0, b"\xaf\x01x")
        )
        assert await client.closed_by_server(3.0)
        sink = fresh.sinks[0]
        await asyncio.wait_for(sink.ended.wait(), 5)
    assert sink.audio == []
    assert sink.unpublished == 1
    assert sink.protocol_errors == []
