"""The playback output: the ingested stream as HLS, with a live WebVTT rendition per channel.

One :class:`HlsOutput` per flow run owns one directory::

    master.m3u8            video (or audio-only) rendition + one SUBTITLES rendition per channel
    video.m3u8             written by ffmpeg: ``-c copy`` remux of the publisher's FLV to MPEG-TS
    video000000.ts …
    subs-<lang>.m3u8       written here, one per caption channel
    subs-<lang>-<k>.vtt …  segment ``k`` covers flow time [k·D, (k+1)·D)

This module is the I/O: the ffmpeg process, the task feeding it, the files. What goes into
them (the subtitle tracks, the playlists' text, the tag queue, the ffmpeg command, and how a
caption lands on the video frame of its flow time) is decided in
:mod:`captioncast.ingest.hls_core`, which does no I/O.

Back-pressure. :meth:`HlsOutput.on_tag` never blocks: tags wait in a queue bounded by bytes,
drained into ffmpeg's stdin by one task. When the queue is full, tags are dropped (and counted
in ``dropped_tags``) until the next video keyframe, or, for an audio-only stream, until the
queue has drained to half; sequence headers are never dropped. If ffmpeg is missing or dies,
the output logs it and stops feeding video; captions and subtitles go on.

Publishers. ``-c copy`` keeps the first decoder configuration it saw, so a new publisher
whose AVC/AAC sequence header differs (other encoder settings) gets a new ffmpeg, which
appends to the same playlist after an ``#EXT-X-DISCONTINUITY``; the clock, and so the
subtitle mapping, carries on. An identical header (the same encoder reconnecting) changes
nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import re
from collections import deque
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from captioncast.ingest.flv import AUDIO, VIDEO, flv_header
from captioncast.ingest.hls_core import (
    VIDEO_PLAYLIST,
    PublishedStream,
    SubtitleTracks,
    TagQueue,
    TrackFiles,
    ffmpeg_command,
    is_sequence_header,
    master_playlist,
)

log = logging.getLogger(__name__)

MASTER = "master.m3u8"
SERVED_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*\.(m3u8|ts|vtt|m4s|mp4)$")
QUEUE_BYTES = 8 * 1024 * 1024
WATCH_INTERVAL = 0.25
CLOSE_TIMEOUT = 10.0


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` so that a reader sees the old file or the new one, never a part."""
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)


