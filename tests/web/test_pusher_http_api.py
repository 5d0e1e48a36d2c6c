"""The Pusher HTTP API and ``POST /pusher/auth``, with requests signed by the official SDK."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pusher
import pytest
from pusher.http import POST, Request, make_query_string
from pusher.pusher_client import PusherClient
from pusher.signature import sign as sdk_sign
from pusher_helpers import APP, add_flow, serve_pusher

from captioncast.web.app import create_app
from captioncast.web.pusher import PusherGateway
from captioncast.web.pusher.auth import channel_auth, presence_user_id
from captioncast.web.pusher.directory import Member
from captioncast.web.services import Services


@pytest.fixture
async def gateway(services: Services) -> PusherGateway:
    gateway = serve_pusher(services)
    await add_flow(services)
    await add_flow(services, "other", ())
    return gateway


@pytest.fixture
async def http(services: Services, gateway: PusherGateway) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(create_app(services), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def sdk(secret: str = APP.secret, app_id: str = APP.app_id) -> PusherClient:
    return PusherClient(app_id=app_id, key=APP.key, secret=secret, ssl=False, host="test")


async def send(http: httpx.AsyncClient, request: Request) -> httpx.Response:
    """Send a request the official SDK built and signed."""
    return await http.request(
        request.method, request.signed_path, content=request.body, headers=request.headers
    )


class Recorder:
    """Stands in for a connection: records what the gateway delivers to it."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    def offer(self, text: str, partial: str | None = None) -> None:
        self.frames.append(json.loads(text))


def attach(
    gateway: PusherGateway, socket_id: str, *channels: str, user: str | None = None
) -> Recorder:
    recorder = Recorder()
    gateway._connections[socket_id] = recorder  # type: ignore[assignment]
    for channel in channels:
        member = Member(user) if user is not None else None
        gateway.directory.join(socket_id, channel, None, member)
    return recorder


# --- events ---


async def test_trigger_reaches_the_subscribers_but_the_excluded_socket(
    http: httpx.AsyncClient, gateway: PusherGateway
) -> None:
    ann = attach(gateway, "1.1", "private-demo-en-en", "news")
    bob = attach(gateway, "2.2", "news")
    request = sdk().trigger.make_request(
        ["news", "private-demo-en-en"], "headline", {"t": 1}, "2.2"
    )
    response = await send(http, request)
    assert response.status_code == 200 and response.json() == {}
    assert ann.frames == [
        {"event": "headline", "channel": "news", "data": '{"t": 1}'},
        {"event": "headline", "channel": "private-demo-en-en", "data": '{"t": 1}'},
    ]
    assert bob.frames == []


async def test_events_on_caption_channels_do_not_enter_the_caption_broker(
    http: httpx.AsyncClient, gateway: PusherGateway, services: Services
) -> None:
    attach(gateway, "1.1", "private-demo-en-en")
    before = services.broker.position("demo-en-en")
    response = await send(http, sdk().trigger.make_request("private-demo-en-en", "note", "x"))
    assert response.status_code == 200
    assert services.broker.position("demo-en-en") == before


async def test_batch_events_are_all_published_or_none(
    http: httpx.AsyncClient, gateway: PusherGateway
) -> None:
    ann = attach(gateway, "1.1", "a", "b")
    batch = [
        {"channel": "a", "name": "one", "data": "1"},
        {"channel": "b", "name": "two", "data": {"n": 2}},
    ]
    response = await send(http, sdk().trigger_batch.make_request(batch))
    assert response.status_code == 200
    assert [(f["channel"], f["event"], f["data"]) for f in ann.frames] == [
        ("a", "one", "1"),
        ("b", "two", '{"n": 2}'),
    ]
    bad = [{"channel": "a", "name": "ok", "data": "1"}, {"channel": "b", "name": "pusher:x"}]
    request = Request(sdk(), POST, f"/apps/{APP.app_id}/batch_events", {"batch": bad})
    response = await send(http, request)
    assert response.status_code == 400
    too_many = [{"channel": "a", "name": "e", "data": ""}] * 11
    request = Request(sdk(), POST, f"/apps/{APP.app_id}/batch_events", {"batch": too_many})
    assert (await send(http, request)).status_code == 400
    assert len(ann.frames) == 2


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"name": "e", "channels": ["a"], "data": {"not": "a string"}}, 400),
        ({"name": "pusher:connection_established", "channels": ["a"], "data": ""}, 400),
        ({"name": "", "channels": ["a"], "data": ""}, 400),
        ({"name": "e", "channels": [], "data": ""}, 400),
        ({"name": "e", "channels": ["bad name"], "data": ""}, 400),
        ({"name": "e", "channels": [f"c{i}" for i in range(101)], "data": ""}, 400),
        ({"name": "e", "channel": "a", "data": "", "socket_id": "nope"}, 400),
        ({"name": "e", "channel": "a", "data": "x" * 10_241}, 413),
        ({"name": "e", "channel": "a", "data": "ok"}, 200),
        ([1, 2], 400),
    ],
)
async def test_event_bodies_are_checked(http: httpx.AsyncClient, params: Any, status: int) -> None:
    request = Request(sdk(), POST, f"/apps/{APP.app_id}/events", {})
    request.body = json.dumps(params).encode()
    request.query_params.clear()
    request._generate_auth()  # sign the body we set
    response = await send(http, request)
    assert response.status_code == status, response.text
    if status != 200:
        assert set(response.json()["error"]) == {"code", "message"}


