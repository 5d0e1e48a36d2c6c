"""The REST API through the ASGI app (httpx transport, no socket)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from web_helpers import AUTH, FakeRuntime

from captioncast.store.base import FlowStatus
from captioncast.web.services import Services

DEMO = {
    "name": "demo",
    "source": "rtmp_push",
    "url": None,
    "source_language": "en",
    "target_languages": ["es-419", "de"],
    "max_latency": 5,
    "caption": {"max_chars_per_line": 37, "max_lines": 2},
    "model": None,
}


async def create(client: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    response = await client.post("/v1/flows", json={**DEMO, **changes}, headers=AUTH)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def runtime(services: Services) -> FakeRuntime:
    assert isinstance(services.runtime, FakeRuntime)
    return services.runtime


async def test_create_flow_answers_the_documented_shape(
    client: httpx.AsyncClient, services: Services
) -> None:
    flow = await create(client)
    assert flow["name"] == flow["stream_name"] == "demo"
    assert flow["status"] == "created" and flow["error"] is None
    assert flow["target_languages"] == ["es-419", "de"]
    assert flow["max_latency"] == 5.0 and flow["caption"] == DEMO["caption"]
    rtmp = flow["rtmp_details"]
    assert rtmp["url"] == "rtmp://127.0.0.1:1935/live"
    assert rtmp["full_url"] == f"rtmp://127.0.0.1:1935/live/{rtmp['stream_key']}"
    assert len(rtmp["stream_key"]) >= 22  # >= 128 bits in url-safe base64
    assert flow["srt_details"] is None
    assert flow["channels"] == [
        {"name": "demo-en-en", "language": "en", "service_type": "transcription", "viewers": 0},
        {
            "name": "demo-en-es-419",
            "language": "es-419",
            "service_type": "translation",
            "viewers": 0,
        },
        {"name": "demo-en-de", "language": "de", "service_type": "translation", "viewers": 0},
    ]
    created = datetime.fromisoformat(flow["created_at"])
    assert abs((datetime.now(UTC) - created).total_seconds()) < 60
    # the channels are open for viewers at once
    assert services.channels.resolve("demo-en-es-419") is not None
    assert services.broker.position("demo-en-de").seq == 0


async def test_defaults(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/flows", json={"name": "mini", "source_language": "en"}, headers=AUTH
    )
    assert response.status_code == 201
    flow = response.json()
    assert flow["caption"] == {"max_chars_per_line": 37, "max_lines": 2}
    assert flow["target_languages"] == [] and flow["max_latency"] == 5.0
    assert [c["name"] for c in flow["channels"]] == ["mini-en-en"]


async def test_list_get_delete(client: httpx.AsyncClient, services: Services) -> None:
    a, b = await create(client), await create(client, name="second")
    listed = (await client.get("/v1/flows", headers=AUTH)).json()["flows"]
    assert [f["flow_id"] for f in listed] == [a["flow_id"], b["flow_id"]]
    got = await client.get(f"/v1/flows/{a['flow_id']}", headers=AUTH)
    assert got.status_code == 200 and got.json() == a
    deleted = await client.delete(f"/v1/flows/{a['flow_id']}", headers=AUTH)
    assert deleted.status_code == 204 and deleted.content == b""
    gone = await client.get(f"/v1/flows/{a['flow_id']}", headers=AUTH)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "flow_not_found"
    assert services.channels.resolve("demo-en-en") is None
    assert "demo-en-en" not in services.broker.channels()  # type: ignore[attr-defined]
    assert (await create(client))["name"] == "demo"  # the name is free again


async def test_start_stop_lifecycle(client: httpx.AsyncClient, services: Services) -> None:
    flow = await create(client)
    url = f"/v1/flows/{flow['flow_id']}"
    stop_early = await client.post(f"{url}/stop", headers=AUTH)
    assert stop_early.status_code == 409
    assert stop_early.json()["error"]["code"] == "invalid_transition"
    started = await client.post(f"{url}/start", headers=AUTH)
    assert started.status_code == 200 and started.json()["status"] == "starting"
    assert runtime(services).started == [flow["flow_id"]]
    again = await client.post(f"{url}/start", headers=AUTH)
    assert again.status_code == 409
    await services.store.update_status(flow["flow_id"], FlowStatus.LIVE)  # as the runtime would
    stopped = await client.post(f"{url}/stop", headers=AUTH)
    assert stopped.status_code == 200 and stopped.json()["status"] == "ended"
    assert runtime(services).stopped == [flow["flow_id"]]
    restarted = await client.post(f"{url}/start", headers=AUTH)
    assert restarted.json()["status"] == "starting"


async def test_delete_stops_a_running_flow(client: httpx.AsyncClient, services: Services) -> None:
    flow = await create(client)
    await client.post(f"/v1/flows/{flow['flow_id']}/start", headers=AUTH)
    response = await client.delete(f"/v1/flows/{flow['flow_id']}", headers=AUTH)
    assert response.status_code == 204
    assert runtime(services).stopped == [flow["flow_id"]]


async def test_runtime_start_failure_marks_the_flow_error(
    client: httpx.AsyncClient, services: Services
) -> None:
    flow = await create(client)
    runtime(services).fail_start = True
    response = await client.post(f"/v1/flows/{flow['flow_id']}/start", headers=AUTH)
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "start_failed", "message": "the flow could not be started"}
    }
    stored = await services.store.get(flow["flow_id"])
    assert stored.status is FlowStatus.ERROR and stored.error == "start failed"


async def test_duplicate_name_is_409(client: httpx.AsyncClient) -> None:
    await create(client)
    response = await client.post("/v1/flows", json={**DEMO, "name": "DEMO"}, headers=AUTH)
    assert response.status_code == 409 and response.json()["error"]["code"] == "name_taken"


async def test_srt_push_flow_gets_a_port_and_details(client: httpx.AsyncClient) -> None:
    first = await client.post("/v1/flows", json={**DEMO, "source": "srt_push"}, headers=AUTH)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["rtmp_details"] is None and body["url"] is None
    srt = body["srt_details"]
    assert srt["host"] == "127.0.0.1" and srt["streamid"] == "demo"
    assert 10 <= len(srt["passphrase"]) <= 79
    assert srt["full_url"] == (
        f"srt://127.0.0.1:{srt['port']}?streamid=demo&passphrase={srt['passphrase']}"
    )
    second = await client.post(
        "/v1/flows", json={**DEMO, "name": "other", "source": "srt_push"}, headers=AUTH
    )
    assert second.json()["srt_details"]["port"] != srt["port"]
    # A deleted flow's port is free again.
    await client.delete(f"/v1/flows/{body['flow_id']}", headers=AUTH)
    third = await client.post(
        "/v1/flows", json={**DEMO, "name": "third", "source": "srt_push"}, headers=AUTH
    )
    assert third.json()["srt_details"]["port"] == srt["port"]


async def test_url_pull_flow_keeps_its_url(client: httpx.AsyncClient) -> None:
    url = "https://media.example/live/stream.m3u8"
    response = await client.post(
        "/v1/flows", json={**DEMO, "source": "url_pull", "url": url}, headers=AUTH
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["url"] == url and body["rtmp_details"] is None and body["srt_details"] is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"source": "url_pull"}, "url_pull needs a url"),
        ({"source": "url_pull", "url": "ftp://host/x"}, "url scheme must be one of"),
        ({"source": "url_pull", "url": "relative/file.mp4"}, "url must be absolute"),
        ({"source": "url_pull", "url": "srt://h:9000?mode=listener"}, "use srt_push"),
        ({"source": "rtmp_push", "url": "rtmp://h/app"}, "url is only for url_pull"),
    ],
)
async def test_bad_source_urls_are_422(
    client: httpx.AsyncClient, fields: dict[str, str], message: str
) -> None:
    response = await client.post("/v1/flows", json={**DEMO, **fields}, headers=AUTH)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_flow" and message in error["message"]


async def test_tokens(client: httpx.AsyncClient, services: Services) -> None:
    await create(client)
    response = await client.post("/v1/tokens", json={"streams": ["Demo"], "ttl": 120}, headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    claims = services.tokens.verify(body["token"])
    assert claims.streams == {"demo"} and claims.exp - claims.iat == 120
    assert int(datetime.fromisoformat(body["expires_at"]).timestamp()) == claims.exp
    default = (await client.post("/v1/tokens", json={"streams": ["demo"]}, headers=AUTH)).json()
    claims = services.tokens.verify(default["token"])
    assert claims.exp - claims.iat == services.settings.token_ttl_default
    unknown = await client.post("/v1/tokens", json={"streams": ["nope"]}, headers=AUTH)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_stream"
    for ttl in (0, 5, 10**7):
        bad = await client.post("/v1/tokens", json={"streams": ["demo"], "ttl": ttl}, headers=AUTH)
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_ttl"


async def test_public_endpoints(client: httpx.AsyncClient, services: Services) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    jwks = (await client.get("/.well-known/jwks.json")).json()
    assert jwks["keys"][0]["kid"] == services.tokens.kid
    assert jwks["keys"][0]["kty"] == "OKP" and jwks["keys"][0]["crv"] == "Ed25519"
    spec = (await client.get("/openapi.json")).json()
    assert {"/v1/flows", "/v1/flows/{flow_id}", "/v1/tokens"} <= set(spec["paths"])
    assert (await client.get("/docs")).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic dGVzdA=="},
        {"Authorization": "Bearer"},
    ],
)
async def test_management_needs_the_api_key(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for method, path in (("GET", "/v1/flows"), ("POST", "/v1/tokens"), ("GET", "/v1/flows/x")):
        response = await client.request(method, path, headers=headers, json={"streams": ["a"]})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"


JSON = {"content-type": "application/json"}
BAD_REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/v1/flows", {"content": b"{not json", "headers": JSON}),
    ("POST", "/v1/flows", {"content": b"", "headers": JSON}),
    ("POST", "/v1/flows", {"content": b"\xff\xfe", "headers": JSON}),
    (
        "POST",
        "/v1/flows",
        {"content": b"name=demo", "headers": {"content-type": "application/x-www-form-urlencoded"}},
    ),
    ("POST", "/v1/flows", {"json": [1, 2, 3]}),
    ("POST", "/v1/flows", {"json": "demo"}),
    ("POST", "/v1/flows", {"json": None}),
    ("POST", "/v1/flows", {"json": {}}),
    ("POST", "/v1/flows", {"json": {**DEMO, "surprise": 1}}),
    ("POST", "/v1/flows", {"json": {**DEMO, "name": 42}}),
    ("POST", "/v1/flows", {"json": {**DEMO, "name": "two words"}}),
    ("POST", "/v1/flows", {"json": {**DEMO, "name": "has-hyphen"}}),
    ("POST", "/v1/flows", {"json": {**DEMO, "name": ""}}),
    ("POST", "/v1/flows", {"json": {**DEMO, "max_latency": "5"}}),
    ("POST", "/v1/flows", {"json": {**DEMO, "max_latency": True}}),
    ("POST", "/v1/flows", {"json": {**DEMO, "max_latency": 0}}),
    ("POST", "/v1/flows", {"json": {**DEMO, "max_latency": 61}}),
    (
        "POST",
        "/v1/flows",
        {"content": b'{"name":"x","source_language":"en","max_latency":NaN}', "headers": JSON},
    ),
    ("POST", "/v1/flows", {"json": {**DEMO, "source": "carrier_pigeon"}}),
    ("POST", "/v1/flows", {"json": {**DEMO, "source_language": None}}),
    ("POST", "/v1/flows", {"json": {**DEMO, "source_language": "english!"}}),
    ("POST", "/v1/flows", {"json": {**DEMO, "target_languages": "de"}}),
    ("POST", "/v1/flows", {"json": {**DEMO, "target_languages": ["de", "de"]}}),
    ("POST", "/v1/flows", {"json": {**DEMO, "target_languages": ["en"]}}),
    ("POST", "/v1/flows", {"json": {**DEMO, "target_languages": [1]}}),
    ("POST", "/v1/flows", {"json": {**DEMO, "caption": {"max_chars_per_line": 5}}}),
    ("POST", "/v1/flows", {"json": {**DEMO, "caption": {"max_lines": 9}}}),
    ("POST", "/v1/flows", {"json": {**DEMO, "caption": {"extra": 1}}}),
    ("POST", "/v1/flows", {"json": {**DEMO, "caption": [37, 2]}}),
    ("POST", "/v1/flows", {"json": {**DEMO, "model": 3}}),
    ("POST", "/v1/tokens", {"json": {}}),
    ("POST", "/v1/tokens", {"json": {"streams": []}}),
    ("POST", "/v1/tokens", {"json": {"streams": "demo"}}),
    ("POST", "/v1/tokens", {"json": {"streams": ["demo"], "ttl": "60"}}),
    ("POST", "/v1/tokens", {"json": {"streams": ["demo"], "ttl": 1.5}}),
    ("POST", "/v1/tokens", {"json": {"streams": ["demo"], "aud": "x"}}),
    ("POST", "/v1/tokens", {"json": {"streams": ["nope"]}}),
    ("GET", "/v1/flows/does-not-exist", {}),
    ("DELETE", "/v1/flows/does-not-exist", {}),
    ("POST", "/v1/flows/does-not-exist/start", {}),
    ("POST", "/v1/flows/does-not-exist/stop", {}),
    ("GET", "/v1/nothing-here", {}),
    ("GET", "/", {}),
    ("PUT", "/v1/flows", {"json": DEMO}),
    ("PATCH", "/v1/flows/x", {}),
    ("GET", "/v1/tokens", {}),
    ("POST", "/healthz", {}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), BAD_REQUESTS)
async def test_every_error_is_a_json_4xx(
    client: httpx.AsyncClient, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    await create(client)
    headers = {**AUTH, **kwargs.pop("headers", {})}
    response = await client.request(method, path, headers=headers, **kwargs)
    assert 400 <= response.status_code < 500, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "Traceback" not in response.text


async def test_unexpected_failure_is_a_json_500_without_detail(
    client: httpx.AsyncClient, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    flow = await create(client)

    def broken(flow: object) -> str:
        raise ValueError("secret internal detail")

    runtime(services).rtmp_url = broken  # type: ignore[method-assign]
    response = await client.get(f"/v1/flows/{flow['flow_id']}", headers=AUTH)
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "internal server error"}
    }
    assert "secret" not in response.text
    assert "secret internal detail" in caplog.text  # logged for the operator
