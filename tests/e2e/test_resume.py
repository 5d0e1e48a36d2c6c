"""Viewers resume with ``since``: after a dropped connection, and across a server restart.

A real server with the small English model, a real RTMP publisher (ffmpeg) and real WebSocket
viewers. The measure of success: a viewer that was away ends up with every final message
exactly once, the same as a viewer that never left, with ``recovered: true``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from harness import ServerProcess, finish, publish, speech_clip, until_done
from speech import SpeechSample

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CLIP_SECONDS = 10
Message = dict[str, Any]


@pytest.fixture(scope="module")
def clip(speech_sample: SpeechSample, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first sentences of the test speech as AAC in M4A."""
    return speech_clip(speech_sample.wav_path, CLIP_SECONDS, tmp_path_factory.mktemp("clip"))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "data", model="tiny.en")
    proc.start()
    yield proc
    proc.stop()


def is_final(message: Message) -> bool:
    response = message["response"]
    return response["type"] != "transcript" or response["is_final"] is True


def finals(messages: list[Message]) -> list[Message]:
    return [m for m in messages if is_final(m)]


def is_end(message: Message) -> bool:
    return bool(message["response"]["is_end_of_stream"])


class Viewer:
    """One native connection to one channel; ``received`` keeps every caption message."""

    def __init__(self, server: ServerProcess, channel: str, token: str) -> None:
        self.server, self.channel, self.token = server, channel, token
        self.received: list[Message] = []
        self.subscribed: Message = {}
        self.ws: websockets.ClientConnection | None = None

    async def open(self, since: Message | None = None) -> Message:
        """Connect and subscribe (resuming after ``since``, a message seen before)."""
        self.ws = await websockets.connect(self.server.ws_url)
        self.subscribed = {}
        subscribe: Message = {"type": "subscribe", "channel": self.channel}
        if since is not None:
            subscribe["since"] = {"seq": since["seq"], "epoch": since["epoch"]}
        await self.ws.send(json.dumps({"type": "auth", "token": self.token}))
        await self.ws.send(json.dumps(subscribe))
        while not self.subscribed or self.subscribed.get("channel") != self.channel:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
            self.subscribed = message if message["type"] == "subscribed" else {}
        return self.subscribed

    async def read_until(self, done: Callable[[Message], bool], seconds: float = 30) -> None:
        """Keep messages until one satisfies ``done`` (or the server closes)."""
        assert self.ws is not None
        async with asyncio.timeout(seconds):
            async for raw in self.ws:
                message = json.loads(raw)
                if "response" in message:
                    self.received.append(message)
                    if done(message):
                        return

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


async def away_for_two_finals(steady: Viewer, away: Viewer) -> None:
    """Wait until at least two finals went out after the ones ``away`` saw."""
    deadline = time.monotonic() + 20
    while len(finals(steady.received)) < len(finals(away.received)) + 2:
        assert time.monotonic() < deadline, "no finals while the viewer was away"
        await asyncio.sleep(0.1)


def seqs(messages: list[Message]) -> list[int]:
    return [m["seq"] for m in messages]


async def test_a_dropped_viewer_resumes_with_every_final_exactly_once(
    server: ServerProcess, clip: Path
) -> None:
    flow = server.create_flow("drop")
    server.start_flow(flow)
    token = server.token("drop")
    steady, dropper = (Viewer(server, "drop-en-en", token) for _ in range(2))
    await steady.open()
    steady_task = asyncio.create_task(steady.read_until(is_end, 60))
    await dropper.open()
    ffmpeg = publish(clip, flow["rtmp_details"]["full_url"])

    await dropper.read_until(is_final)
    await dropper.close()
    last_seen = dropper.received[-1]
    await away_for_two_finals(steady, dropper)
    subscribed = await dropper.open(since=last_seen)
    assert subscribed["recovered"] is True
    assert subscribed["position"]["epoch"] == last_seen["epoch"]

    rc, err = await until_done(ffmpeg)
    assert rc == 0, err
    server.stop_flow(flow)
    await dropper.read_until(is_end)
    await asyncio.wait_for(steady_task, 30)
    await asyncio.gather(dropper.close(), steady.close())

    got = dropper.received
    assert seqs(got) == sorted(set(seqs(got)))  # in order, nothing twice
    assert finals(got) == finals(steady.received)  # every final, byte for byte the same
    missed = [m for m in got if last_seen["seq"] < m["seq"] <= subscribed["position"]["seq"]]
    assert len(finals(missed)) >= 2  # the backlog really held finals the viewer had missed


async def test_a_viewer_resumes_across_a_server_restart(server: ServerProcess, clip: Path) -> None:
    flow = server.create_flow("restart")
    server.start_flow(flow)
    token = server.token("restart")
    steady, dropper = (Viewer(server, "restart-en-en", token) for _ in range(2))
    await steady.open()
    steady_task = asyncio.create_task(steady.read_until(lambda m: False, 60))  # to the close
    await dropper.open()
    ffmpeg = publish(clip, flow["rtmp_details"]["full_url"])
    await dropper.read_until(is_final)
    await dropper.close()
    last_seen = dropper.received[-1]
    await away_for_two_finals(steady, dropper)

    assert server.proc is not None
    server.proc.terminate()  # SIGTERM while the publisher is still sending
    await asyncio.wait_for(steady_task, 30)
    assert steady.ws is not None and steady.ws.close_code == 1001  # Going Away
    assert server.proc.wait(30) == 0, server.log()
    finish(ffmpeg, 10)
    before = steady.received

    again = ServerProcess(server.data_dir, model="tiny.en", api_key=server.api_key)
    again.start()
    try:
        dropper.server = again
        subscribed = await dropper.open(since=last_seen)
        assert subscribed["recovered"] is True
        position = subscribed["position"]
        assert position["epoch"] == last_seen["epoch"]
        assert position["seq"] >= before[-1]["seq"]  # seq goes on after the old run's
        stored = again.api("GET", f"/v1/flows/{flow['flow_id']}", expect=200)
        assert stored["status"] == "live"  # the flow came back and waits for its publisher
        ffmpeg = publish(clip, stored["rtmp_details"]["full_url"], "-t", "5")
        rc, err = await until_done(ffmpeg)
        assert rc == 0, err
        again.stop_flow(flow)
        await dropper.read_until(is_end)
        # a viewer that asks for everything since the channel began: the reference
        reference = Viewer(again, "restart-en-en", token)
        assert (await reference.open(since={"seq": 0, "epoch": position["epoch"]}))["recovered"]
        await reference.read_until(is_end)
        await asyncio.gather(dropper.close(), reference.close())
    finally:
        again.stop()

    got = dropper.received
    assert seqs(got) == sorted(set(seqs(got)))
    assert {m["epoch"] for m in got} == {last_seen["epoch"]}
    assert finals(got) == finals(reference.received)
    # what the steady viewer saw before the restart is the history's beginning, unchanged
    assert finals(before) == [m for m in finals(got) if m["seq"] <= before[-1]["seq"]]
    resumed = [m for m in got if m["seq"] > last_seen["seq"]]
    old_run = [m for m in resumed if m["seq"] <= position["seq"]]
    new_run = [m for m in resumed if m["seq"] > position["seq"]]
    assert len(finals(old_run)) >= 2 and all(is_final(m) for m in old_run)  # partials gone
    assert finals(new_run) and new_run[-1]["response"]["is_end_of_stream"]
