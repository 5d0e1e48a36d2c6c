"""Pusher channel names: their kind (public, private, presence) and the caption channel behind.

A caption channel ``demo-en-en`` is reachable as the public channel ``demo-en-en``, the
private channel ``private-demo-en-en`` and the presence channel ``presence-demo-en-en``.
``private-encrypted-…`` channels are private channels whose payload only the app's own
backend and its clients can read; they never carry captions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

MAX_CHANNEL_CHARS = 200
MAX_EVENT_NAME_CHARS = 200
_CHANNEL = re.compile(r"[-a-zA-Z0-9_=@,.;]{1,200}")
_SOCKET_ID = re.compile(r"[0-9]{1,20}\.[0-9]{1,20}")

PRIVATE_PREFIX = "private-"
ENCRYPTED_PREFIX = "private-encrypted-"
PRESENCE_PREFIX = "presence-"


class ChannelKind(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"
    ENCRYPTED = "encrypted"
    PRESENCE = "presence"

    @property
    def needs_auth(self) -> bool:
        """Whether subscribing takes a signed ``auth`` string."""
        return self is not ChannelKind.PUBLIC

    @property
    def allows_client_events(self) -> bool:
        """Client events travel on private and presence channels only (never encrypted)."""
        return self in (ChannelKind.PRIVATE, ChannelKind.PRESENCE)


@dataclass(frozen=True, slots=True)
class ChannelName:
    """A valid Pusher channel name; ``base`` is the name without its kind's prefix."""

    name: str
    kind: ChannelKind
    base: str

    @property
    def caption_channel(self) -> str | None:
        """The captioncast channel this name may stand for (None for encrypted channels);
        whether one of that name exists is the channel registry's business."""
        return None if self.kind is ChannelKind.ENCRYPTED else self.base


def parse_channel(name: str) -> ChannelName | None:
    """The channel called ``name``, or None when it is not a valid Pusher channel name."""
    if not _CHANNEL.fullmatch(name):
        return None
    for prefix, kind in (
        (ENCRYPTED_PREFIX, ChannelKind.ENCRYPTED),
        (PRIVATE_PREFIX, ChannelKind.PRIVATE),
        (PRESENCE_PREFIX, ChannelKind.PRESENCE),
    ):
        if name.startswith(prefix):
            base = name[len(prefix) :]
            return ChannelName(name, kind, base) if base else None
    return ChannelName(name, ChannelKind.PUBLIC, name)


def valid_socket_id(socket_id: str) -> bool:
    """Whether ``socket_id`` looks like one this server hands out (``"123.456"``)."""
    return _SOCKET_ID.fullmatch(socket_id) is not None


def valid_event_name(name: str) -> bool:
    """Whether ``name`` may name an event (non-empty, at most 200 characters)."""
    return 0 < len(name) <= MAX_EVENT_NAME_CHARS
