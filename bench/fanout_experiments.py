"""Changes to the server that ``bench/fanout --experiment NAME`` can try, measured, before
anyone makes them in ``src/``. Each changes the running bench server only.

- ``no-permessage-deflate``: uvicorn runs with ``ws_per_message_deflate=False``. With it on
  (uvicorn's default, which ``captioncast serve`` keeps) every viewer that offers the
  extension, as browsers do, gets a zlib compressor of its own: each message is compressed
  once per viewer, and each connection holds the compressor's memory.
- ``send-without-wait-for``: ``NativeConnection._send`` awaits the send directly instead of
  through ``asyncio.wait_for``. On Python 3.11 ``wait_for`` wraps every send in a new Task
  and schedules a 10 s timer, whose cancelled handle stays in the loop's heap until the loop
  purges cancelled timers. The proposed fix enforces ``ws_send_timeout`` with one watchdog
  for all connections instead; not modelled here (one pass over the connections a second).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.websockets import WebSocketDisconnect

from captioncast.web.ws_endpoint import NativeConnection


def send_without_wait_for() -> None:
    async def _send(self: NativeConnection, text: str) -> None:
        async with self._send_lock:
            if self._done.is_set():
                return
            try:
                await self.ws.send_text(text)
            except (OSError, RuntimeError, WebSocketDisconnect):
                self._peer_gone = True
                self._finish(None)

    NativeConnection._send = _send  # type: ignore[method-assign]


def no_permessage_deflate() -> None:
    """Applied where the bench server builds its uvicorn config."""


EXPERIMENTS: dict[str, Callable[[], None]] = {
    "no-permessage-deflate": no_permessage_deflate,
    "send-without-wait-for": send_without_wait_for,
}
