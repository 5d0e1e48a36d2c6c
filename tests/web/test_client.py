"""The viewer client against a live server, and the terminal printer."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
from web_helpers import LiveServer

from captioncast.client import CaptionPrinter, SubscribeError, print_captions, subscribe
from captioncast.core.replay import StreamPosition
from captioncast.store.base import FlowSpec

pytestmark = pytest.mark.timeout(60)


def response(
    text: str,
    kind: str = "transcript",
    final: bool = True,
    end: bool = False,
    lines: list[str] | None = None,
) -> dict[str, Any]:
    alternative: dict[str, Any] = {"transcript": text, "items": []}
    if lines is not None:
        alternative["lines"] = lines
    return {"type": kind, "is_final": final, "is_end_of_stream": end, "alternatives": [alternative]}


@pytest.fixture
async def demo(live: LiveServer) -> LiveServer:
    flow = await live.services.store.create(FlowSpec(name="demo", source_language="en"))
    live.services.open_channels(flow)
    return live


async def test_subscribe_resumes_after_going_away_and_stops_at_end_of_stream(
    demo: LiveServer,
) -> None:
    broker, channel = demo.services.broker, "demo-en-en"
    token = demo.services.tokens.mint(["demo"], 600).token
    got: list[int] = []
    kicked = asyncio.Event()

    def on_message(envelope: dict[str, Any]) -> None:
        got.append(envelope["seq"])
        if envelope["seq"] == 1:
            kicked.set()

    await broker.publish(channel, response("one"))  # before the client: found via since
    start = StreamPosition(0, broker.position(channel).epoch)

    async def feed() -> None:
        await kicked.wait()
        await demo.services.connections.close_all()  # 1001: the client must come back
        await broker.publish(channel, response("two"))
        await broker.publish(channel, response("three"))
        await broker.publish(channel, response("", end=True))

    feeder = asyncio.create_task(feed())
    position = await asyncio.wait_for(
        subscribe(demo.ws_url, token, channel, on_message, since=start), 30
    )
    await feeder
    assert got == [1, 2, 3, 4]
    assert position is not None and position.seq == 4


async def test_refusal_is_an_error_not_a_retry_loop(demo: LiveServer) -> None:
    with pytest.raises(SubscribeError) as refused:
        await asyncio.wait_for(subscribe(demo.ws_url, "garbage", "demo-en-en", lambda e: None), 10)
    assert refused.value.code == 4001
    token = demo.services.tokens.mint(["demo"], 600).token
    with pytest.raises(SubscribeError) as unknown:
        await asyncio.wait_for(subscribe(demo.ws_url, token, "demo-en-xx", lambda e: None), 10)
    assert unknown.value.code == 4004


async def test_unreachable_server_without_reconnect() -> None:
    with pytest.raises(SubscribeError):
        await asyncio.wait_for(
            subscribe("ws://127.0.0.1:9/v1/ws", "t", "c", lambda e: None, reconnect=False), 10
        )


def test_printer_overwrites_partials_and_prints_finals() -> None:
    out = io.StringIO()
    printer = CaptionPrinter(out)
    printer({"response": response("hello", final=False)})
    printer({"response": response("hello wor", final=False)})
    printer({"response": response("hello world.")})
    printer({"response": response("captions are ignored here", kind="captions")})
    printer({"response": response("", end=True)})
    assert out.getvalue() == ("\rhello\rhello wor\rhello world.\n[end of stream]\n")


def test_printer_clears_a_partial_that_ends_in_silence() -> None:
    out = io.StringIO()
    printer = CaptionPrinter(out)
    printer({"response": response("uh", final=False)})
    printer({"response": response("")})
    assert out.getvalue() == "\ruh\r  \r"


def test_printer_captions_mode_prints_lines() -> None:
    out = io.StringIO()
    printer = CaptionPrinter(out, mode="captions")
    printer({"response": response("partial", final=False)})
    printer({"response": response("a b", kind="captions", lines=["first line", "second"])})
    printer({"response": response("no lines given", kind="captions")})
    printer({"not": "an envelope"})
    assert out.getvalue() == "first line\nsecond\nno lines given\n"


async def test_print_captions_until_end_of_stream(demo: LiveServer) -> None:
    broker, channel = demo.services.broker, "demo-en-en"
    token = demo.services.tokens.mint(["demo"], 600).token
    out = io.StringIO()
    viewer = asyncio.create_task(print_captions(demo.ws_url, token, channel, "captions", out=out))
    for _ in range(500):  # until the viewer has subscribed
        if broker.subscriber_count(channel):  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0.01)
    await broker.publish(channel, response("hel", final=False))
    await broker.publish(channel, response("hello there."))
    await broker.publish(channel, response("hello there.", kind="captions", lines=["hello there."]))
    await broker.publish(channel, response("", end=True))
    position = await asyncio.wait_for(viewer, 10)
    assert position is not None and position.seq == 4
    assert out.getvalue() == "hello there.\n[end of stream]\n"


def test_printer_live_mode_shows_words_in_place_and_prints_caption_blocks() -> None:
    out = io.StringIO()
    printer = CaptionPrinter(out, mode="live")
    printer({"response": response("good eve", final=False)})
    printer({"response": response("good evening")})  # a final transcript: the caption follows
    block = response("good evening", kind="captions")
    block["start"] = 65.25
    block["alternatives"][0]["lines"] = ["good", "evening"]
    printer({"response": block})
    cleared = "\r" + " " * 12 + "\r"
    assert out.getvalue() == "\r  … good eve" + cleared + "[01:05.2]  good\n           evening\n"