class HlsOutput:
    """Writes one flow run's HLS directory. Use from the event loop only.

    ``channels`` are (channel name, language) pairs, the source language first (it is the
    DEFAULT subtitle rendition). ``caption_delay`` is how long after a subtitle segment's end
    it is cut: the flow's max latency plus slack for a recognizer that falls behind. Players
    are asked to start ``start_offset`` behind the live edge, so that the subtitles are there
    when the video is. ``playlist_size`` segments stay listed (and on disk) in every playlist,
    raised where needed to cover ``start_offset``; 0 keeps all of them (an EVENT playlist that
    grows for the whole run).
    """

    def __init__(
        self,
        directory: Path,
        channels: Sequence[tuple[str, str]],
        *,
        segment_seconds: float = 2.0,
        playlist_size: int = 10,
        caption_delay: float = 5.0,
        ffmpeg: str = "ffmpeg",
        queue_bytes: int = QUEUE_BYTES,
        close_timeout: float = CLOSE_TIMEOUT,
    ) -> None:
        if segment_seconds <= 0 or playlist_size < 0 or caption_delay < 0:
            raise ValueError("segment_seconds > 0, playlist_size >= 0, caption_delay >= 0")
        self.directory = directory
        self.segment_seconds = segment_seconds
        self.caption_delay = caption_delay
        self.start_offset = max(3 * segment_seconds, caption_delay + 2 * segment_seconds)
        covering = math.ceil(self.start_offset / segment_seconds) + 3
        self.playlist_size = max(playlist_size, covering) if playlist_size else 0
        self._ffmpeg = ffmpeg
        self._close_timeout = close_timeout
        self._subtitles = SubtitleTracks(
            channels, segment_seconds, self.playlist_size, caption_delay
        )
        self._stream = PublishedStream()
        self._queue = TagQueue(queue_bytes)
        self._wake = asyncio.Event()
        self._restarting = False
        self._write_failed = False
        self._process: asyncio.subprocess.Process | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stderr: deque[str] = deque(maxlen=20)
        self._closing = False
        self.closed = False
        self.failed: str | None = None  # why the video rendition stopped, if it did
        self.master_written = False

    @property
    def dropped_tags(self) -> int:
        """Tags dropped because ffmpeg did not keep up."""
        return self._queue.dropped

    @property
    def late_cues(self) -> int:
        """Caption blocks that came after every segment they overlap was cut."""
        return self._subtitles.late_cues

    @property
    def now(self) -> float:
        """The flow clock as far as this output has seen it (seconds)."""
        return self._subtitles.now

    def ffmpeg_args(self, append: bool = False) -> list[str]:
        """The ffmpeg command (``append``: after a restart); :meth:`close` ends its playlist."""
        return ffmpeg_command(
            self._ffmpeg, self.directory, self.segment_seconds, self.playlist_size, append
        )

    async def start(self) -> None:
        """Clear the directory of a previous run's files and start ffmpeg. Never raises for
        a missing or failing ffmpeg: the output then only writes subtitles."""
        try:
            await asyncio.to_thread(self._prepare_directory)
        except OSError as exc:
            self._fail(f"the HLS directory cannot be prepared: {exc}")
            return
        if await self._spawn(append=False):
            self._task(self._write_loop(), "writer")
            self._task(self._watch(), "watch")

    async def _spawn(self, append: bool) -> bool:
        try:
            process = await asyncio.create_subprocess_exec(
                *self.ffmpeg_args(append),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            self._fail(f"ffmpeg cannot start: {exc}")
            return False
        self._process = process
        self._task(self._read_stderr(process), "stderr")
        return True

    def _task(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=f"hls-{name}")
        self._tasks.append(task)

    def _prepare_directory(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for path in self.directory.iterdir():
            if path.is_file() and (SERVED_NAME.match(path.name) or path.name.endswith(".tmp")):
                path.unlink(missing_ok=True)

    # --- media ---------------------------------------------------------------------------

    def on_tag(self, kind: int, timestamp_ms: int, payload: bytes) -> None:
        """An audio or video tag body with its flow-clock timestamp. Script tags are ignored
        (ffmpeg would turn a mid-stream onMetaData into a data stream)."""
        if kind not in (AUDIO, VIDEO) or not payload or self.closed:
            return
        self.on_time(timestamp_ms / 1000)
        self._stream.saw(kind, timestamp_ms / 1000)
        if self.failed is not None or self._closing:
            return
        if is_sequence_header(kind, payload):
            self._on_sequence_header(kind, timestamp_ms, payload)
        self._stream.bytes += len(payload)
        was_dropping = self._queue.dropping
        if self._queue.offer(kind, timestamp_ms, payload):
            self._wake.set()
        name = self.directory.name
        if self._queue.dropping and not was_dropping:
            log.warning("%s: ffmpeg is not keeping up; dropping tags until it does", name)
        elif was_dropping and not self._queue.dropping:
            log.info("%s: HLS input resumes (%d tags dropped so far)", name, self._queue.dropped)

    def _on_sequence_header(self, kind: int, timestamp_ms: int, payload: bytes) -> None:
        """A changed decoder configuration (a publisher with other encoder settings), or
        video that ffmpeg gave up waiting for, needs a new ffmpeg: ``-c copy`` keeps the
        first configuration it saw and would write undecodable segments."""
        preamble = self._stream.restart_preamble(kind, timestamp_ms, payload, self.now)
        if preamble is not None:
            log.info("%s: the stream's %s configuration changed; restarting ffmpeg",
                     self.directory.name, "video" if kind == VIDEO else "audio")  # fmt: skip
            self._queue.mark_restart(preamble)
        if self._stream.configure(kind, payload):
            self.master_written = False  # written again with the new CODECS

    async def _write_loop(self) -> None:
        stdin = self._stdin()
        try:
            stdin.write(flv_header(audio=True, video=True))
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue and self.failed is None:
                    preamble = self._queue.take_restart()
                    if preamble is not None:
                        stdin = await self._restart(stdin, preamble)
                        continue
                    stdin.write(self._queue.take())
                    await stdin.drain()
                if self._closing or self.failed is not None:
                    break
            stdin.close()
            await stdin.wait_closed()
        except (BrokenPipeError, ConnectionResetError) as exc:
            self._fail(f"ffmpeg stopped reading its input ({exc.__class__.__name__})")

    def _stdin(self) -> asyncio.StreamWriter:
        assert self._process is not None and self._process.stdin is not None
        return self._process.stdin

    async def _restart(self, stdin: asyncio.StreamWriter, preamble: bytes) -> asyncio.StreamWriter:
        """End this ffmpeg (its last segment is written) and start one that appends to its
        playlist after an ``#EXT-X-DISCONTINUITY``."""
        self._restarting = True
        try:
            stdin.close()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await stdin.wait_closed()
            await self._end_process(self._process)
            if not await self._spawn(append=True):
                raise BrokenPipeError("ffmpeg did not restart")
        finally:
            self._restarting = False
        stdin = self._stdin()
        stdin.write(flv_header(audio=True, video=True) + preamble)
        return stdin

    async def _end_process(self, process: asyncio.subprocess.Process | None) -> None:
        if process is None:
            return
        try:
            async with asyncio.timeout(self._close_timeout):
                await process.wait()
        except TimeoutError:
            log.warning("%s: ffmpeg did not finish in %.0f s; killing it",
                        self.directory.name, self._close_timeout)  # fmt: skip
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    async def _read_stderr(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        async for raw in process.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self._stderr.append(line)
                log.debug("%s: ffmpeg: %s", self.directory.name, line)

    async def _watch(self) -> None:
        """Write the master playlist once ffmpeg has made the video playlist, and notice
        ffmpeg dying when nobody asked it to stop."""
        while True:
            process = self._process
            assert process is not None
            try:
                async with asyncio.timeout(WATCH_INTERVAL):
                    code = await process.wait()
            except TimeoutError:
                self._write_master_when_ready()
                continue
            if self._closing or self.failed is not None:
                return
            if self._restarting or process is not self._process:
                await asyncio.sleep(WATCH_INTERVAL)
                continue
            self._fail(f"ffmpeg exited with {code}")
            return

    def _fail(self, reason: str) -> None:
        if self.failed is not None:
            return
        self.failed = reason
        detail = " | ".join(self._stderr)
        log.error(
            "%s: HLS video output stopped, captions go on: %s%s",
            self.directory.name,
            reason,
            f" ({detail})" if detail else "",
        )
        self._queue.clear()
        self._wake.set()

    # --- subtitles -----------------------------------------------------------------------

    def on_time(self, audio_time: float) -> None:
        """The flow clock moved to ``audio_time`` (seconds): cut the subtitle segments whose
        captions can no longer come."""
        if self.closed:
            return
        self._apply(self._subtitles.advance(audio_time))

    def on_caption(self, channel: str, response: dict[str, Any]) -> None:
        """A response published on ``channel``: final caption blocks become cues."""
        if not self.closed:
            self._apply(self._subtitles.add(channel, response))

    def _apply(self, steps: list[TrackFiles]) -> None:
        for files in steps:  # one per track: a failed write in one leaves the others going
            try:
                for name, text in files.writes.items():
                    write_atomic(self.directory / name, text)
                for name in files.deletes:
                    (self.directory / name).unlink(missing_ok=True)
            except OSError as exc:
                if not self._write_failed:  # once: the disk will not heal every 2 s
                    log.error("%s: writing subtitles failed: %s", self.directory.name, exc)
                self._write_failed = True

    def _write_master_when_ready(self) -> None:
        if self.master_written or not (self.directory / VIDEO_PLAYLIST).exists():
            return
        if not self._subtitles.ready:
            return
        bandwidth = self._stream.bandwidth(self.now - (self._subtitles.first or 0.0))
        codecs = self._stream.codecs_attribute()
        text = master_playlist(self._subtitles.renditions, bandwidth, codecs, self.start_offset)
        try:
            write_atomic(self.directory / MASTER, text)
        except OSError:
            log.exception("%s: writing the master playlist failed", self.directory.name)
            return
        self.master_written = True

    # --- shutdown ------------------------------------------------------------------------

    async def close(self) -> None:
        """Let ffmpeg finish its last segment, cut the last subtitle segments, and end every
        playlist. Safe to call twice, or without start()."""
        if self.closed:
            return
        self._closing = True
        self._wake.set()
        try:
            async with asyncio.timeout(self._close_timeout):
                await asyncio.gather(*self._tasks, return_exceptions=True)
        except TimeoutError:  # ffmpeg is stuck: give it its end of input, then kill it
            if self._process is not None and self._process.stdin is not None:
                self._process.stdin.close()
        await self._end_process(self._process)
        for task in self._tasks:
            task.cancel()
        for result in await asyncio.gather(*self._tasks, return_exceptions=True):
            if isinstance(result, Exception):
                log.error("%s: HLS task failed", self.directory.name, exc_info=result)
        self._apply(self._subtitles.finish())
        self.closed = True
        if self._process is not None:
            self._end_video_playlist()
            if self.failed is None:
                self._write_master_when_ready()

    def _end_video_playlist(self) -> None:
        path = self.directory / VIDEO_PLAYLIST
        try:
            text = path.read_text(encoding="utf-8")
            if "#EXT-X-ENDLIST" not in text:
                write_atomic(path, text.rstrip("\n") + "\n#EXT-X-ENDLIST\n")
        except FileNotFoundError:
            pass
        except OSError:
            log.exception("%s: ending the video playlist failed", self.directory.name)
