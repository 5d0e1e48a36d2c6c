"""``captioncast demo``: a server, a flow, a speech recording published to it in real time,
and its captions printed as they arrive."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from captioncast.config import ServeConfig
from captioncast.errors import ConfigError
from captioncast.samples import demo_speech

STREAM = "demo"


async def run_demo(config: ServeConfig, media: Path | None, keep_running: bool) -> int:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise ConfigError("ffmpeg is not installed (scripts/setup installs it)")
    media = media or demo_speech(config.data_dir / "demo-speech.wav")
    api_key = os.environ.get("CAPTIONCAST_API_KEY") or secrets.token_urlsafe(24)
    server = await _start_server(config, api_key)
    base = f"http://{config.advertised_host}:{config.port}"
    try:
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
        ) as api:
            await _wait_healthy(api, server)
            flow = await _fresh_flow(api)
            await _call(api, "POST", f"/v1/flows/{flow['flow_id']}/start")
            token = await _call(api, "POST", "/v1/tokens", {"streams": [STREAM], "ttl": 3600})
            channel = flow["channels"][0]["name"]
            rtmp = flow["rtmp_details"]
            print(f"\nFlow {flow['flow_id']} is live.")
            print(f"  publish (OBS: Server + Stream Key): {rtmp['url']}  key {rtmp['stream_key']}")
            print(f"  ffmpeg: ffmpeg -re -i FILE -c:a aac -f flv {rtmp['full_url']}")
            ws_url = f"ws://{config.advertised_host}:{config.port}/v1/ws"
            print(
                f"  watch:  captioncast subscribe {channel} --url {ws_url} --token {token['token']}"
            )
            http = f"http://{config.advertised_host}:{config.port}"
            print(f"  play:   {http}/v1/hls/{STREAM}/master.m3u8?token={token['token']}")
            print(f"  management API key: {api_key}\n")
            from captioncast.client import print_captions

            viewer = asyncio.create_task(print_captions(ws_url, token["token"], channel, "live"))
            publisher = await asyncio.create_subprocess_exec(
                ffmpeg,
                "-hide_banner",
                "-loglevel",
                "error",
                "-re",
                "-i",
                str(media),
                "-vn",
                "-c:a",
                "aac",
                "-b:a",
                "128k",
                "-f",
                "flv",
                rtmp["full_url"],
            )
            await publisher.wait()
            if keep_running:
                print("\nThe recording ended; the server keeps running (Ctrl-C to stop).")
                await server.wait()
                return 0
            await asyncio.sleep(1.0)
            await _call(api, "POST", f"/v1/flows/{flow['flow_id']}/stop")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(viewer, 30)
            print("\nDemo finished. The transcript, also after a restart:")
            print(
                f"  curl -H 'Authorization: Bearer {api_key}' "
                f"'{http}/v1/flows/{flow['flow_id']}/transcript?format=vtt'"
            )
            return 0
    finally:
        if server.returncode is None:
            server.terminate()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(server.wait(), 15)


async def _start_server(config: ServeConfig, api_key: str) -> asyncio.subprocess.Process:
    env = dict(os.environ, CAPTIONCAST_API_KEY=api_key)
    args = [
        "--host",
        config.host,
        "--port",
        str(config.port),
        "--rtmp-port",
        str(config.rtmp_port),
        "--data-dir",
        str(config.data_dir),
        "--model",
        config.model,
        "--device",
        config.device,
        "--vad",
        config.vad,
        "--log-level",
        "warning",
    ]
    print("Starting the server and loading the speech model…", flush=True)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "captioncast.cli", "serve", *args, env=env
    )


async def _wait_healthy(api: httpx.AsyncClient, server: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.returncode is not None:
            raise ConfigError(f"the server exited with status {server.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if (await api.get("/healthz")).status_code == 200:
                return
        await asyncio.sleep(0.3)
    raise ConfigError("the server did not become healthy within 120 s")


async def _fresh_flow(api: httpx.AsyncClient) -> dict[str, Any]:
    """The demo flow, created anew (an earlier demo's flow is deleted first)."""
    for flow in (await _call(api, "GET", "/v1/flows"))["flows"]:
        if flow["name"] == STREAM:
            await _call(api, "DELETE", f"/v1/flows/{flow['flow_id']}")
    body = {"name": STREAM, "source": "rtmp_push", "source_language": "en", "max_latency": 5}
    created: dict[str, Any] = await _call(api, "POST", "/v1/flows", body)
    return created


async def _call(
    api: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None = None
) -> Any:
    response = await api.request(method, path, json=body)
    if response.status_code >= 400:
        raise ConfigError(f"{method} {path}: {response.status_code} {response.text}")
    return response.json() if response.content else None
