"""Property tests of the native protocol parser: any text a peer sends ends in protocol
actions or a close with a protocol code, never an exception, and a closed session stays closed."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from captioncast.auth.claims import TokenMalformed, ViewerClaims
from captioncast.core.channels import ChannelRegistry, flow_channels
from captioncast.core.replay import StreamPosition
from captioncast.web.ws_session import (
    CLOSE_FORBIDDEN,
    CLOSE_MALFORMED,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_TOO_MANY_SUBSCRIPTIONS,
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
CLAIMS = ViewerClaims(frozenset({"demo"}), int(NOW) + 3600, 0, 0, "captioncast", "captioncast")
PROTOCOL_CLOSES = {
    CLOSE_UNAUTHORIZED,
    CLOSE_MALFORMED,
    CLOSE_FORBIDDEN,
    CLOSE_UNKNOWN_CHANNEL,
    CLOSE_TOO_MANY_SUBSCRIPTIONS,
    CLOSE_MESSAGE_TOO_BIG,
}


def verify(token: str) -> ViewerClaims:
    if token == "good":
        return CLAIMS
    raise TokenMalformed("bad")


def new_session() -> NativeSession:
    registry = ChannelRegistry()
    registry.register_all(flow_channels("f1", "demo", "en", ["de"]))
    registry.register_all(flow_channels("f2", "other", "en", []))
    return NativeSession(verify, registry.resolve, NOW, SessionLimits(max_subscriptions=2))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
messages = st.fixed_dictionaries(
    {"type": st.sampled_from(["auth", "subscribe", "unsubscribe", "ping", "other", ""])},
    optional={
        "token": st.sampled_from(["good", "bad"]) | json_values,
        "channel": st.sampled_from(["demo-en-en", "demo-en-de", "other-en-en", "nope"])
        | json_values,
        "since": st.fixed_dictionaries(
            {
                "seq": st.integers(-5, 10**20) | json_values,
                "epoch": st.text(max_size=70) | json_values,
            }
        )
        | json_values,
    },
)
frames = st.one_of(
    messages.map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=200),
    st.just("x" * 5000),
)


def check(actions: list[Any], session: NativeSession) -> None:
    for action in actions:
        assert isinstance(action, Send | Subscribe | Unsubscribe | Close)
        if isinstance(action, Close):
            assert action.code in PROTOCOL_CLOSES and action.reason
            assert session.closed
        if isinstance(action, Send):
            reply = json.loads(action.text)
            assert reply["type"] in {"authenticated", "pong", "unsubscribed"}
        if isinstance(action, Subscribe):
            assert action.channel in session.channels
            assert action.since is None or isinstance(action.since, StreamPosition)
            assert isinstance(action.since.seq if action.since else 0, int)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(frames, min_size=1, max_size=12), st.booleans())
def test_any_sequence_of_frames_ends_in_actions_or_a_protocol_close(
    frames: list[str], authenticate_first: bool
) -> None:
    session = new_session()
    if authenticate_first:
        session.receive('{"type":"auth","token":"good"}', NOW)
    for text in frames:
        was_closed = session.closed
        actions = session.receive(text, NOW)
        if was_closed:
            assert actions == []  # nothing happens after a close
        check(actions, session)
    # Subscriptions never exceed the limit and only cover the token's stream.
    assert len(session.channels) <= 2
    assert all(stream == "demo" for stream in session.channels.values())
    assert not session.channels or session.claims is not None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64).map(lambda b: b.decode("latin-1")))
def test_arbitrary_text_never_raises(text: str) -> None:
    session = new_session()
    check(session.receive(text, NOW), session)
