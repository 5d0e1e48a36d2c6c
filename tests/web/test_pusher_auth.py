"""Pusher signatures, checked against what the official ``pusher`` server SDK produces."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pusher
import pytest
from pusher.http import Request
from pusher.pusher_client import PusherClient

from captioncast.errors import ConfigError
from captioncast.web.pusher import PusherApp, load_pusher_secret
from captioncast.web.pusher.auth import (
    RequestRefused,
    channel_auth,
    channel_auth_valid,
    presence_user_id,
    sign,
    verify_request,
)

APP = PusherApp("4242", "test-key", "test-secret")


def sdk(secret: str = APP.secret, key: str = APP.key) -> PusherClient:
    """The official SDK's HTTP client: ``client.trigger.make_request(...)`` signs a request."""
    return PusherClient(app_id=APP.app_id, key=key, secret=secret, ssl=False, host="x")


def authenticator() -> pusher.Pusher:
    return pusher.Pusher(app_id=APP.app_id, key=APP.key, secret=APP.secret)


def check(request: Request, now: float | None = None) -> RequestRefused | None:
    query = [(k, str(v)) for k, v in request.query_params.items()]
    at = time.time() if now is None else now
    return verify_request(APP, request.method, request.path, query, request.body, at)


def test_channel_auth_is_what_the_official_sdk_signs() -> None:
    official = authenticator().authenticate(channel="private-demo-en-en", socket_id="123.456")
    assert channel_auth(APP, "123.456", "private-demo-en-en") == official["auth"]
    assert channel_auth_valid(APP, "123.456", "private-demo-en-en", official["auth"])
    data = {"user_id": "u1", "user_info": {"name": "Ann"}}
    presence = authenticator().authenticate("presence-room", "1.2", custom_data=data)
    signed = channel_auth(APP, "1.2", "presence-room", presence["channel_data"])
    assert signed == presence["auth"]
    assert channel_auth_valid(APP, "1.2", "presence-room", signed, presence["channel_data"])


@pytest.mark.parametrize(
    ("socket_id", "channel", "auth"),
    [
        ("123.457", "private-a", None),  # signed for 123.456
        ("123.456", "private-b", None),  # signed for private-a
        ("123.456", "private-a", "test-key:" + "0" * 64),
        ("123.456", "private-a", "other-key:{sig}"),
        ("123.456", "private-a", "{sig}"),
        ("123.456", "private-a", "test-key:ü"),
    ],
)
def test_channel_auth_refuses_every_other_signature(
    socket_id: str, channel: str, auth: str | None
) -> None:
    good = channel_auth(APP, "123.456", "private-a")
    given = good if auth is None else auth.format(sig=good.split(":")[1])
    assert not channel_auth_valid(APP, socket_id, channel, given)


def test_presence_user_ids_are_stable_per_token_and_opaque() -> None:
    first = presence_user_id(APP, "token-one")
    assert first == presence_user_id(APP, "token-one")
    assert first != presence_user_id(APP, "token-two")
    assert "token" not in first and len(first) == 20


def test_sdk_requests_verify() -> None:
    client = sdk()
    requests = [
        client.trigger.make_request(["private-a", "b"], "ev", {"x": 1}, socket_id="1.2"),
        client.trigger_batch.make_request([{"channel": "a", "name": "e", "data": "d"}]),
        client.channels_info.make_request("presence-", ["user_count"]),
        client.channel_info.make_request("presence-a", ["user_count", "subscription_count"]),
        client.users_info.make_request("presence-a"),
    ]
    for request in requests:
        assert check(request) is None, request.path


def test_a_wrong_secret_or_key_is_refused_401() -> None:
    refused = check(sdk(secret="wrong").trigger.make_request("a", "e", "d"))
    assert refused is not None and refused.status == 401
    assert "invalid signature" in refused.message and "wrong" not in refused.message
    refused = check(sdk(key="other").trigger.make_request("a", "e", "d"))
    assert refused == RequestRefused(401, "unauthorized", "unknown auth_key")


