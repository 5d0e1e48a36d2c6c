"""A native-protocol viewer: subscribe to one channel, resume after drops, print captions.

``subscribe`` speaks the ``/v1/ws`` protocol of docs/protocol.md with the ``websockets``
client library; ``CaptionPrinter`` renders what arrives in a terminal.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import sys
from collections.abc import Callable, Mapping
from typing import Any, Literal, TextIO

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from captioncast.core.replay import StreamPosition
from captioncast.errors import CaptioncastError

log = logging.getLogger(__name__)

# Close codes after which trying again cannot help (see docs/protocol.md).
FATAL_CLOSE_CODES = frozenset({4001, 4002, 4003, 4004, 4009, 1009})

OnMessage = Callable[[dict[str, Any]], None]


class SubscribeError(CaptioncastError):
    """The server refused the subscription; ``code`` is its WebSocket close code."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed with {code}: {reason}" if code else reason)
        self.code = code
        self.reason = reason


class _Session:
    """The state one ``subscribe`` call keeps across reconnections."""

    def __init__(self, channel: str, since: StreamPosition | None, until_end: bool) -> None:
        self.channel = channel
        self.position = since
        self.until_end = until_end
        self.finished = False

    def hello(self, token: str) -> list[str]:
        sub: dict[str, Any] = {"type": "subscribe", "channel": self.channel}
        if self.position is not None:
            sub["since"] = {"seq": self.position.seq, "epoch": self.position.epoch}
        return [json.dumps({"type": "auth", "token": token}), json.dumps(sub)]

    def handle(self, frame: str | bytes, on_message: OnMessage) -> None:
        message = json.loads(frame)
        if not isinstance(message, dict):
            return
        if "response" in message and "seq" in message:
            self.position = StreamPosition(int(message["seq"]), str(message["epoch"]))
            on_message(message)
            response = message["response"]
            if self.until_end and isinstance(response, dict) and response.get("is_end_of_stream"):
                self.finished = True
        elif message.get("type") == "subscribed":
            if not message.get("recovered"):
                if self.position is not None:
                    log.warning(
                        "channel %s: could not resume, some messages were missed", self.channel
                    )
                pos = message.get("position") or {}
                self.position = StreamPosition(int(pos.get("seq", 0)), str(pos.get("epoch", "")))
        elif message.get("type") == "unsubscribed":
            self.finished = True


async def subscribe(
    url: str,
    token: str,
    channel: str,
    on_message: OnMessage,
    *,
    since: StreamPosition | None = None,
    reconnect: bool = True,
    until_end_of_stream: bool = True,
    max_backoff: float = 10.0,
) -> StreamPosition | None:
    """Receive ``channel``'s envelopes from ``url`` (``ws://host:port/v1/ws``) until it ends.

    Each envelope (a dict: ``seq``, ``epoch``, ``channel``, ``response``) goes to
    ``on_message``. On a dropped connection, 1001/1012 or 4008 the client reconnects with
    backoff and resumes from the last position. Returns that position once the channel ends
    (end of stream, or the channel closes). Raises SubscribeError when the server refuses
    (bad token, unknown channel...) or, without ``reconnect``, when the connection drops.
    """
    session = _Session(channel, since, until_end_of_stream)
    backoff = 0.5
    while True:
        code: int | None = None
        reason = "connection lost"
        try:
            async with connect(url, open_timeout=10, max_size=2**22) as ws:
                for text in session.hello(token):
                    await ws.send(text)
                async for frame in ws:
                    backoff = 0.5
                    session.handle(frame, on_message)
                    if session.finished:
                        return session.position
                code, reason = ws.close_code, ws.close_reason or ""
        except ConnectionClosed as closed:
            if closed.rcvd is not None:
                code, reason = closed.rcvd.code, closed.rcvd.reason
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            reason = f"cannot connect: {exc}"
        except InvalidURI as exc:
            raise SubscribeError(None, f"bad URL: {exc}") from exc
        if code in FATAL_CLOSE_CODES or not reconnect:
            raise SubscribeError(code, reason)
        log.info("channel %s: %s (%s); reconnecting in %.1fs", channel, reason, code, backoff)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, max_backoff)


