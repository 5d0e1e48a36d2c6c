"""The Python SDK: its pure protocol core with recorded frames, then ``Client`` against the
real app served in-process (a fake runtime; messages published through the broker)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from web.web_helpers import API_KEY, LiveServer, make_services, start_server, stop_server

from captioncast import Client
from captioncast.core.messages import ResponseContext, build_response
from captioncast.core.replay import StreamPosition
from captioncast.core.timeline import TimePoint
from captioncast.core.words import Word
from captioncast.sdk import ApiError, Caption, Flow, Gap, SubscribeError
from captioncast.sdk.viewer import (
    AfterClose,
    Authenticated,
    Delivered,
    Finished,
    Subscribed,
    ViewerSession,
    after_close,
)
from captioncast.web.services import WebSettings

pytestmark = pytest.mark.timeout(60)

CHANNEL = "demo-en-en"


def response(
    text: str, kind: str = "captions", final: bool = True, end: bool = False, start: float = 0.0
) -> dict[str, Any]:
    """A wire-schema response with one word per token of ``text``."""
    ctx = ResponseContext("en", "transcription", "spk", lambda t: TimePoint(t, t, 1e9 + t, None))
    words = [Word(w, start + i * 0.3, start + i * 0.3 + 0.25) for i, w in enumerate(text.split())]
    stop = words[-1].end if words else start
    return dict(
        build_response(
            ctx, response_id=f"r-{text or 'end'}", type=kind, words=words, start=start,
            end=stop, is_final=final, is_end_of_stream=end,
            lines=[text] if kind == "captions" and text else None,
        )
    )  # fmt: skip


def envelope(seq: int, text: str, epoch: str = "e1", **kw: Any) -> str:
    return json.dumps(
        {"seq": seq, "epoch": epoch, "channel": CHANNEL, "response": response(text, **kw)}
    )


# --- the pure core ------------------------------------------------------------------------


def test_hello_authenticates_then_subscribes_from_the_position() -> None:
    fresh = ViewerSession(CHANNEL)
    assert [json.loads(f) for f in fresh.hello("T")] == [
        {"type": "auth", "token": "T"},
        {"type": "subscribe", "channel": CHANNEL},
    ]
    resumed = ViewerSession(CHANNEL, StreamPosition(7, "e1"))
    assert json.loads(resumed.hello("T")[1])["since"] == {"seq": 7, "epoch": "e1"}


def test_messages_move_the_position_and_repeats_are_dropped() -> None:
    session = ViewerSession(CHANNEL)
    assert session.receive(json.dumps({"type": "authenticated", "exp": 99})) == [Authenticated(99)]
    (first,) = session.receive(envelope(1, "hello there"))
    assert isinstance(first, Delivered)
    assert first.caption.text == "hello there" and first.caption.lines == ("hello there",)
    assert session.position == StreamPosition(1, "e1")
    assert session.receive(envelope(1, "hello there")) == []  # seen: never twice
    assert len(session.receive(envelope(3, "skipped two"))) == 1  # a superseded partial
    assert session.position == StreamPosition(3, "e1")


def test_a_resume_that_cannot_recover_is_a_gap_and_goes_on_from_the_channel() -> None:
    session = ViewerSession(CHANNEL, StreamPosition(5, "old"))
    subscribed = {"type": "subscribed", "channel": CHANNEL, "recovered": False}
    (event,) = session.receive(json.dumps(subscribed | {"position": {"seq": 2, "epoch": "new"}}))
    gap = Gap(CHANNEL, StreamPosition(5, "old"), StreamPosition(2, "new"))
    assert event == Subscribed(False, gap) and gap.history_lost
    assert session.gaps == [gap] and session.recovered is False
    assert session.position == StreamPosition(2, "new")
    assert len(session.receive(envelope(3, "next", epoch="new"))) == 1


def test_a_first_subscribe_without_history_is_no_gap() -> None:
    session = ViewerSession(CHANNEL)
    msg = {
        "type": "subscribed",
        "channel": CHANNEL,
        "recovered": False,
        "position": {"seq": 9, "epoch": "e"},
    }
    assert session.receive(json.dumps(msg)) == [Subscribed(False, None)]
    assert session.gaps == [] and session.position == StreamPosition(9, "e")


def test_end_of_stream_and_a_closed_channel_finish_the_session() -> None:
    session = ViewerSession(CHANNEL)
    events = session.receive(envelope(1, "", kind="transcript", end=True))
    assert isinstance(events[0], Delivered) and events[1] == Finished("end_of_stream")
    assert session.receive(envelope(2, "after the end")) == []
    closed = ViewerSession(CHANNEL)
    msg = {"type": "unsubscribed", "channel": CHANNEL, "reason": "channel_closed"}
    assert closed.receive(json.dumps(msg)) == [Finished("channel_closed")]
    going_on = ViewerSession(CHANNEL, until_end_of_stream=False)
    assert len(going_on.receive(envelope(1, "", kind="transcript", end=True))) == 1


def test_frames_outside_the_protocol_are_ignored() -> None:
    session = ViewerSession(CHANNEL)
    for frame in ["not json", "[1]", '{"type": "pong"}', '{"seq": 1, "response": {}}']:
        assert session.receive(frame) == []
    assert session.position is None


@pytest.mark.parametrize(
    ("code", "reason", "refresh", "expected"),
    [
        (None, "", False, AfterClose.RESUME),
        (1001, "server shutting down", False, AfterClose.RESUME),
        (1012, "", False, AfterClose.RESUME),
        (4008, "too slow", False, AfterClose.RESUME),
        (4001, "token_expired", True, AfterClose.REAUTH),
        (4001, "token_expired", False, AfterClose.FAIL),
        (4001, "token_bad_signature", True, AfterClose.FAIL),
        (4003, "token does not cover this stream", True, AfterClose.FAIL),
        (4004, "unknown channel", True, AfterClose.FAIL),
    ],
)
def test_what_follows_a_close(
    code: int | None, reason: str, refresh: bool, expected: AfterClose
) -> None:
    assert after_close(code, reason, refresh) is expected


def test_caption_keeps_the_envelope_and_refuses_what_is_not_one() -> None:
    raw = json.loads(envelope(4, "two words", start=1.5))
    caption = Caption.from_envelope(raw)
    assert caption.position == StreamPosition(4, "e1") and caption.start == 1.5
    assert caption.response is raw["response"] and caption.type == "captions"
    with pytest.raises(ValueError):
        Caption.from_envelope({"seq": "x", "epoch": "e", "channel": CHANNEL, "response": {}})


# --- against the app ---------------------------------------------------------------------


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[LiveServer]:
    services = make_services(tmp_path, WebSettings(token_ttl_min=1))
    server = await start_server(services)
    yield server
    await stop_server(server)
    await services.store.close()
    await services.transcripts.close()


@pytest.fixture
async def cc(live: LiveServer) -> AsyncIterator[Client]:
    async with Client(API_KEY, live.http_url) as client:
        yield client


async def test_flow_lifecycle(cc: Client, live: LiveServer) -> None:
    flow = await cc.create_flow("demo", target_languages=["de"], max_latency=3)
    assert isinstance(flow, Flow) and flow.status == "created" and flow.max_latency == 3.0
    assert flow.rtmp_details is not None and flow.rtmp_details.full_url.endswith(
        flow.rtmp_details.stream_key
    )
    assert flow.channel() == CHANNEL and flow.channel("de") == "demo-en-de"
    assert (await cc.start_flow(flow.flow_id)).status == "starting"
    assert (await cc.get_flow(flow)).status == "starting"
    assert (await cc.stop_flow(flow)).status == "ended"
    assert [f.flow_id for f in await cc.list_flows()] == [flow.flow_id]
    srt = await cc.create_flow("other", source="srt_push", caption={"max_lines": 1})
    assert srt.srt_details is not None and srt.rtmp_details is None and srt.caption.max_lines == 1
    await cc.delete_flow(flow)
    assert [f.name for f in await cc.list_flows()] == ["other"]
    assert live.services.runtime.started == [flow.flow_id]  # type: ignore[attr-defined]


async def test_errors_carry_status_and_code(cc: Client, live: LiveServer) -> None:
    with pytest.raises(ApiError) as missing:
        await cc.get_flow("nope")
    assert (missing.value.status, missing.value.code) == (404, "flow_not_found")
    await cc.create_flow("demo")
    with pytest.raises(ApiError) as taken:
        await cc.create_flow("DEMO")
    assert (taken.value.status, taken.value.code) == (409, "name_taken")
    with pytest.raises(ApiError) as invalid:
        await cc.create_flow("demo2", max_latency=600)
    assert (invalid.value.status, invalid.value.code) == (422, "invalid_request")
    with pytest.raises(ApiError) as ttl:
        await cc.create_token("demo", ttl=10**6)
    assert ttl.value.code == "invalid_ttl"
    async with Client("wrong key", live.http_url) as stranger:
        with pytest.raises(ApiError) as refused:
            await stranger.list_flows()
    assert (refused.value.status, refused.value.code) == (401, "unauthorized")


async def test_tokens_and_transcripts(cc: Client, live: LiveServer) -> None:
    flow = await cc.create_flow("demo")
    token = await cc.create_token(["demo"], ttl=60, origins=["example.com"])
    claims = live.services.tokens.verifier_for_origin("https://example.com")(token.token)
    assert claims.streams == frozenset({"demo"}) and token.kid == claims.kid
    await live.services.transcripts.append(flow.flow_id, CHANNEL, response("hello there"))  # type: ignore[arg-type]
    transcript = await cc.transcript(flow)
    assert transcript.text == "hello there" and transcript.cues[0].lines == ("hello there",)
    assert (await cc.transcript(flow, format="vtt")).startswith("WEBVTT")
    with pytest.raises(ApiError) as unknown:
        await cc.transcript(flow, "fr", "txt")
    assert unknown.value.code == "unknown_language"


async def publish(live: LiveServer, *texts: str, end: bool = False) -> None:
    for text in texts:
        await live.services.broker.publish(CHANNEL, response(text))
    if end:
        await live.services.broker.publish(CHANNEL, response("", kind="transcript", end=True))


async def until_subscribed(live: LiveServer, count: int = 1) -> None:
    for _ in range(1000):
        if live.services.broker.subscriber_count(CHANNEL) >= count:  # type: ignore[attr-defined]
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the SDK did not subscribe")


async def test_subscribe_resumes_after_going_away_with_nothing_lost_or_repeated(
    cc: Client, live: LiveServer
) -> None:
    flow = await cc.create_flow("demo")
    await publish(live, "before")  # before subscribing: not delivered without since

    async def first_message() -> None:
        await until_subscribed(live)
        await publish(live, "one")

    feeder = asyncio.create_task(first_message())
    got: list[str] = []
    sub = cc.subscribe(flow, types=None)
    async with asyncio.timeout(20):
        async for caption in sub:
            got.append(caption.text)
            if caption.text == "one":
                await live.services.connections.close_all()  # 1001: the SDK must come back
                await publish(live, "two", "three")  # while it is away
                await publish(live, "four", end=True)
    await feeder
    assert got == ["one", "two", "three", "four", ""]
    assert sub.reconnects == 1 and sub.recovered is True and sub.gaps == []
    assert sub.finished == "end_of_stream" and sub.position is not None and sub.position.seq == 6


async def test_subscribe_with_a_callback_keeps_the_requested_types(
    cc: Client, live: LiveServer
) -> None:
    await cc.create_flow("demo")
    got: list[Caption] = []
    runner = asyncio.create_task(cc.subscribe(CHANNEL, on_caption=got.append).run())
    await until_subscribed(live)
    await live.services.broker.publish(CHANNEL, response("par", kind="transcript", final=False))
    await publish(live, "a block", end=True)
    position = await asyncio.wait_for(runner, 10)
    assert [(c.type, c.text) for c in got] == [("captions", "a block")]
    assert position == StreamPosition(3, live.services.broker.position(CHANNEL).epoch)


async def test_a_resume_that_cannot_recover_goes_on_and_says_so(
    cc: Client, live: LiveServer
) -> None:
    await cc.create_flow("demo")
    gaps: list[Gap] = []
    since = StreamPosition(41, "another")
    sub = cc.subscribe(CHANNEL, since=since, on_gap=gaps.append)
    runner = asyncio.create_task(sub.run())
    await until_subscribed(live)
    await publish(live, "live", end=True)
    await asyncio.wait_for(runner, 10)
    assert gaps == sub.gaps and len(gaps) == 1 and gaps[0].since == since and gaps[0].history_lost
    assert sub.recovered is False and sub.finished == "end_of_stream"


async def test_a_minted_token_is_replaced_before_it_expires(tmp_path: Path) -> None:
    settings = WebSettings(token_ttl_min=1, token_ttl_default=2)
    services = make_services(tmp_path, settings)
    live = await start_server(services)
    try:
        async with Client(API_KEY, live.http_url) as cc:
            await cc.create_flow("demo")
            got: list[str] = []
            sub = cc.subscribe(CHANNEL, on_caption=lambda c: got.append(c.text))
            runner = asyncio.create_task(sub.run())
            await until_subscribed(live)
            await asyncio.sleep(2.5)  # past the first token's expiry
            await publish(live, "still here", end=True)
            await asyncio.wait_for(runner, 10)
            assert got == ["still here"] and sub.reconnects == 0
    finally:
        await stop_server(live)
        await services.store.close()
        await services.transcripts.close()


async def test_a_given_token_that_expires_ends_the_subscription(
    cc: Client, live: LiveServer
) -> None:
    await cc.create_flow("demo")
    token = live.services.tokens.mint(["demo"], 1).token
    with pytest.raises(SubscribeError) as expired:
        await asyncio.wait_for(cc.subscribe(CHANNEL, token).run(), 10)
    assert (expired.value.code, expired.value.reason) == (4001, "token_expired")


async def test_an_expiry_is_resumed_from_with_a_token_source(cc: Client, live: LiveServer) -> None:
    await cc.create_flow("demo")
    calls = 0

    async def late_replacements() -> str:
        nonlocal calls
        calls += 1
        if calls > 1:
            await asyncio.sleep(1.2)  # later than the first token lives: the server says 4001
        return live.services.tokens.mint(["demo"], 1 if calls == 1 else 30).token

    got: list[str] = []
    sub = cc.subscribe(CHANNEL, late_replacements, on_caption=lambda c: got.append(c.text))
    runner = asyncio.create_task(sub.run())
    await until_subscribed(live)
    await publish(live, "first")
    await asyncio.sleep(1.5)
    await publish(live, "second", end=True)  # during or after the reconnection
    await asyncio.wait_for(runner, 10)
    assert got == ["first", "second"]
    assert calls >= 3 and sub.reconnects >= 1 and sub.gaps == []


async def test_refusals_raise(cc: Client, live: LiveServer) -> None:
    await cc.create_flow("demo")
    with pytest.raises(SubscribeError) as unknown:
        await asyncio.wait_for(cc.subscribe("demo-en-xx").run(), 10)
    assert unknown.value.code == 4004
    with pytest.raises(ApiError) as no_stream:  # minting for a stream that does not exist
        await asyncio.wait_for(cc.subscribe("ghost-en-en").run(), 10)
    assert no_stream.value.code == "unknown_stream"


async def test_closing_the_client_ends_its_subscriptions(live: LiveServer) -> None:
    async with Client(API_KEY, live.http_url) as cc:
        await cc.create_flow("demo")
        sub = cc.subscribe(CHANNEL)
        runner = asyncio.create_task(sub.run())
        await until_subscribed(live)
    await asyncio.wait_for(runner, 5)
    assert sub.finished is None
