"""Settings from flags and ``CAPTIONCAST_*`` variables."""

from __future__ import annotations

import pytest

from captioncast.cli import build_parser, serve_config
from captioncast.config import ServeConfig, env_defaults


def test_viewer_websocket_compression_is_off_unless_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CAPTIONCAST_WS_COMPRESSION", raising=False)
    assert ServeConfig().ws_compression is False
    assert serve_config(build_parser().parse_args(["serve"])).ws_compression is False
    assert serve_config(build_parser().parse_args(["serve", "--ws-compression"])).ws_compression
    monkeypatch.setenv("CAPTIONCAST_WS_COMPRESSION", "true")
    assert serve_config(build_parser().parse_args(["serve"])).ws_compression is True


@pytest.mark.parametrize(
    ("raw", "value"), [("1", True), ("yes", True), ("0", False), ("off", False)]
)
def test_boolean_variables(raw: str, value: bool) -> None:
    env = {"CAPTIONCAST_WS_COMPRESSION": raw, "CAPTIONCAST_PUSHER_PUBLIC_CHANNELS": raw}
    assert env_defaults(env) == {"ws_compression": value, "pusher_public_channels": value}
