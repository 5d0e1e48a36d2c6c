"""GET /v1/hls/{stream}/{file}: the flow's HLS files, for holders of a viewer token."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from web_helpers import LiveServer

from captioncast.store.base import FlowSpec
from captioncast.web.hls_routes import rewrite_playlist
from captioncast.web.services import Services

MASTER = """#EXTM3U
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="en",LANGUAGE="en",URI="subs-en.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=200000,SUBTITLES="subs"
video.m3u8
"""
VIDEO = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nvideo000000.ts\n#EXT-X-ENDLIST\n"
SUBS = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000,\nsubs-en-0.vtt\n"


@pytest.fixture
async def hls(services: Services, tmp_path: Path) -> Path:
    """A stored flow named ``Demo`` with a few HLS files written for it."""
    await services.store.create(FlowSpec(name="Demo", source_language="en"))
    services.hls_dir = tmp_path / "hls"
    directory = services.hls_dir / "Demo"
    directory.mkdir(parents=True)
    (directory / "master.m3u8").write_text(MASTER)
    (directory / "video.m3u8").write_text(VIDEO)
    (directory / "subs-en.m3u8").write_text(SUBS)
    (directory / "video000000.ts").write_bytes(b"\x47" * 188)
    (directory / "subs-en-0.vtt").write_text("WEBVTT\n")
    (tmp_path / "hls" / "secret.m3u8").write_text("#EXTM3U\n")
    return directory


def token(services: Services, *streams: str) -> str:
    return services.tokens.mint(streams, 600).token


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [
        ("master.m3u8", "application/vnd.apple.mpegurl"),
        ("video000000.ts", "video/mp2t"),
        ("subs-en-0.vtt", "text/vtt; charset=utf-8"),
    ],
)
async def test_serves_files_with_their_content_types(
    client: httpx.AsyncClient, services: Services, hls: Path, filename: str, content_type: str
) -> None:
    response = await client.get(f"/v1/hls/Demo/{filename}", headers=bearer(token(services, "Demo")))
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.content == (hls / filename).read_bytes()
    no_cache = response.headers.get("cache-control") == "no-cache"
    assert no_cache == filename.endswith(".m3u8")


async def test_a_query_token_is_carried_into_every_playlist_uri(
    client: httpx.AsyncClient, services: Services, hls: Path
) -> None:
    viewer = token(services, "Demo")
    master = await client.get("/v1/hls/demo/master.m3u8", params={"token": viewer})
    assert master.status_code == 200
    assert f'URI="subs-en.m3u8?token={viewer}"' in master.text
    assert f"\nvideo.m3u8?token={viewer}\n" in master.text
    assert 'GROUP-ID="subs"' in master.text
    video = await client.get(f"/v1/hls/Demo/video.m3u8?token={viewer}")
    assert f"\nvideo000000.ts?token={viewer}\n" in video.text
    segment = await client.get(f"/v1/hls/Demo/video000000.ts?token={viewer}")
    assert segment.status_code == 200


async def test_a_header_token_leaves_playlists_as_written(
    client: httpx.AsyncClient, services: Services, hls: Path
) -> None:
    response = await client.get("/v1/hls/Demo/master.m3u8", headers=bearer(token(services, "Demo")))
    assert response.text == MASTER


def test_rewrite_keeps_an_existing_query() -> None:
    text = rewrite_playlist('#X:URI="a.m3u8?x=1"\nb.ts?y=2\n\n#EXTINF:2,\n', "t.k")
    assert text == '#X:URI="a.m3u8?x=1&token=t.k"\nb.ts?y=2&token=t.k\n\n#EXTINF:2,\n'


async def test_refusals(client: httpx.AsyncClient, services: Services, hls: Path) -> None:
    url = "/v1/hls/Demo/master.m3u8"
    missing = await client.get(url)
    assert missing.status_code == 401
    assert missing.json() == {
        "error": {"code": "token_missing", "message": "a viewer token is required"}
    }
    bad = await client.get(url, params={"token": "not-a-jwt"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "token_malformed"
    for streams in (("other",), ("demo",)):  # stream names compare case-sensitively
        other = await client.get(url, headers=bearer(token(services, *streams)))
        assert other.status_code == 403 and other.json()["error"]["code"] == "forbidden"
    unknown = await client.get(
        "/v1/hls/ghost/master.m3u8", headers=bearer(token(services, "ghost"))
    )
    assert unknown.status_code == 404
    absent = await client.get(
        "/v1/hls/Demo/video000009.ts", headers=bearer(token(services, "Demo"))
    )
    assert absent.status_code == 404 and absent.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "filename",
    ["..%2Fsecret.m3u8", "..", ".hidden.m3u8", "a..b.ts", "notes.txt", "video.m3u8.tmp", "%2e%2e"],
)
async def test_only_plain_file_names_are_served(
    client: httpx.AsyncClient, services: Services, hls: Path, filename: str
) -> None:
    response = await client.get(f"/v1/hls/Demo/{filename}", headers=bearer(token(services, "Demo")))
    assert response.status_code == 404
    assert "error" in response.json()


async def test_nothing_is_served_while_hls_is_off(
    client: httpx.AsyncClient, services: Services, hls: Path
) -> None:
    services.hls_dir = None
    response = await client.get("/v1/hls/Demo/master.m3u8", headers=bearer(token(services, "Demo")))
    assert response.status_code == 404


async def test_cors_preflight(client: httpx.AsyncClient) -> None:
    response = await client.options("/v1/hls/Demo/master.m3u8")
    assert response.status_code == 204
    assert response.headers["access-control-allow-headers"] == "Authorization"


@pytest.mark.e2e
async def test_ffprobe_plays_the_stream_with_a_query_token(
    live: LiveServer, services: Services, hls: Path
) -> None:
    """A player that cannot send headers follows the rewritten URIs to every file."""
    await run(
        "ffmpeg", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=2",
        "-c:v", "libx264", "-preset", "ultrafast", "-f", "hls",
        "-hls_segment_filename", str(hls / "video%06d.ts"), str(hls / "video.m3u8"),
    )  # fmt: skip
    url = f"{live.http_url}/v1/hls/Demo/master.m3u8?token={token(services, 'Demo')}"
    out = await run("ffprobe", "-v", "error", "-show_entries", "stream=codec_name", url)
    assert "h264" in out


async def run(*cmd: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(30):
        stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()
