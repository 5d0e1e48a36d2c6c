"""Changes to the server that ``bench/fanout --experiment NAME`` can try, measured, before
anyone makes them in ``src/`` (or to measure an option of the shipped server). Each changes
the running bench server only.

- ``ws-compression``: uvicorn offers permessage-deflate, as ``captioncast serve
  --ws-compression`` does. Each viewer that accepts it, as browsers do, gets a zlib
  compressor of its own: each message is compressed once per viewer, and each connection
  holds the compressor's memory.
"""

from __future__ import annotations

from collections.abc import Callable


def ws_compression() -> None:
    """Applied where the bench server builds its uvicorn config."""


EXPERIMENTS: dict[str, Callable[[], None]] = {
    "ws-compression": ws_compression,
}
