"""A native-protocol viewer: subscribe to one channel, resume after drops, print captions.

``subscribe`` speaks the ``/v1/ws`` protocol of docs/protocol.md through the SDK's
``Subscription`` (``captioncast.sdk``); ``CaptionPrinter`` renders what arrives in a terminal.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Mapping
from typing import Any, Literal, TextIO

from captioncast.core.replay import StreamPosition
from captioncast.sdk.errors import SubscribeError
from captioncast.sdk.subscription import Subscription
from captioncast.sdk.viewer import FATAL_CLOSE_CODES

__all__ = [
    "FATAL_CLOSE_CODES",
    "CaptionPrinter",
    "PrintMode",
    "SubscribeError",
    "print_captions",
    "run_subscriber",
    "subscribe",
]

OnMessage = Callable[[dict[str, Any]], None]


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
    sub = Subscription(
        url,
        channel,
        token,
        since=since,
        reconnect=reconnect,
        until_end_of_stream=until_end_of_stream,
        max_backoff=max_backoff,
    )
    async with sub:
        async for caption in sub:
            on_message(dict(caption.envelope))
    return sub.position


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
