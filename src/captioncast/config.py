"""Server settings: command-line flags, each also readable from a ``CAPTIONCAST_*`` variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from captioncast.errors import ConfigError


@dataclass(frozen=True, slots=True)
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    rtmp_host: str | None = None  # defaults to ``host``
    rtmp_port: int = 1935
    srt_host: str | None = None  # where srt_push listeners bind; defaults to ``host``
    srt_ports: str = "10000-10099"  # the range srt_push flows take their ports from
    public_host: str | None = None  # the host publishers and viewers use; defaults to host
    data_dir: Path = Path("./data")
    model: str = "base"
    device: str = "auto"
    vad: str = "silero"
    log_level: str = "info"
    pusher_app_id: str = "1"
    pusher_key: str | None = None  # set: serve the Pusher protocol (docs/pusher.md)
    pusher_secret: str | None = None  # None: generated into the data dir
    pusher_public_channels: bool = False
    ws_compression: bool = False  # permessage-deflate for viewers' WebSockets
    translation_engines: str = "apertium,libretranslate,deepl"  # preference; unset ones skipped
    libretranslate_url: str | None = None
    libretranslate_api_key: str | None = None
    deepl_api_key: str | None = None
    deepl_url: str | None = None

    def __post_init__(self) -> None:
        port_range(self.srt_ports)  # a bad range fails at start-up, not at the first flow

    @property
    def srt_port_range(self) -> range:
        return port_range(self.srt_ports)

    @property
    def advertised_host(self) -> str:
        if self.public_host:
            return self.public_host
        return "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host


def port_range(text: str) -> range:
    """``"10000-10099"`` (inclusive) as a range; raises ConfigError."""
    first, sep, last = text.partition("-")
    try:
        start, stop = int(first), int(last if sep else first)
    except ValueError:
        raise ConfigError(f"a port range looks like 10000-10099, not {text!r}") from None
    if not 1 <= start <= stop <= 65535:
        raise ConfigError(f"port range {text!r} must lie within 1-65535, low to high")
    return range(start, stop + 1)


ENV_PREFIX = "CAPTIONCAST_"
_INT_FIELDS = {"port", "rtmp_port"}
_BOOL_FIELDS = {"pusher_public_channels", "ws_compression"}


def env_defaults(environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """Settings given through ``CAPTIONCAST_HOST``, ``CAPTIONCAST_PORT``, … ."""
    env = os.environ if environ is None else environ
    out: dict[str, object] = {}
    for name in ServeConfig.__dataclass_fields__:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is None or raw == "":
            continue
        if name in _INT_FIELDS:
            try:
                out[name] = int(raw)
            except ValueError:
                raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be a number") from None
        elif name == "data_dir":
            out[name] = Path(raw)
        elif name in _BOOL_FIELDS:
            out[name] = raw.lower() in ("1", "true", "yes", "on")
        else:
            out[name] = raw
    return out
