"""Real ffmpeg publishers against RtmpServer, decoded with FlvAudioDecoder."""

from __future__ import annotations

import asyncio
import shutil
import signal
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest

from captioncast.core.audio import SAMPLE_RATE, PcmFrame
from captioncast.ingest.decoder import FlvAudioDecoder
from captioncast.ingest.rtmp.server import RtmpPublishSink, RtmpServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

if shutil.which("ffmpeg") is None:  # pragma: no cover - the e2e environment has ffmpeg
    raise RuntimeError("the e2e tests need ffmpeg on PATH")


class DecodingSink:
    """Feeds a decoder like the pipeline will, and records what arrives.

    With ``disconnect_after``, it disconnects its publisher once that many audio packets
    have arrived, as the pipeline does when the flow is stopped.
    """

    def __init__(self, disconnect_after: int | None = None) -> None:
        self.disconnect: Callable[[], None] | None = None
        self.attached = 0
        self.disconnect_after = disconnect_after
        self.frames: list[PcmFrame] = []
        self.errors: list[str] = []
        self.decoder = FlvAudioDecoder(self.frames.append, self.errors.append)
        self.audio_packets = 0
        self.video_packets = 0
        self.metadata: list[dict[str, object]] = []
        self.unpublished = 0
        self.first_audio = asyncio.Event()
        self.ended = asyncio.Event()

    def attach(self, disconnect: Callable[[], None]) -> None:
        self.attached += 1
        self.disconnect = disconnect

    def on_audio(self, timestamp_ms: int, payload: bytes, arrival_epoch: float) -> None:
        assert self.disconnect is not None, "media before attach"
        self.audio_packets += 1
        self.first_audio.set()
        self.decoder.feed(timestamp_ms, payload, arrival_epoch)
        if self.audio_packets == self.disconnect_after:
            self.disconnect()

    def on_video(self, timestamp_ms: int, payload: bytes, arrival_epoch: float) -> None:
        self.video_packets += 1

    def on_metadata(self, metadata: dict[str, object]) -> None:
        self.metadata.append(metadata)

    def on_unpublish(self) -> None:
        self.unpublished += 1
        self.ended.set()

    def samples(self) -> np.ndarray:
        self.decoder.close()
        return np.concatenate([f.samples for f in self.frames])


class Keys:
    def __init__(self, *keys: str) -> None:
        self.sinks = {key: DecodingSink() for key in keys}
        self.requests: list[str] = []

    async def __call__(self, app: str, key: str) -> RtmpPublishSink | None:
        self.requests.append(key)
        return self.sinks.get(key) if app == "live" else None


@pytest.fixture
async def keys() -> AsyncIterator[Keys]:
    k = Keys("alpha", "beta")
    yield k
    for sink in k.sinks.values():
        sink.decoder.close()


@pytest.fixture
async def server(keys: Keys) -> AsyncIterator[RtmpServer]:
    srv = RtmpServer(keys, port=0, handshake_timeout=2.0)
    await srv.start()
    yield srv
    await srv.close()


def sine_input(freq: int, seconds: float) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=frequency={freq}:duration={seconds}"]