async def print_captions(
    url: str,
    token: str,
    channel: str,
    mode: PrintMode = "live",
    *,
    out: TextIO | None = None,
) -> StreamPosition | None:
    """Subscribe to ``channel`` and print it until the end of stream (see CaptionPrinter).

    Raises SubscribeError when the server refuses.
    """
    printer = CaptionPrinter(out, mode=mode)
    return await subscribe(url, token, channel, printer)


async def run_subscriber(url: str, token: str, channel: str, mode: PrintMode = "live") -> None:
    """What ``captioncast subscribe`` runs: print one channel until its end of stream."""
    await print_captions(url, token, channel, mode)


PrintMode = Literal["live", "transcript", "captions"]


class CaptionPrinter:
    """Renders envelopes in a terminal.

    ``transcript`` mode: partial transcripts overwrite the current line in place (``\\r``),
    final ones are printed as lines. ``captions`` mode: caption blocks, one line each.
    ``live`` mode: the words being recognized overwrite one line in place, and each caption
    block is printed, line by line, with its start time, when it is finished.
    """

    def __init__(self, out: TextIO | None = None, mode: PrintMode = "transcript") -> None:
        self.out = out if out is not None else sys.stdout
        self.mode = mode
        self._shown = 0  # width of the partial line currently on screen

    def __call__(self, envelope: Mapping[str, Any]) -> None:
        response = envelope.get("response")
        if not isinstance(response, Mapping):
            return
        kind = response.get("type")
        if kind == "transcript" and self.mode == "transcript":
            self._transcript(response)
        elif kind == "transcript" and self.mode == "live" and not response.get("is_final"):
            self._partial("  … " + _text(response))
        elif kind == "captions" and self.mode == "captions":
            for line in _lines(response):
                self.out.write(line + "\n")
        elif kind == "captions" and self.mode == "live":
            self._clear()
            stamp = _clock(response.get("start"))
            for i, line in enumerate(_lines(response)):
                self.out.write(f"{stamp if i == 0 else ' ' * len(stamp)}  {line}\n")
        if response.get("is_end_of_stream"):
            self._clear()
            self.out.write("[end of stream]\n")
        self.out.flush()

    def _transcript(self, response: Mapping[str, Any]) -> None:
        text = _text(response)
        if response.get("is_final"):
            if text:
                self.out.write("\r" + text.ljust(self._shown) + "\n")
                self._shown = 0
            else:
                self._clear()
            return
        self._partial(text)

    def _partial(self, text: str) -> None:
        width = max(10, shutil.get_terminal_size().columns - 1)
        if len(text) > width:
            text = "…" + text[-(width - 1) :]
        self.out.write("\r" + text.ljust(self._shown))
        self._shown = len(text)

    def _clear(self) -> None:
        if self._shown:
            self.out.write("\r" + " " * self._shown + "\r")
            self._shown = 0


def _clock(seconds: object) -> str:
    """``[mm:ss.s]`` of a stream position."""
    t = float(seconds) if isinstance(seconds, int | float) else 0.0
    return f"[{int(t // 60):02d}:{t % 60:04.1f}]"


def _text(response: Mapping[str, Any]) -> str:
    alternatives = response.get("alternatives") or []
    if not alternatives or not isinstance(alternatives[0], Mapping):
        return ""
    return str(alternatives[0].get("transcript", "")).strip()


def _lines(response: Mapping[str, Any]) -> list[str]:
    alternatives = response.get("alternatives") or []
    if not alternatives or not isinstance(alternatives[0], Mapping):
        return []
    lines = alternatives[0].get("lines")
    if isinstance(lines, list) and lines:
        return [str(line) for line in lines]
    text = _text(response)
    return [text] if text else []
