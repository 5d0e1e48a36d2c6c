"""The load side of ``bench/fanout``: one process holding many real viewers.

Opens ``--count`` WebSocket connections to ``/v1/ws`` (at most ``--rate`` new connections a
second, ``--parallel`` handshakes at a time), authenticates each with the viewer token,
subscribes to the channel, then reads every message.

Each viewer is the ``websockets`` library's sans-I/O client protocol (the core its asyncio
client wraps, and the one uvicorn's ``websockets-sansio`` server drives on the other side)
under a small ``asyncio.Protocol``: a message is timed as soon as its bytes are read, with
no task switch per message. ``--client asyncio`` uses the library's asyncio client instead
(a reader task per viewer, ``async for`` over messages), which times a message only once
that task runs and costs this process somewhat more CPU per message.

Talks to the orchestrator (``bench/fanout.py``) in JSON lines: prints
``{"connected": n, "failed": {...}}`` once every connection has been tried; then reads one
line ``{"start": t0, "end": t1}`` (Unix seconds) from stdin and records, for each message
published in ``[t0, t1)``, its latency (arrival − ``start_epoch``). At ``t1 + --grace`` it
writes the latencies (raw doubles) to ``OUT.lat`` and the rest to ``OUT.json``, and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import sys
import time
from array import array
from collections import Counter
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

EPOCH_KEY = b'"start_epoch":'


class Window:
    """The measuring window, and what this process measured in it."""

    def __init__(self, viewers: int) -> None:
        self.start = float("inf")
        self.end = float("inf")
        self.latencies = array("d")
        self.received = [0] * viewers  # messages published in the window, per viewer
        self.seq_gaps = 0  # a seq that skipped ahead: a lost final (every message is final)
        self.closed: Counter[str] = Counter()  # connections that ended, by close code

    def caption(self, index: int, data: bytes, now: float, last_seq: int) -> int:
        """Record one caption envelope; its seq (``last_seq`` for a protocol message).

        Fields are found by position rather than with ``json.loads``: the envelope starts
        with ``seq`` and the response's first ``start_epoch`` is its own.
        """
        if not data.startswith(b'{"seq":'):
            return last_seq
        seq = int(data[7 : data.index(b",", 7)])
        at = data.index(EPOCH_KEY) + len(EPOCH_KEY)
        published = float(data[at : data.index(b",", at)])
        if last_seq and seq != last_seq + 1:
            self.seq_gaps += 1
        if self.start <= published < self.end:
            self.received[index] += 1
            self.latencies.append(now - published)
        return seq


class SansIoViewer(asyncio.Protocol):
    """One viewer: handshake, auth, subscribe, then time every caption as it is read."""

    def __init__(self, index: int, args: argparse.Namespace, window: Window) -> None:
        deflate = [ClientPerMessageDeflateFactory()] if args.compression == "deflate" else None
        self.ws = ClientProtocol(parse_uri(args.url), extensions=deflate)
        self.index = index
        self.hello = [{"type": "auth", "token": args.token},
                      {"type": "subscribe", "channel": args.channel}]  # fmt: skip
        self.window = window
        self.subscribed = asyncio.get_running_loop().create_future()
        self.last_seq = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.ws.send_request(self.ws.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Frame):
                if event.opcode is Opcode.TEXT:
                    self._text(bytes(event.data), now)
            elif isinstance(event, Response):
                self._opened()
        self._flush()  # pongs to the server's pings, the close handshake

    def connection_lost(self, exc: Exception | None) -> None:
        code = self.ws.close_rcvd.code if self.ws.close_rcvd is not None else "no close frame"
        if not self.subscribed.done():
            self.subscribed.set_exception(ConnectionError(f"closed during set-up: {code}"))
        elif self.subscribed.exception() is None:
            self.window.closed[str(code)] += 1

    def _opened(self) -> None:
        if self.ws.handshake_exc is not None:
            self.subscribed.set_exception(self.ws.handshake_exc)
            return
        self.ws.send_text(json.dumps(self.hello.pop(0)).encode())

    def _text(self, data: bytes, now: float) -> None:
        if self.subscribed.done():
            self.last_seq = self.window.caption(self.index, data, now, self.last_seq)
            return
        reply = json.loads(data)
        if reply.get("type") == "authenticated" and self.hello:
            self.ws.send_text(json.dumps(self.hello.pop(0)).encode())
        elif reply.get("type") == "subscribed":
            self.subscribed.set_result(None)
        else:
            self.subscribed.set_exception(RuntimeError(f"refused: {reply}"))

    def _flush(self) -> None:
        assert self.transport is not None
        for data in self.ws.data_to_send():
            if data:
                self.transport.write(data)
            elif self.transport.can_write_eof():
                self.transport.write_eof()


async def open_sansio(index: int, args: argparse.Namespace, window: Window) -> None:
    loop = asyncio.get_running_loop()
    uri = parse_uri(args.url)
    transport, viewer = await loop.create_connection(
        lambda: SansIoViewer(index, args, window), uri.host, uri.port
    )
    try:
        await asyncio.wait_for(viewer.subscribed, 60)
    except BaseException:
        transport.abort()
        raise


async def open_asyncio(index: int, args: argparse.Namespace, window: Window) -> None:
    """The same viewer on the library's asyncio client; reads in a task of its own."""
    compression = "deflate" if args.compression == "deflate" else None
    # Like a browser: offers permessage-deflate (unless told not to) and sends no pings.
    ws = await connect(args.url, compression=compression, ping_interval=None, open_timeout=60,
                       close_timeout=1, max_queue=None)  # fmt: skip
    try:
        await ws.send(json.dumps({"type": "auth", "token": args.token}))
        for expected in ("authenticated", "subscribed"):
            reply = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if reply.get("type") != expected:
                raise RuntimeError(f"refused: {reply}")
            if expected == "authenticated":
                await ws.send(json.dumps({"type": "subscribe", "channel": args.channel}))
    except BaseException:
        await ws.close()
        raise

    async def read() -> None:
        last_seq = 0
        try:
            async for text in ws:
                now = time.time()
                last_seq = window.caption(index, str(text).encode(), now, last_seq)
        except ConnectionClosed as exc:
            window.closed[str(exc.rcvd.code if exc.rcvd else "no close frame")] += 1

    readers.add(asyncio.create_task(read()))