async def test_a_signed_body_that_is_not_json_is_400(http: httpx.AsyncClient) -> None:
    request = Request(sdk(), POST, f"/apps/{APP.app_id}/events", {})
    request.body = b"{nope"
    request.query_params.clear()
    request._generate_auth()
    response = await send(http, request)
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_json"


# --- refusals ---


async def test_a_wrong_secret_is_refused_401(
    http: httpx.AsyncClient, gateway: PusherGateway
) -> None:
    ann = attach(gateway, "1.1", "news")
    response = await send(http, sdk(secret="wrong").trigger.make_request("news", "e", "x"))
    assert response.status_code == 401
    assert "invalid signature" in response.json()["error"]["message"]
    assert ann.frames == []
    with pytest.raises(pusher.errors.PusherBadAuth):  # what the SDK makes of it
        pusher.http.process_response(response.status_code, response.text)


async def test_an_unsigned_or_stale_request_is_refused_401(http: httpx.AsyncClient) -> None:
    response = await http.get(f"/apps/{APP.app_id}/channels")
    assert response.status_code == 401
    request = sdk().channels_info.make_request()
    request.query_params["auth_timestamp"] = str(int(time.time()) - 3600)
    # signed properly, only the time is wrong
    params = {k: v for k, v in request.query_params.items() if k != "auth_signature"}
    to_sign = "\n".join(["GET", request.path, make_query_string(params)])
    params["auth_signature"] = sdk_sign(APP.secret, to_sign)
    response = await http.get(request.path, params=params)
    assert response.status_code == 401 and "auth_timestamp" in response.json()["error"]["message"]


async def test_another_app_id_is_404(http: httpx.AsyncClient) -> None:
    response = await send(http, sdk(app_id="9").channels_info.make_request())
    assert response.status_code == 404


async def test_an_oversized_body_is_413(http: httpx.AsyncClient) -> None:
    response = await http.post(
        f"/apps/{APP.app_id}/events", content=b"x" * (APP.max_request_bytes + 1)
    )
    assert response.status_code == 413


# --- channel state ---


async def test_channels_lists_occupied_channels_with_counts(
    http: httpx.AsyncClient, gateway: PusherGateway
) -> None:
    attach(gateway, "1.1", "presence-demo-en-en", "news", user="ann")
    attach(gateway, "2.2", "presence-demo-en-en", user="ann")
    attach(gateway, "3.3", "presence-demo-en-en", user="bob")
    response = await send(http, sdk().channels_info.make_request())
    assert response.json() == {"channels": {"news": {}, "presence-demo-en-en": {}}}
    request = sdk().channels_info.make_request("presence-", ["user_count", "subscription_count"])
    response = await send(http, request)
    assert response.json() == {
        "channels": {"presence-demo-en-en": {"user_count": 2, "subscription_count": 3}}
    }
    for request in (
        sdk().channels_info.make_request(None, ["user_count"]),
        sdk().channels_info.make_request(None, ["members"]),
    ):
        assert (await send(http, request)).status_code == 400


async def test_channel_info_and_users(http: httpx.AsyncClient, gateway: PusherGateway) -> None:
    attach(gateway, "1.1", "presence-demo-en-en", user="ann")
    attach(gateway, "2.2", "presence-demo-en-en", user="bob")
    info = ["user_count", "subscription_count"]
    response = await send(http, sdk().channel_info.make_request("presence-demo-en-en", info))
    assert response.json() == {"occupied": True, "user_count": 2, "subscription_count": 2}
    response = await send(http, sdk().channel_info.make_request("private-x"))
    assert response.json() == {"occupied": False}
    response = await send(http, sdk().channel_info.make_request("news", ["user_count"]))
    assert response.status_code == 400
    response = await send(http, sdk().users_info.make_request("presence-demo-en-en"))
    assert response.json() == {"users": [{"id": "ann"}, {"id": "bob"}]}
    response = await send(http, sdk().users_info.make_request("private-demo-en-en"))
    assert response.status_code == 400


# --- POST /pusher/auth ---


def token(services: Services, streams: list[str] | None = None, ttl: int = 600) -> str:
    return services.tokens.mint(streams or ["demo"], ttl).token


