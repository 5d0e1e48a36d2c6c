"""What the SDK raises.

::

    CaptioncastError                  (captioncast.errors)
    ├── ApiError        the REST API refused a request: ``status``, ``code``, ``message``
    │                   from its JSON error body (docs/api.md#errors)
    └── SubscribeError  the WebSocket server refused a subscription, or the connection was
                        lost and reconnecting was turned off: ``code`` (the close code, or
                        None) and ``reason``

Network failures of REST calls come through as ``httpx.TransportError``; a subscription
rides them out by reconnecting.
"""

from __future__ import annotations

from captioncast.errors import ApiError, CaptioncastError

__all__ = ["ApiError", "SubscribeError"]


class SubscribeError(CaptioncastError):
    """The server refused the subscription; ``code`` is its WebSocket close code."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed with {code}: {reason}" if code else reason)
        self.code = code
        self.reason = reason
