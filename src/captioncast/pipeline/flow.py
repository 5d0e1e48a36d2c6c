"""One flow's run: publisher audio in, responses published on the flow's channels."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import replace
from typing import Protocol

from captioncast.bus.base import Broker
from captioncast.core.audio import AudioChunk, PcmFrame
from captioncast.core.captioner import Captioner
from captioncast.core.channels import ChannelInfo
from captioncast.core.layout import CaptionLayout
from captioncast.core.messages import Response, ResponseContext, build_response
from captioncast.core.timeline import Timeline
from captioncast.engines.mt.catalog import TranslatorSet
from captioncast.ingest.flv import AUDIO, VIDEO
from captioncast.ingest.sei import AvcSeiReader
from captioncast.pipeline.recognizer import Recognizer
from captioncast.pipeline.translator import FlowTranslations

log = logging.getLogger(__name__)

WAKE_AFTER = 0.2  # seconds of new audio that wake the recognizer
DEADLINE_CHECK = 0.2  # how often a pending caption block is checked against max latency
MAX_PENDING = 120.0  # seconds of audio held for a recognizer that fell behind
NO_AUDIO_AFTER = 8.0  # seconds of video without any audio that make a source unusable


class AudioDecoder(Protocol):
    def feed(self, timestamp_ms: int, payload: bytes, arrival_epoch: float) -> None: ...
    def close(self) -> None: ...


DecoderFactory = Callable[[Callable[[PcmFrame], None], Callable[[str], None]], AudioDecoder]


class PlaybackOutput(Protocol):
    """Where the stream goes for the player (the HLS output): the publisher's tags on the
    flow's clock, the flow's clock itself, and every final caption block."""

    def on_tag(self, kind: int, timestamp_ms: int, payload: bytes) -> None: ...
    def on_time(self, audio_time: float) -> None: ...
    def on_caption(self, channel: str, response: Response) -> None: ...
    async def close(self) -> None: ...


CaptionSink = Callable[[ChannelInfo, Response], Awaitable[None]]
"""Receives every final caption block after it is published (transcripts, HLS subtitles)."""


class FlowRun:
    """Drives one flow: places decoded audio on the timeline, steps the recognizer in the
    worker executor, and publishes transcript and caption responses.

    Only one publisher feeds a flow at a time; a new one takes over from the previous (an
    encoder reconnecting before its old TCP connection timed out). Audio time continues
    across publishers.
    """

    def __init__(
        self,
        flow_id: str,
        recognizer: Recognizer,
        broker: Broker,
        executor: Executor,
        source: ChannelInfo,
        targets: Sequence[ChannelInfo],
        layout: CaptionLayout,
        max_latency: float,
        decoder_factory: DecoderFactory,
        on_error: Callable[[str], None] = lambda reason: None,
        on_caption: CaptionSink | None = None,
        start_time: float = 0.0,
        playback: PlaybackOutput | None = None,
        translators: TranslatorSet | None = None,
    ) -> None:
        self.flow_id = flow_id
        self.recognizer = recognizer
        self.broker = broker
        self.executor = executor
        self.source = source
        self.targets = tuple(targets)
        self.timeline = Timeline(start_time=start_time)
        self._on_caption = on_caption
        self._playback = playback
        self._tag_offsets: dict[int, int] = {}  # session → ms added to its tag timestamps
        self._last_tag_ms = -1
        self._channels = {c.name: c for c in (source, *targets)}
        self._decoder_factory = decoder_factory
        self._on_error = on_error
        speaker = str(uuid.uuid4())
        ctx = ResponseContext(source.language, "transcription", speaker, self.timeline.at)
        self.captioner = Captioner(ctx, layout, max_latency)
        self.translations = FlowTranslations.for_flow(
            source, self.targets, translators, layout, max_latency, speaker,
            self.timeline.at, lambda: self.timeline.now, self._publish_all,
        )  # fmt: skip
        self._speaker = speaker
        self._pending: list[AudioChunk] = []
        self._pending_seconds = 0.0
        self._flush = False
        self._stopping = False
        self._wake = asyncio.Event()
        self._sessions = itertools.count(1)
        self._session = 0
        self._decoders: dict[int, AudioDecoder] = {}
        self._disconnects: dict[int, Callable[[], None]] = {}
        self._ending: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._deadline_task: asyncio.Task[None] | None = None
        self._publishing = asyncio.Lock()  # keeps each batch of responses in order
        self._video_only_since: dict[int, int] = {}  # session → first video timestamp (ms)
        self._sei_readers: dict[int, AvcSeiReader] = {}
        self._sei_anchor: tuple[int, float, float] | None = None  # session, video PTS, SEI
        self.dropped_seconds = 0.0
        self.published = 0

    def ingest_state(self) -> dict[str, object]:
        """What the API shows about the flow's source: connected, publishers, gaps."""
        return {
            "connected": self._session in self._decoders,
            "publishers": self._session,
            "audio_seconds": round(self.timeline.now, 3),
            "gaps": [
                {"at": round(g.audio_time, 3), "seconds": round(g.epoch_after - g.epoch_before, 3)}
                for g in self.timeline.gaps
            ],
        }

    def translation_state(self) -> dict[str, dict[str, object]]:
        """Per translated language: its engine, counts, latency and health."""
        return self.translations.state()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run(), name=f"flow-{self.flow_id}")
        self._deadline_task = loop.create_task(self._deadlines(), name=f"captions-{self.flow_id}")
        self.translations.start()

    async def stop(self, end_of_stream: bool = True) -> None:
        """Disconnect the publisher, flush the last words, and stop.

        With ``end_of_stream`` (the flow is over) every channel gets its final
        ``is_end_of_stream`` message; without it (the server is shutting down and the flow
        will resume at the next start) the pending words are published and nothing more.
        """
        for disconnect in list(self._disconnects.values()):
            disconnect()
        for session in list(self._decoders):
            self._end_session_soon(session)
        while self._ending:
            await asyncio.gather(*self._ending)
        self._stopping = True
        self._flush = True
        self._wake.set()
        try:
            if self._task is not None:
                await self._task
        finally:
            if self._deadline_task is not None:
                self._deadline_task.cancel()
                await asyncio.gather(self._deadline_task, return_exceptions=True)
        now = self.timeline.now
        if end_of_stream:
            await self._publish(self.captioner.end_of_stream(now))
        else:
            await self._publish(self.captioner.flush())
        await self.translations.stop(end_of_stream)  # the translated channels end themselves
        if end_of_stream:
            for target in self.targets:
                if not self.translations.handles(target.name):
                    await self._publish_all(target.name, [self._end_of_stream(target, now)])
        if self._playback is not None:
            await self._playback.close()

    # --- publisher side -----------------------------------------------------------------

    def open_publisher(self) -> PublisherSession:
        """A sink for one new publisher connection."""
        loop = asyncio.get_running_loop()
        if self._session in self._decoders:
            # An encoder reconnecting before its old connection timed out: the old one's
            # utterance ends here, and from now on only the new one is heard.
            log.info("flow %s: a new publisher replaces publisher %d", self.flow_id, self._session)
            stale = self._disconnects.pop(self._session, None)
            if stale is not None:
                stale()
            self.timeline.publisher_left()
            self._flush = True
            self._wake.set()
        session = next(self._sessions)
        self._session = session

        def on_frame(frame: PcmFrame) -> None:  # decoder thread
            loop.call_soon_threadsafe(self._on_frame, session, frame)

        def on_error(reason: str) -> None:  # decoder thread
            loop.call_soon_threadsafe(self._on_error, reason)

        self._decoders[session] = self._decoder_factory(on_frame, on_error)
        log.info("flow %s: publisher %d connected", self.flow_id, session)
        return PublisherSession(self, session)

    def _on_audio(self, session: int, timestamp_ms: int, payload: bytes) -> None:
        self._video_only_since[session] = -1
        self._play(session, AUDIO, timestamp_ms, payload)

    def _play(self, session: int, kind: int, timestamp_ms: int, payload: bytes) -> None:
        """Hand a tag to the playback output on the flow's clock: each publisher's timestamps
        start where the flow's audio clock stands when it connects (they restart at zero
        with every publisher, the flow's clock never does)."""
        if self._playback is None or session != self._session:
            return
        offset = self._tag_offsets.get(session)
        if offset is None:
            begin = max(round(self.timeline.now * 1000), self._last_tag_ms + 1)
            offset = self._tag_offsets[session] = begin - timestamp_ms
        ms = max(timestamp_ms + offset, 0)
        self._last_tag_ms = max(self._last_tag_ms, ms)
        self._playback.on_tag(kind, ms, payload)

    def _on_video(self, session: int, timestamp_ms: int, payload: bytes) -> None:
        self._play(session, VIDEO, timestamp_ms, payload)
        first = self._video_only_since.setdefault(session, timestamp_ms)
        if first >= 0 and timestamp_ms - first > NO_AUDIO_AFTER * 1000:
            self._video_only_since[session] = -1  # reported once
            self._on_error("the stream has no audio track")
        stamp = self._sei_readers.setdefault(session, AvcSeiReader()).feed(payload)
        if stamp is not None:
            pts = (timestamp_ms + composition_offset(payload)) / 1000
            self._sei_anchor = (session, pts, stamp.seconds)

    def _with_sei(self, session: int, frame: PcmFrame) -> PcmFrame:
        """Stamp audio with the SEI clock of the video it goes with: the last SEI timestamp
        carried forward by the distance in source PTS."""
        anchor = self._sei_anchor
        if anchor is None or anchor[0] != session or frame.pts is None:
            return frame
        _, pts, seconds = anchor
        return replace(frame, sei_timestamp=round(seconds + frame.pts - pts, 3))

    def _on_frame(self, session: int, frame: PcmFrame) -> None:
        if session != self._session or self._stopping:
            return
        chunk = self.timeline.place(self._with_sei(session, frame))
        if self._playback is not None:
            self._playback.on_time(self.timeline.now)
        self._pending.append(chunk)
        self._pending_seconds += chunk.duration
        while self._pending_seconds > MAX_PENDING:
            dropped = self._pending.pop(0)
            self._pending_seconds -= dropped.duration
            self.dropped_seconds += dropped.duration
        if self._pending_seconds >= WAKE_AFTER:
            self._wake.set()

    def _end_session_soon(self, session: int) -> None:
        """Close a publisher's decoder in the background; ``stop`` waits for it."""
        task = asyncio.get_running_loop().create_task(self._end_session(session))
        self._ending.add(task)
        task.add_done_callback(self._ending.discard)

    async def _end_session(self, session: int) -> None:
        self._disconnects.pop(session, None)
        decoder = self._decoders.pop(session, None)
        if decoder is None:
            return
        # close() drains the decoder: every frame is scheduled on the loop before it returns.
        await asyncio.to_thread(decoder.close)
        await asyncio.sleep(0)
        if session == self._session:
            log.info("flow %s: publisher %d left", self.flow_id, session)
            self.timeline.publisher_left()
            self._flush = True
            self._wake.set()

    # --- recognizer loop -----------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            chunks, self._pending, self._pending_seconds = self._pending, [], 0.0
            flush, self._flush = self._flush, False
            if chunks or flush:
                try:
                    await self._step(chunks, flush)
                except Exception:
                    # One bad step must not silence the flow: its audio is lost, the
                    # next step starts afresh (the policy restarts at the gap).
                    log.exception("flow %s: recognizer step failed", self.flow_id)
            if self._stopping and not self._pending and not self._flush:
                return

    async def _step(self, chunks: list[AudioChunk], flush: bool) -> None:
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        updates = await loop.run_in_executor(self.executor, self.recognizer.step, chunks, flush)
        log.debug(
            "step: %d chunks in %.2f s, window %.1f s, behind %.2f s",
            len(chunks),
            time.perf_counter() - started,
            self.recognizer.policy.window_length,
            self._pending_seconds,
        )
        now = self.timeline.now
        async with self._publishing:
            for update in updates:
                await self._publish(self.captioner.update(update, now))
            await self._publish(self.captioner.tick(now))
        self.translations.push(updates, now)

    async def _deadlines(self) -> None:
        """Send a pending caption block when its max latency comes, even while the
        recognizer is busy with a decode: the audio clock keeps moving as frames arrive."""
        while True:
            await asyncio.sleep(DEADLINE_CHECK)
            self.translations.tick(self.timeline.now)
            if self.captioner.segmenter.pending:
                async with self._publishing:
                    await self._publish(self.captioner.tick(self.timeline.now))

    async def _publish(self, responses: list[Response]) -> None:
        await self._publish_all(self.source.name, responses)

    async def _publish_all(self, channel: str, responses: list[Response]) -> None:
        for response in responses:
            if response["type"] == "captions" and log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "caption %.2f s after its first word (audio clock %.2f s): %s",
                    time.time() - response["start_epoch"],
                    self.timeline.now - response["start"],
                    response["alternatives"][0]["transcript"],
                )
            try:
                await self.broker.publish(channel, response)
                self.published += 1
            except Exception:
                log.exception("flow %s: publishing on %s failed", self.flow_id, channel)
            if response["type"] != "captions":
                continue
            if self._playback is not None:
                self._playback.on_caption(channel, response)
            if self._on_caption is not None:
                try:
                    await self._on_caption(self._channels[channel], response)
                except Exception:
                    log.exception("flow %s: keeping a caption on %s failed", self.flow_id, channel)

    def _end_of_stream(self, channel: ChannelInfo, now: float) -> Response:
        ctx = ResponseContext(
            channel.language, channel.service_type, self._speaker, self.timeline.at
        )
        return build_response(
            ctx,
            response_id=str(uuid.uuid4()),
            type="transcript",
            words=(),
            start=now,
            end=now,
            is_final=True,
            is_end_of_stream=True,
        )


