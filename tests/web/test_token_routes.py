"""POST /v1/tokens with origins, the JWK set of a rotated ring, and origin checks on HLS."""

from __future__ import annotations

from pathlib import Path

import httpx
import jwt
import pytest
from web_helpers import AUTH

from captioncast.auth.keyring import KeyRingDir
from captioncast.auth.tokens import TokenAuthority
from captioncast.store.base import FlowSpec
from captioncast.web.services import Services


@pytest.fixture
async def demo(services: Services) -> None:
    await services.store.create(FlowSpec(name="Demo", source_language="en"))


async def mint(client: httpx.AsyncClient, **body: object) -> httpx.Response:
    return await client.post("/v1/tokens", json={"streams": ["demo"], **body}, headers=AUTH)


async def test_origins_are_carried_in_the_token(
    client: httpx.AsyncClient, services: Services, demo: None
) -> None:
    origins = ["Example.com", "*.example.org", "https://player.example.net/"]
    response = await mint(client, ttl=120, origins=origins)
    assert response.status_code == 200
    body = response.json()
    assert body["kid"] == services.tokens.kid
    assert jwt.get_unverified_header(body["token"])["kid"] == body["kid"]
    raw = jwt.decode(body["token"], options={"verify_signature": False})
    assert raw["origins"] == ["example.com", "*.example.org", "https://player.example.net"]
    assert all(type(raw[name]) is int for name in ("exp", "nbf", "iat"))
    assert raw["exp"] - raw["iat"] == 120
    claims = services.tokens.verify(body["token"])
    assert claims.allows_origin("https://www.example.org")
    assert not claims.allows_origin("http://player.example.net")


async def test_without_origins_the_request_shape_is_unchanged(
    client: httpx.AsyncClient, services: Services, demo: None
) -> None:
    body = (await mint(client)).json()
    assert set(body) == {"token", "expires_at", "kid"}
    claims = services.tokens.verify(body["token"])
    assert claims.origins is None and claims.exp - claims.iat == 3600


@pytest.mark.parametrize(
    ("origins", "code"),
    [
        (["*.com"], "invalid_origin"),
        (["example.com/path"], "invalid_origin"),
        (["ftp://example.com"], "invalid_origin"),
        ([], "invalid_request"),
        ([f"h{i}.example.com" for i in range(21)], "invalid_request"),
        ("example.com", "invalid_request"),
        ([1], "invalid_request"),
    ],
)
async def test_bad_origins_are_422(
    client: httpx.AsyncClient, demo: None, origins: object, code: str
) -> None:
    response = await mint(client, origins=origins)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code


async def test_jwks_lists_every_active_key_of_the_ring(
    client: httpx.AsyncClient, services: Services, tmp_path: Path
) -> None:
    data = tmp_path / "ring"
    data.mkdir()
    ring = KeyRingDir(data)
    first = ring.manifest().current
    second = ring.rotate().kid
    ring.add_hs256("partner", b"p" * 32)
    services.tokens = TokenAuthority.in_data_dir(data)
    keys = (await client.get("/.well-known/jwks.json")).json()["keys"]
    assert [key["kid"] for key in keys] == [second, first]
    assert all(key["alg"] == "EdDSA" and "d" not in key for key in keys)


@pytest.fixture
async def hls(services: Services, tmp_path: Path, demo: None) -> None:
    services.hls_dir = tmp_path / "hls"
    (services.hls_dir / "Demo").mkdir(parents=True)
    (services.hls_dir / "Demo" / "master.m3u8").write_text("#EXTM3U\n")


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        ("https://player.example.net", 200),
        ("https://PLAYER.example.net:443", 200),
        ("https://evil.example", 403),
        ("http://player.example.net", 403),
        ("null", 403),
        (None, 403),
    ],
)
async def test_hls_checks_the_origin_of_restricted_tokens(
    client: httpx.AsyncClient, services: Services, hls: None, origin: str | None, status: int
) -> None:
    token = services.tokens.mint(["Demo"], 600, origins=["https://player.example.net"]).token
    headers = {"Authorization": f"Bearer {token}"}
    if origin is not None:
        headers["Origin"] = origin
    response = await client.get("/v1/hls/Demo/master.m3u8", headers=headers)
    assert response.status_code == status
    if status == 403:
        assert response.json()["error"]["code"] == "origin_not_allowed"
        assert response.headers["access-control-allow-origin"] == "*"
    open_token = services.tokens.mint(["Demo"], 600).token
    response = await client.get("/v1/hls/Demo/master.m3u8", params={"token": open_token})
    assert response.status_code == 200  # an unrestricted token needs no Origin
