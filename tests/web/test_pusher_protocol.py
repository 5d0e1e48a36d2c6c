"""The Pusher protocol state machine and channel directory, without sockets or clocks."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from captioncast.core.channels import ChannelInfo
from captioncast.web.pusher import PusherApp
from captioncast.web.pusher.auth import channel_auth
from captioncast.web.pusher.directory import ChannelDirectory, Deliver, Member, Unwatch, Watch
from captioncast.web.pusher.frames import caption_event_name
from captioncast.web.pusher.protocol import Action, Close, PusherSession, Send

APP = PusherApp("1", "key", "secret")
CAPTIONS = {
    name: ChannelInfo(name, "flow1", "demo", name.rsplit("-", 1)[1], "transcription")
    for name in ("demo-en-en", "demo-en-de")
}


def opened(
    directory: ChannelDirectory,
    socket_id: str = "1.1",
    app: PusherApp = APP,
    now: float = 0.0,
    max_age: float | None = None,
) -> PusherSession:
    session = PusherSession(app, directory, CAPTIONS.get, socket_id, now, max_age)
    assert len(session.open(app.key, {"protocol": "7"}, now)) == 1
    return session


def sent(actions: list[Action]) -> list[dict[str, Any]]:
    """The frames this connection is sent, decoded (``data`` strings too)."""
    out = []
    for action in actions:
        if isinstance(action, Send):
            frame = json.loads(action.text)
            if isinstance(frame.get("data"), str):
                frame["data"] = json.loads(frame["data"])
            out.append(frame)
    return out


def only(actions: list[Action]) -> dict[str, Any]:
    frames = sent(actions)
    assert len(frames) == 1 and len(actions) == 1, actions
    return frames[0]


def msg(event: str, data: Any = None, channel: str | None = None) -> str:
    message: dict[str, Any] = {"event": event, "data": data}
    if channel is not None:
        message["channel"] = channel
    return json.dumps(message)


def subscribe(
    session: PusherSession, channel: str, *, auth: bool = True, user: str | None = None
) -> list[Action]:
    data: dict[str, Any] = {"channel": channel}
    if user is not None:
        data["channel_data"] = json.dumps({"user_id": user, "user_info": {"name": user}})
    if auth:
        data["auth"] = channel_auth(
            session.app, session.socket_id, channel, data.get("channel_data")
        )
    return session.receive(msg("pusher:subscribe", data), 0.0)


def error_code(actions: list[Action]) -> int:
    frame = only(actions)
    assert frame["event"] == "pusher:error"
    code: int = frame["data"]["code"]
    return code


def refusal(actions: list[Action]) -> tuple[str, int]:
    frame = only(actions)
    assert frame["event"] == "pusher:subscription_error"
    return frame["data"]["type"], frame["data"]["status"]


# --- connecting ---


def test_open_establishes_the_connection_with_a_string_data_payload() -> None:
    session = PusherSession(APP, ChannelDirectory(), CAPTIONS.get, "12.34", 0.0)
    [action] = session.open("key", {"protocol": "7", "client": "js", "version": "8.6.0"}, 0.0)
    assert isinstance(action, Send)
    frame = json.loads(action.text)
    assert frame["event"] == "pusher:connection_established"
    assert isinstance(frame["data"], str)  # the protocol sends data JSON-encoded
    assert json.loads(frame["data"]) == {"socket_id": "12.34", "activity_timeout": 120}


@pytest.mark.parametrize(
    ("key", "query", "code"),
    [
        ("other", {"protocol": "7"}, 4001),
        ("key", {}, 4008),
        ("key", {"protocol": "seven"}, 4006),
        ("key", {"protocol": "6"}, 4007),
        ("key", {"protocol": "8"}, 4007),
    ],
)
def test_open_refuses_with_an_error_then_the_same_close_code(
    key: str, query: dict[str, str], code: int
) -> None:
    session = PusherSession(APP, ChannelDirectory(), CAPTIONS.get, "1.1", 0.0)
    [action] = session.open(key, query, 0.0)
    assert isinstance(action, Close) and action.code == code
    assert action.farewell is not None
    farewell = json.loads(action.farewell)
    assert farewell["event"] == "pusher:error"
    assert farewell["data"] == {"code": code, "message": action.reason}  # an object here
    assert session.closed
    assert session.receive(msg("pusher:ping"), 1.0) == []


# --- messages ---


def test_ping_is_answered_with_pong() -> None:
    session = opened(ChannelDirectory())
    assert only(session.receive(msg("pusher:ping", {}), 1.0)) == {
        "event": "pusher:pong",
        "data": {},
    }


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        '{"data": {}}',
        '{"event": 7}',
        "[" * 5000 + "]" * 5000,
        '{"event": "pusher:subscribe", "data": 5}',
        '{"event": "pusher:subscribe", "data": "{no"}',
        '{"event": "pusher:subscribe", "data": {}}',
        '{"event": "pusher:unsubscribe", "data": {"channel": 3}}',
        '{"event": "pusher:signin", "data": {}}',
        '{"event": "hello", "data": {}}',
        '{"event": "client-x", "data": {}}',
    ],
)
def test_malformed_or_unknown_messages_get_error_4300_and_the_connection_stays(
    text: str,
) -> None:
    session = opened(ChannelDirectory())
    assert error_code(session.receive(text, 1.0)) == 4300
    assert not session.closed
    assert only(session.receive(msg("pusher:ping"), 1.0))["event"] == "pusher:pong"


def test_oversized_messages_and_binary_frames_get_error_4300() -> None:
    session = opened(ChannelDirectory(), app=replace(APP, max_message_chars=100))
    assert error_code(session.receive(msg("pusher:ping", {"pad": "x" * 100}), 1.0)) == 4300
    assert error_code(session.receive_binary()) == 4300
    assert not session.closed


# --- subscriptions ---


def test_public_app_channel_is_open_to_anyone() -> None:
    directory = ChannelDirectory()
    session = opened(directory)
    frame = only(subscribe(session, "news", auth=False))
    assert frame == {
        "event": "pusher_internal:subscription_succeeded",
        "channel": "news",
        "data": {},
    }
    assert directory.subscription_count("news") == 1


def test_public_caption_channel_is_refused_unless_the_app_allows_it() -> None:
    session = opened(ChannelDirectory())
    assert refusal(subscribe(session, "demo-en-en", auth=False)) == ("AuthError", 403)
    assert session.channels == {}
    allowing = opened(ChannelDirectory(), app=replace(APP, allow_public_channels=True))
    actions = subscribe(allowing, "demo-en-en", auth=False)
    assert sent(actions)[0]["event"] == "pusher_internal:subscription_succeeded"
    assert actions[1:] == [Watch("demo-en-en", "demo-en-en")]


def test_private_caption_channel_with_a_valid_signature_watches_the_caption_channel() -> None:
    directory = ChannelDirectory()
    session = opened(directory)
    actions = subscribe(session, "private-demo-en-de")
    # succeeded comes first, so that no caption can overtake it
    assert actions[1:] == [Watch("private-demo-en-de", "demo-en-de")]
    assert sent(actions) == [
        {
            "event": "pusher_internal:subscription_succeeded",
            "channel": "private-demo-en-de",
            "data": {},
        }
    ]
    second = opened(directory, "2.2")
    assert not any(isinstance(a, Watch) for a in subscribe(second, "private-demo-en-de"))


def test_private_app_and_encrypted_channels_carry_no_captions() -> None:
    session = opened(ChannelDirectory())
    for channel in ("private-chat", "private-encrypted-demo-en-en", "private-demo-en-fr"):
        actions = subscribe(session, channel)
        assert [type(a) for a in actions] == [Send], channel
        assert sent(actions)[0]["event"] == "pusher_internal:subscription_succeeded"


@pytest.mark.parametrize("problem", ["missing", "forged", "other_socket", "other_channel"])
def test_private_subscription_without_a_valid_signature_is_refused_401(problem: str) -> None:
    directory = ChannelDirectory()
    session = opened(directory, "5.6")
    data: dict[str, Any] = {"channel": "private-demo-en-en"}
    if problem != "missing":
        data["auth"] = {
            "forged": "key:" + "0" * 64,
            "other_socket": channel_auth(APP, "5.7", "private-demo-en-en"),
            "other_channel": channel_auth(APP, "5.6", "private-demo-en-de"),
        }[problem]
    assert refusal(session.receive(msg("pusher:subscribe", data), 0.0)) == ("AuthError", 401)
    assert directory.subscription_count("private-demo-en-en") == 0


def test_subscribe_data_may_come_json_encoded() -> None:
    session = opened(ChannelDirectory())
    data = json.dumps({"channel": "news"})
    frame = only(session.receive(msg("pusher:subscribe", data), 0.0))
    assert frame["event"] == "pusher_internal:subscription_succeeded"


@pytest.mark.parametrize("channel", ["", "bad name", "x" * 201, "private-", "#server-to-user-1"])
def test_invalid_channel_names_are_refused_400(channel: str) -> None:
    session = opened(ChannelDirectory())
    assert refusal(subscribe(session, channel, auth=False)) == ("InvalidChannel", 400)


def test_subscribing_twice_is_answered_again_without_joining_twice() -> None:
    directory = ChannelDirectory()
    session = opened(directory)
    subscribe(session, "private-demo-en-en")
    again = subscribe(session, "private-demo-en-en")
    assert [type(a) for a in again] == [Send]
    assert directory.subscription_count("private-demo-en-en") == 1


def test_too_many_subscriptions_are_refused() -> None:
    session = opened(ChannelDirectory(), app=replace(APP, max_subscriptions=2))
    subscribe(session, "a", auth=False)
    subscribe(session, "b", auth=False)
    assert refusal(subscribe(session, "c", auth=False)) == ("LimitReached", 403)


def test_unsubscribe_leaves_silently_and_unwatches_the_last_subscriber() -> None:
    directory = ChannelDirectory()
    first, second = opened(directory, "1.1"), opened(directory, "2.2")
    subscribe(first, "private-demo-en-en")
    subscribe(second, "private-demo-en-en")
    leave = msg("pusher:unsubscribe", {"channel": "private-demo-en-en"})
    assert first.receive(leave, 0.0) == []
    assert second.receive(leave, 0.0) == [Unwatch("private-demo-en-en")]
    assert second.receive(leave, 0.0) == []  # not subscribed any more: nothing
    assert directory.occupied() == []


# --- presence ---


def test_presence_members_are_announced_to_the_others() -> None:
    directory = ChannelDirectory()
    ann, bob = opened(directory, "1.1"), opened(directory, "2.2")
    actions = subscribe(ann, "presence-demo-en-en", user="ann")
    assert actions[1:] == [Watch("presence-demo-en-en", "demo-en-en")]
    assert sent(actions)[0]["data"] == {
        "presence": {"ids": ["ann"], "hash": {"ann": {"name": "ann"}}, "count": 1}
    }
    actions = subscribe(bob, "presence-demo-en-en", user="bob")
    [added] = [a for a in actions if isinstance(a, Deliver)]
    assert added.socket_ids == ("1.1",)
    assert json.loads(added.text) == {
        "event": "pusher_internal:member_added",
        "channel": "presence-demo-en-en",
        "data": json.dumps({"user_id": "bob", "user_info": {"name": "bob"}}, separators=(",", ":")),
    }
    presence = sent(actions)[0]["data"]["presence"]
    assert presence["count"] == 2 and presence["ids"] == ["ann", "bob"]
    assert directory.user_count("presence-demo-en-en") == 2
    actions = bob.disconnect()
    [removed] = [a for a in actions if isinstance(a, Deliver)]
    assert removed.socket_ids == ("1.1",)
    assert json.loads(json.loads(removed.text)["data"]) == {"user_id": "bob"}
    assert directory.user_ids("presence-demo-en-en") == ["ann"]


def test_one_user_on_two_sockets_is_one_member() -> None:
    directory = ChannelDirectory()
    ann1, ann2, bob = (opened(directory, f"{n}.{n}") for n in (1, 2, 3))
    subscribe(bob, "presence-room", user="bob")
    assert any(isinstance(a, Deliver) for a in subscribe(ann1, "presence-room", user="ann"))
    assert not any(isinstance(a, Deliver) for a in subscribe(ann2, "presence-room", user="ann"))
    assert directory.user_count("presence-room") == 2
    assert directory.subscription_count("presence-room") == 3
    assert ann1.disconnect() == []  # ann is still there on her other socket
    [removed] = ann2.disconnect()
    assert isinstance(removed, Deliver) and removed.socket_ids == ("3.3",)


def test_presence_user_ids_may_be_numbers_and_channel_data_must_name_one() -> None:
    session = opened(ChannelDirectory())
    data = json.dumps({"user_id": 42})
    auth = channel_auth(APP, "1.1", "presence-room", data)
    message = {"channel": "presence-room", "auth": auth, "channel_data": data}
    frame = only(session.receive(msg("pusher:subscribe", message), 0.0))
    assert frame["data"]["presence"]["ids"] == ["42"]
    for bad in ('{"user_info": {}}', "[]", "nope", json.dumps({"user_id": "x" * 200})):
        auth = channel_auth(APP, "1.1", "presence-other", bad)
        message = {"channel": "presence-other", "auth": auth, "channel_data": bad}
        refused = session.receive(msg("pusher:subscribe", message), 0.0)
        assert refusal(refused) == ("InvalidChannelData", 400), bad


def test_presence_needs_signed_channel_data() -> None:
    session = opened(ChannelDirectory())
    auth = channel_auth(APP, "1.1", "presence-room")  # signed without the channel data
    message = {"channel": "presence-room", "auth": auth, "channel_data": '{"user_id":"x"}'}
    assert refusal(session.receive(msg("pusher:subscribe", message), 0.0)) == ("AuthError", 401)
    del message["channel_data"]
    assert refusal(session.receive(msg("pusher:subscribe", message), 0.0)) == ("AuthError", 401)


def test_a_full_presence_channel_refuses_new_users_but_not_known_ones() -> None:
    directory = ChannelDirectory()
    app = replace(APP, max_presence_members=1)
    subscribe(opened(directory, "1.1", app), "presence-room", user="ann")
    assert refusal(subscribe(opened(directory, "2.2", app), "presence-room", user="bob")) == (
        "LimitReached",
        403,
    )
    joined = subscribe(opened(directory, "3.3", app), "presence-room", user="ann")
    assert sent(joined)[0]["event"] == "pusher_internal:subscription_succeeded"


# --- client events ---


def test_client_events_reach_the_other_subscribers_only() -> None:
    directory = ChannelDirectory()
    a, b, c = (opened(directory, f"{n}.{n}") for n in (1, 2, 3))
    for session in (a, b):
        subscribe(session, "private-demo-en-en")
    subscribe(c, "private-other")
    [deliver] = a.receive(msg("client-typing", {"x": 1}, "private-demo-en-en"), 0.0)
    assert isinstance(deliver, Deliver) and deliver.socket_ids == ("2.2",)
    assert json.loads(deliver.text) == {
        "event": "client-typing",
        "channel": "private-demo-en-en",
        "data": {"x": 1},  # as the sender gave it
    }


def test_client_events_on_presence_channels_carry_the_sender() -> None:
    directory = ChannelDirectory()
    ann, bob = opened(directory, "1.1"), opened(directory, "2.2")
    subscribe(ann, "presence-room", user="ann")
    subscribe(bob, "presence-room", user="bob")
    [deliver] = ann.receive(msg("client-wave", "hi", "presence-room"), 0.0)
    assert isinstance(deliver, Deliver)
    assert json.loads(deliver.text)["user_id"] == "ann"


@pytest.mark.parametrize("channel", ["news", "private-encrypted-x", "private-unjoined", "bad name"])
def test_client_events_are_refused_off_private_channels_one_is_subscribed_to(
    channel: str,
) -> None:
    session = opened(ChannelDirectory())
    subscribe(session, "news", auth=False)
    subscribe(session, "private-encrypted-x")
    assert error_code(session.receive(msg("client-x", {}, channel), 0.0)) == 4300


def test_client_events_are_rate_limited_to_ten_a_second() -> None:
    directory = ChannelDirectory()
    sender, receiver = opened(directory, "1.1"), opened(directory, "2.2")
    subscribe(sender, "private-room")
    subscribe(receiver, "private-room")
    event = msg("client-x", {}, "private-room")
    for i in range(10):
        assert isinstance(sender.receive(event, 10.0 + i * 0.05)[0], Deliver)
    assert error_code(sender.receive(event, 10.6)) == 4301
    assert not sender.closed
    assert isinstance(sender.receive(event, 11.01)[0], Deliver)  # the first ones aged out


# --- time ---


def test_a_silent_client_is_pinged_then_closed_4201_without_a_pong() -> None:
    session = opened(ChannelDirectory(), app=replace(APP, activity_timeout=120, pong_timeout=30))
    assert session.next_deadline() == 120
    assert session.tick(119.9) == []
    assert only(session.tick(120.0)) == {"event": "pusher:ping", "data": {}}
    assert session.next_deadline() == 150
    assert session.tick(149.0) == []
    [close] = session.tick(150.0)
    assert isinstance(close, Close) and close.code == 4201
    assert close.farewell is not None and json.loads(close.farewell)["data"]["code"] == 4201


def test_any_message_counts_as_a_pong() -> None:
    session = opened(ChannelDirectory())
    session.tick(120.0)
    assert session.receive(msg("pusher:pong", {}), 125.0) == []
    assert session.tick(150.0) == []
    assert session.next_deadline() == 245.0
    session.tick(245.0)
    session.receive(msg("pusher:ping"), 246.0)
    assert session.tick(280.0) == []


def test_maximum_connection_age_closes_4200_so_clients_reauthorize() -> None:
    session = opened(ChannelDirectory(), max_age=60.0)
    assert session.next_deadline() == 60.0
    [close] = session.tick(60.0)
    assert isinstance(close, Close) and close.code == 4200


def test_server_close_1001_has_no_farewell_and_disconnect_leaves_everything() -> None:
    directory = ChannelDirectory()
    session = opened(directory)
    subscribe(session, "private-demo-en-en")
    subscribe(session, "news", auth=False)
    [close] = session.server_close(1001, "server shutting down")
    assert close == Close(1001, "server shutting down", None)
    assert session.server_close(1001, "again") == []
    assert session.disconnect() == [Unwatch("private-demo-en-en")]
    assert directory.occupied() == []


# --- directory and frames ---


def test_directory_events_are_encoded_once_for_everyone_but_the_excluded() -> None:
    directory = ChannelDirectory()
    for socket_id in ("1.1", "2.2", "3.3"):
        directory.join(socket_id, "news", None, None)
    deliver = directory.event("news", "headline", '{"t":1}', exclude="2.2", partial=True)
    assert deliver is not None
    assert deliver.socket_ids == ("1.1", "3.3") and deliver.partial == "news"
    assert json.loads(deliver.text) == {"event": "headline", "channel": "news", "data": '{"t":1}'}
    assert directory.event("empty", "x", "") is None
    assert directory.event("news", "x", "", exclude="1.1") is not None


def test_directory_rewatches_a_caption_channel_that_came_back() -> None:
    directory = ChannelDirectory()
    assert directory.join("1.1", "private-demo-en-en", "demo-en-en", None) == [
        Watch("private-demo-en-en", "demo-en-en")
    ]
    directory.detach_caption("private-demo-en-en")
    assert directory.caption_channel("private-demo-en-en") is None
    assert directory.join("2.2", "private-demo-en-en", None, None) == []
    assert directory.join("3.3", "private-demo-en-en", "demo-en-en", None) == [
        Watch("private-demo-en-en", "demo-en-en")
    ]
    directory.leave("1.1", "private-demo-en-en")
    directory.leave("2.2", "private-demo-en-en")
    assert directory.leave("3.3", "private-demo-en-en") == [Unwatch("private-demo-en-en")]


def test_directory_lists_occupied_channels_by_prefix() -> None:
    directory = ChannelDirectory()
    directory.join("1.1", "presence-b", None, Member("u"))
    directory.join("1.1", "presence-a", None, Member("u"))
    directory.join("1.1", "news", None, None)
    assert directory.occupied("presence-") == ["presence-a", "presence-b"]
    assert directory.occupied() == ["news", "presence-a", "presence-b"]


@pytest.mark.parametrize(
    ("response", "event"),
    [
        ({"type": "captions", "is_final": True}, "caption"),
        ({"type": "transcript", "is_final": False}, "transcript"),
        ({"type": "transcript", "is_final": True}, "transcript"),
        ({"type": "other"}, "message"),
    ],
)
def test_caption_event_names(response: dict[str, Any], event: str) -> None:
    text = json.dumps({"seq": 1, "epoch": "e", "channel": "c", "response": response})
    assert caption_event_name(text) == event
