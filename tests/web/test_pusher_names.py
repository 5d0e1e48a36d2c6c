"""Pusher channel names, socket ids and event names."""

from __future__ import annotations

import pytest

from captioncast.web.pusher.names import (
    ChannelKind,
    parse_channel,
    valid_event_name,
    valid_socket_id,
)


@pytest.mark.parametrize(
    ("name", "kind", "caption_channel"),
    [
        ("demo-en-en", ChannelKind.PUBLIC, "demo-en-en"),
        ("private-demo-en-es-419", ChannelKind.PRIVATE, "demo-en-es-419"),
        ("presence-demo-en-de", ChannelKind.PRESENCE, "demo-en-de"),
        ("private-encrypted-demo-en-en", ChannelKind.ENCRYPTED, None),
        ("a_b=c@d,e.f;g", ChannelKind.PUBLIC, "a_b=c@d,e.f;g"),
    ],
)
def test_channel_kinds_and_the_caption_channel_behind(
    name: str, kind: ChannelKind, caption_channel: str | None
) -> None:
    parsed = parse_channel(name)
    assert parsed is not None
    assert parsed.kind is kind and parsed.caption_channel == caption_channel
    assert parsed.kind.needs_auth is (kind is not ChannelKind.PUBLIC)


@pytest.mark.parametrize(
    "name",
    ["", "a b", "x" * 201, "private-", "presence-", "private-encrypted-", "#server-to-user-1", "é"],
)
def test_invalid_channel_names(name: str) -> None:
    assert parse_channel(name) is None


def test_client_events_only_on_private_and_presence() -> None:
    allowed = {kind for kind in ChannelKind if kind.allows_client_events}
    assert allowed == {ChannelKind.PRIVATE, ChannelKind.PRESENCE}


def test_socket_ids_and_event_names() -> None:
    assert valid_socket_id("123.456")
    for bad in ("123", "a.b", "1.2.3", "", "1." + "9" * 30):
        assert not valid_socket_id(bad)
    assert valid_event_name("caption") and valid_event_name("x" * 200)
    assert not valid_event_name("") and not valid_event_name("x" * 201)
