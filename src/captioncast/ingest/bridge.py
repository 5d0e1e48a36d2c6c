"""Sources that ffmpeg reads for us: SRT listeners (``srt_push``) and pulled URLs (``url_pull``).

One ffmpeg process per attempt reads the source and writes FLV to its stdout; the tags go to
a publisher sink exactly as an RTMP publisher's would, so decoding, SEI, HLS and reconnect
handling are shared with RTMP. ffmpeg only remuxes (``-c copy``); audio is transcoded to AAC,
and video dropped, only when the source's codecs cannot travel in FLV.

The supervisor restarts ffmpeg when a source drops: at once for an SRT listener (it waits
for the next publisher), with exponential backoff for a pulled URL. A source that cannot
work — no audio stream, not media at all, a missing file, a port already taken — is
reported once through ``on_error`` and not retried. A finite source (a file, a VOD
playlist) that reaches its end is reported through ``on_end``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from captioncast.ingest.flv import AUDIO, SCRIPT, VIDEO, FlvError, FlvReader, script_metadata
from captioncast.ingest.rtmp.sink import RtmpPublishSink

log = logging.getLogger(__name__)

LIVE_SCHEMES = ("rtmp", "rtmps", "srt", "udp", "rtp", "rtsp")
READ_SIZE = 64 * 1024
STDERR_LINES = 40


@dataclass(frozen=True, slots=True)
class BridgeInput:
    """How ffmpeg opens one source."""

    url: str  # as ffmpeg takes it
    label: str  # for logs and errors: the URL without secrets
    listener: bool = False  # an SRT listener: restart at once, waiting for the next publisher
    realtime: bool = False  # read at the source's pace (files and other finite media)
    is_file: bool = False
    live: bool = True  # a live protocol: its end is a drop, whatever duration it announces
    options: tuple[str, ...] = ()


SRT_IDLE_SECONDS = 2.0


def srt_listener_input(host: str, port: int, passphrase: str, latency_ms: int = 120) -> BridgeInput:
    """An SRT listener on ``host:port`` that accepts only callers with ``passphrase``.

    A listener serves one caller at a time; a caller that vanishes is given up after
    ``SRT_IDLE_SECONDS`` without data, so that the encoder's reconnection finds the port
    free again (SRT's own peer timeout would hold it for longer).
    """
    bind = f"[{host}]" if ":" in host else host
    url = (
        f"srt://{bind}:{port}?mode=listener&passphrase={quote(passphrase, safe='')}"
        f"&pbkeylen=16&latency={latency_ms * 1000}&timeout={int(SRT_IDLE_SECONDS * 1e6)}"
    )
    return BridgeInput(url, f"srt listener on port {port}", listener=True)


def pull_input(url: str) -> BridgeInput:
    """A URL (or an absolute file path) that ffmpeg pulls, with reconnection for HTTP."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower() if parts.scheme else "file"
    label = f"{scheme}://{parts.hostname or ''}{parts.path}" if scheme != "file" else parts.path
    if scheme == "file":
        path = parts.path if parts.scheme else url
        return BridgeInput(path, label or path, realtime=True, is_file=True, live=False)
    options: tuple[str, ...] = ()
    if scheme in ("http", "https"):
        options = ("-reconnect", "1", "-reconnect_streamed", "1", "-reconnect_delay_max", "10")
    live = scheme in LIVE_SCHEMES
    return BridgeInput(url, label, realtime=not live, options=options, live=live)


@dataclass
class Backoff:
    """Seconds to wait before the next attempt: doubling from ``first`` up to ``most``."""

    first: float = 1.0
    most: float = 30.0
    _next: float = field(default=0.0, init=False)

    def reset(self) -> None:
        self._next = 0.0

    def next(self) -> float:
        self._next = self.first if self._next == 0.0 else min(self._next * 2, self.most)
        return self._next


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one ffmpeg run ended, read from its exit status and its last log lines."""

    got_media: bool
    finite: bool  # the input announced a duration: it ends, it does not drop
    fatal: str | None  # a reason not to retry
    retry_without: str | None  # "audio_copy" or "video" when the codecs do not fit FLV


_FATAL_PATTERNS = (
    (re.compile(r"Stream map '0:a:0' matches no streams"), "the source has no audio stream"),
    (re.compile(r"Invalid data found when processing input"), "the source is not a media stream"),
    (re.compile(r"could not find codec parameters", re.I), "the source is not a media stream"),
    (re.compile(r"Address already in use"), "the port is already in use"),
    (re.compile(r"Protocol not found"), "ffmpeg cannot read this kind of URL"),
)
_CODEC_MISFIT = re.compile(
    r"codec not currently supported in container|Could not write header|incorrect codec parameters"
)
_DURATION = re.compile(r"^\s*Duration: (\d+):(\d\d):(\d\d)\.(\d\d)")


def _has_duration(line: str) -> bool:
    m = _DURATION.match(line)
    return m is not None and any(int(part) for part in m.groups())


def read_outcome(
    lines: list[str], got_media: bool, is_file: bool, audio_copy: bool, live: bool = False
) -> Outcome:
    """Classify a finished run from ffmpeg's log. A source is finite when it is a file, or
    announced a duration and is not a live protocol (an RTMP stream may carry a duration in
    its metadata)."""
    text = "\n".join(lines)
    finite = is_file or (not live and any(_has_duration(line) for line in lines))
    if not got_media:
        for pattern, reason in _FATAL_PATTERNS:
            if pattern.search(text):
                return Outcome(got_media, finite, reason, None)
        if is_file and "No such file or directory" in text:
            return Outcome(got_media, finite, "the source file does not exist", None)
        if _CODEC_MISFIT.search(text):
            return Outcome(got_media, finite, None, "audio_copy" if audio_copy else "video")
    return Outcome(got_media, finite, None, None)


def ffmpeg_command(
    source: BridgeInput, audio_copy: bool, video: bool, ffmpeg: str = "ffmpeg"
) -> list[str]:
    """The command that reads ``source`` and writes FLV (first audio, first video) to stdout."""
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info"]
    if source.realtime:
        cmd.append("-re")
    else:
        # Short probing: captions start sooner. (No +nobuffer: it drops the probed packets.)
        cmd += ["-analyzeduration", "2000000", "-probesize", "1000000"]
    cmd += [*source.options, "-i", source.url, "-map", "0:a:0"]
    cmd += ["-c:a", "copy"] if audio_copy else ["-c:a", "aac", "-b:a", "128k"]
    cmd += ["-map", "0:v:0?", "-c:v", "copy"] if video else ["-vn"]
    cmd += ["-dn", "-sn", "-f", "flv", "-flvflags", "no_duration_filesize", "pipe:1"]
    return cmd


class FfmpegBridge:
    """Supervises the ffmpeg runs of one source and feeds what they read to publisher sinks.

    ``open_publisher`` is called when a run delivers its first tag (a publisher connected),
    and that sink's ``on_unpublish`` when the run ends. Calling the sink's ``disconnect``
    ends the current run; the supervisor then starts the next one as if the source dropped.
    """

    def __init__(
        self,
        source: BridgeInput,
        open_publisher: Callable[[], RtmpPublishSink],
        on_error: Callable[[str], None],
        on_end: Callable[[], None],
        backoff: Backoff | None = None,
        ffmpeg: str = "ffmpeg",
    ) -> None:
        self.source = source
        self._open_publisher = open_publisher
        self._on_error = on_error
        self._on_end = on_end
        self._backoff = backoff or Backoff()
        self._ffmpeg = ffmpeg
        self._audio_copy = True
        self._video = True
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.runs = 0
        self.publishers = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._supervise(), name=f"bridge {self.source.label}"
        )

    async def stop(self) -> None:
        """End the current run and stop restarting; returns once its ffmpeg is reaped."""
        self._stopping = True
        self._kill()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._proc is not None:
            # The cancel may have landed on the run's own wait: reap the process here.
            await self._proc.wait()

    def _kill(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()

    async def _supervise(self) -> None:
        while not self._stopping:
            started = time.monotonic()
            try:
                outcome = await self._run_once()
            except OSError as exc:  # ffmpeg itself cannot be started
                self._on_error(f"cannot run ffmpeg: {exc}")
                return
            if self._stopping:
                return
            if outcome.fatal is not None:
                log.warning("%s: %s", self.source.label, outcome.fatal)
                self._on_error(f"{outcome.fatal} ({self.source.label})")
                return
            if outcome.retry_without == "audio_copy":
                log.info("%s: audio does not fit FLV; transcoding it to AAC", self.source.label)
                self._audio_copy = False
                continue
            if outcome.retry_without == "video":
                log.warning("%s: video does not fit FLV; captions only", self.source.label)
                self._video = False
                continue
            if outcome.got_media and outcome.finite and not self.source.listener:
                log.info("%s: the source ended", self.source.label)
                self._on_end()
                return
            if outcome.got_media or time.monotonic() - started > 60:
                self._backoff.reset()
            delay = 0.2 if self.source.listener else self._backoff.next()
            log.info("%s: source dropped; next attempt in %.1f s", self.source.label, delay)
            await asyncio.sleep(delay)

    async def _run_once(self) -> Outcome:
        cmd = ffmpeg_command(self.source, self._audio_copy, self._video, self._ffmpeg)
        self.runs += 1
        self._proc = proc = await asyncio.create_subprocess_exec(
            *cmd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        lines: deque[str] = deque(maxlen=STDERR_LINES)
        head: list[str] = []  # the input's description, before the tail rolls it away
        assert proc.stdout is not None and proc.stderr is not None
        stderr_task = asyncio.get_running_loop().create_task(
            _collect(proc.stderr, lines, head), name="ffmpeg stderr"
        )
        got_media = False
        try:
            got_media = await self._pump(proc, proc.stdout)
        finally:
            self._kill()
            try:
                await proc.wait()
            finally:
                stderr_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await stderr_task
        log.debug("%s: ffmpeg exited %s", self.source.label, proc.returncode)
        return read_outcome(
            head + list(lines),
            got_media,
            is_file=self.source.is_file,
            audio_copy=self._audio_copy,
            live=self.source.live,
        )

    async def _pump(self, proc: asyncio.subprocess.Process, stdout: asyncio.StreamReader) -> bool:
        """Hand the run's tags to a publisher sink; True when any media came."""
        reader = FlvReader()
        sink: RtmpPublishSink | None = None
        cut = False  # the sink disconnected its publisher: deliver nothing more

        def disconnect() -> None:  # this run's only: a later run is another publisher
            nonlocal cut
            cut = True
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()

        try:
            while data := await stdout.read(READ_SIZE):
                try:
                    tags = reader.feed(data)
                except FlvError as exc:
                    log.error("%s: unreadable bridge output: %s", self.source.label, exc)
                    return sink is not None
                now = time.time()
                for tag in tags:
                    if sink is None:
                        sink = self._connect(disconnect)
                    if cut:
                        break
                    if tag.kind == AUDIO:
                        sink.on_audio(tag.timestamp_ms, tag.payload, now)
                    elif tag.kind == VIDEO:
                        sink.on_video(tag.timestamp_ms, tag.payload, now)
                    elif tag.kind == SCRIPT and (meta := script_metadata(tag.payload)):
                        sink.on_metadata(meta)
            return sink is not None
        finally:
            if sink is not None:
                sink.on_unpublish()

    def _connect(self, disconnect: Callable[[], None]) -> RtmpPublishSink:
        self.publishers += 1
        log.info("%s: publisher %d connected", self.source.label, self.publishers)
        sink = self._open_publisher()
        sink.attach(disconnect)
        return sink


async def _collect(stream: asyncio.StreamReader, tail: deque[str], head: list[str]) -> None:
    while raw := await stream.readline():
        line = raw.decode("utf-8", "replace").rstrip()
        if len(head) < STDERR_LINES:
            head.append(line)
        else:
            tail.append(line)
        log.debug("ffmpeg: %s", line)