async def authorize(
    http: httpx.AsyncClient, channel: str, bearer: str | None = None, **form: str
) -> httpx.Response:
    headers = {} if bearer is None else {"Authorization": f"Bearer {bearer}"}
    fields = {"socket_id": "123.456", "channel_name": channel, **form}
    return await http.post("/pusher/auth", data=fields, headers=headers)


async def test_auth_signs_a_private_caption_channel_for_a_token_holder(
    http: httpx.AsyncClient, services: Services
) -> None:
    response = await authorize(http, "private-demo-en-de", token(services))
    assert response.status_code == 200
    assert response.json() == {"auth": channel_auth(APP, "123.456", "private-demo-en-de")}
    official = pusher.Pusher(app_id=APP.app_id, key=APP.key, secret=APP.secret)
    assert response.json() == official.authenticate("private-demo-en-de", "123.456")
    by_form = await authorize(http, "private-demo-en-de", token=token(services))
    assert by_form.json() == response.json()


async def test_auth_for_presence_makes_up_an_opaque_member_per_token(
    http: httpx.AsyncClient, services: Services
) -> None:
    viewer = token(services)
    response = await authorize(http, "presence-demo-en-en", viewer)
    body = response.json()
    member = json.loads(body["channel_data"])
    assert member == {"user_id": presence_user_id(APP, viewer), "user_info": {}}
    signed = channel_auth(APP, "123.456", "presence-demo-en-en", body["channel_data"])
    assert body["auth"] == signed
    again = await authorize(http, "presence-demo-en-en", viewer, channel_data='{"user_id":"me"}')
    assert again.json() == body  # the client cannot choose its user id
    other = await authorize(http, "presence-demo-en-en", token(services, ttl=601))
    assert json.loads(other.json()["channel_data"])["user_id"] != member["user_id"]


@pytest.mark.parametrize(
    ("channel", "credentials", "status", "code"),
    [
        ("private-demo-en-en", None, 401, "unauthorized"),
        ("private-demo-en-en", "not-a-jwt", 401, "token_malformed"),
        ("private-demo-en-en", "other-stream", 403, "forbidden"),
        ("private-demo-en-en", "expired", 401, "token_expired"),
        ("private-demo-en-fr", "good", 404, "unknown_channel"),
        ("demo-en-en", "good", 400, "bad_request"),
        ("private-encrypted-demo-en-en", "good", 400, "bad_request"),
        ("bad name", "good", 400, "bad_request"),
    ],
)
async def test_auth_refusals(
    http: httpx.AsyncClient,
    services: Services,
    channel: str,
    credentials: str | None,
    status: int,
    code: str,
) -> None:
    bearer = {
        None: None,
        "not-a-jwt": "not-a-jwt",
        "good": token(services),
        "other-stream": token(services, ["other"]),
        "expired": services.tokens.mint(["demo"], 30, now=time.time() - 60).token,
    }[credentials]
    response = await authorize(http, channel, bearer)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


async def test_auth_needs_a_socket_id(http: httpx.AsyncClient, services: Services) -> None:
    response = await authorize(http, "private-demo-en-en", token(services), socket_id="x")
    assert response.status_code == 400


async def test_auth_accepts_json_bodies(http: httpx.AsyncClient, services: Services) -> None:
    body = {"socket_id": "1.2", "channel_name": "private-demo-en-en", "token": token(services)}
    response = await http.post("/pusher/auth", json=body)
    assert response.json() == {"auth": channel_auth(APP, "1.2", "private-demo-en-en")}


async def test_without_a_pusher_app_there_are_no_pusher_routes(services: Services) -> None:
    transport = httpx.ASGITransport(create_app(services), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.post("/pusher/auth")).status_code == 404
        assert (await client.get("/apps/4242/channels")).status_code == 404


async def test_auth_answers_other_origins_including_errors(
    http: httpx.AsyncClient, services: Services
) -> None:
    preflight = await http.options(
        "/pusher/auth",
        headers={"Origin": "https://viewer.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert "Authorization" in preflight.headers["access-control-allow-headers"]
    for bearer in (token(services), "not-a-jwt"):
        response = await authorize(http, "private-demo-en-en", bearer)
        assert response.headers["access-control-allow-origin"] == "*"


async def test_auth_honours_a_tokens_origins(http: httpx.AsyncClient, services: Services) -> None:
    limited = services.tokens.mint(["demo"], 600, origins=["https://viewer.example"]).token
    fields = {"socket_id": "1.2", "channel_name": "private-demo-en-en"}
    for origin, status in (("https://viewer.example", 200), ("https://evil.example", 403)):
        headers = {"Authorization": f"Bearer {limited}", "Origin": origin}
        response = await http.post("/pusher/auth", data=fields, headers=headers)
        assert response.status_code == status
    assert response.json()["error"]["code"] == "origin_not_allowed"