readers: set[asyncio.Task[None]] = set()
OPENERS: dict[str, Callable[[int, argparse.Namespace, Window], Coroutine[Any, Any, None]]] = {
    "sansio": open_sansio,
    "asyncio": open_asyncio,
}


async def ramp(args: argparse.Namespace, window: Window) -> tuple[list[int], Counter[str]]:
    """Open the connections at a bounded rate; the indexes of those open, the failures."""
    failed: Counter[str] = Counter()
    opened: list[int] = []
    handshakes = asyncio.Semaphore(args.parallel)
    opener = OPENERS[args.client]

    async def one(index: int) -> None:
        async with handshakes:
            try:
                await opener(index, args, window)
            except Exception as exc:  # a failed viewer is counted, not fatal
                failed[type(exc).__name__] += 1
                return
        opened.append(index)

    loop = asyncio.get_running_loop()
    started = loop.time()
    opening = []
    for index in range(args.count):
        await asyncio.sleep(max(0.0, started + index / args.rate - loop.time()))
        opening.append(asyncio.create_task(one(index)))
    await asyncio.gather(*opening)
    return sorted(opened), failed


async def run(args: argparse.Namespace) -> None:
    window = Window(args.count)
    opened, failed = await ramp(args, window)
    # This process's own garbage collections would stall every viewer it holds and show up
    # as delivery latency: keep the connections out of the collector, and collect nothing
    # during the window (reading messages makes no reference cycles).
    gc.collect()
    gc.freeze()
    gc.disable()
    print(json.dumps({"connected": len(opened), "failed": failed}), flush=True)
    line = await asyncio.to_thread(sys.stdin.readline)
    if not line:
        return
    times = json.loads(line)
    window.start, window.end = times["start"], times["end"]
    await asyncio.sleep(max(0.0, window.end + args.grace - time.time()))
    out = args.out.with_suffix(".lat")
    with out.open("wb") as f:
        window.latencies.tofile(f)
    summary = {
        "connected": len(opened), "failed": failed,
        "open_at_end": len(opened) - sum(window.closed.values()),
        "closed": window.closed, "seq_gaps": window.seq_gaps,
        "received": [window.received[i] for i in opened],
    }  # fmt: skip
    args.out.with_suffix(".json").write_text(json.dumps(summary))
    print(json.dumps({"done": True}), flush=True)
    os._exit(0)  # the sockets close with the process; a clean close of each is not measured


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--channel", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rate", type=float, default=200.0, help="new connections a second")
    parser.add_argument("--parallel", type=int, default=100, help="handshakes at a time")
    parser.add_argument("--compression", choices=["deflate", "none"], default="deflate")
    parser.add_argument("--client", choices=sorted(OPENERS), default="sansio")
    parser.add_argument("--grace", type=float, default=3.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
