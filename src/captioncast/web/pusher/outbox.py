"""A connection's bounded queue of frames waiting to be written. Pure.

Policy, the broker's (``captioncast.bus.base``): a partial transcript replaces the one of the
same channel still waiting (latest wins); every other frame is queued up to ``limit``, and
one more means the client has fallen behind: ``put`` says so, and the edge closes the
connection with 4100 (pusher-js reconnects after a back-off).
"""

from __future__ import annotations

from collections import deque


class Outbox:
    """Frames for one connection, oldest first."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._frames: deque[tuple[str, str | None]] = deque()
        self._partials: dict[str, tuple[str, str | None]] = {}  # channel → its waiting partial

    def put(self, text: str, partial: str | None = None) -> bool:
        """Queue one frame (``partial``: its channel, for a partial transcript); False when
        the queue is over its limit and the connection must be closed."""
        entry = (text, partial)
        if partial is not None:
            waiting = self._partials.pop(partial, None)
            if waiting is not None:
                self._frames.remove(waiting)
            self._partials[partial] = entry
        elif len(self._frames) - len(self._partials) >= self.limit:
            return False
        self._frames.append(entry)
        return True

    def pop(self) -> str | None:
        """The oldest frame, or None when the queue is empty."""
        if not self._frames:
            return None
        entry = self._frames.popleft()
        text, partial = entry
        if partial is not None and self._partials.get(partial) is entry:
            del self._partials[partial]
        return text

    def clear(self) -> None:
        self._frames.clear()
        self._partials.clear()

    def __len__(self) -> int:
        return len(self._frames)
