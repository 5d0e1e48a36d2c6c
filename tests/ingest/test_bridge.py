"""The ffmpeg bridge: its pure parts, then real ffmpeg runs feeding a recording publisher sink."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from captioncast.ingest.bridge import (
    Backoff,
    BridgeInput,
    FfmpegBridge,
    Outcome,
    ffmpeg_command,
    pull_input,
    read_outcome,
    srt_listener_input,
)

pytestmark = pytest.mark.timeout(60)

if shutil.which("ffmpeg") is None:  # pragma: no cover - the test environment has ffmpeg
    raise RuntimeError("the bridge tests need ffmpeg on PATH")

PASSPHRASE = "a-passphrase-123"


# --- the command -----------------------------------------------------------------------


def after(cmd: list[str], option: str) -> str:
    return cmd[cmd.index(option) + 1]


def test_command_for_a_file() -> None:
    cmd = ffmpeg_command(pull_input("/media/talk.m4a"), audio_copy=True, video=True)
    assert cmd[0] == "ffmpeg"
    assert "-re" in cmd and "-analyzeduration" not in cmd
    assert cmd.index("-re") < cmd.index("-i")
    assert after(cmd, "-i") == "/media/talk.m4a"
    assert cmd[cmd.index("-map") : cmd.index("-map") + 4] == ["-map", "0:a:0", "-c:a", "copy"]
    assert "0:v:0?" in cmd and after(cmd, "-c:v") == "copy"
    assert "-vn" not in cmd
    assert after(cmd, "-f") == "flv"
    assert cmd[-1] == "pipe:1"


def test_command_for_a_live_url() -> None:
    cmd = ffmpeg_command(pull_input("rtmp://example.org/live/key"), True, True, ffmpeg="/x/ffm")
    assert cmd[0] == "/x/ffm"
    assert "-re" not in cmd
    assert after(cmd, "-analyzeduration") == "2000000"
    assert cmd.index("-analyzeduration") < cmd.index("-i")
    assert after(cmd, "-i") == "rtmp://example.org/live/key"


def test_command_transcoding_audio_and_dropping_video() -> None:
    source = pull_input("/media/talk.mkv")
    cmd = ffmpeg_command(source, audio_copy=False, video=False)
    assert after(cmd, "-c:a") == "aac"
    assert "copy" not in cmd
    assert "-vn" in cmd and "0:v:0?" not in cmd
    assert after(cmd, "-map") == "0:a:0"
    assert cmd[-3:] == ["-flvflags", "no_duration_filesize", "pipe:1"]


def test_command_puts_http_options_before_the_input() -> None:
    cmd = ffmpeg_command(pull_input("https://example.org/live.m3u8"), True, True)
    assert after(cmd, "-reconnect") == "1"
    assert cmd.index("-reconnect") < cmd.index("-i")
    assert after(cmd, "-i") == "https://example.org/live.m3u8"


# --- the inputs ------------------------------------------------------------------------


def test_srt_listener_input() -> None:
    source = srt_listener_input("0.0.0.0", 9000, "pass word&=/?#", latency_ms=200)
    assert source.listener and source.live and not source.realtime and not source.is_file
    parts = urlsplit(source.url)
    assert (parts.scheme, parts.hostname, parts.port) == ("srt", "0.0.0.0", 9000)
    query = parse_qs(parts.query)
    assert query["mode"] == ["listener"]
    assert query["passphrase"] == ["pass word&=/?#"]  # quoted: it cannot break the URL
    assert "pass word" not in source.url
    assert query["pbkeylen"] == ["16"]
    assert query["latency"] == ["200000"]  # microseconds
    assert query["timeout"] == ["2000000"]
    assert "pass" not in source.label and "9000" in source.label


def test_srt_listener_input_brackets_an_ipv6_host() -> None:
    source = srt_listener_input("::", 9000, PASSPHRASE)
    assert source.url.startswith("srt://[::]:9000?")
    assert urlsplit(source.url).port == 9000
    assert parse_qs(urlsplit(source.url).query)["latency"] == ["120000"]


@pytest.mark.parametrize(
    ("url", "path"),
    [("file:///x", "/x"), ("/abs/path/talk.mp4", "/abs/path/talk.mp4")],
)
def test_pull_input_for_a_file(url: str, path: str) -> None:
    source = pull_input(url)
    assert source.url == path and source.label == path
    assert source.is_file and source.realtime and not source.live and not source.listener
    assert source.options == ()


def test_pull_input_for_http() -> None:
    source = pull_input("https://user:secret@cdn.example.org/live/index.m3u8?token=abc")
    assert source.url == "https://user:secret@cdn.example.org/live/index.m3u8?token=abc"
    assert source.label == "https://cdn.example.org/live/index.m3u8"  # no secrets
    assert source.realtime and not source.live and not source.is_file
    assert source.options[source.options.index("-reconnect") + 1] == "1"
    assert "-reconnect_streamed" in source.options


@pytest.mark.parametrize(
    ("url", "label"),
    [
        ("rtmp://example.org/live/key", "rtmp://example.org/live/key"),
        ("srt://example.org:9000?streamid=x&passphrase=y", "srt://example.org"),
        ("RTSP://cam/1", "rtsp://cam/1"),
    ],
)
def test_pull_input_for_live_protocols(url: str, label: str) -> None:
    source = pull_input(url)
    assert source.url == url and source.label == label
    assert source.live and not source.realtime and not source.is_file and not source.listener
    assert source.options == ()


def test_backoff_doubles_up_to_most_and_resets() -> None:
    backoff = Backoff(first=1.0, most=10.0)
    assert [backoff.next() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    backoff.reset()
    assert [backoff.next() for _ in range(3)] == [1.0, 2.0, 4.0]
    assert Backoff().next() == 1.0


# --- reading a run's outcome from ffmpeg's log -------------------------------------------

INPUT_LINES = [
    "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from '/media/talk.m4a':",
    "  Metadata:",
    "    major_brand     : M4A ",
    "  Duration: 00:00:05.12, start: 0.000000, bitrate: 70 kb/s",
    "  Stream #0:0[0x1](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, mono, fltp",
]


@pytest.mark.parametrize(
    ("lines", "is_file", "reason"),
    [
        (
            [*INPUT_LINES, "Stream map '0:a:0' matches no streams.", "To ignore this, add ..."],
            True,
            "the source has no audio stream",
        ),
        (
            ["/media/notes.txt: Invalid data found when processing input"],
            True,
            "the source is not a media stream",
        ),
        (
            [
                "[mpegts @ 0x5] Could not find codec parameters for stream 0 (Audio: aac)",
                "Consider increasing the value for the 'analyzeduration' option",
            ],
            False,
            "the source is not a media stream",
        ),
        (
            [
                "[srt @ 0x5] Connection setup failure: unable to create/configure SRT socket",
                "srt://0.0.0.0:9000?mode=listener: Address already in use",
            ],
            False,
            "the port is already in use",
        ),
        (["gopher://x: Protocol not found"], False, "ffmpeg cannot read this kind of URL"),
        (["/media/gone.m4a: No such file or directory"], True, "the source file does not exist"),
    ],
)
def test_fatal_outcomes(lines: list[str], is_file: bool, reason: str) -> None:
    outcome = read_outcome(lines, got_media=False, is_file=is_file, audio_copy=True)
    assert outcome.fatal == reason
    assert outcome.retry_without is None
    assert not outcome.got_media


def test_a_missing_url_path_is_not_fatal() -> None:
    # For a URL, "No such file" is the server's 404 of the moment: retry it.
    lines = ["https://cdn/x.m3u8: No such file or directory"]
    outcome = read_outcome(lines, got_media=False, is_file=False, audio_copy=True)
    assert outcome.fatal is None and outcome.retry_without is None


@pytest.mark.parametrize(
    "line",
    [
        "[flv @ 0x5] Tag Opus incompatible with output codec id '86076' "
        "(codec not currently supported in container)",
        "Could not write header for output file #0 (incorrect codec parameters ?): "
        "Function not implemented",
    ],
)
def test_codecs_that_do_not_fit_flv_are_retried_without_copy_then_video(line: str) -> None:
    first = read_outcome([*INPUT_LINES, line], got_media=False, is_file=True, audio_copy=True)
    assert first.fatal is None and first.retry_without == "audio_copy"
    second = read_outcome([*INPUT_LINES, line], got_media=False, is_file=True, audio_copy=False)
    assert second.fatal is None and second.retry_without == "video"


def test_a_duration_makes_a_non_live_source_finite() -> None:
    outcome = read_outcome(INPUT_LINES, got_media=True, is_file=False, audio_copy=True, live=False)
    assert outcome.finite and outcome.fatal is None and outcome.retry_without is None
    live = read_outcome(INPUT_LINES, got_media=True, is_file=False, audio_copy=True, live=True)
    assert not live.finite


@pytest.mark.parametrize(
    "line",
    [
        "  Duration: 00:00:00.00, start: 0.000000, bitrate: N/A",
        "  Duration: N/A, start: 1.400000, bitrate: N/A",
        "    DURATION        : 00:00:05.120000000",  # a stream's metadata tag, not the input's
    ],
)
def test_no_duration_is_not_finite(line: str) -> None:
    outcome = read_outcome([line], got_media=True, is_file=False, audio_copy=True, live=False)
    assert not outcome.finite


def test_a_file_is_finite_without_a_duration() -> None:
    assert read_outcome([], got_media=True, is_file=True, audio_copy=True).finite


def test_a_run_that_got_media_is_never_fatal() -> None:
    lines = [
        *INPUT_LINES,
        "Stream map '0:a:0' matches no streams.",
        "x: Invalid data found when processing input",
        "Address already in use",
        "No such file or directory",
        "codec not currently supported in container",
    ]
    outcome = read_outcome(lines, got_media=True, is_file=True, audio_copy=True)
    assert outcome.got_media
    assert outcome.fatal is None and outcome.retry_without is None


def test_an_ordinary_drop_is_neither_fatal_nor_finite() -> None:
    lines = [
        "[tcp @ 0x5] Connection to tcp://127.0.0.1:1935?tcp_nodelay=0 failed: Connection refused",
        "rtmp://127.0.0.1:1935/x: Connection refused",
    ]
    outcome = read_outcome(lines, got_media=False, is_file=False, audio_copy=True, live=True)
    assert outcome == Outcome(False, False, None, None)


# --- real ffmpeg -------------------------------------------------------------------------


def make_media(path: Path, *args: str) -> Path:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args, str(path)],
        check=True,
        timeout=30,
    )
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bridge-media")
    sine = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2"]
    garbage = folder / "notes.m4a"
    garbage.write_bytes(b"these are notes, not media\n" * 200)
    return {
        "tone": make_media(folder / "tone.m4a", *sine, "-c:a", "aac", "-b:a", "64k"),
        "opus": make_media(
            folder / "tone.mka",
            *["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1"],
            *["-c:a", "libopus", "-b:a", "32k"],
        ),
        "video": make_media(
            folder / "video.mp4",
            *["-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=1"],
            *["-c:v", "libx264", "-preset", "ultrafast"],
        ),
        "garbage": garbage,
    }


class RecordingSink:
    """Records what a bridge delivers, in order, and checks the sink contract as it goes.

    With ``disconnect_at_audio``, it calls ``disconnect`` once that many audio tags have
    arrived (0: inside ``attach``), as the pipeline does when its flow is stopped.
    """

    def __init__(self, disconnect_at_audio: int | None = None) -> None:
        self.events: list[str] = []
        self.audio: list[tuple[int, bytes]] = []
        self.video: list[int] = []
        self.metadata: list[dict[str, object]] = []
        self.disconnect: Callable[[], None] | None = None
        self.disconnect_at_audio = disconnect_at_audio
        self.first_audio = asyncio.Event()
        self.unpublished = asyncio.Event()

    def _deliver(self, event: str) -> None:
        assert self.disconnect is not None, "delivered before attach"
        assert not self.unpublished.is_set(), "delivered after on_unpublish"
        self.events.append(event)

    def attach(self, disconnect: Callable[[], None]) -> None:
        assert not self.events, "attach must come first, once"
        self.events.append("attach")
        self.disconnect = disconnect
        if self.disconnect_at_audio == 0:  # the contract allows it from inside attach
            self.events.append("disconnect")
            disconnect()

    def on_audio(self, timestamp_ms: int, payload: bytes, arrival_epoch: float) -> None:
        self._deliver("audio")
        assert abs(arrival_epoch - time.time()) < 5
        self.audio.append((timestamp_ms, payload))
        self.first_audio.set()
        if len(self.audio) == self.disconnect_at_audio:
            self.events.append("disconnect")
            assert self.disconnect is not None
            self.disconnect()

    def on_video(self, timestamp_ms: int, payload: bytes, arrival_epoch: float) -> None:
        self._deliver("video")
        self.video.append(timestamp_ms)

    def on_metadata(self, metadata: dict[str, object]) -> None:
        self._deliver("metadata")
        self.metadata.append(metadata)

    def on_unpublish(self) -> None:
        self._deliver("unpublish")
        self.unpublished.set()

    @property
    def timestamps(self) -> list[int]:
        return [timestamp for timestamp, _ in self.audio]


class Harness:
    """One FfmpegBridge with a recording sink per publisher and its errors and ends."""

    def __init__(
        self,
        source: BridgeInput,
        backoff: Backoff | None = None,
        disconnect_at_audio: int | None = None,
    ) -> None:
        self.sinks: list[RecordingSink] = []
        self.errors: list[str] = []
        self.ends = 0
        self.error = asyncio.Event()
        self.end = asyncio.Event()
        self.disconnect_at_audio = disconnect_at_audio
        self.bridge = FfmpegBridge(
            source, self.open_publisher, self.on_error, self.on_end, backoff=backoff
        )

    def open_publisher(self) -> RecordingSink:
        # Only the first publisher disconnects itself, so that the next run keeps going.
        sink = RecordingSink(None if self.sinks else self.disconnect_at_audio)
        self.sinks.append(sink)
        return sink

    def on_error(self, message: str) -> None:
        self.errors.append(message)
        self.error.set()

    def on_end(self) -> None:
        self.ends += 1
        self.end.set()


@contextlib.asynccontextmanager
async def running(harness: Harness) -> AsyncIterator[Harness]:
    harness.bridge.start()
    try:
        yield harness
    finally:
        await asyncio.wait_for(harness.bridge.stop(), 5)


async def until(condition: Callable[[], bool], within: float) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.02)


@pytest.mark.e2e
async def test_a_file_is_played_in_real_time_and_ends(media: dict[str, Path]) -> None:
    started = time.monotonic()
    async with running(Harness(pull_input(str(media["tone"])))) as harness:
        await asyncio.wait_for(harness.end.wait(), 10)
        elapsed = time.monotonic() - started
        await asyncio.sleep(0.3)  # nothing more happens after the end
    assert harness.errors == [] and harness.ends == 1
    assert harness.bridge.runs == 1 and harness.bridge.publishers == 1
    assert elapsed >= 1.5  # -re: at the source's pace, not as fast as ffmpeg can
    [sink] = harness.sinks
    assert sink.events[0] == "attach"
    assert sink.events[-1] == "unpublish" and sink.events.count("unpublish") == 1
    assert len(sink.metadata) == 1 and sink.metadata[0]["audiocodecid"] == 10.0
    assert sink.events.index("metadata") < sink.events.index("audio")
    assert sink.video == []
    sequence_header, *frames = sink.audio
    assert sequence_header[1][:2] == b"\xaf\x00"  # AAC, AudioSpecificConfig
    assert all(payload[:2] == b"\xaf\x01" for _, payload in frames)
    timestamps = [timestamp for timestamp, _ in frames]
    assert timestamps == sorted(timestamps) and len(set(timestamps)) == len(timestamps)
    assert len(frames) >= 90  # 2 s of 48 kHz AAC: 94 frames
    assert 1900 <= timestamps[-1] <= 2100


@pytest.mark.e2e
async def test_audio_that_does_not_fit_flv_is_transcoded(media: dict[str, Path]) -> None:
    async with running(Harness(pull_input(str(media["opus"])))) as harness:
        await asyncio.wait_for(harness.end.wait(), 10)
    assert harness.errors == []
    assert harness.bridge.runs == 2  # the copy failed, the AAC run worked
    [sink] = harness.sinks
    assert len(sink.audio) > 20
    assert all(payload[0] >> 4 == 10 for _, payload in sink.audio)  # AAC


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("video", "the source has no audio stream"),
        ("garbage", "the source is not a media stream"),
        ("missing", "the source file does not exist"),
    ],
)
async def test_a_source_that_cannot_work_is_reported_once(
    media: dict[str, Path], tmp_path: Path, name: str, reason: str
) -> None:
    path = media.get(name, tmp_path / "missing.m4a")
    async with running(Harness(pull_input(str(path)), Backoff(0.05, 0.05))) as harness:
        await asyncio.wait_for(harness.error.wait(), 10)
        await asyncio.sleep(0.3)  # and it is not retried
    assert harness.errors == [f"{reason} ({path})"]
    assert harness.bridge.runs == 1
    assert harness.bridge.publishers == 0 and harness.sinks == []
    assert harness.ends == 0


def free_port(kind: socket.SocketKind) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.e2e
async def test_an_unreachable_url_is_retried_until_stopped() -> None:
    source = pull_input(f"rtmp://127.0.0.1:{free_port(socket.SOCK_STREAM)}/live/x")
    harness = Harness(source, Backoff(first=0.1, most=0.2))
    harness.bridge.start()
    try:
        await until(lambda: harness.bridge.runs >= 3, within=3)
    finally:
        stopping = time.monotonic()
        await asyncio.wait_for(harness.bridge.stop(), 5)
        stopped_in = time.monotonic() - stopping
    runs = harness.bridge.runs
    await asyncio.sleep(0.5)
    assert harness.bridge.runs == runs  # nothing runs after stop
    assert stopped_in < 1
    assert harness.errors == [] and harness.ends == 0 and harness.sinks == []


@pytest.mark.e2e
async def test_disconnect_ends_the_run_and_the_source_is_read_again(
    media: dict[str, Path],
) -> None:
    # A live-looking source that is a file, so that the bridge restarts it after a drop.
    source = BridgeInput(str(media["tone"]), "tone", realtime=True)
    harness = Harness(source, Backoff(first=0.1, most=0.1), disconnect_at_audio=10)
    async with running(harness):
        await until(lambda: len(harness.sinks) == 2, within=5)
        first, second = harness.sinks
        await asyncio.wait_for(first.unpublished.wait(), 1)
        await asyncio.wait_for(second.first_audio.wait(), 3)
    assert harness.errors == [] and harness.ends == 0
    assert harness.bridge.runs == 2 and harness.bridge.publishers == 2
    assert first.events[0] == "attach" and first.events[-1] == "unpublish"
    assert first.events.count("unpublish") == 1
    assert 10 <= len(first.audio) < 40  # killed long before the 2 s of audio were read
    assert second.events.count("unpublish") == 1  # stop() ends the second run
    assert second.timestamps[0] == 0  # the source was read again from its start


@pytest.mark.e2e
async def test_nothing_is_delivered_after_disconnect(media: dict[str, Path]) -> None:
    source = BridgeInput(str(media["tone"]), "tone", realtime=True)
    harness = Harness(source, Backoff(first=0.1, most=0.1), disconnect_at_audio=0)
    async with running(harness):
        await until(lambda: len(harness.sinks) == 2, within=5)
    sink = harness.sinks[0]
    assert sink.events[:2] == ["attach", "disconnect"]  # nothing after disconnect()
    assert sink.events[2:] == ["unpublish"]


@pytest.mark.e2e
async def test_an_old_publishers_disconnect_does_not_end_the_next(
    media: dict[str, Path],
) -> None:
    source = BridgeInput(str(media["tone"]), "tone", realtime=True)
    harness = Harness(source, Backoff(first=0.1, most=0.1), disconnect_at_audio=5)
    async with running(harness):
        await until(lambda: len(harness.sinks) == 2, within=5)
        first, second = harness.sinks
        await asyncio.wait_for(second.first_audio.wait(), 3)
        assert first.disconnect is not None
        first.disconnect()  # its publish is over: a no-op
        await asyncio.sleep(0.5)
        assert not second.unpublished.is_set()
        assert harness.bridge.runs == 2


# --- an SRT listener ---------------------------------------------------------------------


def udp_port_bound(port: int) -> bool:
    """Whether something listens on 127.0.0.1:``port`` (UDP), without touching the port."""
    wanted = f"0100007F:{port:04X}"
    table = Path("/proc/net/udp").read_text()
    return any(line.split()[1] == wanted for line in table.splitlines()[1:])


async def srt_caller(path: Path, port: int, passphrase: str) -> tuple[int, str]:
    """Publishes ``path`` in real time to the SRT listener; the exit status and the log."""
    url = f"srt://127.0.0.1:{port}?passphrase={passphrase}&pbkeylen=16"
    proc = await asyncio.create_subprocess_exec(
        *["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info"],
        *["-re", "-i", str(path), "-c", "copy", "-f", "mpegts", url],
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, stderr = await asyncio.wait_for(proc.communicate(), 15)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, stderr.decode("utf-8", "replace")


@pytest.mark.e2e
@pytest.mark.skipif(not Path("/proc/net/udp").exists(), reason="needs Linux's /proc/net/udp")
async def test_an_srt_listener_takes_callers_with_the_passphrase(media: dict[str, Path]) -> None:
    port = free_port(socket.SOCK_DGRAM)
    harness = Harness(srt_listener_input("127.0.0.1", port, PASSPHRASE))
    async with running(harness):
        await until(lambda: udp_port_bound(port), within=5)

        status, log = await srt_caller(media["tone"], port, "a-wrong-passphrase")
        assert status != 0, log
        await asyncio.sleep(0.2)
        assert harness.sinks == [] and harness.bridge.runs == 1

        status, log = await srt_caller(media["tone"], port, PASSPHRASE)
        assert status == 0, log
        [first] = harness.sinks
        await asyncio.wait_for(first.unpublished.wait(), 5)
        # The listener is started again at once, for the encoder's next connection.
        await until(lambda: harness.bridge.runs >= 2, within=2)
        await until(lambda: udp_port_bound(port), within=5)

        status, log = await srt_caller(media["tone"], port, PASSPHRASE)
        assert status == 0, log
        await until(lambda: len(harness.sinks) == 2, within=5)
        await asyncio.wait_for(harness.sinks[1].unpublished.wait(), 5)
        await until(lambda: harness.bridge.runs >= 3, within=2)
    assert harness.errors == [] and harness.ends == 0
    assert harness.bridge.publishers == 2
    for sink in harness.sinks:
        assert sink.events[0] == "attach" and sink.events[-1] == "unpublish"
        assert all(payload[0] >> 4 == 10 for _, payload in sink.audio)  # AAC, copied
        assert len(sink.audio) >= 80
        assert sink.timestamps == sorted(sink.timestamps)