def test_stale_or_future_timestamps_are_refused() -> None:
    request = sdk().trigger.make_request("a", "e", "d")
    stamp = int(request.query_params["auth_timestamp"])
    assert check(request, now=stamp + 599) is None
    for now in (stamp + 601, stamp - 601):
        refused = check(request, now=now)
        assert refused is not None and refused.status == 401 and "auth_timestamp" in refused.message


def test_a_tampered_body_query_or_path_is_refused() -> None:
    request = sdk().trigger.make_request("a", "e", "d")
    query = [(k, str(v)) for k, v in request.query_params.items()]
    now = time.time()
    body = request.body.replace(b'"d"', b'"D"')
    assert verify_request(APP, "POST", request.path, query, body, now) is not None
    assert verify_request(APP, "POST", "/apps/4242/batch_events", query, request.body, now)
    assert verify_request(APP, "GET", request.path, query, request.body, now) is not None
    extra = [*query, ("socket_id", "1.2")]
    assert verify_request(APP, "POST", request.path, extra, request.body, now) is not None


def test_body_md5_is_required_with_a_body() -> None:
    request = sdk().trigger.make_request("a", "e", "d")
    query = [(k, str(v)) for k, v in request.query_params.items() if k != "body_md5"]
    refused = verify_request(APP, "POST", request.path, query, request.body, time.time())
    assert refused is not None and refused.message == "body_md5 is required with a body"


@pytest.mark.parametrize("drop", ["auth_key", "auth_timestamp", "auth_version", "auth_signature"])
def test_missing_auth_parameters_are_refused(drop: str) -> None:
    request = sdk().channels_info.make_request()
    query = [(k, str(v)) for k, v in request.query_params.items() if k != drop]
    refused = verify_request(APP, "GET", request.path, query, b"", time.time())
    assert refused is not None and refused.status == 401 and drop in refused.message


def test_repeated_parameters_and_other_auth_versions_are_refused() -> None:
    request = sdk().channels_info.make_request()
    query = [(k, str(v)) for k, v in request.query_params.items()]
    repeated = verify_request(APP, "GET", request.path, [*query, query[0]], b"", time.time())
    assert repeated is not None and repeated.status == 400
    params = dict(query, auth_version="2.0")
    request_v2 = list(params.items())
    refused = verify_request(APP, "GET", request.path, request_v2, b"", time.time())
    assert refused is not None and refused.message == "auth_version must be 1.0"


def test_a_request_signed_by_hand_per_the_spec_verifies() -> None:
    body = json.dumps({"name": "e", "channel": "a", "data": "d"}).encode()
    params = {
        "auth_key": APP.key,
        "auth_timestamp": str(int(time.time())),
        "auth_version": "1.0",
        "body_md5": hashlib.md5(body).hexdigest(),
    }
    to_sign = "POST\n/apps/4242/events\n" + "&".join(f"{k}={params[k]}" for k in sorted(params))
    query = [*params.items(), ("auth_signature", sign(APP.secret, to_sign))]
    assert verify_request(APP, "POST", "/apps/4242/events", query, body, time.time()) is None


def test_app_settings_are_checked() -> None:
    with pytest.raises(ConfigError):
        PusherApp("app", "key", "secret")
    with pytest.raises(ConfigError):
        PusherApp("1", "a key", "secret")
    with pytest.raises(ConfigError):
        PusherApp("1", "key", "")
    assert "secret" not in repr(APP).replace("test-secret", "")
    assert "test-secret" not in repr(APP)


def test_the_secret_is_generated_once_into_the_data_dir(tmp_path: Path) -> None:
    first = load_pusher_secret(tmp_path)
    assert first.source == "generated" and len(first.value) == 40
    assert (tmp_path / "pusher_secret").stat().st_mode & 0o777 == 0o600
    again = load_pusher_secret(tmp_path)
    assert again.source == "file" and again.value == first.value
    given = load_pusher_secret(tmp_path, " given ")
    assert given.source == "given" and given.value == "given"
    with pytest.raises(ConfigError):
        load_pusher_secret(tmp_path, "  ")
