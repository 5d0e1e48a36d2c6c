"""The native protocol state machine, without sockets."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from captioncast.auth.claims import TokenExpired, TokenMalformed, ViewerClaims
from captioncast.bus.base import EndReason
from captioncast.core.channels import ChannelInfo, ChannelRegistry, flow_channels
from captioncast.core.replay import StreamPosition
from captioncast.web.ws_session import (
    CLOSE_FORBIDDEN,
    CLOSE_GOING_AWAY,
    CLOSE_MALFORMED,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_TOO_MANY_SUBSCRIPTIONS,
    CLOSE_TOO_SLOW,
    CLOSE_UNAUTHORIZED,
    CLOSE_UNKNOWN_CHANNEL,
    Close,
    NativeSession,
    Send,
    SessionLimits,
    Subscribe,
    Unsubscribe,
)

NOW = 1_800_000_000.0
CLAIMS = ViewerClaims(
    frozenset({"demo"}), exp=int(NOW) + 3600, nbf=0, iat=0, iss="captioncast", aud="captioncast"
)


def verify(token: str) -> ViewerClaims:
    if token == "good":
        return CLAIMS
    if token == "old":
        raise TokenExpired("expired")
    raise TokenMalformed("bad")


@pytest.fixture
def session() -> NativeSession:
    registry = ChannelRegistry()
    registry.register_all(flow_channels("f1", "demo", "en", ["es-419"]))
    registry.register_all(flow_channels("f2", "other", "en", []))
    return NativeSession(verify, registry.resolve, NOW, SessionLimits(max_subscriptions=2))


def sent(actions: Sequence[object]) -> list[dict[str, object]]:
    return [json.loads(a.text) for a in actions if isinstance(a, Send)]


def authed(session: NativeSession) -> NativeSession:
    assert sent(session.receive('{"type":"auth","token":"good"}', NOW))[0]["type"] == (
        "authenticated"
    )
    return session


def test_auth_then_subscribe_with_resume_position(session: NativeSession) -> None:
    authed(session)
    msg = {"type": "subscribe", "channel": "demo-en-es-419", "since": {"seq": 4, "epoch": "ab"}}
    actions = session.receive(json.dumps(msg), NOW)
    assert actions == [Subscribe("demo-en-es-419", StreamPosition(4, "ab"))]
    reply = session.subscribed("demo-en-es-419", True, StreamPosition(9, "ab"))
    assert sent(reply) == [
        {
            "type": "subscribed",
            "channel": "demo-en-es-419",
            "recovered": True,
            "position": {"seq": 9, "epoch": "ab"},
        }
    ]


def test_query_token_authenticates_at_open(session: NativeSession) -> None:
    assert sent(session.open("good", NOW))[0]["streams"] == ["demo"]
    assert session.receive('{"type":"subscribe","channel":"demo-en-en"}', NOW) == [
        Subscribe("demo-en-en", None)
    ]


@pytest.mark.parametrize(
    ("token", "reason"), [("old", "token_expired"), ("junk", "token_malformed")]
)
def test_bad_tokens_close_4001(session: NativeSession, token: str, reason: str) -> None:
    assert session.open(token, NOW) == [Close(CLOSE_UNAUTHORIZED, reason)]
    assert session.receive('{"type":"ping"}', NOW) == []  # closed: nothing more


def test_anything_but_auth_or_ping_first_closes_4001(session: NativeSession) -> None:
    assert sent(session.receive('{"type":"ping"}', NOW)) == [{"type": "pong"}]
    assert session.receive('{"type":"subscribe","channel":"demo-en-en"}', NOW) == [
        Close(CLOSE_UNAUTHORIZED, "auth required")
    ]


def test_auth_timeout_and_max_age(session: NativeSession) -> None:
    assert session.next_deadline() == NOW + 10
    assert session.tick(NOW + 5) == []
    assert session.tick(NOW + 10) == [Close(CLOSE_UNAUTHORIZED, "auth timeout")]
    other = NativeSession(verify, lambda _: None, NOW, SessionLimits(max_age=60))
    other.open("good", NOW)
    assert other.tick(NOW + 30) == [] and other.next_deadline() == NOW + 60
    assert other.tick(NOW + 61) == [Close(CLOSE_GOING_AWAY, "maximum connection age reached")]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not json", CLOSE_MALFORMED),
        ("[1]", CLOSE_MALFORMED),
        ('{"type": 3}', CLOSE_MALFORMED),
        ('{"type": "dance"}', CLOSE_MALFORMED),
        ('{"type": "subscribe"}', CLOSE_MALFORMED),
        ('{"type": "subscribe", "channel": 5}', CLOSE_MALFORMED),
        ('{"type": "subscribe", "channel": "demo-en-en", "since": 3}', CLOSE_MALFORMED),
        (
            '{"type": "subscribe", "channel": "demo-en-en", "since": {"seq": "1", "epoch": "a"}}',
            CLOSE_MALFORMED,
        ),
        (
            '{"type": "subscribe", "channel": "demo-en-en", "since": {"seq": -1, "epoch": "a"}}',
            CLOSE_MALFORMED,
        ),
        (
            '{"type": "subscribe", "channel": "demo-en-en", "since": {"seq": true, "epoch": "a"}}',
            CLOSE_MALFORMED,
        ),
        ('{"type": "unsubscribe", "channel": []}', CLOSE_MALFORMED),
        ('{"type": "auth", "token": null}', CLOSE_MALFORMED),
        ('{"type": "subscribe", "channel": "nope-en-en"}', CLOSE_UNKNOWN_CHANNEL),
        ('{"type": "subscribe", "channel": "demo-en"}', CLOSE_UNKNOWN_CHANNEL),
        ('{"type": "subscribe", "channel": "other-en-en"}', CLOSE_FORBIDDEN),
        ('{"type": "ping", "pad": "' + "x" * 5000 + '"}', CLOSE_MESSAGE_TOO_BIG),
    ],
)
def test_bad_messages_close_with_their_code(session: NativeSession, text: str, code: int) -> None:
    actions = authed(session).receive(text, NOW)
    assert len(actions) == 1 and isinstance(actions[0], Close) and actions[0].code == code
    assert session.closed


def test_binary_frames_are_refused(session: NativeSession) -> None:
    assert session.receive_binary()[0] == Close(CLOSE_MALFORMED, "binary frames are not supported")


def test_double_subscribe_and_subscription_limit(session: NativeSession) -> None:
    authed(session)
    session.receive('{"type":"subscribe","channel":"demo-en-en"}', NOW)
    again = session.receive('{"type":"subscribe","channel":"demo-en-en"}', NOW)
    assert isinstance(again[0], Close) and again[0].code == CLOSE_MALFORMED

    def any_channel(name: str) -> ChannelInfo:
        return ChannelInfo(name, "f1", "demo", "en", "transcription")

    limited = NativeSession(verify, any_channel, NOW, SessionLimits(max_subscriptions=1))
    limited.open("good", NOW)
    limited.receive('{"type":"subscribe","channel":"x"}', NOW)
    assert limited.receive('{"type":"subscribe","channel":"y"}', NOW) == [
        Close(CLOSE_TOO_MANY_SUBSCRIPTIONS, "too many subscriptions")
    ]


def test_token_expired_since_auth_refuses_new_subscriptions(session: NativeSession) -> None:
    authed(session)
    later = CLAIMS.exp + 1
    assert session.receive('{"type":"subscribe","channel":"demo-en-en"}', later) == [
        Close(CLOSE_UNAUTHORIZED, "token_expired")
    ]


def test_unsubscribe_one_or_all(session: NativeSession) -> None:
    authed(session)
    session.receive('{"type":"subscribe","channel":"demo-en-en"}', NOW)
    session.receive('{"type":"subscribe","channel":"demo-en-es-419"}', NOW)
    one = session.receive('{"type":"unsubscribe","channel":"demo-en-en"}', NOW)
    assert one[0] == Unsubscribe("demo-en-en")
    assert sent(one) == [{"type": "unsubscribed", "channel": "demo-en-en", "reason": "requested"}]
    rest = session.receive('{"type":"unsubscribe"}', NOW)
    assert rest[0] == Unsubscribe("demo-en-es-419") and not session.channels


def test_broker_ending_a_subscription(session: NativeSession) -> None:
    authed(session)
    session.receive('{"type":"subscribe","channel":"demo-en-en"}', NOW)
    session.receive('{"type":"subscribe","channel":"demo-en-es-419"}', NOW)
    closed = session.subscription_ended("demo-en-en", EndReason.CHANNEL_CLOSED)
    assert sent(closed) == [
        {"type": "unsubscribed", "channel": "demo-en-en", "reason": "channel_closed"}
    ]
    assert session.subscription_ended("demo-en-es-419", EndReason.TOO_SLOW) == [
        Close(CLOSE_TOO_SLOW, "too slow")
    ]


def test_server_shutdown_is_going_away(session: NativeSession) -> None:
    assert session.server_shutdown() == [Close(CLOSE_GOING_AWAY, "server shutting down")]
    assert session.server_shutdown() == []


def refreshing_verify(token: str) -> ViewerClaims:
    """``good`` as above; ``fresh`` a later token for the same stream; ``narrow`` a token for
    another stream only."""
    if token == "fresh":
        return ViewerClaims(CLAIMS.streams, CLAIMS.exp + 3600, 0, 0, "captioncast", "captioncast")
    if token == "narrow":
        return ViewerClaims(frozenset({"other"}), CLAIMS.exp + 3600, 0, 0, "x", "x")
    return verify(token)


@pytest.fixture
def refreshable() -> NativeSession:
    registry = ChannelRegistry()
    registry.register_all(flow_channels("f1", "demo", "en", ["es-419"]))
    registry.register_all(flow_channels("f2", "other", "en", []))
    return NativeSession(refreshing_verify, registry.resolve, NOW)


def test_the_token_expiring_during_the_connection_closes_it(refreshable: NativeSession) -> None:
    authed(refreshable)
    refreshable.receive('{"type":"subscribe","channel":"demo-en-en"}', NOW)
    assert refreshable.next_deadline() == CLAIMS.exp
    assert refreshable.tick(CLAIMS.exp - 1) == []
    assert refreshable.tick(CLAIMS.exp) == [Close(CLOSE_UNAUTHORIZED, "token_expired")]


def test_a_fresh_token_before_expiry_keeps_the_connection(refreshable: NativeSession) -> None:
    authed(refreshable)
    refreshable.receive('{"type":"subscribe","channel":"demo-en-en"}', NOW)
    again = sent(refreshable.receive('{"type":"auth","token":"fresh"}', CLAIMS.exp - 10))
    assert again == [{"type": "authenticated", "streams": ["demo"], "exp": CLAIMS.exp + 3600}]
    assert refreshable.next_deadline() == CLAIMS.exp + 3600
    assert refreshable.tick(CLAIMS.exp + 5) == []
    assert refreshable.channels == {"demo-en-en": "demo"}


def test_a_fresh_token_must_cover_the_subscriptions(refreshable: NativeSession) -> None:
    authed(refreshable)
    refreshable.receive('{"type":"subscribe","channel":"demo-en-en"}', NOW)
    assert refreshable.receive('{"type":"auth","token":"narrow"}', NOW) == [
        Close(CLOSE_FORBIDDEN, "token does not cover this stream")
    ]


def test_a_bad_replacement_token_closes(refreshable: NativeSession) -> None:
    authed(refreshable)
    assert refreshable.receive('{"type":"auth","token":"junk"}', NOW) == [
        Close(CLOSE_UNAUTHORIZED, "token_malformed")
    ]


def test_the_maximum_age_comes_before_a_longer_token() -> None:
    registry = ChannelRegistry()
    limits = SessionLimits(max_age=60.0)
    session = NativeSession(verify, registry.resolve, NOW, limits)
    authed(session)
    assert session.next_deadline() == NOW + 60
    assert session.tick(NOW + 60) == [Close(CLOSE_GOING_AWAY, "maximum connection age reached")]
