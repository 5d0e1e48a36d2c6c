"""A real ``captioncast serve`` process on loopback, a real ffmpeg publisher, a real viewer."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_udp_ports(count: int) -> str:
    """A range of ``count`` consecutive UDP ports free now on loopback (``"a-b"``)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            first = int(s.getsockname()[1])
        if first + count > 65535:
            continue
        try:
            held = []
            for port in range(first, first + count):
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                held.append(u)
                u.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for u in held:
                u.close()
        return f"{first}-{first + count - 1}"
    raise AssertionError("no free UDP port range")


@dataclass
class ServerProcess:
    data_dir: Path
    model: str = "base"
    port: int = field(default_factory=free_port)
    rtmp_port: int = field(default_factory=free_port)
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    srt_ports: str = field(default_factory=lambda: free_udp_ports(4))
    extra_args: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    def start(self, timeout: float = 120) -> None:
        self.log_path = self.data_dir / "server.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, CAPTIONCAST_API_KEY=self.api_key)
        cmd = [
            sys.executable, "-m", "captioncast.cli", "serve", "--host", "127.0.0.1",
            "--port", str(self.port), "--rtmp-port", str(self.rtmp_port),
            "--data-dir", str(self.data_dir), "--model", self.model, "--log-level", "debug",
            "--srt-ports", self.srt_ports, *self.extra_args,
        ]  # fmt: skip
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"server exited:\n{self.log()}"
            try:
                if httpx.get(self.url("/healthz"), timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"server did not start:\n{self.log()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path else ""

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def http_url(self) -> str:
        return self.url("")

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/ws"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def api(self, method: str, path: str, body: Any = None, expect: int | None = None) -> Any:
        r = httpx.request(
            method, self.url(path), json=body, timeout=60,
            headers={"Authorization": f"Bearer {self.api_key}"},
        )  # fmt: skip
        if expect is not None:
            assert r.status_code == expect, r.text
        return r.json() if r.content else None

    def create_flow(self, name: str, **extra: Any) -> dict[str, Any]:
        body = {"name": name, "source": "rtmp_push", "source_language": "en", **extra}
        flow: dict[str, Any] = self.api("POST", "/v1/flows", body, expect=201)
        return flow

    def start_flow(self, flow: dict[str, Any]) -> None:
        self.api("POST", f"/v1/flows/{flow['flow_id']}/start", expect=200)

    def stop_flow(self, flow: dict[str, Any]) -> None:
        self.api("POST", f"/v1/flows/{flow['flow_id']}/stop", expect=200)

    def token(self, *streams: str, ttl: int = 600) -> str:
        minted = self.api("POST", "/v1/tokens", {"streams": list(streams), "ttl": ttl}, 200)
        return str(minted["token"])


def speech_clip(wav: Path, seconds: float, directory: Path) -> Path:
    """The first ``seconds`` of a recording as AAC in M4A (what a publisher would carry)."""
    out = directory / f"clip-{seconds:g}s.m4a"
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(wav)]
    cmd += ["-t", str(seconds), "-c:a", "aac", "-b:a", "96k", str(out)]
    subprocess.run(cmd, check=True, timeout=60)
    return out


def publish(
    media: Path, url: str, *extra_input: str, realtime: bool = True
) -> subprocess.Popen[bytes]:
    """ffmpeg pushing ``media``'s audio to ``url`` (in real time with ``-re``)."""
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is required"
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin"]
    cmd += ["-re"] if realtime else []
    cmd += [*extra_input, "-i", str(media), "-vn", "-c:a", "aac", "-b:a", "96k", "-f", "flv", url]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def ffmpeg_process(*args: str) -> subprocess.Popen[bytes]:
    """Any ffmpeg command line (publishers, servers a flow pulls from)."""
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is required"
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", *args]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def publish_srt(media: Path, url: str, *output: str) -> subprocess.Popen[bytes]:
    """ffmpeg pushing ``media`` in real time over SRT (MPEG-TS), audio as AAC."""
    codecs = output or ("-vn", "-c:a", "aac", "-b:a", "96k")
    return ffmpeg_process("-re", "-i", str(media), *codecs, "-f", "mpegts", url)


def publish_lavfi(graph: str, url: str) -> subprocess.Popen[bytes]:
    """ffmpeg pushing a synthetic lavfi audio source (noise, tones) in real time."""
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is required"
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-f", "lavfi"]
    cmd += ["-i", graph, "-c:a", "aac", "-b:a", "96k", "-f", "flv", url]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen[bytes], timeout: float = 60) -> tuple[int, str]:
    """Wait for a publisher; its exit status and what it printed on stderr."""
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err.decode(errors="replace")


async def until_done(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    """Wait for a publisher without blocking the event loop (the viewer runs on it)."""
    await asyncio.to_thread(proc.wait)
    return finish(proc, 5)


@dataclass
class Received:
    at: float
    message: dict[str, Any]


class Viewer:
    """A native WebSocket viewer that records every message with its arrival time."""

    def __init__(self, url: str, token: str, channel: str) -> None:
        self.url, self.token, self.channel = url, token, channel
        self.received: list[Received] = []
        self.subscribed: dict[str, Any] | None = None
        self.ended = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Viewer:
        ready = asyncio.Event()
        self.task = asyncio.create_task(self._run(ready))
        await asyncio.wait_for(ready.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.task:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass

    async def _run(self, ready: asyncio.Event) -> None:
        async with websockets.connect(self.url) as ws:
            await ws.send(json.dumps({"type": "auth", "token": self.token}))
            await ws.send(json.dumps({"type": "subscribe", "channel": self.channel}))
            async for raw in ws:
                msg = json.loads(raw)
                if msg.get("type") == "subscribed":
                    self.subscribed = msg
                    ready.set()
                elif "response" in msg:
                    self.received.append(Received(time.time(), msg))
                    if msg["response"]["is_end_of_stream"]:
                        self.ended.set()

    def responses(self, type_: str | None = None, final: bool | None = None) -> list[Any]:
        out = [r.message["response"] for r in self.received]
        if type_ is not None:
            out = [r for r in out if r["type"] == type_]
        if final is not None:
            out = [r for r in out if r["is_final"] is final]
        return out
