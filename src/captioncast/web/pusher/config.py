"""The one Pusher app captioncast serves: its id, key and secret, and its limits.

The secret signs channel authorizations and HTTP API requests. ``load_pusher_secret`` takes
it from the command line or the environment, else from the data dir, else generates one
there (mode 0600) the way the management API key is kept.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from captioncast.auth.apikey import load_secret
from captioncast.errors import ConfigError

SECRET_FILENAME = "pusher_secret"
_APP_ID = re.compile(r"[0-9]{1,20}")  # the official server SDKs accept digits only
_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class PusherApp:
    """One Pusher Channels app (protocol 7).

    ``allow_public_channels`` lets anyone who knows the key read a caption channel as the
    public channel ``demo-en-en``; off by default, since captions are for token holders
    (``private-demo-en-en`` and ``presence-demo-en-en`` need a viewer token). Times in
    seconds, sizes in characters.
    """

    app_id: str
    key: str
    secret: str = field(repr=False)
    allow_public_channels: bool = False
    activity_timeout: int = 120  # ping a client silent this long; also sent in the handshake
    pong_timeout: float = 30.0  # then close with 4201
    max_subscriptions: int = 100  # channels per connection
    max_message_chars: int = 10_240  # one client message; client event data is below it
    client_event_rate: int = 10  # client events per connection per second, then 4301
    max_presence_members: int = 100  # distinct users per presence channel
    max_pending: int = 256  # undelivered frames per connection (partials excluded), then 4100
    max_event_data_chars: int = 10_240  # HTTP API event data
    max_request_bytes: int = 262_144  # HTTP API request body

    def __post_init__(self) -> None:
        if not _APP_ID.fullmatch(self.app_id):
            raise ConfigError("the Pusher app id must be digits (1 to 20)")
        if not _KEY.fullmatch(self.key):
            raise ConfigError("the Pusher key must be 1 to 64 letters, digits, '_' or '-'")
        if not self.secret:
            raise ConfigError("the Pusher secret must not be empty")
        if self.activity_timeout < 1 or self.pong_timeout <= 0:
            raise ConfigError("the Pusher activity and pong timeouts must be positive")


@dataclass(frozen=True, slots=True)
class PusherSecret:
    """The app secret and where it came from (``generated``: just created and saved)."""

    value: str = field(repr=False)
    source: Literal["given", "file", "generated"]


def load_pusher_secret(data_dir: Path, given: str | None = None) -> PusherSecret:
    """``given`` (a flag or variable) if set, else the one kept in ``data_dir``, else a new one
    saved there. Raises ConfigError on an empty secret."""
    value, source = load_secret(
        data_dir,
        SECRET_FILENAME,
        given,
        given_empty="the Pusher secret is set but empty",
        file_empty=f"the Pusher secret file {SECRET_FILENAME} in the data dir is empty",
        generate=lambda: secrets.token_hex(20),
    )
    return PusherSecret(value, source)