async def ffmpeg(
    port: int, key: str, *inputs: str, codecs: tuple[str, ...] = ("-c:a", "aac")
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        "ffmpeg",
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-re",
        *inputs,
        *codecs,
        "-f",
        "flv",
        f"rtmp://127.0.0.1:{port}/live/{key}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(process: asyncio.subprocess.Process, within: float = 30) -> tuple[int, str]:
    _, stderr = await asyncio.wait_for(process.communicate(), within)
    assert process.returncode is not None
    return process.returncode, stderr.decode(errors="replace")


def dominant_frequency(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * SAMPLE_RATE / len(samples))


async def test_accepted_key_delivers_three_seconds_of_audio(server: RtmpServer, keys: Keys) -> None:
    rc, err = await finish(await ffmpeg(server.port, "alpha", *sine_input(440, 3)))
    assert rc == 0, err
    sink = keys.sinks["alpha"]
    await asyncio.wait_for(sink.ended.wait(), 5)
    await asyncio.sleep(0.2)
    assert (sink.attached, sink.unpublished) == (1, 1)
    samples = sink.samples()
    assert len(samples) / SAMPLE_RATE == pytest.approx(3.0, abs=0.1)
    assert dominant_frequency(samples) == pytest.approx(440.0, abs=2.0)
    assert sink.errors == []
    assert sink.decoder.dropped == 0
    assert sink.metadata and sink.metadata[0].get("audiocodecid") == 10.0
    pts = [f.pts for f in sink.frames if f.pts is not None]
    assert pts == sorted(pts)
    assert pts[-1] == pytest.approx(3.0, abs=0.1)
    assert keys.sinks["beta"].audio_packets == 0


async def test_wrong_key_is_refused(server: RtmpServer, keys: Keys) -> None:
    rc, _ = await finish(await ffmpeg(server.port, "gamma", *sine_input(440, 3)))
    assert rc != 0
    assert keys.requests == ["gamma"]
    for sink in keys.sinks.values():
        assert (sink.audio_packets, sink.metadata, sink.unpublished) == (0, [], 0)


async def test_killed_publisher_ends_the_publish(server: RtmpServer, keys: Keys) -> None:
    process = await ffmpeg(server.port, "alpha", *sine_input(440, 30))
    sink = keys.sinks["alpha"]
    try:
        await asyncio.wait_for(sink.first_audio.wait(), 10)
        await asyncio.sleep(0.5)
    finally:
        process.send_signal(signal.SIGKILL)
        rc, _ = await finish(process)
    assert rc == -signal.SIGKILL
    await asyncio.wait_for(sink.ended.wait(), 5)
    assert sink.unpublished == 1
    assert 0.3 < len(sink.samples()) / SAMPLE_RATE < 3.0


async def test_garbage_and_half_handshakes_do_not_stop_the_server(
    server: RtmpServer, keys: Keys
) -> None:
    _, garbage = await asyncio.open_connection("127.0.0.1", server.port)
    garbage.write(b"\x16\x03\x01\x02\x00" + bytes(range(256)) * 8)  # a TLS hello, say
    half_reader, half = await asyncio.open_connection("127.0.0.1", server.port)
    half.write(b"\x03" + bytes(500))
    await half.drain()
    try:
        rc, err = await finish(await ffmpeg(server.port, "alpha", *sine_input(440, 1)))
        assert rc == 0, err
        assert await asyncio.wait_for(half_reader.read(), 5) == b""  # timed out and closed
    finally:
        garbage.close()
        half.close()
    sink = keys.sinks["alpha"]
    assert len(sink.samples()) / SAMPLE_RATE == pytest.approx(1.0, abs=0.1)


async def test_two_publishers_each_reach_only_their_sink(server: RtmpServer, keys: Keys) -> None:
    first = await ffmpeg(server.port, "alpha", *sine_input(440, 2))
    second = await ffmpeg(server.port, "beta", *sine_input(1000, 2))
    results = await asyncio.gather(finish(first), finish(second))
    assert [rc for rc, _ in results] == [0, 0], results
    await asyncio.sleep(0.2)
    alpha, beta = keys.sinks["alpha"], keys.sinks["beta"]
    assert (alpha.unpublished, beta.unpublished) == (1, 1)
    a, b = alpha.samples(), beta.samples()
    assert len(a) / SAMPLE_RATE == pytest.approx(2.0, abs=0.1)
    assert len(b) / SAMPLE_RATE == pytest.approx(2.0, abs=0.1)
    assert dominant_frequency(a) == pytest.approx(440.0, abs=2.0)
    assert dominant_frequency(b) == pytest.approx(1000.0, abs=2.0)


async def test_video_and_audio_together(server: RtmpServer, keys: Keys) -> None:
    video = ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2"]
    rc, err = await finish(
        await ffmpeg(
            server.port,
            "alpha",
            *video,
            *sine_input(440, 2),
            codecs=("-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"),
        )
    )
    assert rc == 0, err
    sink = keys.sinks["alpha"]
    await asyncio.wait_for(sink.ended.wait(), 5)
    assert sink.video_packets >= 40
    assert sink.metadata[0].get("videocodecid") == 7.0
    samples = sink.samples()
    assert len(samples) / SAMPLE_RATE == pytest.approx(2.0, abs=0.1)
    assert dominant_frequency(samples) == pytest.approx(440.0, abs=2.0)


async def test_sink_disconnects_a_real_publisher(server: RtmpServer, keys: Keys) -> None:
    keys.sinks["alpha"].decoder.close()
    sink = keys.sinks["alpha"] = DecodingSink(disconnect_after=20)  # about half a second
    process = await ffmpeg(server.port, "alpha", *sine_input(440, 30))
    try:
        await asyncio.wait_for(sink.ended.wait(), 15)
        rc, _ = await finish(process, within=10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert rc not in (0, -signal.SIGKILL)  # ffmpeg gave up on the dropped connection
    assert (sink.attached, sink.unpublished) == (1, 1)
    assert sink.audio_packets == 20
    assert 0.2 < len(sink.samples()) / SAMPLE_RATE < 1.0