def composition_offset(payload: bytes) -> int:
    """The composition time offset (ms) of an FLV AVC video tag: PTS minus DTS."""
    if len(payload) < 5 or payload[0] & 0x0F != 7 or payload[1] != 1:
        return 0
    value = int.from_bytes(payload[2:5], "big")
    return value - (1 << 24) if value & 0x800000 else value


class PublisherSession:
    """What the RTMP server feeds for one publisher connection."""

    def __init__(self, run: FlowRun, session: int) -> None:
        self._run = run
        self._session = session
        self._decoder = run._decoders[session]

    def attach(self, disconnect: Callable[[], None]) -> None:
        """Keep the connection's ``disconnect``: stopping the flow drops its publisher."""
        if self._session in self._run._decoders:
            self._run._disconnects[self._session] = disconnect

    def on_audio(self, timestamp_ms: int, payload: bytes, arrival_epoch: float) -> None:
        self._run._on_audio(self._session, timestamp_ms, payload)
        self._decoder.feed(timestamp_ms, payload, arrival_epoch)

    def on_video(self, timestamp_ms: int, payload: bytes, arrival_epoch: float) -> None:
        self._run._on_video(self._session, timestamp_ms, payload)

    def on_metadata(self, metadata: dict[str, object]) -> None:
        log.debug("publisher metadata: %s", metadata)

    def on_unpublish(self) -> None:
        self._run._end_session_soon(self._session)
